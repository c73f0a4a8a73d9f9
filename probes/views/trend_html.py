"""Each stage's p50/p95 over nights as one self-contained HTML page (inline SVG and CSS,
no script, no external URL).

At the top the stages that moved, with the night each moved and from what to what; then one
small chart per stage (end to end first): the p50 line, the p95 line, and on a stage that
moved a band over the night it moved. Hover a point for its values (SVG ``<title>``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from types import MappingProxyType

from probes.compare import END_TO_END
from probes.trend import NUMBERS, Move, Night

#: Colours the browser test looks for.
COLOURS: Mapping[str, str] = MappingProxyType({
    "p50": "#1f6fd1", "p95": "#f0a020", "up": "#d93025", "down": "#188038",
})
CHART_W, CHART_H, PAD = 300, 100, 28


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def _scale(nights: Sequence[Night], number: int) -> float:
    top = max((v for n in nights for m in ("p50_s", "p95_s")
               if (v := n.value(number, m)) is not None), default=0.0)
    return top * 1.15 if top > 0 else 0.001


def _x(i: int, count: int) -> float:
    inner = CHART_W - 2 * PAD
    return PAD + (inner * i / (count - 1) if count > 1 else inner / 2)


def _y(value: float, top: float) -> float:
    return CHART_H - PAD + 8 - (CHART_H - PAD) * value / top


def chart(nights: Sequence[Night], number: int, moves: Sequence[Move]) -> str:
    """The SVG of one stage: a band per move, then p95 and p50 lines with points."""
    count, top = len(nights), _scale(nights, number)
    parts = [f'<svg class="chart" width="{CHART_W}" height="{CHART_H}" '
             f'viewBox="0 0 {CHART_W} {CHART_H}" role="img">']
    band = (CHART_W - 2 * PAD) / max(count - 1, 1) * 0.6
    for move in moves:
        x = _x(move.night, count)
        parts.append(f'<rect class="move {move.direction}" x="{x - band / 2:.1f}" y="2" '
                     f'width="{band:.1f}" height="{CHART_H - PAD + 6}" '
                     f'fill="{COLOURS[move.direction]}"><title>moved {move.direction} on '
                     f'{esc(move.label)}: {move.before_s:.3f} s -> {move.after_s:.3f} s '
                     f'(allowed {move.allowed_s:.3f} s)</title></rect>'
                     f'<rect class="mark" x="{x - band / 2:.1f}" y="2" width="{band:.1f}" height="6" '
                     f'fill="{COLOURS[move.direction]}"/>')
    base = CHART_H - PAD + 8
    parts.append(f'<line x1="{PAD}" y1="{base}" x2="{CHART_W - PAD}" y2="{base}" class="axis"/>')
    parts.append(f'<text x="2" y="12" class="tick">max {top / 1.15 if top > 0.001 else 0:.3g} s</text>')
    for metric, key in (("p95_s", "p95"), ("p50_s", "p50")):
        points = [(i, v) for i, n in enumerate(nights) if (v := n.value(number, metric)) is not None]
        if len(points) > 1:
            coords = " ".join(f"{_x(i, count):.1f},{_y(v, top):.1f}" for i, v in points)
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{COLOURS[key]}" '
                         f'stroke-width="3"/>')
        for i, v in points:
            parts.append(f'<circle cx="{_x(i, count):.1f}" cy="{_y(v, top):.1f}" r="4" '
                         f'fill="{COLOURS[key]}"><title>{esc(nights[i].label)} {key} '
                         f'{v:.3f} s</title></circle>')
    first, last = nights[0].label, nights[-1].label
    parts.append(f'<text x="{PAD}" y="{CHART_H - 4}" class="tick">{esc(first)}</text>')
    if count > 1:
        parts.append(f'<text x="{CHART_W - PAD}" y="{CHART_H - 4}" class="tick" '
                     f'text-anchor="end">{esc(last)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def stage_name(number: int) -> str:
    return "end to end" if number == END_TO_END else f"stage {number}"


def moves_table(moves: Sequence[Move], titles: Mapping[int, str]) -> str:
    if not moves:
        return '<p class="none">No stage moved.</p>'
    rows = "".join(
        f'<tr class="{m.direction}"><td>{esc(stage_name(m.number))}</td>'
        f"<td>{esc(titles.get(m.number, ''))}</td><td>{esc(m.label)}</td>"
        f'<td><b>{"slower" if m.direction == "up" else "faster"}</b></td>'
        f"<td>{m.before_s:.3f} s</td><td>{m.after_s:.3f} s</td><td>{m.allowed_s:.3f} s</td></tr>"
        for m in moves)
    return ("<table class=\"moves\"><tr><th>stage</th><th></th><th>night it moved</th><th></th>"
            "<th>before</th><th>after</th><th>allowed</th></tr>" + rows + "</table>")


CSS = """
body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; color: #202124; background: #fff; }
h1 { font-size: 18px; margin: 0 0 6px; } h2 { font-size: 15px; margin: 16px 0 6px; }
.facts span { margin-right: 16px; }
.legend span { margin-right: 14px; } .legend i { display: inline-block; width: 22px; height: 4px;
  vertical-align: middle; margin-right: 4px; }
