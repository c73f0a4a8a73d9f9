"""A ``bootlab.run/1`` result as one self-contained HTML page.

Run facts, then per boot a waterfall of its 58 stages on a time axis common to all boots
(bars coloured by status, hover for times and evidence), then the per-stage summary.
Inline CSS and a few lines of inline JS; no external URL. Every value of the result is
escaped: evidence lines are log lines, untrusted text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from types import MappingProxyType
from typing import Any, NamedTuple

from probes.views import clock_offset_lines, parse_time

#: Bar colour per stage status (the screenshot test looks for these pixels).
STATUS_COLOURS: Mapping[str, str] = MappingProxyType(
    {"measured": "#1f6fd1", "proxy": "#f0a020", "unobserved": "#9aa0a6"}
)
FAILED_COLOUR = "#d93025"
TICKS_WANTED = 10


class Axis(NamedTuple):
    """The common time axis in seconds from each boot's start: ``lo`` to ``hi``."""

    lo: float
    hi: float
    step: float

    def pct(self, seconds: float) -> float:
        """Horizontal position of ``seconds`` in percent of the track."""
        return (seconds - self.lo) / (self.hi - self.lo) * 100.0

    def ticks(self) -> list[float]:
        """Tick values from ``lo`` to ``hi``."""
        count = round((self.hi - self.lo) / self.step)
        return [round(self.lo + k * self.step, 9) for k in range(count + 1)]


def render_html(result: Mapping[str, Any]) -> str:
    """The whole HTML document of a result."""
    boots = list(result.get("boots") or [])
    axis = time_axis(boots)
    catalog = stage_catalog(boots)
    body = [
        header(result),
        legend(),
        *(boot_section(boot, position, axis) for position, boot in enumerate(boots)),
        summary_table(result.get("summary") or {}, catalog),
        '<div id="tooltip" class="tooltip" hidden></div>',
    ]
    title = f"bootlab run {result.get('started_at') or ''}".strip()
    return page(title, "\n".join(body), axis)


# ---- small formatting helpers ---------------------------------------------------------


def esc(value: Any) -> str:
    """``value`` as escaped HTML text; null as an en dash."""
    return "\u2013" if value is None else escape(str(value), quote=True)


def seconds(value: Any, digits: int = 3) -> str:
    """A duration in seconds as text (``1.234 s``); null as an en dash."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "\u2013"
    return f"{value:.{digits}f} s"


def status_class(status: Any) -> str:
    """A CSS class for a status; unknown values don't reach the markup."""
    return f"st-{status}" if status in STATUS_COLOURS else "st-other"


def stage_label(stage: Mapping[str, Any]) -> str:
    """``actor -> target`` of a stage, escaped."""
    return f"{esc(stage.get('actor'))} \u2192 {esc(stage.get('target'))}"


# ---- time axis ------------------------------------------------------------------------



def stage_span(
    stage: Mapping[str, Any], boot: Mapping[str, Any]
) -> tuple[float, float] | None:
    """``(offset_s, duration_s)`` of an observed stage, None when it has no timing.

    ``offset_s`` missing is computed from ``start`` and the boot's ``started_at``.
    """
    if stage.get("status") == "unobserved":
        return None
    offset, duration = stage.get("offset_s"), stage.get("duration_s")
    if not isinstance(offset, (int, float)):
        start, origin = parse_time(stage.get("start")), parse_time(
            boot.get("started_at")
        )
        if start is None or origin is None:
            return None
        offset = (start - origin).total_seconds()
    if not isinstance(duration, (int, float)):
        duration = 0.0
    return float(offset), max(float(duration), 0.0)


def nice_step(span: float, wanted: int = TICKS_WANTED) -> float:
    """A 1-2-5 step giving about ``wanted`` ticks over ``span`` seconds."""
    raw = max(span, 1e-6) / wanted
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10.0 * power


