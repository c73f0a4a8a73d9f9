"""A boot's accounting in the result: its observed stages and the catalog's segments found
in its logs (:func:`probes.correlate.resolve_segments`) made into
:class:`probes.accounting.Segment`, accounted for, and shaped as the result's
``accounting`` object (:class:`probes.records.AccountingResult`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from probes.accounting import STAGE, Accounting, Segment, account
from probes.correlate import SegmentFinding
from probes.records import AccountingResult, Evidence, MissingSegment, SegmentResult, StageResult
from probes.result import _evidence, iso


def stage_segment(stage: StageResult) -> Segment | None:
    """An observed stage as a segment (None: it has no start or end)."""
    if not stage["start"] or not stage["end"]:
        return None
    evidence = tuple(e for e in stage["evidence"] if e["role"] in ("start", "end"))
    host, service = _where(evidence)
    return Segment(f"{stage['number']} {stage['action']}", STAGE,
                   datetime.fromisoformat(stage["start"]), datetime.fromisoformat(stage["end"]),
                   host, service, evidence, stage=stage["number"])


def _where(evidence: Sequence[Evidence]) -> tuple[str, str]:
    """The host and service of the last line shown (a client time: the client, bootprobe)."""
    if not evidence:
        return "", ""
    last = evidence[-1]
    return last["host"], last["source"].split()[0]


def found_segment(finding: SegmentFinding) -> Segment | None:
    """A segment the logs showed (None: they did not)."""
    if finding.start is None or finding.end is None or finding.missing:
        return None
    spec = finding.spec
    evidence = (_evidence("start", finding.start), _evidence("end", finding.end))
    host = next((e["host"] for e in evidence[::-1] if e["host"] != "client"), "client")
    return Segment(spec.name, spec.kind.value, finding.start.at, finding.end.at, host,
                   spec.service, evidence, waits_for=spec.waits_for)


def boot_accounting(stages: Sequence[StageResult],
                    findings: Sequence[SegmentFinding]) -> AccountingResult | None:
    """The boot's ``accounting`` (None: no stage observed)."""
    observed = [seg for stage in stages if (seg := stage_segment(stage))]
    shown = [(finding, found_segment(finding)) for finding in findings]
    accounting = account(observed, [seg for _, seg in shown if seg is not None])
    if accounting is None:
        return None
    missing: list[MissingSegment] = [
        {"name": f.spec.name, "kind": f.spec.kind.value, "reason": f.missing or ""}
        for f, seg in shown if seg is None]
    return accounting_result(accounting, missing)


def accounting_result(accounting: Accounting, missing: list[MissingSegment]) -> AccountingResult:
    on_path: dict[int, float] = {}
    for piece in accounting.critical:
        on_path[id(piece.segment)] = on_path.get(id(piece.segment), 0.0) + piece.seconds
    total = accounting.end_to_end_s
    path: list[str] = []
    for piece in accounting.critical:
        if not path or path[-1] != piece.segment.name:
            path.append(piece.segment.name)
    return {
        "start": iso(accounting.start) or "", "end": iso(accounting.end) or "",
        "end_to_end_s": round(total, 6),
        "attributed_s": round(accounting.attributed_s, 6),
        "unexplained_s": round(accounting.unexplained_s, 6),
        "attributed_share": round(accounting.attributed_s / total, 4) if total else 1.0,
        "segments": [_segment_result(s, on_path.get(id(s), 0.0)) for s in accounting.segments],
        "critical_path": path,
        "unobserved": missing,
    }


def _segment_result(segment: Segment, critical_s: float) -> SegmentResult:
    result: SegmentResult = {
        "name": segment.name, "kind": segment.kind,
        "start": iso(segment.start) or "", "end": iso(segment.end) or "",
        "duration_s": round(segment.seconds, 6), "host": segment.host,
        "service": segment.service, "evidence": list(segment.evidence),
        "critical_s": round(critical_s, 6),
    }
    if segment.stage is not None:
        result["stage"] = segment.stage
    if segment.waits_for:
        result["waits_for"] = segment.waits_for
    return result
