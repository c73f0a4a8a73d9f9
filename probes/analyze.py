"""Turn collected logs and client records into the result file (bootlab.run/1).

Pure: reads a log folder and plain records, returns a dict.  The logs are
streamed once for all boots (only the union of the boots' windows is read).
"""

from __future__ import annotations

import copy
import gc
import json
import os
import re
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from probes.catalog import Catalog, Fidelity
from probes.correlate import (
    BootKeys, Classifier, ClientTimes, EventIndex, SettingState, StageFinding, boot_window,
    request_services, resolve_boot, setting_states, ties, widen_keys,
)
from probes.logs.reader import (
    FileSources, HostInfo, HostRoot, Hosts, LogRecord, SourceStats, find_hosts, read_file,
)
from probes.logs.sources import service_of_name
from probes.report import to_jsonable
from probes.scrub import scrub

RESULT_SCHEMA = "bootlab.run/1"
BOOTS_FILE = "boots.json"
WINDOW_SLACK = timedelta(seconds=30)
SERVER_SIDE = range(4, 55)
INTERRUPTED = "interrupted"  # a boot Ctrl-C stopped (probes.records.Outcome.INTERRUPTED)  # stages 4..54 happen in the cloud; 1-3 and 55-58 at the client


@dataclass
class BootInput:
    """What the client knows of one boot (nothing of it is required)."""

    index: int
    server_id: str | None
    server_name: str | None = None
    outcome: str = "ok"
    message: str | None = None
    fault: dict[str, Any] | None = None
    global_request_id: str | None = None
    image_id: str | None = None
    ports: list[dict[str, str]] = field(default_factory=list)
    volume_ids: list[str] = field(default_factory=list)
    client: ClientTimes = field(default_factory=ClientTimes)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    stopped_at: datetime | None = None  # the client gave up on it (timeout, error, Ctrl-C)
    client_stage: str | None = None  # where the client saw it fail (probes.records.Stage)


def boot_to_dict(boot: BootInput) -> dict[str, Any]:
    data: dict[str, Any] = to_jsonable(boot)
    return data


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def boot_from_dict(data: dict[str, Any]) -> BootInput:
    client = ClientTimes(**{
        k: (_dt(v) if k not in ("auth_request_id", "create_request_id", "active_request_id") else v)
        for k, v in (data.get("client") or {}).items()
    })
    return BootInput(
        index=int(data["index"]), server_id=data.get("server_id"),
        server_name=data.get("server_name"), outcome=data.get("outcome", "ok"),
        message=data.get("message"), fault=data.get("fault"),
        global_request_id=data.get("global_request_id"), image_id=data.get("image_id"),
        ports=list(data.get("ports") or []), volume_ids=list(data.get("volume_ids") or []),
        client=client, started_at=_dt(data.get("started_at")), ended_at=_dt(data.get("ended_at")),
        stopped_at=_dt(data.get("stopped_at")), client_stage=data.get("client_stage"),
    )


def write_boots(logdir: Path, boots: list[BootInput]) -> None:
    (logdir / BOOTS_FILE).write_text(json.dumps([boot_to_dict(b) for b in boots], indent=2) + "\n")


def read_boots(logdir: Path) -> list[BootInput] | None:
    path = logdir / BOOTS_FILE
    if not path.is_file():
        return None
    return [boot_from_dict(item) for item in json.loads(path.read_text())]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="microseconds") if at else None


def _evidence(role: str, found: Any) -> dict[str, Any]:
    if found.record is None:
        return {"role": role, "host": "client", "source": "bootprobe", "at": _iso(found.at),
                "line": f"client-side time ({role})"}
    record: LogRecord = found.record
    return {"role": role, "host": record.host, "source": f"{record.service} {record.origin}",
            "at": _iso(record.at), "line": scrub(record.line)[:2000]}


@dataclass(frozen=True)
class _Found:
    """A log record as :func:`_evidence` takes it."""

    record: LogRecord


