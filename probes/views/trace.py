"""A ``bootlab.run/1`` result as a Chrome / Perfetto trace (Trace Event Format, JSON).

One process per boot (pid 1, 2, ...), one thread per actor, one complete event
(``ph: "X"``) per stage that has a start. Times are integer microseconds from the earliest
time in the file. Complete events on one thread must nest (the format requires it, and
Perfetto drops slices that overlap partially), so an actor whose stages overlap partially
gets more than one thread: ``Nova-compute``, ``Nova-compute #2``, ...

Thread ids are unique in the whole file, not just per process: Perfetto keys threads by
tid alone. Process-level instants use tid == pid (a process's main thread); the actors'
threads are numbered after the last pid. ``displayTimeUnit`` comes first and
``otherData`` last: older Perfetto importers stop reading at a key they don't know.

The boot's accounting (docs/accounting.md) adds a slice per named segment on threads
``work: <service>``, ``wait: <service>`` and ``unexplained``, and each slice's ``critical_s``
argument: its seconds on the critical path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from probes.views import accounted_stages, parse_time

Event = dict[str, Any]


class Slice(NamedTuple):
    """A stage with a place on the time line, in microseconds from the trace origin."""

    ts: int
    dur: int
    stage: Mapping[str, Any]


def render_trace(result: Mapping[str, Any]) -> str:
    """The trace JSON text (``{"traceEvents": [...], "displayTimeUnit": "ms"}``)."""
    boots = list(result.get("boots") or [])
    origin = trace_origin(boots)
    events: list[Event] = []
    next_tid = len(boots) + 1
    if origin is not None:
        for position, boot in enumerate(boots):
            produced = boot_events(boot, position + 1, origin, next_tid)
            next_tid = max([next_tid - 1] + [e["tid"] for e in produced]) + 1
            events.extend(produced)
    other = {
        "schema": result.get("schema"),
        "tool_version": result.get("tool_version"),
        "started_at": result.get("started_at"),
        "outcome": result.get("outcome"),
        "origin": origin.isoformat(timespec="microseconds") if origin else None,
    }
    lines = ",\n".join(json.dumps(event, separators=(",", ":")) for event in events)
    return (
        '{"displayTimeUnit":"ms",\n"traceEvents":[\n'
        + lines
        + '\n],\n"otherData":'
        + json.dumps(other, separators=(",", ":"))
        + "}\n"
    )



def boot_times(boot: Mapping[str, Any]) -> Iterator[datetime]:
    """Every time of a boot that an event of the trace is placed at."""
    candidates = [boot.get("started_at"), error_time(boot)]
    candidates += [stage.get("start") for stage in boot.get("stages") or []]
    for value in candidates:
        moment = parse_time(value)
        if moment is not None:
            yield moment


def trace_origin(boots: Iterable[Mapping[str, Any]]) -> datetime | None:
    """The earliest time in the file: ``ts`` 0 of the trace."""
    return min((t for boot in boots for t in boot_times(boot)), default=None)


def micros(moment: datetime, origin: datetime) -> int:
    """Whole microseconds from ``origin`` to ``moment``."""
    delta = moment - origin
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def error_time(boot: Mapping[str, Any]) -> str | None:
    """The time of a failed boot's error line, when the error is a line."""
    error = boot.get("error")
    return error.get("at") if isinstance(error, Mapping) else None


def stage_slice(stage: Mapping[str, Any], origin: datetime) -> Slice | None:
    """The place of an observed stage on the time line; None for unobserved ones."""
    if stage.get("status") == "unobserved":
        return None
    start = parse_time(stage.get("start"))
    if start is None:
        return None
    end = parse_time(stage.get("end"))
    if end is not None:
        dur = micros(end, start)
    else:
        dur = round(float(stage.get("duration_s") or 0.0) * 1_000_000)
    return Slice(micros(start, origin), max(dur, 0), stage)


