"""The result file's dicts (bootlab.run/1, typed in :mod:`probes.records`), made from what the
analysis found: each stage of a boot with its evidence (:func:`stage_result`), each boot with
where a failed one stopped (:func:`boot_result`), the hosts read, the evidence settings, and
the whole result with its summary (:func:`run_result`); and the result of boots whose logs
were not analysed (:func:`unanalysed_boot`, :func:`unanalysed_result`).

Pure shaping: the logs are asked nothing here but a failed boot's error and last lines
(:mod:`probes.boots`).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from probes.boots import error_record, last_lines
from probes.catalog import WITNESSES, Catalog, Fidelity, StageSpec
from probes.correlate import BootKeys, Classifier, Found, SettingState, StageFinding
from probes.logs.reader import HostInfo, LogRecord
from probes.records import (
    RESULT_SCHEMA,
    BootInput,
    BootKeysResult,
    BootResult,
    ClientSeen,
    ClientTimes,
    ErrorLine,
    Evidence,
    HostResult,
    Outcome,
    Result,
    SettingResult,
    StageResult,
    UnattributedFile,
)
from probes.scrub import scrub
from probes.summary import summarize

INTERRUPTED = Outcome.INTERRUPTED.value  # a boot Ctrl-C stopped
SERVER_SIDE = range(4, 55)  # stages 4..54 happen in the cloud; 1-3 and 55-58 at the client
# The stage standing for each step the client can see a boot fail at (probes.records.Stage).
CLIENT_STAGES = {"create": 4, "active": 43, "lease": 30, "metadata": 52}


def iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="microseconds") if at else None


def span_s(a: datetime | None, b: datetime | None) -> float | None:
    return round((b - a).total_seconds(), 6) if a and b else None


def _line_evidence(role: str, record: LogRecord) -> Evidence:
    return {"role": role, "host": record.host, "source": f"{record.service} {record.origin}",
            "at": iso(record.at), "line": scrub(record.line)[:2000]}


def _evidence(role: str, found: Found) -> Evidence:
    if found.record is None:
        return {"role": role, "host": "client", "source": "bootprobe", "at": iso(found.at),
                "line": f"client-side time ({role})"}
    return _line_evidence(role, found.record)


def _stage_evidence(role: str, found: Found, notes: dict[str, str]) -> Evidence:
    if found.record is None:  # a client time: what the client did then
        return {"role": role, "host": "client", "source": "bootprobe (openstacksdk)",
                "at": iso(found.at), "line": notes.get(iso(found.at) or "", "client-side time")}
    return _line_evidence(role, found.record)


def blank_stage(spec: StageSpec, reason: str | None) -> StageResult:
    """The stage unobserved, for ``reason``."""
    return {
        "number": spec.number, "actor": spec.actor, "target": spec.target,
        "action": spec.action, "fidelity": spec.fidelity.value,
        "status": "unobserved", "start": None, "end": None, "duration_s": None,
        "offset_s": None, "evidence": [], "reason": reason, "note": spec.why, "witness": None,
    }


def stage_result(
    finding: StageFinding, boot_start: datetime | None, client_notes: dict[str, str]
) -> StageResult:
    """The stage as found: measured or proxy with its times and evidence, or unobserved
    and why (``client_notes``: what the client did at each of its times)."""
    spec = finding.spec
    data = blank_stage(spec, None)
    if finding.start is None or finding.end is None:
        reason = finding.missing or "no evidence"
        if spec.fidelity is Fidelity.UNOBSERVABLE and spec.would_need:
            reason += f" (would need: {spec.would_need})"
        data["reason"] = reason
        if finding.start is not None:
            data["evidence"].append(_stage_evidence("start", finding.start, client_notes))
        return data
    start, end = finding.start.at, finding.end.at
    record = finding.end.record
    coarse = record.resolution_s if record is not None else 0.0
    if record is not None and end < start and (start - end).total_seconds() < coarse:
        data["reason"] = (f"the end's log stamps whole seconds ({record.service}): "
                          "it lies within the second after its stamp, so the stage is shown "
                          "ending where it starts")
        end = start
    direct = all((f.fidelity or spec.fidelity.value) == Fidelity.DIRECT.value
                 for f in (finding.start, finding.end))
    data["status"] = "measured" if direct else "proxy"
    if direct and spec.fidelity is Fidelity.PROXY:
        data["note"] = None  # a witness saw the act itself: the logs' proxy does not apply
    fallbacks = [note for f in (finding.start, finding.end) if (note := f.note)]
    if fallbacks:  # a stand-in line was used: proxy evidence, whatever the catalog's first choice
        data["status"] = "proxy"
        data["note"] = "; ".join([*([spec.why] if spec.why else []), *fallbacks])
    data["witness"] = witness(finding.start, finding.end, data["status"])
    data["start"], data["end"] = iso(start), iso(end)
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


def witness(start: Found, end: Found, status: str) -> str:
    """The sources of a stage's start and end, best first, '+' between two: a proxy's log
    lines are its neighbours (docs/evidence.md)."""
    kinds = ["neighbours" if f.witness == "logs" and status == "proxy" else f.witness
             for f in (start, end)]
    order = (*WITNESSES[:2], "logs", "neighbours", "client")
    return "+".join(sorted(set(kinds), key=order.index))


def client_notes(boot: BootInput) -> dict[str, str]:
    """What the client did at each of its times (by the time's ISO string)."""
    c = boot.client
    notes = {
        c.auth_sent: f"POST /v3/auth/tokens sent ({c.auth_request_id or 'no request id'})",
        c.auth_received: f"token received ({c.auth_request_id or 'no request id'})",
        c.create_sent: f"POST /servers sent ({c.create_request_id or 'no request id'})",
        c.create_received: f"202 for POST /servers received ({c.create_request_id or '-'})",
        c.active_sent: f"GET /servers/{boot.server_id} sent ({c.active_request_id or '-'})",
        c.active_received: f"GET /servers/{boot.server_id} answered ACTIVE ({c.active_request_id or '-'})",
    }
    return {iso(at) or "": text for at, text in notes.items() if at is not None}


def client_seen(c: ClientTimes) -> ClientSeen:
    return {
        "create_sent_at": iso(c.create_sent), "active_seen_at": iso(c.active_received),
        "metadata_seen_at": iso(c.metadata_seen),
        "time_to_active_s": span_s(c.create_sent, c.active_received),
        "time_to_metadata_s": span_s(c.create_sent, c.metadata_seen),
    }


def failed_stage(stages: list[StageResult], explained: set[int]) -> int | None:
    """The first stage in boot order that has no evidence and no known cause for it."""
    for stage in stages:
        if (stage["status"] == "unobserved" and stage["fidelity"] != "unobservable"
                and stage["number"] not in explained):
            return int(stage["number"])
    return None


def _interrupted_at(stages: list[StageResult], explained: set[int]) -> int | None:
    """Ctrl-C, not the cloud, ended the boot: the first stage it did not reach, and the
    unobserved stages from there on marked not reached."""
    at = failed_stage(stages, explained)
    if at is not None:
        for stage in stages:
            if stage["number"] >= at and stage["status"] == "unobserved":
                stage["reason"] = (f"not reached: the run was interrupted (Ctrl-C) before "
                                   f"stage {at}")
    return at


def _failed_at(boot: BootInput, stages: list[StageResult], explained: set[int]) -> int | None:
    """Where the failed boot stopped, and the unobserved stages after it marked not reached."""
    failed = failed_stage(stages, explained)
    if failed is None and boot.client_stage is not None and boot.client_stage in CLIENT_STAGES:
        # The logs explain every stage they lack, yet the client saw the boot fail: the
        # stage is the client's (its create call, ACTIVE, the guest's lease or metadata).
        failed = CLIENT_STAGES[boot.client_stage]
        stage = stages[failed - 1]
        stage["reason"] = "; ".join(filter(None, (
            f"the client saw the boot fail here: {boot.message}", stage["reason"])))
    if failed is not None:
        for stage in stages:
            if stage["number"] > failed and stage["status"] == "unobserved":
                stage["reason"] = f"not reached: the boot failed at stage {failed}"
    return failed


def _client_error(boot: BootInput) -> ErrorLine | None:
    return ({"host": "client", "source": "bootprobe", "at": None, "line": boot.message}
            if boot.message else None)


def _error(boot: BootInput, keys: BootKeys, classifier: Classifier) -> ErrorLine | None:
    record = error_record(boot, keys, classifier)
    if record is None:
        return _client_error(boot)
    return {"host": record.host, "source": f"{record.service} {record.origin}",
            "at": iso(record.at), "line": scrub(record.line)[:2000]}


def _critical_path_s(stages: list[StageResult]) -> float | None:
    """First server-side stage start to last server-side stage end."""
    server_side = [(s["start"], s["end"]) for s in stages
                   if s["number"] in SERVER_SIDE and s["start"] and s["end"]]
    if not server_side:
        return None
    first = min(datetime.fromisoformat(start) for start, _ in server_side)
    last = max(datetime.fromisoformat(end) for _, end in server_side)
    return round((last - first).total_seconds(), 6)


def boot_result(boot: BootInput, findings: list[StageFinding], keys: BootKeys,
                classifier: Classifier) -> BootResult:
    """The boot with its stages as found; a failed or interrupted one with where it stopped,
    its error line and the last lines its services logged."""
    start = boot.client.auth_sent or min(
        (f.start.at for f in findings if f.start is not None), default=None)
    notes = client_notes(boot)
    stages = [stage_result(f, start, notes) for f in findings]
    ends = [datetime.fromisoformat(s["end"]) for s in stages if s["end"]]
    end = max(ends) if ends else None
    explained = {f.spec.number for f in findings if f.explained}
    failed: int | None = None
    interrupted: int | None = None
    error: ErrorLine | None = None
    if boot.outcome == INTERRUPTED:
        interrupted = _interrupted_at(stages, explained)
    elif boot.outcome != "ok":
        error = _error(boot, keys, classifier)
        failed = _failed_at(boot, stages, explained)
    last: list[Evidence] = []
    if boot.outcome != "ok":
        last = [_line_evidence("last", r) for r in last_lines(boot, keys, classifier)]
        stopped = failed or interrupted
        if stopped is not None and last:
            stage = stages[stopped - 1]
            stage["reason"] = (f"{stage['reason']}; the boot's last line before the client "
                               f"stopped: {last[0]['host']} {last[0]['source'].split()[0]} "
                               f"{(last[0]['at'] or '')[11:23]}: {last[0]['line'][:300]}")
    return {
        "index": boot.index, "server_id": boot.server_id, "server_name": boot.server_name,
        "outcome": boot.outcome, "failed_stage": failed, "error": error,
        "interrupted_at": interrupted,
        "last_line": last[0] if last else None, "last_lines": last,
        "message": boot.message,
        "started_at": iso(start), "ended_at": iso(end),
        "client": client_seen(boot.client),
        "critical_path_s": _critical_path_s(stages),
        "end_to_end_s": span_s(start, boot.client.metadata_seen or end),
        "keys": cast(BootKeysResult, keys.to_dict()),
        "stages": stages,
    }


def unanalysed_boot(boot: BootInput, catalog: Catalog, reason: str) -> BootResult:
    """What the client saw of the boot, every stage unobserved for ``reason``."""
    return {
        "index": boot.index, "server_id": boot.server_id, "server_name": boot.server_name,
        "outcome": boot.outcome, "failed_stage": None, "interrupted_at": None,
        "error": _client_error(boot) if boot.outcome not in ("ok", INTERRUPTED) else None,
        "last_line": None, "last_lines": [], "message": boot.message,
        "started_at": iso(boot.started_at), "ended_at": iso(boot.ended_at),
        "client": client_seen(boot.client),
        "critical_path_s": None, "end_to_end_s": None, "keys": {},
        "stages": [blank_stage(spec, reason) for spec in catalog.stages],
    }


def host_result(host: HostInfo) -> HostResult:
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


def bad_lines_by_source(hosts: list[HostInfo]) -> dict[str, int]:
    """Lines no format could read, by service (or file, for a file of no service)."""
    bad: dict[str, int] = {}
    for host in hosts:
        for source in host.sources:
            if source.bad_lines:
                key = source.service or source.path
                bad[key] = bad.get(key, 0) + source.bad_lines
    return bad


def unattributed(hosts: list[HostInfo]) -> list[UnattributedFile]:
    """The files read but given to no service (no known format, or no name, unit or logger
    of a service): the analysis could not use them."""
    return [{"host": s.host, "path": s.path, "why": s.unattributed}
            for host in hosts for s in host.sources if s.unattributed]


def settings_result(catalog: Catalog, states: dict[str, SettingState]) -> list[SettingResult]:
    """Each evidence setting as the logs show it: on, off, or not applicable (None)."""
    return [{"name": name, "what": setting.what, "on": states[name].on,
             "off_in": list(states[name].off_in)}
            for name, setting in catalog.settings.items()]


def run_result(boots: list[BootResult], hosts: list[HostInfo], catalog: Catalog,
               states: dict[str, SettingState], records_read: int) -> Result:
    """The whole result of an analysis: its boots, the hosts read, the settings, the summary."""
    return _result(boots, [host_result(h) for h in hosts], bad_lines_by_source(hosts),
                   unattributed(hosts), settings_result(catalog, states), records_read)


def unanalysed_result(boots: list[BootResult]) -> Result:
    """The result of boots whose logs were not analysed: no host, no line read."""
    return _result(boots, [], {}, [], [], 0)


def _result(boots: list[BootResult], hosts: list[HostResult], bad: dict[str, int],
            files: list[UnattributedFile], settings: list[SettingResult],
            records_read: int) -> Result:
    starts = [b["started_at"] for b in boots if b["started_at"]]
    ends = [b["ended_at"] for b in boots if b["ended_at"]]
    return {
        "schema": RESULT_SCHEMA,
        "started_at": min(starts) if starts else None,
        "ended_at": max(ends) if ends else None,
        "hosts": hosts,
        "bad_lines": {"total": sum(bad.values()), "by_source": bad},
        "unattributed": files,
        "evidence_settings": settings,
        "records_read": records_read,
        "boots": boots,
        "summary": summarize(boots),
    }