def _client_evidence(role: str, at: datetime, what: str) -> dict[str, Any]:
    return {"role": role, "host": "client", "source": "bootprobe (openstacksdk)",
            "at": _iso(at), "line": what}


def stage_to_dict(
    finding: StageFinding, boot_start: datetime | None, client_notes: dict[str, str]
) -> dict[str, Any]:
    spec = finding.spec
    data: dict[str, Any] = {
        "number": spec.number, "actor": spec.actor, "target": spec.target,
        "action": spec.action, "fidelity": spec.fidelity.value,
        "status": "unobserved", "start": None, "end": None, "duration_s": None,
        "offset_s": None, "evidence": [], "reason": None, "note": spec.why,
    }
    if finding.start is None or finding.end is None:
        data["reason"] = finding.missing or "no evidence"
        if spec.fidelity is Fidelity.UNOBSERVABLE and spec.would_need:
            data["reason"] += f" (would need: {spec.would_need})"
        if finding.start is not None:
            data["evidence"].append(_stage_evidence("start", finding.start, client_notes))
        return data
    start, end = finding.start.at, finding.end.at
    coarse = finding.end.record.resolution_s if finding.end.record is not None else 0.0
    if end < start and (start - end).total_seconds() < coarse:
        data["reason"] = (f"the end's log stamps whole seconds ({finding.end.record.service}): "
                          "it lies within the second after its stamp, so the stage is shown "
                          "ending where it starts")
        end = start
    data["status"] = "proxy" if spec.fidelity is Fidelity.PROXY else "measured"
    fallbacks = [f.note for f in (finding.start, finding.end) if f.note]
    if fallbacks:  # a stand-in line was used: proxy evidence, whatever the catalog's first choice
        data["status"] = "proxy"
        data["note"] = "; ".join([*( [spec.why] if spec.why else []), *fallbacks])
    data["start"], data["end"] = _iso(start), _iso(end)
    data["duration_s"] = round((end - start).total_seconds(), 6)
    if end < start and data["reason"] is None:
        data["reason"] = (f"end precedes start by {(start - end).total_seconds():.3f} s: "
                          "clock offset between hosts, or a log stamp of coarser resolution")
    if boot_start is not None:
        data["offset_s"] = round((start - boot_start).total_seconds(), 6)
    data["evidence"] = [
        _stage_evidence("start", finding.start, client_notes),
        _stage_evidence("end", finding.end, client_notes),
    ] + [_evidence("also", found) for found in finding.also]
    return data


def _stage_evidence(role: str, found: Any, notes: dict[str, str]) -> dict[str, Any]:
    if found.record is None:
        return _client_evidence(role, found.at, notes.get(_iso(found.at) or "", "client-side time"))
    return _evidence(role, found)


def _keys_for(boot: BootInput, classifier: Classifier) -> BootKeys:
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


# nova-compute's lines of a build, in the build's request context (the create
# call's context travels with the RPC): the first one names the boot's thread.
BUILD_EVENTS = ("compute_starting", "compute_claimed", "compute_spawn_took", "compute_build_took",
                "compute_build_failed", "conductor_set_error")
# Lines that say a boot failed (no placement, or a failed build on the compute host).
FAILURE_EVENTS = ("conductor_set_error", "compute_build_failed")


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


def _create_request(keys: BootKeys, classifier: Classifier) -> str | None:
    """nova-api's request id of the boot's POST /servers (its access line)."""
    for event in classifier.events.get("nova_access", ()):
        if (event.fields.get("method") == "POST" and event.fields.get("path", "").endswith("/servers")
                and ties(event, ("request",), keys)):
            return event.record.request_id
    return None


TOKEN_LOOKBACK = timedelta(minutes=5)


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


def _error_line(boot: BootInput, keys: BootKeys, classifier: Classifier) -> dict[str, Any] | None:
    for record in sorted(classifier.errors, key=lambda r: r.at):
        if (boot.server_id and record.instance == boot.server_id) or (
            keys.global_request_id and record.global_request_id == keys.global_request_id
        ):
            return {"host": record.host, "source": f"{record.service} {record.origin}",
                    "at": _iso(record.at), "line": scrub(record.line)[:2000]}
    return None


