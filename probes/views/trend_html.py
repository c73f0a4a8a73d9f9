"""Each stage's p50/p95 over nights as one self-contained HTML page (inline SVG and CSS,
no script, no external URL).

At the top the stages that moved, with the night each moved and from what to what; then one
small chart per stage (end to end first): the p50 line, the p95 line, and on a stage that
moved a band over the night it moved. Hover a point for its values (SVG ``<title>``).
The markup is the Jinja2 template ``probes/templates/trend.html.j2`` (its style
``trend.css.j2``); this module computes the charts' geometry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from types import MappingProxyType
from typing import NamedTuple

from jinja2 import Template

from probes.compare import END_TO_END
from probes.trend import NUMBERS, Move, Night
from probes.views.templates import template

#: Colours the browser test looks for.
COLOURS: Mapping[str, str] = MappingProxyType({
    "p50": "#1f6fd1", "p95": "#f0a020", "up": "#d93025", "down": "#188038",
})
CHART_W, CHART_H, PAD = 300, 100, 28


def _scale(nights: Sequence[Night], number: int) -> float:
    top = max((v for n in nights for m in ("p50_s", "p95_s")
               if (v := n.value(number, m)) is not None), default=0.0)
    return top * 1.15 if top > 0 else 0.001


def _x(i: int, count: int) -> float:
    inner = CHART_W - 2 * PAD
    return PAD + (inner * i / (count - 1) if count > 1 else inner / 2)


def _y(value: float, top: float) -> float:
    return CHART_H - PAD + 8 - (CHART_H - PAD) * value / top


def _band(count: int) -> float:
    """The width of the band over the night a stage moved."""
    return (CHART_W - 2 * PAD) / max(count - 1, 1) * 0.6


class Point(NamedTuple):
    """A night's value on a chart: its position (as the SVG has it) and what it says."""

    cx: str
    cy: str
    label: str
    value: float


def _points(nights: Sequence[Night], number: int, metric: str, top: float) -> list[Point]:
    """The points of the nights that have the stage's ``metric``."""
    count = len(nights)
    return [Point(f"{_x(i, count):.1f}", f"{_y(v, top):.1f}", n.label, v)
            for i, n in enumerate(nights) if (v := n.value(number, metric)) is not None]


def _counts(nights: Sequence[Night], number: int) -> str:
    """The stage's boots per night, ``3/3/2``."""
    return "/".join(str(n.rows.get(number, {}).get("count", 0)) for n in nights)


def stage_name(number: int) -> str:
    return "end to end" if number == END_TO_END else f"stage {number}"


@cache
def _template() -> Template:
    return template(
        "trend.html.j2", colours=COLOURS, width=CHART_W, height=CHART_H, pad=PAD,
        numbers=NUMBERS, scale=_scale, x=_x, y=_y, band_width=_band, points_of=_points,
        counts=_counts, stage_name=stage_name,
    )


def render_trend_html(nights: Sequence[Night], moves: Sequence[Move], titles: Mapping[int, str],
                      metric: str = "p50_s") -> str:
    """The whole page."""
    by_stage: dict[int, list[Move]] = {}
    for move in moves:
        by_stage.setdefault(move.number, []).append(move)
    failed = [n.label for n in nights if n.outcome not in ("ok", "")]
    return _template().render(nights=nights, moves=moves, titles=titles, metric=metric,
                              by_stage=by_stage, failed=failed)
