"""``bootprobe compare BASE NEW``: per-stage p50/p95 of two result files, and per named
segment of work or waiting (docs/accounting.md), judged the same way.

A stage regresses when its p95 (or p50, with ``--metric p50``) grew by more than
what noise explains. The growth allowed is the largest of three margins:

* ``absolute_s``: a fixed floor (a 1 ms stage doubling is noise, not a regression);
* ``relative``: a fraction of the base value (+20 % by default);
* ``spread``: a multiple of the base's spread for that stage, its p95 - p5 across the
  base's boots (nearest rank: max - min with fewer than 20 boots). A stage whose
  duration varies by a second from boot to boot in the base may move by that much.

The base may hold the boots of several nights (``merge_results``): its spread is then
the night-to-night noise too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from probes.summary import STAGE_NUMBERS, nearest_rank, summarize

END_TO_END = 0
STAGES = STAGE_NUMBERS
SEGMENT = -1  # a StageDelta's number when it judges a segment
JUDGED_KINDS = ("work", "wait")  # the segments compare judges (stages are judged as stages)


@dataclass(frozen=True)
class Margins:
    """How much a stage may grow before it counts as a regression (the largest wins)."""

    relative: float = 0.20
    absolute_s: float = 0.050
    spread: float = 1.0

    def allowed_s(self, base_s: float, spread_s: float) -> float:
        return max(self.absolute_s, self.relative * max(base_s, 0.0), self.spread * spread_s)

    def explain(self, base_s: float, spread_s: float) -> str:
        return (f"max(absolute {self.absolute_s:.3f} s, {self.relative:.0%} of base "
                f"{self.relative * max(base_s, 0.0):.3f} s, {self.spread:g} x base spread "
                f"{self.spread * spread_s:.3f} s)")


@dataclass(frozen=True)
class StageDelta:
    number: int
    base_s: float | None
    new_s: float | None
    ratio: float | None
    regressed: bool
    note: str = ""
    spread_s: float = 0.0
    allowed_s: float | None = None
    base_count: int = 0
    new_count: int = 0
    segment: str | None = None  # the segment's name (number SEGMENT)

    @property
    def growth_s(self) -> float | None:
        return None if self.base_s is None or self.new_s is None else self.new_s - self.base_s

    @property
    def label(self) -> str:
        if self.segment is not None:
            return f"segment {self.segment}"
        return "end to end" if self.number == END_TO_END else f"stage {self.number}"

    @property
    def key(self) -> int | str:
        """The stage's number, or 'segment:<name>'."""
        return self.number if self.segment is None else f"segment:{self.segment}"


def durations(result: Mapping[str, Any]) -> dict[int, list[float]]:
    """Per stage number (0: end to end), the durations of the result's boots."""
    table: dict[int, list[float]] = {n: [] for n in [END_TO_END, *STAGES]}
    for boot in result.get("boots") or []:
        if boot.get("end_to_end_s") is not None:
            table[END_TO_END].append(float(boot["end_to_end_s"]))
        for stage in boot.get("stages") or []:
            if stage.get("duration_s") is not None and int(stage["number"]) in table:
                table[int(stage["number"])].append(float(stage["duration_s"]))
    return table


def segment_durations(result: Mapping[str, Any]) -> dict[str, list[float]]:
    """Per judged segment name, the durations of the result's boots that had it."""
    table: dict[str, list[float]] = {}
    for boot in result.get("boots") or []:
        for segment in (boot.get("accounting") or {}).get("segments") or []:
            if segment["kind"] in JUDGED_KINDS and segment.get("duration_s") is not None:
                table.setdefault(segment["name"], []).append(float(segment["duration_s"]))
    return table