# The stage standing for each step the client can see a boot fail at (probes.records.Stage).
CLIENT_STAGES = {"create": 4, "active": 43, "lease": 30, "metadata": 52}

# The services the client's own calls reach all along a boot (its token, its polls of the
# server): their last line says the client was waiting, not where the boot was.
_POLLED = frozenset({"nova-api", "keystone"})


def _last_lines(boot: BootInput, keys: BootKeys, classifier: Classifier) -> list[LogRecord]:
    """The last line each service logged for this boot before the client gave up on it
    (its request thread's ids, or its instance), latest first; the polled APIs left out.
    Any line of a span may be it when the client's time bounds them (else the latest one:
    what a span of a service no selector reads keeps, see :func:`_lines_kept`)."""
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
        for events in classifier.events.values():
            for event in events:
                if event.record.instance == boot.server_id:
                    offer(event.record)
        for record in classifier.errors:
            if record.instance == boot.server_id:
                offer(record)
    return sorted(last.values(), key=lambda r: r.at, reverse=True)


def _client_notes(boot: BootInput) -> dict[str, str]:
    c = boot.client
    notes = {
        c.auth_sent: f"POST /v3/auth/tokens sent ({c.auth_request_id or 'no request id'})",
        c.auth_received: f"token received ({c.auth_request_id or 'no request id'})",
        c.create_sent: f"POST /servers sent ({c.create_request_id or 'no request id'})",
        c.create_received: f"202 for POST /servers received ({c.create_request_id or '-'})",
        c.active_sent: f"GET /servers/{boot.server_id} sent ({c.active_request_id or '-'})",
        c.active_received: f"GET /servers/{boot.server_id} answered ACTIVE ({c.active_request_id or '-'})",
    }
    return {_iso(at) or "": text for at, text in notes.items() if at is not None}


