"""Views of a ``bootlab.run/1`` result: pure functions of the loaded JSON dict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time of the result file, or None for null / unparsable."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


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
