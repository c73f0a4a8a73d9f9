"""``bootprobe run``: launch N boots, collect the lab's logs, analyse, report.

Each step is its own function (and its own command): :func:`launch_boots`
(openstacksdk, through :mod:`probes.smoke`), :func:`probes.collect.collect`
(paramiko), :func:`probes.analyze.analyze` (pure).  The run folder keeps
everything: ``boots.json`` (what the client measured), ``logs/<host>/``
(what the hosts logged) and ``result.json`` (the analysis every report is
rendered from).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from probes import launch
from probes.analyze import BootInput
from probes.correlate import ClientTimes
from probes.records import HttpExchange, Outcome, SmokeOptions, SmokeResult, utc_now
from probes.smoke import run_smoke
from probes.trace import Trace

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunOptions:
    smoke: SmokeOptions
    count: int = 1
    concurrency: int = 1


def run_prefix(base: str) -> str:
    """Server names of one run share a prefix, so a sweep finds what a crash left."""
    return f"{base}-{utc_now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def _exchange(result: SmokeResult, action: str, method: str, path_end: str) -> HttpExchange | None:
    for exchange in result.http:
        if exchange.action == action and exchange.method == method and exchange.url.rstrip(
            "/"
        ).endswith(path_end):
            return exchange
    return None


def _active_poll(result: SmokeResult) -> HttpExchange | None:
    """The GET /servers/<id> whose answer first said ACTIVE."""
    active_at = result.active_at
    if active_at is None or result.server_id is None:
        return None
    polls = [e for e in result.http if e.action == "wait_active" and e.method == "GET"
             and e.url.rstrip("/").endswith(result.server_id) and e.received_at <= active_at]
    return max(polls, key=lambda e: e.received_at) if polls else None


def boot_input(index: int, result: SmokeResult) -> BootInput:
    """What the analysis needs of one smoke run."""
    auth = _exchange(result, "auth", "POST", "/auth/tokens")
    create = _exchange(result, "create", "POST", "/servers")
    poll = _active_poll(result)
    client = ClientTimes(
        auth_sent=auth.sent_at if auth else None,
        auth_received=auth.received_at if auth else None,
        auth_request_id=auth.request_id if auth else None,
        create_sent=create.sent_at if create else None,
        create_received=create.received_at if create else None,
        create_request_id=create.request_id if create else None,
        active_sent=poll.sent_at if poll else None,
        active_received=poll.received_at if poll else None,
        active_request_id=poll.request_id if poll else None,
        metadata_seen=result.metadata_seen_at,
    )
    return BootInput(
        index=index, server_id=result.server_id, server_name=result.server_name,
        outcome=result.outcome.value, message=result.message, fault=result.fault,
        global_request_id=result.global_request_id, image_id=result.image_id,
        client=client, started_at=result.started_at, ended_at=result.ended_at,
    )


def launch_boots(
    options: RunOptions, app_version: str, progress: Progress = lambda _: None
) -> tuple[list[SmokeResult], bool]:
    """Boot ``count`` instances, ``concurrency`` at a time; each is deleted after.

    Returns the smoke results in boot order and whether Ctrl-C stopped the run.
    """
    prefix = options.smoke.name_prefix
    results: list[SmokeResult | None] = [None] * options.count

    def one(index: int) -> SmokeResult:
        smoke = dataclasses.replace(options.smoke, name_prefix=f"{prefix}-{index:03d}")
        result = run_smoke(smoke, app_version)
        progress(f"boot {index + 1}/{options.count}: {result.outcome.value}"
                 f" {result.server_id or ''} {result.message or ''}".rstrip())
        return result

    interrupted = False
    try:
        if options.concurrency <= 1:
            for index in range(options.count):
                result = results[index] = one(index)
                if result.outcome is Outcome.INTERRUPTED:
                    interrupted = True
                    break
                if result.outcome in (Outcome.CONFIG_ERROR, Outcome.UNREACHABLE):
                    break
        else:
            with ThreadPoolExecutor(max_workers=options.concurrency) as pool:
                futures = [pool.submit(one, index) for index in range(options.count)]
                for index, future in enumerate(futures):
                    results[index] = future.result()
    except KeyboardInterrupt:
        interrupted = True
    return [r for r in results if r is not None], interrupted


# Nova names the volume it creates for a blank block device mapping after the
# instance (nova/virt/block_device.py DriverBlankBlockDevice.attach).
BLANK_VOLUME = "{server_id}-blank-vol"
_SETTLING = frozenset({"creating", "attaching", "detaching", "in-use", "reserved", "downloading"})


@dataclass
class Swept:
    """What a sweep deleted."""

    servers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)


def sweep(cloud: str, prefix: str, app_version: str, server_ids: Iterable[str] = (),
          wait_s: float = 60.0) -> Swept:
    """Delete every server of this run that is still there (after Ctrl-C or a crash),
    then the blank volumes Nova made for the run's servers: a server deleted while it
    was building leaves its volume behind (available, not deleted on termination).

    Never raises.
    """
    swept = Swept()
    try:
        conn = launch.connect(cloud, Trace(), app_version, api_timeout=30)
    except Exception:  # noqa: BLE001 - nothing reachable, nothing to sweep
        return swept
    deadline = time.monotonic() + wait_s
    try:
        for server in conn.compute.servers(name=f"^{prefix}"):
            conn.compute.delete_server(server.id, ignore_missing=True)
            swept.servers.append(str(server.id))
        for server_id in swept.servers:
            while time.monotonic() < deadline and conn.compute.find_server(server_id) is not None:
                time.sleep(1)
        for server_id in dict.fromkeys([*server_ids, *swept.servers]):
            swept.volumes += _delete_blank_volumes(conn, server_id, deadline)
    except Exception:  # noqa: BLE001 - best effort
        pass
    finally:
        conn.close()
    return swept


def _delete_blank_volumes(conn: Any, server_id: str, deadline: float) -> list[str]:
    """Delete the blank volume(s) Nova made for this server, once they settle."""
    deleted = []
    name = BLANK_VOLUME.format(server_id=server_id)
    for volume in conn.block_storage.volumes(name=name):
        while volume.status in _SETTLING and time.monotonic() < deadline:
            time.sleep(1)
            volume = conn.block_storage.get_volume(volume.id)
        if volume.status not in _SETTLING:
            conn.block_storage.delete_volume(volume.id, ignore_missing=True)
            deleted.append(str(volume.id))
    return deleted


def fresh_image(cloud: str, image: str, name: str, app_version: str) -> str:
    """Upload a copy of ``image`` under a new id; return that id.

    Nova keeps every image it booted in the compute host's ``_base`` cache, so
    only the first boot of an image there fetches it from Glance (and, with
    Ceph, from the RADOS Gateway): stages 19-25.  A fresh copy makes the first
    boot of the run a cold one.  Kernel and ramdisk references are kept.
    """
    conn = launch.connect(cloud, Trace(), app_version, api_timeout=120)
    try:
        source = conn.image.find_image(image, ignore_missing=False)
        data = conn.image.download_image(source).content
        extra = {key: source.properties[key] for key in ("kernel_id", "ramdisk_id")
                 if key in (source.properties or {})}
        if getattr(source, "kernel_id", None):
            extra["kernel_id"] = source.kernel_id
        if getattr(source, "ramdisk_id", None):
            extra["ramdisk_id"] = source.ramdisk_id
        copy = conn.image.create_image(
            name=name, data=data, disk_format=source.disk_format,
            container_format=source.container_format, visibility="private",
            allow_duplicates=True, **extra,
        )
        return str(copy.id)
    finally:
        conn.close()


def delete_image(cloud: str, image_id: str, app_version: str) -> bool:
    """Delete an image the run uploaded; never raises."""
    try:
        conn = launch.connect(cloud, Trace(), app_version, api_timeout=60)
    except Exception:  # noqa: BLE001
        return False
    try:
        conn.image.delete_image(image_id, ignore_missing=True)
        return True
    except Exception:  # noqa: BLE001
        return False
    finally:
        conn.close()


def boots_window(results: list[SmokeResult]) -> tuple[datetime, datetime]:
    starts = [r.started_at for r in results]
    ends = [r.ended_at or utc_now() for r in results]
    return min(starts) - timedelta(seconds=5), max(ends) + timedelta(seconds=5)


def run_outcome(boots: list[dict[str, Any]], results: list[SmokeResult], interrupted: bool,
                hosts: list[dict[str, Any]]) -> tuple[str, int, str | None]:
    """(outcome, exit code, message) of a whole run."""
    if interrupted:
        return ("interrupted", 130,
                "interrupted (Ctrl-C); the run's servers and their blank volumes were deleted")
    for result in results:
        if result.outcome in (Outcome.CONFIG_ERROR, Outcome.UNREACHABLE):
            return result.outcome.value, result.outcome.exit_code, result.message
    failed = [b for b in boots if b["outcome"] != "ok"]
    if failed:
        first = failed[0]
        return ("boot-failed", 1,
                f"{len(failed)} of {len(boots)} boots failed; boot {first['index']} stopped at "
                f"stage {first['failed_stage']}: {first.get('message')}")
    # Unreachable, or reached but its collection stopped (an SSH channel that timed out):
    # either way the stages of its services are unobserved for want of logs.
    missing = [h for h in hosts if not h["reachable"] or h.get("error")]
    if missing:
        return ("incomplete", 4, "logs of " + ", ".join(
            f"{h['name']} ({h['error']})" if h.get("error") else h["name"] for h in missing)
            + " could not be collected")
    return "ok", 0, None
