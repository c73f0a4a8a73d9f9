"""Boots in the logs: which there are, the keys that tie lines to each, its window, where it stopped.

* the boots a run hands the analysis (``logs/boots.json``: :func:`read_boots`, :func:`write_boots`);
* discovery: every instance nova built or failed to place (:func:`boots_in`), with its
  request thread (:func:`request_thread_of`);
* a boot's keys (:func:`keys_for`): what the client recorded, widened from the logs, and what
  the logs say of the requests a client without records made (create, token, ACTIVE poll);
* its window: the client's times, else its instance's lines (:func:`window_from_logs`), cut
  where the client stopped following it, its server's DELETE (:func:`server_deletes`,
  :func:`until_stopped`);
* a failed boot's error line and the last line each service logged for it (:func:`error_record`,
  :func:`last_lines`).

Every function reads a :class:`~probes.correlate.Classifier` filled by :mod:`probes.reading`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from probes.correlate import BootKeys, Classifier, EventIndex, ties, widen_keys
from probes.logs.reader import LogRecord
from probes.records import BootInput, ClientTimes
from probes.report import to_jsonable

BOOTS_FILE = "boots.json"
WINDOW_SLACK = timedelta(seconds=30)
TOKEN_LOOKBACK = timedelta(minutes=5)

# nova-compute's lines of a build, in the build's request context (the create
# call's context travels with the RPC): the first one names the boot's thread.
BUILD_EVENTS = ("compute_starting", "compute_claimed", "compute_spawn_took", "compute_build_took",
                "compute_build_failed", "conductor_set_error")
# Lines that say a boot failed (no placement, or a failed build on the compute host).
FAILURE_EVENTS = ("conductor_set_error", "compute_build_failed")

# The services the client's own calls reach all along a boot (its token, its polls of the
# server): their last line says the client was waiting, not where the boot was.
_POLLED = frozenset({"nova-api", "keystone"})

_SERVER_PATH = re.compile(r"/servers/([^/]+)/?$")
_REQUEST_IDS = ("auth_request_id", "create_request_id", "active_request_id")


def boot_to_dict(boot: BootInput) -> dict[str, Any]:
    data: dict[str, Any] = to_jsonable(boot)
    return data


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def boot_from_dict(data: dict[str, Any]) -> BootInput:
    times: dict[str, Any] = {
        k: (_dt(v) if k not in _REQUEST_IDS else v) for k, v in (data.get("client") or {}).items()
    }
    client = ClientTimes(**times)
    return BootInput(
        index=int(data["index"]), server_id=data.get("server_id"),
        server_name=data.get("server_name"), outcome=data.get("outcome", "ok"),
        message=data.get("message"), fault=data.get("fault"),
        global_request_id=data.get("global_request_id"), image_id=data.get("image_id"),
        ports=list(data.get("ports") or []), volume_ids=list(data.get("volume_ids") or []),
        client=client, started_at=_dt(data.get("started_at")), ended_at=_dt(data.get("ended_at")),
        stopped_at=_dt(data.get("stopped_at")), client_stage=data.get("client_stage"),
        trace_id=data.get("trace_id"),
    )


def write_boots(logdir: Path, boots: list[BootInput]) -> None:
    (logdir / BOOTS_FILE).write_text(json.dumps([boot_to_dict(b) for b in boots], indent=2) + "\n")


def read_boots(logdir: Path) -> list[BootInput] | None:
    path = logdir / BOOTS_FILE
    if not path.is_file():
        return None
    return [boot_from_dict(item) for item in json.loads(path.read_text())]


def request_thread_of(server_id: str, classifier: Classifier) -> str | None:
    """The id the services log for the request that built this instance.

    The client's global request id when it set one; otherwise nova's own
    request id of the create call, which nova passes on as the global id to
    Neutron, Glance and Cinder and keeps as the local id in the scheduler,
    conductor and compute.
    """
    for name in BUILD_EVENTS:
        for event in classifier.events.get(name, ()):
            record = event.record
            if record.instance == server_id and (record.global_request_id or record.request_id):
                return record.global_request_id or record.request_id
    return None


def boots_in(classifier: Classifier) -> list[BootInput]:
    """Every instance nova built or failed to place, in the order it began, with the id of
    its request thread (nova-compute's build lines, DEBUG or INFO; nova-conductor's
    'Setting instance to ERROR state' for a boot that never reached a compute host)."""
    first: dict[str, LogRecord] = {}
    failed: dict[str, LogRecord] = {}
    for name in BUILD_EVENTS:
        for event in classifier.events.get(name, ()):
            uuid = event.record.instance
            if uuid and (uuid not in first or event.record.at < first[uuid].at):
                first[uuid] = event.record
            if uuid and name in FAILURE_EVENTS:
                failed.setdefault(uuid, event.record)
    ordered = sorted(first.items(), key=lambda item: item[1].at)
    return [BootInput(index=index, server_id=uuid,
                      global_request_id=request_thread_of(uuid, classifier),
                      outcome="boot-failed" if uuid in failed else "ok",
                      message=failed[uuid].message[:500] if uuid in failed else None)
            for index, (uuid, _) in enumerate(ordered)]


def keys_for(boot: BootInput, classifier: Classifier) -> BootKeys:
    """The boot's keys (its window not set): the client's, widened from the logs, and
    without client records the requests the logs show the client made."""
    keys = BootKeys(
        server_id=boot.server_id, global_request_id=boot.global_request_id,
        image_id=boot.image_id, client_times=boot.client,
        auth_request_id=boot.client.auth_request_id,
        create_request_id=boot.client.create_request_id,
        active_request_id=boot.client.active_request_id,
    )
    for port in boot.ports:
        if port.get("port_id"):
            keys.port_ids.add(port["port_id"].lower())
        if port.get("mac"):
            keys.macs.add(port["mac"].lower())
        if port.get("ip"):
            keys.ips.add(port["ip"])
    keys.volume_ids.update(v.lower() for v in boot.volume_ids)
    if boot.trace_id:
        keys.trace_ids.add(boot.trace_id.lower())
    if keys.global_request_id is None and boot.server_id:
        keys.global_request_id = request_thread_of(boot.server_id, classifier)
    widen_keys(classifier, keys)
    if keys.create_request_id is None:
        keys.create_request_id = _create_request(keys, classifier)
    if keys.auth_request_id is None and keys.create_request_id is not None:
        keys.auth_request_id = _token_request(keys.create_request_id, classifier)
    if keys.active_request_id is None and boot.server_id:
        keys.active_request_id = _active_poll(boot.server_id, classifier)
    return keys


def _create_request(keys: BootKeys, classifier: Classifier) -> str | None:
    """nova-api's request id of the boot's POST /servers (its access line)."""
    for event in classifier.events.get("nova_access", ()):
        if (event.fields.get("method") == "POST" and event.fields.get("path", "").endswith("/servers")
                and ties(event, ("request",), keys)):
            return event.record.request_id
    return None


def _token_request(create_request_id: str, classifier: Classifier) -> str | None:
    """Without a client record: the last token Keystone issued before the create call.

    A client authenticates, then calls nova; the token issue (an unauthenticated
    POST /v3/auth/tokens) closest before the create request's first line stands
    for the client's.  It may be another client's: the stages say so (proxy).
    """
    create = classifier.spans.get(("nova-api", create_request_id))
    if create is None:
        return None
    begin = create.first.at
    issued = [e.record for e in classifier.events.get("ks_token_issue", ())
              if e.record.request_id and begin - TOKEN_LOOKBACK <= e.record.at <= begin]
    return max(issued, key=lambda r: r.at).request_id if issued else None


def _active_poll(server_id: str, classifier: Classifier) -> str | None:
    """Without a client record: the first GET /servers/<id> that began after the build ended.

    nova-compute saves the instance ACTIVE, then logs 'Took N seconds to build
    instance'; a poll that began after that line read ACTIVE.
    """
    built = [e.record.at for e in classifier.events.get("compute_build_took", ())
             if e.record.instance == server_id]
    if not built:
        return None
    done = min(built)
    polls = []
    for event in classifier.events.get("nova_access", ()):
        if event.fields.get("method") != "GET" or not event.fields.get("path", "").endswith(
                f"/servers/{server_id}") or event.record.request_id is None:
            continue
        span = classifier.spans.get((event.record.service, event.record.request_id))
        began = span.first.at if span else event.record.at
        if began >= done:
            polls.append((began, event.record.request_id))
    return min(polls)[1] if polls else None


def window_from_logs(keys: BootKeys, index: EventIndex) -> tuple[datetime, datetime] | None:
    """Without client times: the first and last line naming the boot's instance, widened."""
    if not keys.server_id:
        return None
    times = [index.events(rule)[position].record.at for rule in index.rules()
             for position in index.table(rule).get("record_instance", {}).get(keys.server_id, ())]
    if not times:
        return None
    return (min(times) - WINDOW_SLACK * 2, max(times) + WINDOW_SLACK * 2)


