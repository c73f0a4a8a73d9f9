"""A ``bootlab.run/1`` result as one self-contained HTML page.

Run facts, then per boot a waterfall of its 58 stages on a time axis common to all boots
(bars coloured by status, hover for times and evidence), the named segments of work and
waiting and the unexplained stretches of its accounting in rows of their own, the critical
path marked on every row it runs through and listed with its shares (docs/accounting.md),
then the per-stage summary.
Inline CSS and a few lines of inline JS; no external URL. The markup is the Jinja2 template
``probes/templates/run.html.j2`` (its style ``run.css.j2``, its script ``run.js``); this
module computes the time axis and the formats the template uses. Every value of the result
is escaped (the environment's, :mod:`probes.views.templates`): evidence lines are log
lines, untrusted text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, NamedTuple

from jinja2 import Template

from probes.views import accounted_stages, clock_offset_lines, critical_pieces, parse_time
from probes.views.templates import template

#: Bar colour per stage status (the screenshot test looks for these pixels).
STATUS_COLOURS: Mapping[str, str] = MappingProxyType(
    {"measured": "#1f6fd1", "proxy": "#f0a020", "unobserved": "#9aa0a6"}
)
FAILED_COLOUR = "#d93025"
#: Bar colour per segment kind (the screenshot test looks for these pixels too).
KIND_COLOURS: Mapping[str, str] = MappingProxyType(
    {"work": "#188038", "wait": "#a142f4", "unexplained": "#e8453c"}
)
CRITICAL_COLOUR = "#00897b"  # the critical path's mark beside a row
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
    return _template().render(
        result=result, boots=boots, axis=time_axis(boots), catalog=stage_catalog(boots)
    )


@cache
def _template() -> Template:
    """The page's template, with the formats and colours it uses (compiled once)."""
    return template(
        "run.html.j2",
        filters={"seconds": seconds, "status_class": status_class,
                 "clock_offset": clock_offset, "lines_read": lines_read, "missing_sources": missing_sources},
        tests={"real": is_real},
        stage_span=stage_span, segment_span=segment_span, boot_segments=boot_segments,
        critical_stages=critical_stages, path_rows=path_rows,
        clock_offset_lines=clock_offset_lines,
        statuses=tuple(STATUS_COLOURS),
        colours={**STATUS_COLOURS, **KIND_COLOURS, "failed": FAILED_COLOUR,
                 "critical": CRITICAL_COLOUR},
    )


# ---- formats the template uses ---------------------------------------------------------


def seconds(value: Any, digits: int = 3) -> str:
    """A duration in seconds as text (``1.234 s``); null as an en dash."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "\u2013"
    return f"{value:.{digits}f} s"


def status_class(status: Any) -> str:
    """A CSS class for a status; unknown values don't reach the markup."""
    return f"st-{status}" if status in STATUS_COLOURS else "st-other"


def clock_offset(value: Any) -> str:
    """A clock offset in milliseconds with its sign."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "\u2013"
    return f"{value * 1000:+.1f} ms"


def lines_read(sources: Iterable[Mapping[str, Any]]) -> int:
    """The lines a host's sources read."""
    return sum(int(s.get("lines") or 0) for s in sources)


def missing_sources(sources: Iterable[Mapping[str, Any]]) -> list[str]:
    """The names of a host's sources that were missing."""
    return [str(s.get("source")) for s in sources if s.get("missing")]


def is_real(value: Any) -> bool:
    """An int or a float (a bool too, as Python has it)."""
    return isinstance(value, (int, float))


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


def segment_span(segment: Mapping[str, Any], boot: Mapping[str, Any]) -> tuple[float, float] | None:
    """``(offset_s, duration_s)`` of a segment from the boot's start."""
    start, origin = parse_time(segment.get("start")), parse_time(boot.get("started_at"))
    if start is None or origin is None:
        return None
    return (start - origin).total_seconds(), max(float(segment.get("duration_s") or 0.0), 0.0)


def boot_segments(boot: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The boot's segments that are not stages (work, waits, unexplained), in start order."""
    accounting = boot.get("accounting") or {}
    return [s for s in accounting.get("segments") or [] if s.get("kind") != "stage"]


def critical_stages(boot: Mapping[str, Any]) -> frozenset[Any]:
    """The numbers of the stages on the boot's critical path."""
    return frozenset(n for n, s in accounted_stages(boot).items() if (s.get("critical_s") or 0) > 0)


def path_rows(boot: Mapping[str, Any]) -> list[tuple[str, str, float, float]]:
    """``(name, kind, seconds, share)`` of the critical path's segments of at least
    SHOWN_SHARE of the boot, in time order, then one for the rest."""
    total = float((boot.get("accounting") or {}).get("end_to_end_s") or 0.0)
    shown, folded, folded_s = critical_pieces(boot)
    if not total:
        return []
    rows = [(str(s["name"]), str(s["kind"]), float(s["critical_s"]), s["critical_s"] / total)
            for s in shown]
    if folded:
        rows.append((f"{folded} more, under 1 % each", "", folded_s, folded_s / total))
    return rows


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


# ---- summary --------------------------------------------------------------------------


def stage_catalog(boots: Iterable[Mapping[str, Any]]) -> dict[Any, Mapping[str, Any]]:
    """Stage number -> a stage dict of that number (for names in the summary)."""
    catalog: dict[Any, Mapping[str, Any]] = {}
    for boot in boots:
        for stage in boot.get("stages") or []:
            catalog.setdefault(stage.get("number"), stage)
    return catalog
