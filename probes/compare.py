"""``bootprobe compare BASE NEW``: per-stage p50/p95 of two result files.

A stage regresses when its p95 (or p50, with ``--metric p50``) grew by more
than the threshold, relative to the base, and by more than an absolute
floor (a 1 ms stage doubling is noise, not a regression).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StageDelta:
    number: int
    base_s: float | None
    new_s: float | None
    ratio: float | None
    regressed: bool
    note: str = ""


def compare(base: Mapping[str, Any], new: Mapping[str, Any], metric: str = "p95_s",
            threshold: float = 0.20, floor_s: float = 0.050) -> list[StageDelta]:
    """One delta per stage (1..58) and one for end to end (number 0)."""
    def rows(result: Mapping[str, Any]) -> dict[int, Mapping[str, Any]]:
        summary = result.get("summary", {})
        table = {int(r["number"]): r for r in summary.get("stages", [])}
        table[0] = summary.get("end_to_end", {})
        return table

    base_rows, new_rows = rows(base), rows(new)
    deltas = []
    for number in [0, *range(1, 59)]:
        b = base_rows.get(number, {}).get(metric)
        n = new_rows.get(number, {}).get(metric)
        if b is None or n is None:
            note = "not in base" if b is None and n is not None else (
                "no longer observed" if n is None and b is not None else "")
            deltas.append(StageDelta(number, b, n, None, False, note))
            continue
        ratio = n / b if b > 0 else None
        regressed = n - b > floor_s and (b <= 0 or (n - b) / b > threshold)
        deltas.append(StageDelta(number, b, n, ratio, regressed))
    return deltas


def render_compare(deltas: list[StageDelta], metric: str, threshold: float) -> str:
    lines = [f"{'stage':>7} {'base':>9} {'new':>9} {'ratio':>7}  ({metric}, threshold +{threshold:.0%})"]
    for d in deltas:
        label = "e2e" if d.number == 0 else str(d.number)
        fmt = lambda v: f"{v:9.3f}" if v is not None else f"{'-':>9}"  # noqa: E731
        ratio = f"{d.ratio:7.2f}" if d.ratio is not None else f"{'-':>7}"
        flag = "  REGRESSED" if d.regressed else (f"  {d.note}" if d.note else "")
        lines.append(f"{label:>7} {fmt(d.base_s)} {fmt(d.new_s)} {ratio}{flag}")
    regressed = [d for d in deltas if d.regressed]
    lines.append(f"{len(regressed)} regression(s)" if regressed else "no regression")
    return "\n".join(lines)
