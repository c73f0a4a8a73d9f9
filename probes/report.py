"""Render a smoke result: pure functions of a :class:`SmokeResult`."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from probes.records import SMOKE_SCHEMA, Outcome, SmokeResult


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums and aware datetimes into plain JSON values."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def smoke_to_dict(result: SmokeResult) -> dict[str, Any]:
    """The result file of a smoke run: everything needed to re-analyse it."""
    data: dict[str, Any] = {"schema": SMOKE_SCHEMA, "exit_code": result.outcome.exit_code}
    data.update(to_jsonable(result))
    for action, record in zip(data["actions"], result.actions, strict=True):
        action["duration_s"] = record.duration_s
    data["metadata_uuid"] = result.metadata_uuid
    data["metadata_matches"] = result.metadata_matches
    return data


def smoke_to_json(result: SmokeResult) -> str:
    return json.dumps(smoke_to_dict(result), indent=2, sort_keys=False)


def render_smoke(result: SmokeResult) -> str:
    """A short summary a person reads after the run."""
    return "\n".join([
        _headline(result),
        *_server_lines(result),
        *_timing_lines(result),
        *_state_lines(result),
        *_console_lines(result),
        *_closing_lines(result),
    ])


def _server_lines(result: SmokeResult) -> list[str]:
    where = f" ({result.config_file})" if result.config_file else ""
    lines = [f"  cloud        {result.options.cloud}{where}"]
    if result.server_name is not None:
        lines.append(
            f"  server       {result.server_id or '(no id)'}  {result.server_name}"
            f"  {_server_fate(result)}"
        )
    if result.global_request_id and result.http:
        lines.append(
            f"  request id   {result.global_request_id} (sent with every API call)"
        )
    return lines


def _timing_lines(result: SmokeResult) -> list[str]:
    timings = _timings(result)
    if not timings:
        return []
    width = max(len(label) for label, _, _ in timings)
    return ["timings", *(f"  {label:<{width}}  {seconds:8.3f} s  {note}".rstrip()
                         for label, seconds, note in timings)]


def _state_lines(result: SmokeResult) -> list[str]:
    if not result.status_changes:
        return []
    return ["server states (UTC, as first seen by a poll)", *(
        f"  {change.at:%H:%M:%S.%f}  {change.status}"
        f"  task={change.task_state}  vm={change.vm_state}"
        f"  power={change.power_state}"
        for change in result.status_changes
    )]


def _console_lines(result: SmokeResult) -> list[str]:
    guest = result.console
    if guest is None:
        return []
    lease = guest.lease_line or (
        "BOOTLAB-LEASE-FAILED" if guest.lease_failed else "not seen"
    )
    if guest.metadata is not None:
        verdict = (
            "matches the server id"
            if result.metadata_matches
            else f"does NOT match the server id {result.server_id}"
        )
        metadata = f"uuid {result.metadata_uuid}: {verdict}"
    elif guest.metadata_failed:
        metadata = "BOOTLAB-METADATA-FAILED"
    else:
        metadata = guest.metadata_error or "not seen"
    return [
        "guest console",
        f"  lease        {lease}",
        f"  metadata     {metadata}",
        f"  ready        {'yes' if guest.ready else 'not seen'}",
    ]


def _closing_lines(result: SmokeResult) -> list[str]:
    """What went wrong and what to do next, what was left behind."""
    lines = []
    if result.outcome is not Outcome.OK and result.message:
        if result.fault:
            lines.append(
                f"fault: {result.fault.get('message')} (code {result.fault.get('code')})"
            )
        if result.hint:
            lines.append(f"next: {result.hint}")
    if result.cleanup_error:
        lines.append(f"WARNING: {result.cleanup_error}")
    if result.server_id and not result.deleted:
        lines.append(
            f"server left running; delete it with: openstack --os-cloud {result.options.cloud} "
            f"server delete {result.server_id}"
        )
    return lines


def _headline(result: SmokeResult) -> str:
    if result.outcome is Outcome.OK:
        return "bootprobe smoke: OK, the lab booted an instance and served its metadata"
    if result.outcome is Outcome.BOOT_FAILED:
        stage = result.failed_stage.value if result.failed_stage else "?"
        return f"bootprobe smoke: FAILED at stage {stage}: {result.message}"
    if result.outcome is Outcome.INTERRUPTED:
        return "bootprobe smoke: interrupted"
    return f"bootprobe smoke: {result.outcome.value}: {result.message}"


def _server_fate(result: SmokeResult) -> str:
    if result.deleted:
        return "(deleted)"
    if result.options.keep and result.server_id:
        return "(kept)"
    return ""


def _timings(result: SmokeResult) -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    labels = {
        "auth": "auth (token)",
        "resolve": "find image/flavor/network",
        "create": "create_server call",
        "wait_active": "create -> ACTIVE",
        "console": "console polling",
        "delete": "delete until gone",
    }
    for action in result.actions:
        note = "" if action.ok else "(failed)"
        ids = [
            e.request_id
            for e in result.http
            if e.action == action.name and e.request_id
        ]
        if action.name in ("auth", "create") and ids:
            note = f"{note} {ids[-1]}".strip()
        label = labels.get(action.name, action.name)
        if action.name == "wait_active":
            create = result.action("create")
            if create is not None and result.active_at is not None:
                rows.append(
                    (label, (result.active_at - create.started_at).total_seconds(), "")
                )
                continue
            label = "waiting for ACTIVE"
        rows.append((label, action.duration_s, note))
    create = result.action("create")
    if create is not None:
        for label, at in (
            ("create -> lease seen", result.lease_seen_at),
            ("create -> metadata seen", result.metadata_seen_at),
            ("create -> ready seen", result.ready_seen_at),
        ):
            if at is not None:
                rows.append(
                    (
                        label,
                        (at - create.started_at).total_seconds(),
                        "(poll resolution)",
                    )
                )
    return rows