table.moves { border-collapse: collapse; } table.moves td, table.moves th { padding: 2px 8px;
  border-bottom: 1px solid #ddd; text-align: left; }
tr.up b { color: %(up)s; } tr.down b { color: %(down)s; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
.stage { border: 1px solid #dadce0; border-radius: 4px; padding: 4px 6px; width: 306px; }
.stage.moved-up { border: 3px solid %(up)s; } .stage.moved-down { border: 3px solid %(down)s; }
.stage h3 { font-size: 12px; margin: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.stage .note { font-size: 11px; color: #5f6368; min-height: 14px; }
.stage.moved-up .note { color: %(up)s; font-weight: bold; }
.stage.moved-down .note { color: %(down)s; font-weight: bold; }
svg .axis { stroke: #9aa0a6; } svg .tick { font-size: 10px; fill: #5f6368; }
svg rect.move { opacity: 0.35; }
"""


def render_trend_html(nights: Sequence[Night], moves: Sequence[Move], titles: Mapping[int, str],
                      metric: str = "p50_s") -> str:
    """The whole page."""
    by_stage: dict[int, list[Move]] = {}
    for move in moves:
        by_stage.setdefault(move.number, []).append(move)
    cards = []
    for number in NUMBERS:
        stage_moves = by_stage.get(number, [])
        cls = f" moved-{stage_moves[-1].direction}" if stage_moves else ""
        note = "; ".join(f"moved {m.direction} on {esc(m.label)}: {m.before_s:.3f} s &rarr; "
                         f"{m.after_s:.3f} s" for m in stage_moves)
        counts = [str(n.rows.get(number, {}).get("count", 0)) for n in nights]
        cards.append(
            f'<div class="stage{cls}" id="stage-{number}"><h3 title="{esc(titles.get(number, ""))}">'
            f"{esc(stage_name(number))}: {esc(titles.get(number, ''))}</h3>"
            f"{chart(nights, number, stage_moves)}"
            f'<div class="note">{note or "boots per night: " + esc("/".join(counts))}</div></div>')
    period = f"{esc(nights[0].label)} &ndash; {esc(nights[-1].label)}" if nights else ""
    failed = [n.label for n in nights if n.outcome not in ("ok", "")]
    body = (
        f"<h1>bootlab trend: {len(nights)} nights</h1>"
        f'<div class="facts"><span>nights: <b>{period}</b></span>'
        f"<span>moves judged on <b>{esc(metric.removesuffix('_s'))}</b></span>"
        f"<span>stages moved: <b>{len(by_stage)}</b></span>"
        + (f"<span>nights with a failed boot: <b>{esc(', '.join(failed))}</b></span>" if failed else "")
        + "</div>"
        f'<div class="legend"><span><i style="background:{COLOURS["p50"]}"></i>p50</span>'
        f'<span><i style="background:{COLOURS["p95"]}"></i>p95</span>'
        f'<span><i style="background:{COLOURS["up"]}"></i>moved up (slower)</span>'
        f'<span><i style="background:{COLOURS["down"]}"></i>moved down (faster)</span></div>'
        f"<h2>Stages that moved</h2>{moves_table(moves, titles)}"
        f'<h2>Every stage</h2><div class="grid">{"".join(cards)}</div>'
    )
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>bootlab trend</title>\n<style>{CSS % COLOURS}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")