def time_axis(boots: Iterable[Mapping[str, Any]]) -> Axis:
    """The axis every waterfall shares: from min(0, first offset) to the last end."""
    spans = [
        span
        for boot in boots
        for stage in boot.get("stages") or []
        if (span := stage_span(stage, boot)) is not None
    ]
    lo = min([0.0] + [offset for offset, _ in spans])
    hi = max([lo + 1.0] + [offset + duration for offset, duration in spans])
    step = nice_step(hi - lo)
    lo = math.floor(lo / step) * step
    hi = math.ceil(hi / step - 1e-9) * step
    return Axis(lo, max(hi, lo + step), step)


# ---- page ---------------------------------------------------------------------------


CSS = """
:root { --measured: %(measured)s; --proxy: %(proxy)s; --unobserved: %(unobserved)s;
        --failed: %(failed)s; --grid: #e6e8eb; }
* { box-sizing: border-box; }
body { font: 12px/1.35 system-ui, sans-serif; margin: 12px 16px; color: #202124; }
h1 { font-size: 18px; margin: 0 0 6px; } h2 { font-size: 15px; margin: 18px 0 4px; }
table { border-collapse: collapse; }
td, th { padding: 1px 8px 1px 0; text-align: left; vertical-align: top; }
th { font-weight: 600; }
.facts { display: flex; flex-wrap: wrap; gap: 2px 18px; margin: 2px 0 6px; }
.facts span b { font-weight: 600; }
.badge { padding: 0 6px; border-radius: 8px; color: #fff; background: var(--failed); }
.badge.ok { background: #188038; }
.unreachable, .failure { border-left: 4px solid var(--failed); background: #fce8e6;
                         padding: 4px 8px; margin: 4px 0; }
.clock { border-left: 4px solid var(--proxy); background: #fef7e0; padding: 4px 8px; margin: 4px 0; }
.failure pre { white-space: pre-wrap; word-break: break-all; margin: 2px 0 0;
               font-size: 11px; }
.legend span { margin-right: 14px; }
.sw { display: inline-block; width: 14px; height: 10px; vertical-align: middle;
      margin-right: 4px; }
.sw.st-measured { background: var(--measured); }
.sw.st-proxy { background: var(--proxy); }
.sw.st-unobserved { border: 1px dashed var(--unobserved); }
.waterfall { padding-right: 20px; }
.row { display: grid; grid-template-columns: 2.4em 20em 23em 1fr; height: 16px;
       align-items: center; border-bottom: 1px solid #f1f3f4; }
.row > span { white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
              padding-right: 6px; }
.row .num { text-align: right; color: #5f6368; }
.stage:hover, .stage:focus { background: #eef3fd; outline: none; }
.stage.failed { background: #fce8e6; box-shadow: inset 3px 0 var(--failed); }
.track { position: relative; height: 16px; overflow: visible !important;
         background: repeating-linear-gradient(to right, var(--grid) 0 1px,
                     transparent 1px var(--tick)); }
.axis { height: 18px; border-bottom: 1px solid #9aa0a6; }
.axis .track { background: none; }
.tick { position: absolute; bottom: 1px; transform: translateX(-50%%); color: #5f6368; }
.tick:first-child { transform: none; }
.bar { position: absolute; top: 3px; height: 10px; min-width: 3px; }
.bar.st-measured { background: var(--measured); }
.bar.st-proxy { background: var(--proxy); }
.bar.st-other { background: #5f6368; }
.bar.zero { min-width: 0; width: 0; }
.bar.zero::before { content: ""; position: absolute; left: -5px; top: 0; width: 10px;
                    height: 10px; background: inherit; transform: rotate(45deg) scale(.8); }
.bar.st-measured.zero::before { background: var(--measured); }
.bar.st-proxy.zero::before { background: var(--proxy); }
.why { position: absolute; left: 4px; right: 0; top: 1px; color: var(--unobserved);
       font-style: italic; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.fail-mark { position: absolute; top: 1px; color: var(--failed); font-weight: 700;
             white-space: nowrap; padding-left: 6px; }
.tip { display: none; }
.tooltip { position: fixed; z-index: 10; max-width: 760px; background: #fff;
           border: 1px solid #9aa0a6; box-shadow: 0 2px 8px rgba(0,0,0,.25);
           padding: 6px 8px; pointer-events: none; }
.tooltip table td { padding-right: 10px; }
.tooltip code { white-space: pre-wrap; word-break: break-all; font-size: 11px; }
.tooltip .ev td { border-top: 1px solid #f1f3f4; }
.summary td.n { text-align: right; font-variant-numeric: tabular-nums; }
.summary tfoot td { border-top: 1px solid #9aa0a6; font-weight: 600; }
"""