def segment_rows(result: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    summary = result.get("summary") or {}
    return {r["name"]: r for r in summary.get("segments") or [] if r["kind"] in JUDGED_KINDS}


def spread(values: Sequence[float]) -> float:
    """p95 - p5 (nearest rank) of the values; 0 for fewer than two."""
    if len(values) < 2:
        return 0.0
    return float(nearest_rank(values, 95) - nearest_rank(values, 5))


def summary_rows(result: Mapping[str, Any]) -> dict[int, Mapping[str, Any]]:
    summary = result.get("summary") or {}
    table = {int(r["number"]): r for r in summary.get("stages", [])}
    table[END_TO_END] = summary.get("end_to_end") or {}
    return table


def compare(base: Mapping[str, Any], new: Mapping[str, Any], metric: str = "p95_s",
            threshold: float = 0.20, floor_s: float = 0.050,
            margins: Margins | None = None, fail_lost: bool = False) -> list[StageDelta]:
    """One delta per stage (1..58) and one for end to end (number 0).

    ``threshold`` and ``floor_s`` are the relative and absolute margins; ``margins``
    (when given) replaces them and adds the base's spread. With ``fail_lost``, a stage the
    base observed and NEW observed in no boot counts as regressed ("no longer observed"):
    its evidence is gone, and with it any sight of a slowdown there."""
    margins = margins or Margins(relative=threshold, absolute_s=floor_s, spread=0.0)
    base_rows, new_rows = summary_rows(base), summary_rows(new)
    base_values = durations(base)
    deltas = []
    for number in [END_TO_END, *STAGES]:
        b = base_rows.get(number, {}).get(metric)
        n = new_rows.get(number, {}).get(metric)
        counts: dict[str, Any] = {"base_count": int(base_rows.get(number, {}).get("count") or 0),
                                  "new_count": int(new_rows.get(number, {}).get("count") or 0)}
        if b is None or n is None:
            note = "not in base" if b is None and n is not None else (
                "no longer observed" if n is None and b is not None else "")
            lost = fail_lost and note == "no longer observed" and steady(counts["base_count"], base)
            if note == "no longer observed" and not lost and fail_lost:
                note = (f"no longer observed (the base saw it in {counts['base_count']} of "
                        f"{len(base.get('boots') or [])} boots only)")
            deltas.append(StageDelta(number, b, n, None, lost, note, **counts))
            continue
        noise = spread(base_values[number])
        allowed = margins.allowed_s(b, noise)
        ratio = n / b if b > 0 else None
        deltas.append(StageDelta(number, b, n, ratio, n - b > allowed, "", noise, allowed, **counts))
    return deltas + compare_segments(base, new, metric, margins)


def compare_segments(base: Mapping[str, Any], new: Mapping[str, Any], metric: str,
                     margins: Margins) -> list[StageDelta]:
    """One delta per work or wait segment either result names (a segment seen in one only
    is noted, not judged: a cloud's segments depend on its services and log levels)."""
    base_rows, new_rows = segment_rows(base), segment_rows(new)
    base_values = segment_durations(base)
    deltas = []
    for name in [*base_rows, *(n for n in new_rows if n not in base_rows)]:
        b, n = base_rows.get(name, {}).get(metric), new_rows.get(name, {}).get(metric)
        base_count = int(base_rows.get(name, {}).get("count") or 0)
        new_count = int(new_rows.get(name, {}).get("count") or 0)
        if b is None or n is None:
            note = "not in base" if b is None else "no longer observed"
            deltas.append(StageDelta(SEGMENT, b, n, None, False, note, base_count=base_count,
                                     new_count=new_count, segment=name))
            continue
        noise = spread(base_values.get(name, []))
        allowed = margins.allowed_s(b, noise)
        deltas.append(StageDelta(SEGMENT, b, n, n / b if b > 0 else None, n - b > allowed, "",
                                 noise, allowed, base_count, new_count, segment=name))
    return deltas


def cold_boots(result: Mapping[str, Any]) -> int:
    """Boots of the result that fetched the image (`bootprobe run --fresh-image`: the first
    boot of each run pooled in it)."""
    merged = result.get("merged_from")
    runs = len(merged) if isinstance(merged, list) else 1
    return runs if (result.get("options") or {}).get("fresh_image") else 0


def steady(count: int, result: Mapping[str, Any]) -> bool:
    """A stage seen in every boot of the result, or in exactly its cold boots: one its boots
    show every time (not a token validation a cache skips now and then)."""
    boots = len(result.get("boots") or [])
    return count > 0 and (count >= boots or count == cold_boots(result))


def merge_results(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One result holding the boots of several (nights pooled into a baseline), its
    summary computed again over all of them."""
    results = list(results)
    if not results:
        raise ValueError("no result to merge")
    boots = [boot for result in results for boot in result.get("boots") or []]
    merged = dict(results[-1])
    merged.update({"boots": boots, "summary": summarize(boots),
                   "merged_from": [r.get("started_at") for r in results]})
    return merged


def _seconds(value: float | None) -> str:
    return f"{value:9.3f}" if value is not None else f"{'-':>9}"


def render_compare(deltas: list[StageDelta], metric: str, threshold: float,
                   margins: Margins | None = None) -> str:
    how = (f"allowed growth = max({margins.absolute_s:g} s, {margins.relative:.0%} of base, "
           f"{margins.spread:g} x base spread)" if margins else f"threshold +{threshold:.0%}")
    lines = [f"{'stage':>7} {'base':>9} {'new':>9} {'ratio':>7} {'allowed':>9}  ({metric}; {how})"]
    for d in deltas:
        label = d.segment or ("e2e" if d.number == END_TO_END else str(d.number))
        ratio = f"{d.ratio:7.2f}" if d.ratio is not None else f"{'-':>7}"
        allowed = f"+{d.allowed_s:8.3f}" if d.allowed_s is not None else f"{'-':>9}"
        flag = (f"  REGRESSED{' (' + d.note + ')' if d.note else ''}" if d.regressed
                else (f"  {d.note}" if d.note else ""))
        lines.append(f"{label:>7} {_seconds(d.base_s)} {_seconds(d.new_s)} {ratio} {allowed}{flag}")
    regressed = [d for d in deltas if d.regressed]
    lines.append(f"{len(regressed)} regression(s): " + ", ".join(
        d.label + (f" ({d.note})" if d.note else "") for d in regressed)
                 if regressed else "no regression")
    return "\n".join(lines)


def deltas_to_dict(deltas: list[StageDelta], metric: str, margins: Margins) -> dict[str, Any]:
    """The comparison as JSON (the nightly folder's compare.json)."""
    return {
        "metric": metric,
        "margins": {"relative": margins.relative, "absolute_s": margins.absolute_s,
                    "spread": margins.spread},
        "regressed": [d.key for d in deltas if d.regressed],
        "stages": [{"number": d.number, **_delta_dict(d)} for d in deltas if d.segment is None],
        "segments": [{"name": d.segment, **_delta_dict(d)} for d in deltas if d.segment],
    }


def _delta_dict(d: StageDelta) -> dict[str, Any]:
    return {"base_s": d.base_s, "new_s": d.new_s, "ratio": d.ratio, "growth_s": d.growth_s,
            "spread_s": d.spread_s, "allowed_s": d.allowed_s, "regressed": d.regressed,
            "note": d.note or None, "base_count": d.base_count, "new_count": d.new_count}
