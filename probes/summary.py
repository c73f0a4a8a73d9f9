"""The result's summary, and the one percentile every figure of bootprobe is computed with.

Nearest rank, no interpolation: p95 of 20 boots is the 19th fastest, a duration one of the
boots took.  The summary (:func:`summarize`), ``bootprobe compare`` and ``trend`` (the
base's spread, a night's level) and the benchmarks all use :func:`percentile` (or
:func:`nearest_rank`, its answer for values known not to be empty).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from probes.records import Aggregate, SegmentSummary, ShareSummary, StageSummary, Summary

STAGE_NUMBERS = range(1, 59)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of the values, None when empty."""
    return nearest_rank(values, q) if values else None


def nearest_rank(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of values that are not empty."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def aggregate(values: Sequence[float]) -> Aggregate:
    """count, p50, p95 and max of the values."""
    return {"count": len(values), "p50_s": percentile(values, 50),
            "p95_s": percentile(values, 95), "max_s": max(values) if values else None}


def summarize(boots: Sequence[Mapping[str, Any]]) -> Summary:
    """Per stage, end to end, to ACTIVE and along the critical path: across the boots
    (result boots: :class:`probes.records.BootResult`, or the dicts of a result file)."""
    stages: list[StageSummary] = []
    for number in STAGE_NUMBERS:
        values = [s["duration_s"] for b in boots for s in b["stages"]
                  if s["number"] == number and s["duration_s"] is not None]
        stages.append({"number": number, **aggregate(values)})
    e2e = [b["end_to_end_s"] for b in boots if b.get("end_to_end_s") is not None]
    active = [b["client"]["time_to_active_s"] for b in boots
              if b["client"].get("time_to_active_s") is not None]
    critical = [b["critical_path_s"] for b in boots if b.get("critical_path_s") is not None]
    summary: Summary = {"stages": stages, "end_to_end": aggregate(e2e),
                        "time_to_active": aggregate(active), "critical_path": aggregate(critical)}
    accounted = [b["accounting"] for b in boots if b.get("accounting")]
    if accounted:
        summary["attributed_share"] = _shares([a["attributed_share"] for a in accounted])
        summary["segments"] = _segments(accounted)
    return summary


def _shares(values: Sequence[float]) -> ShareSummary:
    return {"count": len(values), "p50": percentile(values, 50),
            "min": min(values) if values else None}


def _segments(accounted: Sequence[Mapping[str, Any]]) -> list[SegmentSummary]:
    """Each stage and segment of the boots' accountings, in the order they first appear."""
    seen: dict[str, list[tuple[Mapping[str, Any], float]]] = {}
    for accounting in accounted:
        total = accounting["end_to_end_s"] or 0.0
        for segment in accounting["segments"]:
            seen.setdefault(segment["name"], []).append((segment, total))
    summaries: list[SegmentSummary] = []
    for name, found in seen.items():
        durations = [s["duration_s"] for s, _ in found if s["duration_s"] is not None]
        on_path = [s["critical_s"] for s, _ in found]
        shares = [s["critical_s"] / total for s, total in found if total]
        summaries.append({"name": name, "kind": found[0][0]["kind"], **aggregate(durations),
                          "critical": aggregate(on_path),
                          "share_p50": _rounded(percentile(shares, 50)),
                          "share_p95": _rounded(percentile(shares, 95))})
    return summaries


def _rounded(share: float | None) -> float | None:
    return round(share, 4) if share is not None else None