def server_deletes(index: EventIndex) -> dict[str, datetime]:
    """When nova-api took the first DELETE of each server (its access line's stamp less the
    time it says the request took): what a boot analysed from its logs alone knows of
    when its client stopped following it.  Read once for all the boots."""
    deletes: dict[str, datetime] = {}
    for event in index.events("nova_access"):
        found = _SERVER_PATH.search(event.fields.get("path", ""))
        if event.fields.get("method") != "DELETE" or found is None:
            continue
        began = event.record.at - timedelta(seconds=float(event.fields.get("elapsed") or 0))
        server = found.group(1)
        if server not in deletes or began < deletes[server]:
            deletes[server] = began
    return deletes


def until_stopped(window: tuple[datetime, datetime] | None,
                  stopped_at: datetime | None) -> tuple[datetime, datetime] | None:
    """The boot's window cut where the client stopped following it (its delete request).
    The delete carries the boot's global request id, and Nova's teardown repeats the
    build's RPC shapes (a CAST to ``compute.<host>``, compute's CALL to the conductor):
    a line after that moment is the teardown's, never the build's."""
    if window is None or stopped_at is None or stopped_at >= window[1]:
        return window
    return (window[0], max(window[0], stopped_at))


def error_record(boot: BootInput, keys: BootKeys, classifier: Classifier) -> LogRecord | None:
    """The first error line logged for the boot's instance or its request thread."""
    for record in sorted(classifier.errors, key=lambda r: r.at):
        if (boot.server_id and record.instance == boot.server_id) or (
            keys.global_request_id and record.global_request_id == keys.global_request_id
        ):
            return record
    return None