def _boot_result(
    boot: BootInput, catalog: Catalog, classifier: Classifier, states: dict[str, SettingState],
    index: EventIndex, deletes: dict[str, datetime],
) -> dict[str, Any]:
    keys = _keys_for(boot, classifier)
    teardown = deletes.get(keys.server_id) if keys.server_id else None
    keys.window = _until_stopped(
        boot_window(boot.client, WINDOW_SLACK) or _window_from_logs(keys, index),
        min(filter(None, (boot.stopped_at, teardown)), default=None))
    findings = resolve_boot(catalog, classifier, keys, states, index)
    start = boot.client.auth_sent or min(
        (f.start.at for f in findings if f.start is not None), default=None)
    notes = _client_notes(boot)
    stages = [stage_to_dict(f, start, notes) for f in findings]
    server_side = [s for s in stages if s["number"] in SERVER_SIDE and s["start"]]
    critical = None
    if server_side:
        first = min(datetime.fromisoformat(s["start"]) for s in server_side)
        last = max(datetime.fromisoformat(s["end"]) for s in server_side)
        critical = round((last - first).total_seconds(), 6)
    ends = [datetime.fromisoformat(s["end"]) for s in stages if s["end"]]
    failed_stage = None
    error = None
    interrupted_at = None
    if boot.outcome == INTERRUPTED:
        # Ctrl-C, not the cloud, ended it: the first stage it did not reach, no error.
        interrupted_at = _failed_stage(stages, {f.spec.number for f in findings if f.explained})
        if interrupted_at is not None:
            for stage in stages:
                if stage["number"] >= interrupted_at and stage["status"] == "unobserved":
                    stage["reason"] = (f"not reached: the run was interrupted (Ctrl-C) before "
                                       f"stage {interrupted_at}")
    elif boot.outcome != "ok":
        error = _error_line(boot, keys, classifier) or (
            {"host": "client", "source": "bootprobe", "at": None, "line": boot.message}
            if boot.message else None)
        failed_stage = _failed_stage(stages, {f.spec.number for f in findings if f.explained})
        if failed_stage is None and boot.client_stage in CLIENT_STAGES:
            # The logs explain every stage they lack, yet the client saw the boot fail: the
            # stage is the client's (its create call, ACTIVE, the guest's lease or metadata).
            failed_stage = CLIENT_STAGES[boot.client_stage]
            stage = stages[failed_stage - 1]
            stage["reason"] = "; ".join(filter(None, (
                f"the client saw the boot fail here: {boot.message}", stage["reason"])))
        if failed_stage is not None:
            for stage in stages:
                if stage["number"] > failed_stage and stage["status"] == "unobserved":
                    stage["reason"] = f"not reached: the boot failed at stage {failed_stage}"
    last_lines = []
    if boot.outcome != "ok":
        last_lines = [_evidence("last", _Found(r)) for r in _last_lines(boot, keys, classifier)]
        stopped = failed_stage or interrupted_at
        if stopped is not None and last_lines:
            stage = stages[stopped - 1]
            last = last_lines[0]
            stage["reason"] = (f"{stage['reason']}; the boot's last line before the client "
                               f"stopped: {last['host']} {last['source'].split()[0]} "
                               f"{(last['at'] or '')[11:23]}: {last['line'][:300]}")
    c = boot.client
    return {
        "index": boot.index, "server_id": boot.server_id, "server_name": boot.server_name,
        "outcome": boot.outcome, "failed_stage": failed_stage, "error": error,
        "interrupted_at": interrupted_at,
        "last_line": last_lines[0] if last_lines else None, "last_lines": last_lines,
        "message": boot.message,
        "started_at": _iso(start), "ended_at": _iso(max(ends) if ends else None),
        "client": {
            "create_sent_at": _iso(c.create_sent), "active_seen_at": _iso(c.active_received),
            "metadata_seen_at": _iso(c.metadata_seen),
            "time_to_active_s": _span(c.create_sent, c.active_received),
            "time_to_metadata_s": _span(c.create_sent, c.metadata_seen),
        },
        "critical_path_s": critical,
        "end_to_end_s": _span(start, c.metadata_seen or (max(ends) if ends else None)),
        "keys": keys.to_dict(),
        "stages": stages,
    }


_SERVER_PATH = re.compile(r"/servers/([^/]+)/?$")


def _server_deletes(index: EventIndex) -> dict[str, datetime]:
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


def _until_stopped(window: tuple[datetime, datetime] | None,
                   stopped_at: datetime | None) -> tuple[datetime, datetime] | None:
    """The boot's window cut where the client stopped following it (its delete request).
    The delete carries the boot's global request id, and Nova's teardown repeats the
    build's RPC shapes (a CAST to ``compute.<host>``, compute's CALL to the conductor):
    a line after that moment is the teardown's, never the build's."""
    if window is None or stopped_at is None or stopped_at >= window[1]:
        return window
    return (window[0], max(window[0], stopped_at))


def _failed_stage(stages: list[dict[str, Any]], explained: set[int]) -> int | None:
    """The first stage in boot order that has no evidence and no known cause for it."""
    for stage in stages:
        if (stage["status"] == "unobserved" and stage["fidelity"] != "unobservable"
                and stage["number"] not in explained):
            return int(stage["number"])
    return None


def _window_from_logs(keys: BootKeys, index: EventIndex) -> tuple[datetime, datetime] | None:
    if not keys.server_id:
        return None
    times = [index.events(rule)[position].record.at for rule in index.rules()
             for position in index.table(rule).get("record_instance", {}).get(keys.server_id, ())]
    if not times:
        return None
    return (min(times) - WINDOW_SLACK * 2, max(times) + WINDOW_SLACK * 2)