def assign_lanes(slices: Sequence[Slice]) -> list[int]:
    """Lane per slice (same order) such that slices in one lane nest or are disjoint."""
    order = sorted(range(len(slices)), key=lambda i: (slices[i].ts, -slices[i].dur, i))
    stacks: list[list[int]] = []  # per lane: end times of the slices still open
    lanes = [0] * len(slices)
    for i in order:
        ts, end = slices[i].ts, slices[i].ts + slices[i].dur
        lane = _free_lane(stacks, ts, end)
        if lane == len(stacks):
            stacks.append([])
        stacks[lane].append(end)
        lanes[i] = lane
    return lanes


def _free_lane(stacks: list[list[int]], ts: int, end: int) -> int:
    """The first lane where a slice from ``ts`` to ``end`` nests in the open slices (the
    slices ended by ``ts`` are closed on the way), ``len(stacks)`` (a new lane) if none."""
    for lane, stack in enumerate(stacks):
        while stack and stack[-1] <= ts:
            stack.pop()
        if not stack or end <= stack[-1]:
            return lane
    return len(stacks)


def thread_ids(
    slices: Sequence[Slice], first_tid: int
) -> tuple[list[int], dict[int, str]]:
    """Thread id per slice and the thread names: actors in order of first appearance,
    numbered from ``first_tid``."""
    by_actor: dict[str, list[int]] = {}
    for i, piece in enumerate(slices):
        by_actor.setdefault(str(piece.stage.get("actor") or "?"), []).append(i)
    tids = [0] * len(slices)
    names: dict[int, str] = {}
    for actor, members in by_actor.items():
        lanes = assign_lanes([slices[i] for i in members])
        base = first_tid + len(names)
        for i, lane in zip(members, lanes, strict=True):
            tids[i] = base + lane
        for lane in range(max(lanes) + 1):
            names[base + lane] = actor if lane == 0 else f"{actor} #{lane + 1}"
    return tids, names


def evidence_text(evidence: Iterable[Mapping[str, Any]]) -> list[str]:
    """Evidence lines as ``role host source at: line`` strings."""
    return [
        f"{e.get('role')} {e.get('host')} {e.get('source')} {e.get('at')}: {e.get('line')}"
        for e in evidence
    ]


def stage_name(stage: Mapping[str, Any]) -> str:
    """``NN action``, the name of a stage's event."""
    number = stage.get("number")
    label = f"{number:02d}" if isinstance(number, int) else str(number)
    return f"{label} {stage.get('action')}"


def segment_stage(segment: Mapping[str, Any]) -> dict[str, Any]:
    """A segment as the mapping a slice holds: its thread ``<kind>: <service>``."""
    kind = segment["kind"]
    actor = "unexplained" if kind == "unexplained" else f"{kind}: {segment.get('service')}"
    return {**segment, "actor": actor, "status": kind, "segment": True}


def complete_event(piece: Slice, pid: int, tid: int) -> Event:
    """The ``X`` event of one observed stage or segment."""
    stage = piece.stage
    if stage.get("segment"):
        return {"name": stage["name"], "cat": stage["kind"], "ph": "X", "ts": piece.ts,
                "dur": piece.dur, "pid": pid, "tid": tid,
                "args": {"kind": stage["kind"], "host": stage.get("host"),
                         "service": stage.get("service"), "start": stage.get("start"),
                         "end": stage.get("end"), "duration_s": stage.get("duration_s"),
                         "critical_s": stage.get("critical_s"),
                         "waits_for": stage.get("waits_for"),
                         "evidence": evidence_text(stage.get("evidence") or [])}}
    event: Event = {
        "name": stage_name(stage),
        "cat": str(stage.get("status")),
        "ph": "X",
        "ts": piece.ts,
        "dur": piece.dur,
        "pid": pid,
        "tid": tid,
        "args": {
            "stage": stage.get("number"),
            "actor": stage.get("actor"),
            "target": stage.get("target"),
            "status": stage.get("status"),
            "fidelity": stage.get("fidelity"),
            "start": stage.get("start"),
            "end": stage.get("end"),
            "duration_s": stage.get("duration_s"),
            "offset_s": stage.get("offset_s"),
            "evidence": evidence_text(stage.get("evidence") or []),
            "reason": stage.get("reason"),
            "note": stage.get("note"),
        },
    }
    if "critical_s" in stage:
        event["args"]["critical_s"] = stage["critical_s"]
    return event


