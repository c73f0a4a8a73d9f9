"""A ``bootlab.run/1`` result as CSV: one row per boot per stage."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

HEADER: tuple[str, ...] = (
    "boot",
    "server_id",
    "stage",
    "actor",
    "target",
    "action",
    "status",
    "fidelity",
    "start",
    "end",
    "duration_s",
    "offset_s",
    "evidence_count",
    "reason",
)


def render_csv(result: Mapping[str, Any]) -> str:
    """The CSV text (RFC 4180, ``\\r\\n`` line ends) of every stage of every boot."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for position, boot in enumerate(result.get("boots") or []):
        for stage in boot.get("stages") or []:
            writer.writerow(stage_row(boot, stage, position))
    return out.getvalue()


def stage_row(
    boot: Mapping[str, Any], stage: Mapping[str, Any], position: int = 0
) -> list[str]:
    """One CSV row; ``position`` stands in for a boot without an ``index``."""
    index = boot.get("index")
    return [
        cell(position if index is None else index),
        cell(boot.get("server_id")),
        cell(stage.get("number")),
        cell(stage.get("actor")),
        cell(stage.get("target")),
        cell(stage.get("action")),
        cell(stage.get("status")),
        cell(stage.get("fidelity")),
        cell(stage.get("start")),
        cell(stage.get("end")),
        cell(stage.get("duration_s")),
        cell(stage.get("offset_s")),
        cell(len(stage.get("evidence") or [])),
        cell(stage.get("reason")),
    ]


def cell(value: Any) -> str:
    """A value as CSV text: empty for null, shortest round-tripping text for floats."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