def _span(a: datetime | None, b: datetime | None) -> float | None:
    return round((b - a).total_seconds(), 6) if a and b else None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of the values, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def summarize(boots: list[dict[str, Any]]) -> dict[str, Any]:
    stages = []
    for number in range(1, 59):
        values = [s["duration_s"] for b in boots for s in b["stages"]
                  if s["number"] == number and s["duration_s"] is not None]
        stages.append({"number": number, "count": len(values), "p50_s": percentile(values, 50),
                       "p95_s": percentile(values, 95), "max_s": max(values) if values else None})
    e2e = [b["end_to_end_s"] for b in boots if b.get("end_to_end_s") is not None]
    active = [b["client"]["time_to_active_s"] for b in boots
              if b["client"].get("time_to_active_s") is not None]
    critical = [b["critical_path_s"] for b in boots if b.get("critical_path_s") is not None]
    def agg(values: list[float]) -> dict[str, Any]:
        return {"count": len(values), "p50_s": percentile(values, 50),
                "p95_s": percentile(values, 95), "max_s": max(values) if values else None}
    return {"stages": stages, "end_to_end": agg(e2e), "time_to_active": agg(active),
            "critical_path": agg(critical)}


def _host_dict(host: HostInfo) -> dict[str, Any]:
    return {
        "name": host.name, "address": host.address, "reachable": host.reachable,
        "error": host.error, "clock_offset_s": host.clock_offset_s,
        "clock_rtt_s": host.clock_rtt_s, "clock_offset_applied": host.clock_offset_applied,
        "missing": host.missing, "damaged": host.damaged,
        "sources": [
            {"source": s.service, "path": s.path, "format": s.format, "lines": s.lines,
             "records": s.records, "bad_lines": s.bad_lines, "missing": False, "note": s.note}
            for s in host.sources
        ],
    }


# Below this many bytes of logs a folder is read in this process: starting workers
# costs more than they save.
PARALLEL_MIN_BYTES = 16 << 20


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass
class _FilePart:
    """What one file gave: its stats per host (in the order its lines named the hosts)
    and what a classifier kept of its records."""

    sources: list[tuple[str, SourceStats]]
    classifier: Classifier


def _read_part(
    root: HostRoot, path: Path, catalog: Catalog, since: datetime | None,
    until: datetime | None, hosts: Hosts,
) -> _FilePart:
    classifier = Classifier(catalog)
    opened: list[FileSources] = []
    for record in read_file(root, path, since, until, hosts, classifier, opened):
        classifier.feed(record)
    return _FilePart([(name, stats) for found in opened for name, (_, stats) in found.by_host.items()],
                     classifier)


# The reading makes millions of short-lived objects that reference counting frees (no
# cycles): the cyclic collector, run every 700 allocations by default, is run far less
# meanwhile (7 % of the reading's CPU time on a 1 GB bundle).
READING_GC_THRESHOLD = (100_000, 50, 100)


@contextmanager
def _few_collections() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*READING_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


_WORKER: dict[str, Any] = {}  # a worker process's share of the folder (set once per process)


def _worker_init(roots: list[HostRoot], catalog: Catalog, since: datetime | None,
                 until: datetime | None) -> None:
    gc.set_threshold(*READING_GC_THRESHOLD)  # the worker only reads
    _WORKER.update(roots=roots, catalog=catalog, since=since, until=until, hosts=Hosts(roots))


def _read_batch(roots: list[HostRoot], batch: list[tuple[int, int]], catalog: Catalog,
                since: datetime | None, until: datetime | None, hosts: Hosts) -> list[_FilePart]:
    return [_read_part(roots[r], roots[r].files[f], catalog, since, until, hosts) for r, f in batch]


def _worker_parts(batch: list[tuple[int, int]]) -> list[_FilePart]:
    return _read_batch(_WORKER["roots"], batch, _WORKER["catalog"], _WORKER["since"],
                       _WORKER["until"], _WORKER["hosts"])


