"""``bootprobe run``: launch N boots, collect the lab's logs, analyse, report.

:func:`run_boots` is the whole run, Ctrl-C included: it marks the hosts' log files,
launches the boots, sweeps what they left, collects the logs, analyses them and writes
the result.  Each step is its own function (and its own command): :func:`launch_boots`
(openstacksdk, through :mod:`probes.smoke`), :func:`probes.collect.collect`
(paramiko), :func:`probes.analyze.analyze` (pure).  The run folder keeps
everything: ``boots.json`` (what the client measured), ``logs/<host>/``
(what the hosts logged) and ``result.json`` (the analysis every report is
rendered from).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from probes import collect as collect_mod
from probes import launch
from probes import profiler as profiler_mod
from probes.analyze import analyze, unanalysed
from probes.boots import write_boots
from probes.catalog import Catalog, load_catalog
from probes.collect import FileMark, LabHost, StackReport
from probes.correlate import ClientTimes
from probes.errors import ConfigError
from probes.profiler import ProfilerAccess, Secret, TraceRead
from probes.progress import RunProgress, Silent
from probes.records import (
    BootInput,
    HttpExchange,
    Outcome,
    Result,
    SmokeOptions,
    SmokeResult,
    Stage,
    utc_now,
)
from probes.smoke import run_smoke
from probes.trace import Trace

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunOptions:
    smoke: SmokeOptions
    count: int = 1
    concurrency: int = 1
    hmac_key: Secret | None = None  # trace each boot with OSProfiler (--profile)


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
        stopped_at=_stopped_at(result),
        client_stage=result.failed_stage.value if result.failed_stage else None,
        trace_id=result.trace_id,
    )


def _stopped_at(result: SmokeResult) -> datetime | None:
    """When the client stopped following the boot: its delete request (after a timeout, an
    ERROR, Ctrl-C), else the run's end."""
    delete = result.action("delete")
    return delete.started_at if delete is not None else result.ended_at


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
        result = run_smoke(smoke, app_version, options.hmac_key)
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
            interrupted = _in_parallel(one, options, results)
    except KeyboardInterrupt:
        interrupted = True
    return [r for r in results if r is not None], interrupted


def _awaited(future: Future[SmokeResult]) -> SmokeResult:
    """The future's result, waited for in short steps: the main thread runs Python's signal
    handlers only between them (a SIGINT the kernel hands to a worker thread would
    otherwise leave it blocked, Ctrl-C unanswered, until the boot ends)."""
    while True:
        try:
            return future.result(timeout=0.2)
        except TimeoutError:
            continue


def _in_parallel(one: Callable[[int], SmokeResult], options: RunOptions,
                 results: list[SmokeResult | None]) -> bool:
    """Run the boots ``concurrency`` at a time into ``results``; whether Ctrl-C stopped them.
    On Ctrl-C the boots not begun never begin, and the boots under way stop waiting and
    delete their server (:data:`probes.launch.RUN_STOPPED`); their results are kept."""
    launch.RUN_STOPPED.clear()
    pool = ThreadPoolExecutor(max_workers=options.concurrency)
    futures = [pool.submit(one, index) for index in range(options.count)]
    try:
        for index, future in enumerate(futures):
            results[index] = _awaited(future)
        return False
    except KeyboardInterrupt:
        launch.RUN_STOPPED.set()
        for future in futures:
            future.cancel()
        for index, future in enumerate(futures):
            if not future.cancelled():
                results[index] = _awaited(future)
        return True
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        launch.RUN_STOPPED.clear()


# Nova names the volume it creates for a blank block device mapping after the
# instance (nova/virt/block_device.py DriverBlankBlockDevice.attach).
BLANK_VOLUME = "{server_id}-blank-vol"
_SETTLING = frozenset({"creating", "attaching", "detaching", "in-use", "reserved", "downloading"})