JS = """
(function () {
  var tip = document.getElementById('tooltip');
  function show(row, x, y) {
    if (tip.dataset.row !== row.id) {
      tip.replaceChildren();
      row.querySelector('.tip').childNodes.forEach(function (n) {
        tip.appendChild(n.cloneNode(true));
      });
      tip.dataset.row = row.id;
    }
    tip.hidden = false;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    var left = Math.min(x + 14, window.innerWidth - w - 4);
    var top = y + 14 + h > window.innerHeight ? y - h - 8 : y + 14;
    tip.style.left = Math.max(left, 4) + 'px';
    tip.style.top = Math.max(top, 4) + 'px';
  }
  document.addEventListener('mousemove', function (e) {
    var row = e.target.closest && e.target.closest('.stage');
    if (row) { show(row, e.clientX, e.clientY); } else { tip.hidden = true; }
  });
  document.addEventListener('focusin', function (e) {
    var row = e.target.closest && e.target.closest('.stage');
    if (!row) { tip.hidden = true; return; }
    var r = row.getBoundingClientRect();
    show(row, r.left + r.width / 2, r.bottom);
  });
})();
"""


def page(title: str, body: str, axis: Axis) -> str:
    """The document around ``body``: inline style and script, nothing external."""
    css = CSS % {**STATUS_COLOURS, "failed": FAILED_COLOUR}
    tick = f"{axis.step / (axis.hi - axis.lo) * 100:.6f}%"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n"
        f"<style>{css}.waterfall {{ --tick: {tick}; }}</style>\n"
        f"</head>\n<body>\n{body}\n<script>{JS}</script>\n</body>\n</html>\n"
    )


# ---- run header -----------------------------------------------------------------------


def outcome_badge(outcome: Any) -> str:
    """The outcome as a coloured badge (green for ok, red otherwise)."""
    cls = "badge ok" if outcome == "ok" else "badge"
    return f'<span class="{cls}">{esc(outcome)}</span>'


def fact(name: str, value_html: str) -> str:
    """One ``name: value`` fact; ``value_html`` is already escaped."""
    return f"<span>{esc(name)}: <b>{value_html}</b></span>"