class _Shares:
    """The batches handed to the pool, each taken back in folder order by :meth:`parts`.
    While a batch this process waits for is still being read, it reads the next batch no
    worker has begun itself (as a worker would, on a copy of the hosts' facts): it is one
    of the readers, and the pool needs one process less (memory).  The next, not the last:
    it has its own files to read in folder order, the pool and it reach the end together.
    The pool is shut down once no batch is left to read (its workers' memory goes with it)."""

    def __init__(self, pool: ProcessPoolExecutor, batches: list[list[tuple[int, int]]],
                 roots: list[HostRoot], catalog: Catalog, since: datetime | None,
                 until: datetime | None) -> None:
        self.pool, self.batches = pool, batches
        self.futures: list[Future[list[_FilePart]] | None] = [
            pool.submit(_worker_parts, batch) for batch in batches]
        self.read_here: dict[int, list[_FilePart]] = {}  # batches this process read, by index
        self._reader = (copy.deepcopy(roots), catalog, since, until)
        self._hosts = Hosts(self._reader[0])

    def parts(self, index: int) -> list[_FilePart]:
        """Batch ``index``'s parts (each batch is asked for once)."""
        future, self.futures[index] = self.futures[index], None
        if index in self.read_here:
            parts = self.read_here.pop(index)
        elif future is None or future.cancel():  # no worker began it: read here
            parts = self._read(index)
        else:
            while not future.done() and self._take_next(index):
                pass
            parts = future.result()
        if all(f is None or f.done() for f in self.futures):
            self.pool.shutdown(wait=False)  # nothing left to read: the workers go
        return parts

    def _take_next(self, after: int) -> bool:
        """Read here the first batch after ``after`` that no worker has begun, if any."""
        for index in range(after + 1, len(self.futures)):
            future = self.futures[index]
            if future is not None and future.cancel():
                self.futures[index] = None
                self.read_here[index] = self._read(index)
                return True
        return False

    def _read(self, index: int) -> list[_FilePart]:
        roots, catalog, since, until = self._reader
        return _read_batch(roots, self.batches[index], catalog, since, until, self._hosts)


# A worker is handed files by the batch (consecutive files of the folder, this many bytes or
# files at most): each batch is one round trip through this process, which on a busy
# machine gets little CPU to hand out work with.
BATCH_BYTES = 32 << 20
BATCH_FILES = 256


