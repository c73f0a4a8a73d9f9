"""``bootprobe trend NIGHTS...``: each stage's p50/p95 over nights, and the nights a stage moved.

A night is a nightly folder (holding ``result.json``) or a result file. Nights are put in
the order of their runs (``started_at``). A stage *moved* on the night its value left what
the nights before it explain: the reference is the boots of the nights since the stage's
last move (at most ``window`` of them) pooled, and the rule is compare's (the largest of the
absolute margin, the relative margin and the pooled boots' spread). A move up is a
slowdown, a move down a speed-up; the nights after a move are compared with the new level.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probes.compare import END_TO_END, STAGES, Margins, durations, spread, summary_rows
from probes.summary import nearest_rank

NUMBERS = (END_TO_END, *STAGES)
METRICS = ("p50_s", "p95_s")


@dataclass(frozen=True)
class Night:
    label: str
    started_at: str
    path: str
    outcome: str
    rows: Mapping[int, Mapping[str, Any]]
    values: Mapping[int, Sequence[float]]
    titles: Mapping[int, str] = field(default_factory=dict)

    def value(self, number: int, metric: str) -> float | None:
        value = self.rows.get(number, {}).get(metric)
        return None if value is None else float(value)


@dataclass(frozen=True)
class Move:
    number: int
    night: int          # index into the nights
    label: str          # that night's label
    direction: str      # "up" (slower) or "down" (faster)
    before_s: float
    after_s: float
    allowed_s: float


def night_label(path: Path, result: Mapping[str, Any]) -> str:
    """The folder's name for a nightly folder, else the run's start (UTC, to the minute)."""
    if path.name == "result.json" and path.parent.name:
        return path.parent.name
    started = str(result.get("started_at") or "")
    return started[:16].replace("T", " ") or path.stem


def load_night(path: Path) -> Night:
    """A night from its folder or result file (ValueError when it is neither)."""
    from probes.junit import stage_titles

    file = path / "result.json" if path.is_dir() else path
    try:
        result = json.loads(file.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read {file}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{file} is not JSON: {exc}") from None
    if not isinstance(result, dict) or result.get("schema") != "bootlab.run/1":
        raise ValueError(f"{file} is not a bootprobe result (schema bootlab.run/1)")
    return Night(label=night_label(file, result), started_at=str(result.get("started_at") or ""),
                 path=str(file), outcome=str(result.get("outcome") or ""),
                 rows=summary_rows(result), values=durations(result), titles=stage_titles(result))


def load_nights(paths: Iterable[Path]) -> list[Night]:
    nights = [load_night(Path(p)) for p in paths]
    return sorted(nights, key=lambda n: (n.started_at, n.label))


def find_moves(nights: Sequence[Night], metric: str = "p50_s", margins: Margins | None = None,
               window: int = 5) -> list[Move]:
    """Every night a stage moved, per stage in night order."""
    margins = margins or Margins()
    q = 95 if metric == "p95_s" else 50
    moves = []
    for number in NUMBERS:
        level_start = 0
        for i in range(1, len(nights)):
            now = nights[i].value(number, metric)
            reference = [v for night in nights[max(level_start, i - window):i]
                         for v in night.values.get(number, ())]
            if now is None or not reference:
                continue
            before = float(nearest_rank(reference, q))
            allowed = margins.allowed_s(before, spread(reference))
            if abs(now - before) > allowed:
                moves.append(Move(number, i, nights[i].label, "up" if now > before else "down",
                                  before, now, allowed))
                level_start = i
    return moves


def titles_of(nights: Sequence[Night]) -> dict[int, str]:
    titles: dict[int, str] = {}
    for night in reversed(nights):
        titles.update(night.titles)
    return titles


CSV_HEADER = ("night", "started_at", "stage", "count", "p50_s", "p95_s", "max_s", "moved",
              "moved_from_s", "allowed_s")


def render_trend_csv(nights: Sequence[Night], moves: Sequence[Move]) -> str:
    """One row per night per stage (stage 0 is end to end); ``moved`` is up/down on the night
    the stage moved, with the level it moved from."""
    import csv
    import io

    from probes.views.csv import cell

    by_key = {(m.number, m.night): m for m in moves}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for i, night in enumerate(nights):
        for number in NUMBERS:
            row = night.rows.get(number, {})
            move = by_key.get((number, i))
            writer.writerow([night.label, night.started_at, number, row.get("count", 0),
                             cell(row.get("p50_s")), cell(row.get("p95_s")), cell(row.get("max_s")),
                             move.direction if move else "", cell(move.before_s if move else None),
                             cell(move.allowed_s if move else None)])
    return out.getvalue()