def clock_offset(value: Any) -> str:
    """A clock offset in milliseconds with its sign."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "\u2013"
    return f"{value * 1000:+.1f} ms"


def hosts_table(hosts: Sequence[Mapping[str, Any]]) -> str:
    """The lab hosts: reachability, clock offset, sources read."""
    rows = []
    for host in hosts:
        sources = host.get("sources") or []
        missing = [s.get("source") for s in sources if s.get("missing")]
        lines = sum(int(s.get("lines") or 0) for s in sources)
        rows.append(
            "<tr>"
            f"<td>{esc(host.get('name'))}</td><td>{esc(host.get('address'))}</td>"
            f"<td>{'reachable' if host.get('reachable') else '<b>unreachable</b>'}</td>"
            f"<td>clock offset {clock_offset(host.get('clock_offset_s'))}"
            + (f" \u00b1{host['clock_rtt_s'] * 500:.1f} ms"
               if isinstance(host.get("clock_rtt_s"), (int, float)) else "")
            + ("" if host.get("clock_offset_applied", True) else " <b>(not applied)</b>")
            + "</td>"
            f"<td>{len(sources)} sources, {lines} lines"
            + (f", missing: {esc(', '.join(map(str, missing)))}" if missing else "")
            + f"</td><td>{esc(host.get('error') or '')}</td></tr>"
        )
    return '<table class="hosts">' + "".join(rows) + "</table>"


def unreachable_note(hosts: Sequence[Mapping[str, Any]]) -> str:
    """A red note naming every unreachable host and why, or nothing."""
    down = [h for h in hosts if not h.get("reachable")]
    if not down:
        return ""
    names = "; ".join(
        f"<b>{esc(h.get('name'))}</b>"
        + (f" ({esc(h.get('error'))})" if h.get("error") else "")
        for h in down
    )
    return f'<div class="unreachable">Unreachable hosts: {names}</div>'


def clock_note(hosts: Sequence[Mapping[str, Any]]) -> str:
    """The hosts whose clock offset (beyond 50 ms) was subtracted from their lines, or was not."""
    lines = clock_offset_lines(hosts)
    return "".join(f'<div class="clock">{esc(line)}</div>' for line in lines)


def bad_lines_text(bad: Mapping[str, Any]) -> str:
    """The bad-line count, with the sources that had any."""
    by_source = bad.get("by_source") or {}
    parts = [f"{esc(k)}: {esc(v)}" for k, v in by_source.items() if v]
    return esc(bad.get("total", 0)) + (f" ({', '.join(parts)})" if parts else "")


def settings_note(settings: list[Mapping[str, Any]]) -> str:
    """The evidence settings the logs show off (empty when none is)."""
    off = [s for s in settings if s.get("on") is False]
    if not off:
        return ""
    items = "".join(
        f"<li>{esc(s.get('what'))}"
        + (f" (off in: {esc(', '.join(s['off_in']))})" if s.get("off_in") else "") + "</li>"
        for s in off)
    return (f'<div class="unreachable">Evidence settings off in this cloud (the stages that need '
            f"them are proxies or unobserved):<ul>{items}</ul></div>")


def header(result: Mapping[str, Any]) -> str:
    """Run facts: times, outcome, options, hosts, bad lines."""
    hosts = result.get("hosts") or []
    options = result.get("options") or {}
    facts = [
        fact("started", esc(result.get("started_at"))),
        fact("ended", esc(result.get("ended_at"))),
        fact("outcome", outcome_badge(result.get("outcome"))),
        fact("exit code", esc(result.get("exit_code"))),
        fact("boots", esc(len(result.get("boots") or []))),
        fact("bad lines", bad_lines_text(result.get("bad_lines") or {})),
        fact("schema", esc(result.get("schema"))),
        fact("tool", esc(result.get("tool_version"))),
    ]
    opts = " ".join(f"{esc(k)}={esc(v)}" for k, v in options.items())
    return (
        f"<header>\n<h1>bootlab run {esc(result.get('started_at'))}</h1>\n"
        f'<div class="facts">{"".join(facts)}</div>\n'
        f'<div class="facts"><span>options: {opts}</span></div>\n'
        f"{unreachable_note(hosts)}\n{clock_note(hosts)}\n"
        f"{settings_note(result.get('evidence_settings') or [])}\n"
        f"{hosts_table(hosts)}\n</header>"
    )


def legend() -> str:
    """What the colours mean."""
    items = [
        '<span><i class="sw st-measured"></i>measured (direct evidence)</span>',
        '<span><i class="sw st-proxy"></i>proxy (a nearby line stands for it)</span>',
        '<span><i class="sw st-unobserved"></i>unobserved (reason shown)</span>',
        "<span>\u25c6 zero-length stage</span>",
    ]
    return f'<p class="legend">{"".join(items)}</p>'


# ---- one boot -------------------------------------------------------------------------


def failure_box(boot: Mapping[str, Any]) -> str:
    """The failed stage and the error line of a failed boot, or nothing."""
    failed, error = boot.get("failed_stage"), boot.get("error")
    if failed is None and not error:
        return ""
    stage = next(
        (s for s in boot.get("stages") or [] if s.get("number") == failed), None
    )
    what = f"Boot failed at stage {esc(failed)}"
    if stage is not None:
        what += f": {stage_label(stage)} | {esc(stage.get('action'))}"
    if isinstance(error, Mapping):
        where = " ".join(esc(error.get(k)) for k in ("host", "source", "at"))
        detail = f"<div>{where}</div><pre>{esc(error.get('line'))}</pre>"
    elif error:
        detail = f"<pre>{esc(error)}</pre>"
    else:
        detail = ""
    return f'<div class="failure"><b>{what}</b>{detail}</div>'


def boot_facts(boot: Mapping[str, Any]) -> str:
    """Start, client times, critical path and status counts of a boot."""
    client = boot.get("client") or {}
    stages = boot.get("stages") or []
    counts = {s: sum(1 for x in stages if x.get("status") == s) for s in STATUS_COLOURS}
    facts = [
        fact("started", esc(boot.get("started_at"))),
        fact("time to ACTIVE", seconds(client.get("time_to_active_s"))),
        fact("time to metadata", seconds(client.get("time_to_metadata_s"))),
        fact("critical path", seconds(boot.get("critical_path_s"))),
        *(fact(s, esc(n)) for s, n in counts.items()),
    ]
    return f'<div class="facts">{"".join(facts)}</div>'


def axis_row(axis: Axis) -> str:
    """The row of tick labels above a waterfall."""
    ticks = "".join(
        f'<span class="tick" style="left:{axis.pct(t):.4f}%">{t:g} s</span>'
        for t in axis.ticks()
    )
    return (
        '<div class="row axis"><span class="num">#</span><span>actor \u2192 target</span>'
        f'<span>action</span><span class="track">{ticks}</span></div>'
    )


def evidence_rows(evidence: Iterable[Mapping[str, Any]]) -> str:
    """Evidence lines as table rows: role, host, source, time, then the line itself."""
    return "".join(
        f'<tr class="ev"><td>{esc(e.get("role"))}</td><td>{esc(e.get("host"))}</td>'
        f'<td>{esc(e.get("source"))}</td><td>{esc(e.get("at"))}</td></tr>'
        f'<tr><td colspan="4"><code>{esc(e.get("line"))}</code></td></tr>'
        for e in evidence
    )


def tooltip(stage: Mapping[str, Any]) -> str:
    """The hidden tooltip content of a stage row (the script shows it on hover)."""
    facts = [
        ("status", stage.get("status")),
        ("fidelity", stage.get("fidelity")),
        ("start", stage.get("start")),
        ("end", stage.get("end")),
        ("duration", seconds(stage.get("duration_s"), 6)),
        ("offset", seconds(stage.get("offset_s"), 6)),
        ("reason", stage.get("reason")),
        ("note", stage.get("note")),
    ]
    rows = "".join(f"<tr><td>{name}</td><td>{esc(v)}</td></tr>" for name, v in facts)
    evidence = stage.get("evidence") or []
    ev = (
        f"<table>{evidence_rows(evidence)}</table>"
        if evidence
        else "<div>no evidence</div>"
    )
    title = (
        f"{esc(stage.get('number'))} {stage_label(stage)} | {esc(stage.get('action'))}"
    )
    return (
        f'<div class="tip"><b>{title}</b><table>{rows}</table>'
        f"<b>evidence ({len(evidence)})</b>{ev}</div>"
    )


def track(
    stage: Mapping[str, Any], boot: Mapping[str, Any], axis: Axis, failed: bool
) -> str:
    """The time cell of a row: a bar, a zero-length marker, or the reason text."""
    span = stage_span(stage, boot)
    cls = status_class(stage.get("status"))
    if span is None:
        text = stage.get("reason") or "no timing"
        inner = f'<span class="why">{esc(text)}</span>'
    else:
        offset, duration = span
        left = axis.pct(offset)
        if duration > 0:
            width = duration / (axis.hi - axis.lo) * 100.0
            inner = (
                f'<i class="bar {cls}" style="left:{left:.4f}%;width:{width:.4f}%"></i>'
            )
        else:
            inner = f'<i class="bar zero {cls}" style="left:{left:.4f}%"></i>'
        if failed:
            end = axis.pct(offset + duration)
            inner += f'<span class="fail-mark" style="left:{end:.4f}%">\u2716 failed here</span>'
    return f'<span class="track">{inner}</span>'


def stage_row(
    stage: Mapping[str, Any], boot: Mapping[str, Any], position: int, axis: Axis
) -> str:
    """One waterfall row: number, actor -> target, action, track, hidden tooltip."""
    failed = boot.get("failed_stage") is not None and stage.get("number") == boot.get(
        "failed_stage"
    )
    classes = f"row stage {status_class(stage.get('status'))}" + (
        " failed" if failed else ""
    )
    row_id = f"b{position}-s{esc(stage.get('number'))}"
    return (
        f'<div class="{classes}" id="{row_id}" tabindex="0" data-boot="{position}">'
        f'<span class="num">{esc(stage.get("number"))}</span>'
        f"<span>{stage_label(stage)}</span><span>{esc(stage.get('action'))}</span>"
        f"{track(stage, boot, axis, failed)}{tooltip(stage)}</div>"
    )


def boot_section(boot: Mapping[str, Any], position: int, axis: Axis) -> str:
    """A boot: title, facts, failure box, and the waterfall of its stages."""
    index = boot.get("index", position)
    title = (
        f"Boot {esc(index)}: {esc(boot.get('server_name'))} "
        f"<small>{esc(boot.get('server_id'))}</small> {outcome_badge(boot.get('outcome'))}"
    )
    rows = "\n".join(
        stage_row(s, boot, position, axis) for s in boot.get("stages") or []
    )
    return (
        f'<section class="boot" id="boot-{position}">\n<h2>{title}</h2>\n'
        f"{boot_facts(boot)}\n{failure_box(boot)}\n"
        f'<div class="waterfall">\n{axis_row(axis)}\n{rows}\n</div>\n</section>'
    )


# ---- summary --------------------------------------------------------------------------


def stage_catalog(boots: Iterable[Mapping[str, Any]]) -> dict[Any, Mapping[str, Any]]:
    """Stage number -> a stage dict of that number (for names in the summary)."""
    catalog: dict[Any, Mapping[str, Any]] = {}
    for boot in boots:
        for stage in boot.get("stages") or []:
            catalog.setdefault(stage.get("number"), stage)
    return catalog


def stat_cells(row: Mapping[str, Any]) -> str:
    """count, p50, p95, max cells."""
    return (
        f'<td class="n">{esc(row.get("count"))}</td>'
        f'<td class="n">{seconds(row.get("p50_s"))}</td>'
        f'<td class="n">{seconds(row.get("p95_s"))}</td>'
        f'<td class="n">{seconds(row.get("max_s"))}</td>'
    )


def summary_table(
    summary: Mapping[str, Any], catalog: Mapping[Any, Mapping[str, Any]]
) -> str:
    """Per stage: count, p50, p95, max across the boots that reached it."""
    rows = []
    for row in summary.get("stages") or []:
        stage = catalog.get(row.get("number"), {})
        rows.append(
            f'<tr class="sum"><td class="n">{esc(row.get("number"))}</td>'
            f"<td>{stage_label(stage) if stage else ''}</td>"
            f"<td>{esc(stage.get('action', ''))}</td>{stat_cells(row)}</tr>"
        )
    end = summary.get("end_to_end")
    foot = (
        f'<tfoot><tr><td></td><td colspan="2">end to end</td>{stat_cells(end)}</tr></tfoot>'
        if isinstance(end, Mapping)
        else ""
    )
    return (
        '<section class="summary">\n<h2>Summary across boots</h2>\n<table>'
        "<thead><tr><th>#</th><th>actor \u2192 target</th><th>action</th><th>count</th>"
        "<th>p50</th><th>p95</th><th>max</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody>{foot}</table>\n</section>"
    )
