"""Views of a ``bootlab.run/1`` result: pure functions of the loaded JSON dict.

Each report format is a renderer registered by name (``bootprobe report --format NAME``
looks it up, and its choices are the names registered): :func:`register` adds one,
:func:`renderer` finds one, :func:`formats` lists them.  The formats shipped are
registered by where their renderer is defined, imported on first use (rich, which the
table needs, takes longer to import than `bootprobe --help` takes to run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from importlib import import_module
from typing import Any

Renderer = Callable[[Mapping[str, Any]], str]
"""A view: the text of a result (the whole file's content, its last newline included)."""

# Name -> the renderer, or "module:function" naming it until it is first looked up.
_RENDERERS: dict[str, Renderer | str] = {
    "table": "probes.views.table:render_table",
    "json": "probes.views:render_json",
    "csv": "probes.views.csv:render_csv",
    "html": "probes.views.html:render_html",
    "trace": "probes.views.trace:render_trace",
    "otlp": "probes.views.otlp:render_otlp",
}


def register(name: str) -> Callable[[Renderer], Renderer]:
    """Decorator: the function is the renderer of format ``name`` (replacing any before)."""

    def add(function: Renderer) -> Renderer:
        _RENDERERS[name] = function
        return function

    return add


def formats() -> tuple[str, ...]:
    """The names of the formats registered, in the order they were."""
    return tuple(_RENDERERS)


def renderer(name: str) -> Renderer:
    """The renderer registered as ``name``; KeyError for a name never registered."""
    found = _RENDERERS[name]
    if isinstance(found, str):
        module, _, function = found.partition(":")
        found = _RENDERERS[name] = getattr(import_module(module), function)
    return found


def render(name: str, result: Mapping[str, Any]) -> str:
    """``result`` in format ``name``."""
    return renderer(name)(result)


def render_json(result: Mapping[str, Any]) -> str:
    """The result file itself, indented."""
    import json

    return json.dumps(result, indent=2) + "\n"


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time of the result file, or None for null / unparsable."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# Critical path pieces under this share of the boot are folded into one line by the views.
SHOWN_SHARE = 0.01


def accounted_stages(boot: Mapping[str, Any]) -> dict[Any, Mapping[str, Any]]:
    """The boot's accounting segment of each observed stage, by stage number."""
    segments = (boot.get("accounting") or {}).get("segments") or []
    return {s.get("stage"): s for s in segments if s.get("kind") == "stage"}


def critical_pieces(boot: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], int, float]:
    """The boot's segments on its critical path of at least SHOWN_SHARE of its end-to-end
    time, in time order, and how many others there are and their seconds (folded)."""
    accounting = boot.get("accounting") or {}
    total = float(accounting.get("end_to_end_s") or 0.0)
    on_path = sorted((s for s in accounting.get("segments") or [] if (s.get("critical_s") or 0) > 0),
                     key=lambda s: s["start"])
    small = [s for s in on_path if total and s["critical_s"] / total < SHOWN_SHARE]
    return ([s for s in on_path if s not in small], len(small),
            sum(s["critical_s"] for s in small))


# A host's clock offset the header states (smaller ones are within a log stamp's noise).
CLOCK_OFFSET_NOTED_S = 0.05


def _offset_text(host: Mapping[str, Any]) -> str:
    """``name +1.503 s (±0.4 ms)``: the offset and its error (half the round trip)."""
    rtt = host.get("clock_rtt_s")
    error = f" (\u00b1{rtt * 500:.1f} ms)" if isinstance(rtt, (int, float)) else ""
    return f"{host.get('name')} {host['clock_offset_s']:+.3f} s{error}"


def clock_offset_lines(hosts: Sequence[Mapping[str, Any]],
                       noted_s: float = CLOCK_OFFSET_NOTED_S) -> list[str]:
    """The header's sentences on the hosts whose clock was off by more than ``noted_s``:
    the offsets subtracted from their lines, and those measured but left out (``bootprobe
    analyze --no-clock-offsets``)."""
    off = [h for h in hosts if isinstance(h.get("clock_offset_s"), (int, float))
           and not isinstance(h.get("clock_offset_s"), bool) and abs(h["clock_offset_s"]) > noted_s]
    applied = [_offset_text(h) for h in off if h.get("clock_offset_applied", True)]
    ignored = [_offset_text(h) for h in off if not h.get("clock_offset_applied", True)]
    lines = []
    if applied:
        lines.append("clock offsets applied: " + ", ".join(applied))
    if ignored:
        lines.append("clock offsets NOT applied (each host's lines on its own clock): "
                     + ", ".join(ignored))
    return lines