def _batches(tasks: list[tuple[int, int]], sizes: dict[tuple[int, int], int],
             workers: int) -> list[list[tuple[int, int]]]:
    limit = min(BATCH_BYTES, sum(sizes.values()) // (workers * 4) + 1)
    batches: list[list[tuple[int, int]]] = [[]]
    held = 0
    for task in tasks:
        if batches[-1] and (held + sizes[task] > limit or len(batches[-1]) >= BATCH_FILES):
            batches.append([])
            held = 0
        batches[-1].append(task)
        held += sizes[task]
    return batches


# Services whose lines carry no request id: most of their lines are only counted.
_SKIMMED_SERVICES = frozenset({"ceph-mon", "ceph-osd", "ceph-mgr", "ceph-rgw", "mariadb", "libvirt",
                               "qemu", "rabbitmq", "dnsmasq", "metadata-proxy"})


def _read_here(root: HostRoot, path: Path) -> bool:
    """Whether the main process reads this file itself: an OpenStack service's log, by its name."""
    service = service_of_name(str(path.relative_to(root.folder)))
    return service is not None and service not in _SKIMMED_SERVICES


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _classify(
    logdir: Path, catalog: Catalog, since: datetime | None, until: datetime | None,
    workers: int | None = None, clock_offsets: bool = True, lines_of: frozenset[str] | None = None,
) -> tuple[list[HostInfo], Classifier]:
    """One streaming pass over the log folder's window, its files read side by side by
    ``workers`` processes (default: one per core, for a folder big enough) and merged in
    folder order, so the result is the same as one process reading them one after another.
    ``lines_of``: the services whose request spans keep every line (None: all; Classifier)."""
    roots = find_hosts(logdir)
    for root in roots:  # False: each host's lines on its own clock (the offsets kept, not applied)
        root.info.clock_offset_applied = clock_offsets
    hosts = Hosts(roots)
    classifier = Classifier(catalog, lines_of)
    tasks = [(r, f) for r, root in enumerate(roots) for f in range(len(root.files))]
    sizes = {task: _size(roots[task[0]].files[task[1]]) for task in tasks}
    if workers is None:
        workers = _cores() if sum(sizes.values()) >= PARALLEL_MIN_BYTES else 1
    workers = max(1, min(workers, len(tasks)))
    if workers == 1:
        for r, f in tasks:
            classifier.absorb(_read_part(roots[r], roots[r].files[f], catalog, since, until, hosts)
                              .classifier)
    else:
        # The workers read the logs most of whose lines are only counted; this process reads
        # those whose lines mostly carry request ids (OpenStack's services): each of their
        # lines becomes a record, which would cost more to send here than to read here.
        # It reads workers' batches too when it would wait (_Shares): the pool has one
        # process less than the readers.
        here = {task for task in tasks if _read_here(roots[task[0]], roots[task[0]].files[task[1]])}
        batches = _batches([t for t in tasks if t not in here], sizes, workers)
        batch_of = {task: index for index, batch in enumerate(batches) for task in batch}
        with ProcessPoolExecutor(workers - 1, initializer=_worker_init,
                                 initargs=(roots, catalog, since, until)) as pool:
            shares = _Shares(pool, batches, roots, catalog, since, until)
            arrived: dict[tuple[int, int], _FilePart] = {}
            for task in tasks:  # merged in folder order
                root = roots[task[0]]
                if task in here:
                    classifier.absorb(_read_part(root, root.files[task[1]], catalog, since, until,
                                                 hosts).classifier)
                    continue
                if task not in arrived:  # its batch's parts go once merged (memory)
                    arrived.update(zip(batches[batch_of[task]], shares.parts(batch_of[task])))
                part = arrived.pop(task)
                for name, stats in part.sources:
                    info = hosts.add(root.info) if name == root.info.name else hosts.named(name)
                    info.sources.append(stats)
                classifier.absorb(part.classifier)
    hosts_seen = hosts.listed
    classifier.present = {s.service for host in hosts_seen for s in host.sources if s.service}
    # A service whose log the host has but that wrote nothing in the window (stopped, stuck,
    # or not asked) runs in this cloud all the same: its stages are not "not run here".
    silent = {service_of_name(path.lstrip("/")) for host in hosts_seen for path in host.silent_logs}
    classifier.silent = {name for name in silent if name and name not in classifier.services}
    classifier.present |= classifier.silent
    classifier.incomplete = any(not host.reachable or host.missing or host.damaged
                                for host in hosts_seen)
    return hosts_seen, classifier


def _boots_in(classifier: Classifier) -> list[BootInput]:
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


def _unattributed(hosts: list[HostInfo]) -> list[dict[str, Any]]:
    """The files read but given to no service (no known format, or no name, unit or logger
    of a service): the analysis could not use them."""
    return [{"host": s.host, "path": s.path, "why": s.unattributed}
            for host in hosts for s in host.sources if s.unattributed]


def analyze(
    logdir: Path, boots: list[BootInput] | None, catalog: Catalog,
    since: datetime | None = None, until: datetime | None = None, clock_offsets: bool = True,
    workers: int | None = None,
) -> dict[str, Any]:
    """The result dict for these boots from the logs under ``logdir``.

    ``boots=None``: the boots are every instance nova-compute started within
    [since, until], found in the same pass over the logs.  ``clock_offsets=False``
    leaves each host's lines on its own clock (to see what the offsets change).
    ``workers``: processes reading the files (default: one per core when the folder
    is big enough).
    """
    windows = [w for b in boots or () if (w := boot_window(b.client, WINDOW_SLACK * 2))]
    if windows and since is None:
        since = min(w[0] for w in windows)
    if windows and until is None:
        until = max(w[1] for w in windows)
    with _few_collections():
        hosts, classifier = _classify(logdir, catalog, since, until, workers, clock_offsets,
                                      _lines_kept(boots, catalog))
    if boots is None:
        boots = _boots_in(classifier)
    states = setting_states(catalog, classifier)  # one cloud: the same for every boot
    index = EventIndex(classifier)  # likewise
    deletes = _server_deletes(index)
    results = [_boot_result(boot, catalog, classifier, states, index, deletes) for boot in boots]
    bad = {}
    for host in hosts:
        for source in host.sources:
            if source.bad_lines:
                key = source.service or source.path
                bad[key] = bad.get(key, 0) + source.bad_lines
    starts = [b["started_at"] for b in results if b["started_at"]]
    ends = [b["ended_at"] for b in results if b["ended_at"]]
    return {
        "schema": RESULT_SCHEMA,
        "started_at": min(starts) if starts else None,
        "ended_at": max(ends) if ends else None,
        "hosts": [_host_dict(h) for h in hosts],
        "bad_lines": {"total": sum(bad.values()), "by_source": bad},
        "unattributed": _unattributed(hosts),
        "evidence_settings": _settings(catalog, states),
        "records_read": classifier.records,
        "boots": results,
        "summary": summarize(results),
    }


def _lines_kept(boots: list[BootInput] | None, catalog: Catalog) -> frozenset[str] | None:
    """The services whose request spans must keep every line (None: all): those a stage's
    selector reads line by line; every service's when a failed boot's last lines are
    bounded by a client time (:func:`_last_lines` may then take any line before it)."""
    if any(boot.outcome != "ok" and (boot.stopped_at or boot.ended_at) is not None
           for boot in boots or ()):
        return None
    return request_services(catalog)


def _settings(catalog: Catalog, states: dict[str, SettingState]) -> list[dict[str, Any]]:
    """Each evidence setting as the logs show it: on, off, or not applicable (None)."""
    return [{"name": name, "what": setting.what, "on": states[name].on,
             "off_in": list(states[name].off_in)}
            for name, setting in catalog.settings.items()]


def find_boots(logdir: Path, catalog: Catalog, since: datetime | None,
               until: datetime | None) -> list[BootInput]:
    """Boots in a log folder: every instance nova-compute started in the window."""
    with _few_collections():
        return _boots_in(_classify(logdir, catalog, since, until)[1])


def unanalysed(boots: list[BootInput], catalog: Catalog, reason: str) -> dict[str, Any]:
    """A result for boots whose logs were not analysed (Ctrl-C during collection or
    analysis): what the client saw of each, every stage unobserved for ``reason``."""
    results = []
    for boot in boots:
        stages = [{
            "number": spec.number, "actor": spec.actor, "target": spec.target,
            "action": spec.action, "fidelity": spec.fidelity.value, "status": "unobserved",
            "start": None, "end": None, "duration_s": None, "offset_s": None, "evidence": [],
            "reason": reason, "note": spec.why,
        } for spec in catalog.stages]
        c = boot.client
        results.append({
            "index": boot.index, "server_id": boot.server_id, "server_name": boot.server_name,
            "outcome": boot.outcome, "failed_stage": None, "interrupted_at": None,
            "error": ({"host": "client", "source": "bootprobe", "at": None, "line": boot.message}
                      if boot.outcome not in ("ok", INTERRUPTED) and boot.message else None),
            "last_line": None, "last_lines": [], "message": boot.message,
            "started_at": _iso(boot.started_at), "ended_at": _iso(boot.ended_at),
            "client": {
                "create_sent_at": _iso(c.create_sent), "active_seen_at": _iso(c.active_received),
                "metadata_seen_at": _iso(c.metadata_seen),
                "time_to_active_s": _span(c.create_sent, c.active_received),
                "time_to_metadata_s": _span(c.create_sent, c.metadata_seen),
            },
            "critical_path_s": None, "end_to_end_s": None, "keys": {}, "stages": stages,
        })
    starts = [b["started_at"] for b in results if b["started_at"]]
    ends = [b["ended_at"] for b in results if b["ended_at"]]
    return {
        "schema": RESULT_SCHEMA, "started_at": min(starts) if starts else None,
        "ended_at": max(ends) if ends else None, "hosts": [], "bad_lines": {"total": 0, "by_source": {}},
        "unattributed": [], "evidence_settings": [], "records_read": 0, "boots": results,
        "summary": summarize(results),
    }