def last_lines(boot: BootInput, keys: BootKeys, classifier: Classifier) -> list[LogRecord]:
    """The last line each service logged for this boot before the client gave up on it
    (its request thread's ids, or its instance), latest first; the polled APIs left out.
    Any line of a span may be it when the client's time bounds them (else the latest one:
    what a span of a service no selector reads keeps, see ``probes.analyze._lines_kept``)."""
    ids = {i for i in (keys.global_request_id, keys.create_request_id) if i}
    until = boot.stopped_at or boot.ended_at
    last: dict[str, LogRecord] = {}
    # The client's polls (the server, its console) reach nova-compute too, under their API
    # request's id: their lines are the client waiting, not the boot going on.
    polls = {rid for (service, rid) in classifier.spans if service in _POLLED} - {keys.create_request_id}

    def offer(record: LogRecord) -> None:
        if (record.service in _POLLED or record.request_id in polls
                or (until is not None and record.at > until)):
            return
        mine = last.get(record.service)
        if mine is None or record.at >= mine.at:
            last[record.service] = record

    for span in classifier.spans.values():
        if span.request_id in ids or span.global_request_id in ids:
            for record in (span.first, *span.times):
                offer(record)
    if boot.server_id:
        for record in _naming_instance(classifier, boot.server_id):
            offer(record)
    return sorted(last.values(), key=lambda r: r.at, reverse=True)


def _naming_instance(classifier: Classifier, server_id: str) -> Iterator[LogRecord]:
    """The records of the classified events, then the errors, that name the instance."""
    for events in classifier.events.values():
        for event in events:
            if event.record.instance == server_id:
                yield event.record
    for record in classifier.errors:
        if record.instance == server_id:
            yield record
