"""Views of a ``bootlab.run/1`` result: pure functions of the loaded JSON dict."""

from __future__ import annotations

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