def metadata_event(name: str, pid: int, tid: int, args: Mapping[str, Any]) -> Event:
    """An ``M`` event (process_name, thread_name, ..._sort_index, process_labels)."""
    return {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": dict(args)}


def process_instant(name: str, ts: int, pid: int, args: Mapping[str, Any]) -> Event:
    """A process-scoped instant event (``ph: "i"``, ``s: "p"``) on the main thread."""
    return {
        "name": name,
        "cat": "boot",
        "ph": "i",
        "s": "p",
        "ts": ts,
        "pid": pid,
        "tid": pid,
        "args": dict(args),
    }


def process_name(boot: Mapping[str, Any], pid: int) -> str:
    """``boot N: server-name (server-id)``."""
    index = boot.get("index", pid - 1)
    who = boot.get("server_name") or boot.get("server_id") or "no server"
    if boot.get("server_name") and boot.get("server_id"):
        who = f"{boot['server_name']} ({boot['server_id']})"
    return f"boot {index}: {who}"


def unobserved_listing(stages: Iterable[Mapping[str, Any]]) -> list[str]:
    """``NN actor -> target | action: reason`` for each unobserved stage."""
    return [
        f"{stage_name(s)} ({s.get('actor')} -> {s.get('target')}): {s.get('reason')}"
        for s in stages
        if s.get("status") == "unobserved"
    ]


def boot_instants(boot: Mapping[str, Any], pid: int, origin: datetime) -> list[Event]:
    """Process instants: the unobserved stages at the boot's start, the error line."""
    events: list[Event] = []
    stages = boot.get("stages") or []
    first = min(boot_times(boot), default=origin)
    unobserved = unobserved_listing(stages)
    events.append(
        process_instant(
            f"unobserved stages: {len(unobserved)}",
            micros(first, origin),
            pid,
            {"count": len(unobserved), "stages": unobserved},
        )
    )
    error = boot.get("error")
    if boot.get("failed_stage") is not None or error:
        at = parse_time(error_time(boot)) or first
        events.append(
            process_instant(
                f"boot failed at stage {boot.get('failed_stage')}",
                micros(at, origin),
                pid,
                {
                    "outcome": boot.get("outcome"),
                    "failed_stage": boot.get("failed_stage"),
                    "error": error,
                },
            )
        )
    return events


def boot_events(
    boot: Mapping[str, Any], pid: int, origin: datetime, first_tid: int
) -> list[Event]:
    """All events of one boot: metadata, one ``X`` per observed stage, instants.

    The actors' threads get ids from ``first_tid`` on.
    """
    stages = boot.get("stages") or []
    accounting = boot.get("accounting") or {}
    accounted = accounted_stages(boot)
    stages = [{**stage, "critical_s": accounted.get(stage.get("number"), {}).get("critical_s")}
              if accounted else stage for stage in stages]
    segments = [segment_stage(s) for s in accounting.get("segments") or [] if s["kind"] != "stage"]
    slices = [
        s for s in (stage_slice(stage, origin) for stage in (*stages, *segments)) if s is not None
    ]
    tids, names = thread_ids(slices, first_tid)
    events = [
        metadata_event("process_name", pid, pid, {"name": process_name(boot, pid)}),
        metadata_event("process_sort_index", pid, pid, {"sort_index": pid}),
        metadata_event(
            "process_labels", pid, pid, {"labels": str(boot.get("outcome"))}
        ),
    ]
    for tid, name in names.items():
        events.append(metadata_event("thread_name", pid, tid, {"name": name}))
        events.append(
            metadata_event("thread_sort_index", pid, tid, {"sort_index": tid})
        )
    events.extend(complete_event(piece, pid, tid) for piece, tid in zip(slices, tids, strict=True))
    events.extend(boot_instants(boot, pid, origin))
    return events