@dataclass
class Swept:
    """What a sweep deleted."""

    servers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # what it could not delete, and why

    def __bool__(self) -> bool:
        return bool(self.servers or self.volumes or self.ports or self.left)

    def summary(self) -> str:
        said = [f"{len(self.servers)} server(s)", f"{len(self.volumes)} blank volume(s)",
                f"{len(self.ports)} port(s)"]
        text = "deleted " + ", ".join(said) + " the run left"
        return text + ("; still there: " + "; ".join(self.left) if self.left else "")


def needs_sweep(result: SmokeResult) -> bool:
    """Whether a boot may have left something: it did not end with its server deleted."""
    if result.server_name is None:
        return False  # it never asked for a server
    return result.outcome is not Outcome.OK or not result.deleted or bool(result.cleanup_error)


def sweep(cloud: str, prefix: str, app_version: str, server_ids: Iterable[str] = (),
          wait_s: float = 60.0) -> Swept:
    """Delete every server of this run that is still there (after Ctrl-C, a boot that timed
    out, a crash), then what Nova made for the run's servers and left: the blank volumes (a
    server deleted while it was building leaves its volume behind, available, not deleted
    on termination) and the ports (device_id: the server).

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
        ids = list(dict.fromkeys([*server_ids, *swept.servers]))
        for server_id in ids:
            while time.monotonic() < deadline and conn.compute.find_server(server_id) is not None:
                time.sleep(1)
            if conn.compute.find_server(server_id) is not None:
                swept.left.append(f"server {server_id} (still deleting after {wait_s:g} s: its "
                                  "compute host has not run the delete)")
                continue  # its volume and ports are still the server's
            swept.volumes += _delete_blank_volumes(conn, server_id, deadline)
            for port in conn.network.ports(device_id=server_id):
                conn.network.delete_port(port.id, ignore_missing=True)
                swept.ports.append(str(port.id))
    except Exception as exc:  # noqa: BLE001 - best effort, but say it
        swept.left.append(f"the sweep stopped: {type(exc).__name__}: {str(exc)[:200]}")
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
        if volume.status in ("available", "error"):  # not 'deleting': Nova is on it
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


def run_outcome(boots: Sequence[Mapping[str, Any]], results: list[SmokeResult], interrupted: bool,
                hosts: Sequence[Mapping[str, Any]], swept: Swept | None = None) -> tuple[str, int, str | None]:
    """(outcome, exit code, message) of a whole run."""
    left = f"; NOT deleted: {'; '.join(swept.left)}" if swept is not None and swept.left else ""
    if interrupted:
        where = ""
        stopped = [b for b in boots if b.get("interrupted_at")]
        if stopped:
            where = f" (boot {stopped[0]['index']} before stage {stopped[0]['interrupted_at']})"
        done = ("the run's servers and their blank volumes and ports were deleted"
                if any(r.server_name for r in results) else "no server had been asked for")
        return ("interrupted", 130, f"interrupted (Ctrl-C){where}; {done}{left}")
    for result in results:
        if result.outcome in (Outcome.CONFIG_ERROR, Outcome.UNREACHABLE):
            return result.outcome.value, result.outcome.exit_code, result.message
    failed = [b for b in boots if b["outcome"] != "ok"]
    if failed:
        first = failed[0]
        last = first.get("last_line")
        seen = (f"; last line seen for it: {last['host']} {last['source'].split()[0]} "
                f"{(last.get('at') or '')[11:23]} {last['line'][:240]}") if last else ""
        return ("boot-failed", 1,
                (f"{len(failed)} of {len(boots)} boots failed; boot {first['index']} stopped at "
                 f"stage {first['failed_stage']}: {first.get('message')}{seen}{left}"))
    # Unreachable, or reached but its collection stopped (an SSH channel that timed out), or a
    # file that could be read only in part (a damaged gzip, a rotation that left no copy):
    # the stages of its services may be unobserved for want of its lines.
    missing = [h for h in hosts if not h["reachable"] or h.get("error") or h.get("damaged")]
    if missing:
        def why(host: Mapping[str, Any]) -> str:
            if host.get("error"):
                return f"{host['name']} ({host['error']})"
            if host.get("damaged"):
                return f"{host['name']} (" + "; ".join(
                    f"{d['path']}: {d['why']}" for d in host["damaged"]) + ")"
            return str(host["name"])
        return ("incomplete", 4, "logs of " + ", ".join(why(h) for h in missing)
                + " could not be collected in full" + left)
    if left:
        return ("incomplete", 4, f"every boot passed{left}")
    return "ok", 0, None


def stuck_building(result: SmokeResult) -> bool:
    """A boot the client gave up on while its server was still building."""
    return (result.outcome is Outcome.BOOT_FAILED and result.failed_stage is Stage.ACTIVE
            and bool(result.status_changes) and result.status_changes[-1].status == "BUILD")


# --- the whole run ------------------------------------------------------------------------

@dataclass(frozen=True)
class RunRequest:
    """What a run is asked for (``bootprobe run``'s options)."""

    cloud: str
    image: str
    flavor: str
    network: str
    hosts_file: Path
    timeout_s: float = 300.0
    volume_size_gb: int = 1
    count: int = 1
    concurrency: int = 1
    fresh_image: bool = False  # boot from a new copy of ``image``, deleted afterwards
    output: Path | None = None  # the run folder; None: bootprobe-runs/<UTC time>
    profile: bool = False  # trace each boot with OSProfiler (the hosts file's trace store)

    def result_options(self) -> dict[str, Any]:
        """The options as the result file records them."""
        return {"cloud": self.cloud, "image": self.image, "flavor": self.flavor,
                "network": self.network, "volume_size_gb": self.volume_size_gb,
                "count": self.count, "concurrency": self.concurrency,
                "fresh_image": bool(self.fresh_image), "hosts_file": str(self.hosts_file),
                **({"profile": True} if self.profile else {})}


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: its exit code and message, and its result when it got as far as
    writing one (``result`` None: it stopped before, on a usage or configuration error or
    a cloud it could not reach; ``hint`` says what to do about it)."""

    exit_code: int
    message: str | None = None
    hint: str | None = None
    result: Result | None = None
    path: Path | None = None  # the result.json written


@dataclass(frozen=True)
class RunSteps:
    """The work a run is made of, each step replaceable (by a test's fakes)."""

    load_hosts: Callable[[Path], list[LabHost]] = collect_mod.load_hosts
    mark: Callable[[list[LabHost]], dict[str, list[FileMark]]] = collect_mod.mark
    launch: Callable[[RunOptions, str, Progress], tuple[list[SmokeResult], bool]] = launch_boots
    stacks: Callable[[list[LabHost]], list[StackReport]] = collect_mod.process_stacks
    sweep: Callable[[str, str, str, Iterable[str]], Swept] = sweep
    collect: Callable[[list[LabHost], Path, datetime, datetime,
                       dict[str, list[FileMark]] | None], object] = collect_mod.collect
    analyze: Callable[[Path, list[BootInput], Catalog], Result] = analyze
    fresh_image: Callable[[str, str, str, str], str] = fresh_image
    delete_image: Callable[[str, str, str], object] = delete_image
    profiler_access: Callable[[Path], ProfilerAccess] = profiler_mod.load_access
    read_traces: Callable[[Secret, list[SmokeResult], Path, list[str]],
                          list[TraceRead]] = profiler_mod.read_traces


def run_boots(request: RunRequest, app_version: str, progress: RunProgress | None = None,
              on_outcome: Callable[[RunOutcome], None] | None = None,
              steps: RunSteps | None = None) -> RunOutcome:
    """The whole run: boot ``request.count`` instances and measure their stages from the
    lab's logs, into the run folder; ``on_outcome`` is told how it ended before the fresh
    copy of the image (``request.fresh_image``) is deleted.

    Ctrl-C during the boots stops them (each deletes its server) and sweeps what they
    left; during collection or analysis it leaves a result of what the client saw, every
    stage unanalysed: either way the outcome is "interrupted" (exit 130), the result
    written.
    """
    progress = progress or Silent()
    steps = steps or RunSteps()

    def done(outcome: RunOutcome) -> RunOutcome:
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome

    if request.count < 1 or request.concurrency < 1:
        return done(RunOutcome(2, "--count and --concurrency must be at least 1"))
    try:
        hosts = steps.load_hosts(request.hosts_file)
        profile = _Profile.of(steps.profiler_access(request.hosts_file)) if request.profile else None
    except ConfigError as exc:
        return done(RunOutcome(2, exc.message, exc.hint))
    started = utc_now()
    folder = request.output or Path("bootprobe-runs") / f"{started:%Y%m%dT%H%M%SZ}"
    folder.mkdir(parents=True, exist_ok=True)
    run = _Run(request, app_version, progress, steps, hosts, folder, started,
               prefix=run_prefix("bootprobe-run"), profile=profile)
    fresh_id = None
    if request.fresh_image:
        try:
            fresh_id = steps.fresh_image(request.cloud, request.image, f"{run.prefix}-image",
                                         app_version)
        except Exception as exc:  # noqa: BLE001 - openstacksdk and keystoneauth errors alike
            return done(RunOutcome(
                2, f"could not upload a fresh copy of image '{request.image}': {exc}"))
        progress(f"uploaded a fresh copy of {request.image}: {fresh_id}")
    try:
        return done(run.boots(fresh_id or request.image))
    finally:
        if fresh_id is not None:
            steps.delete_image(request.cloud, fresh_id, app_version)


@dataclass(frozen=True)
class _Profile:
    """A profiled run's trace store (its URL, shown; the connection string with its password)
    and HMAC key, read from their files before the first boot."""

    store: str
    connection: Secret
    hmac_key: Secret

    @classmethod
    def of(cls, access: ProfilerAccess) -> _Profile:
        return cls(access.store, access.connection_string(), access.hmac_key())


@dataclass
class _Run:
    """One run under way: what it was asked, and what its steps have made so far."""

    request: RunRequest
    app_version: str
    progress: RunProgress
    steps: RunSteps
    hosts: list[LabHost]
    folder: Path
    started: datetime
    prefix: str
    results: list[SmokeResult] = field(default_factory=list)
    interrupted: bool = False
    marks: dict[str, list[FileMark]] | None = None
    stacks: list[StackReport] | None = None
    swept: Swept | None = None
    profile: _Profile | None = None
    traces: list[TraceRead] | None = None

    def boots(self, image: str) -> RunOutcome:
        """Launch, sweep, collect, analyse; the result written."""
        self.launch(image)
        early = [r for r in self.results
                 if r.server_name is None and r.outcome.exit_code in (2, 3)]
        if early and len(early) == len(self.results):
            first = early[0]
            return RunOutcome(first.outcome.exit_code,
                              f"{first.outcome.value}: {first.message}", first.hint)
        boots = [boot_input(i, r) for i, r in enumerate(self.results)]
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        write_boots(logs, boots)
        result = self.analysed(logs, boots)
        outcome, code, message = run_outcome(result["boots"], self.results, self.interrupted,
                                             result["hosts"], self.swept)
        result.update({"tool_version": self.app_version,
                       "started_at": self.started.isoformat(),
                       "ended_at": utc_now().isoformat(), "outcome": outcome,
                       "exit_code": code, "message": message,
                       "options": self.request.result_options()})
        if self.stacks is not None:
            result["stacks"] = [dataclasses.asdict(stack) for stack in self.stacks]
        if self.swept is not None:
            result["swept"] = {"servers": self.swept.servers, "volumes": self.swept.volumes,
                               "ports": self.swept.ports, "left": self.swept.left}
        if self.profile is not None:
            result["profile"] = {"store": self.profile.store,
                                 "traces": [dataclasses.asdict(t) for t in self.traces or ()]}
        path = self.folder / "result.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        return RunOutcome(code, message, None, result, path)

    def launch(self, image: str) -> None:
        """Mark the hosts' log files, launch the boots; then ask nova-compute where a boot
        that never got ACTIVE is, and sweep what the boots left."""
        request, progress = self.request, self.progress
        options = RunOptions(
            smoke=SmokeOptions(cloud=request.cloud, image=image, flavor=request.flavor,
                               network=request.network, name_prefix=self.prefix,
                               timeout_s=request.timeout_s,
                               volume_size_gb=request.volume_size_gb),
            count=request.count, concurrency=request.concurrency,
            hmac_key=self.profile.hmac_key if self.profile else None)
        try:
            progress(f"marking the log files of {len(self.hosts)} host(s)")
            self.marks = self.steps.mark(self.hosts)
            with progress.step(f"launching {request.count} boot(s), "
                               f"{request.concurrency} at a time"):
                self.results, self.interrupted = self.steps.launch(options, self.app_version,
                                                                   progress)
        except KeyboardInterrupt:  # before the first boot began: nothing made, nothing to read
            self.interrupted = True
        if any(stuck_building(r) for r in self.results):
            # A boot that never got ACTIVE: where nova-compute's build thread is (the stack of
            # its Guru Meditation report), asked before the sweep while the build is still there.
            with progress.step("a boot never got ACTIVE: asking nova-compute for its stack"):
                self.stacks = self.steps.stacks(self.hosts)
        if self.interrupted or any(needs_sweep(r) for r in self.results):
            # After Ctrl-C, a boot that timed out or a delete that did not finish: whatever the
            # run's servers left (the servers, their blank volumes, their ports) is deleted.
            self.swept = self.sweep()
            progress(("interrupted; " if self.interrupted else "") + self.swept.summary())

    def sweep(self) -> Swept:
        """Sweep, Ctrl-C ignored while it does: it is bounded (a minute at most), and a second
        Ctrl-C must not leave the run's servers behind."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            with self.progress.step("sweeping what the run's servers left (Ctrl-C waits for it)"):
                return self.steps.sweep(self.request.cloud, self.prefix, self.app_version,
                                        [r.server_id for r in self.results if r.server_id])
        finally:
            signal.signal(signal.SIGINT, previous)

    def analysed(self, logs: Path, boots: list[BootInput]) -> Result:
        """Collect the logs of the boots' window into ``logs`` and analyse them; after Ctrl-C
        (there, or before the first boot began) the result of what the client saw."""
        step = "collection"
        try:
            if self.interrupted and not self.results:
                raise KeyboardInterrupt  # no boot began: nothing to collect or analyse
            if self.results:
                since, until = boots_window(self.results)
                with self.progress.step(f"collecting the logs of {len(self.hosts)} host(s)"):
                    self.steps.collect(self.hosts, logs, since, until, self.marks)
                if self.profile is not None:
                    with self.progress.step(f"reading the boots' traces from {self.profile.store}"):
                        self.traces = self.steps.read_traces(
                            self.profile.connection, self.results, logs, [h.name for h in self.hosts])
            step = "analysis"
            with self.progress.step("analysing"):
                return self.steps.analyze(logs, boots, load_catalog())
        except KeyboardInterrupt:
            # Ctrl-C in collection or analysis: the boots are over (their servers deleted), so
            # the result says what the client saw, every stage unanalysed, and where the logs
            # are.
            if not self.results:
                step = "launch"
                why = "the run was interrupted (Ctrl-C) before its first boot began"
            else:
                why = (f"the run was interrupted (Ctrl-C) during log {step}: not analysed "
                       f"(`bootprobe analyze {logs}` analyses what was collected)")
            result = unanalysed(boots, load_catalog(), why)
            result["interrupted_during"] = step
            self.interrupted = True
            return result
