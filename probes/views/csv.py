"""A ``bootlab.run/1`` result as CSV: one row per boot per stage, then one per named segment
of work or waiting and per unexplained stretch of its accounting (docs/accounting.md); the
columns kind (stage / work / wait / unexplained), critical_s (seconds on the critical
path) and witness (a stage's evidence sources, docs/evidence.md) come last."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from probes.views import accounted_stages

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
    "kind",
    "critical_s",
    "witness",
)


def render_csv(result: Mapping[str, Any]) -> str:
    """The CSV text (RFC 4180, ``\\r\\n`` line ends) of every stage of every boot."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for position, boot in enumerate(result.get("boots") or []):
        segments = (boot.get("accounting") or {}).get("segments") or []
        accounted = accounted_stages(boot)
        for stage in boot.get("stages") or []:
            writer.writerow([*stage_row(boot, stage, position), "stage",
                             cell(accounted.get(stage.get("number"), {}).get("critical_s")),
                             cell(stage.get("witness"))])
        for segment in segments:
            if segment["kind"] != "stage":
                writer.writerow(segment_row(boot, segment, position))
    return out.getvalue()


def segment_row(boot: Mapping[str, Any], segment: Mapping[str, Any], position: int = 0) -> list[str]:
    """A segment's row: its name as the action, its host and service as actor, what a wait
    waits for as the reason."""
    index = boot.get("index")
    host, service = segment.get("host") or "", segment.get("service") or ""
    where = host if host == service else f"{host} {service}".strip()
    return [cell(position if index is None else index), cell(boot.get("server_id")), "",
            cell(where or None), "", cell(segment.get("name")), "observed", "",
            cell(segment.get("start")), cell(segment.get("end")), cell(segment.get("duration_s")),
            "", cell(len(segment.get("evidence") or [])), cell(segment.get("waits_for")),
            cell(segment.get("kind")), cell(segment.get("critical_s")), ""]


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
