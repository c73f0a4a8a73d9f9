"""Plain records of a probe run: what was timed, what the cloud answered.

Everything here is data.  Times are timezone-aware UTC datetimes with their
microseconds kept.  Collecting code fills these records; reports are pure
functions of them (see :mod:`probes.report`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from probes.guest import GuestConsole

SMOKE_SCHEMA = "bootlab.smoke/1"


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class Outcome(enum.Enum):
    """How a run ended; each outcome has the exit code a CI job relies on."""

    OK = "ok"
    BOOT_FAILED = "boot-failed"
    CONFIG_ERROR = "config-error"
    UNREACHABLE = "unreachable"
    INTERRUPTED = "interrupted"

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self]


_EXIT_CODES = {
    Outcome.OK: 0,
    Outcome.BOOT_FAILED: 1,
    Outcome.CONFIG_ERROR: 2,
    Outcome.UNREACHABLE: 3,
    Outcome.INTERRUPTED: 130,
}


class Stage(enum.Enum):
    """The step of a smoke run a boot failure is blamed on."""

    CREATE = "create"  # the create_server call itself was refused
    ACTIVE = "active"  # the server never reached ACTIVE (ERROR, vanished, timeout)
    LEASE = "lease"  # ACTIVE, but the guest printed no DHCP lease
    METADATA = "metadata"  # lease, but no meta_data.json with this server's uuid


@dataclass(frozen=True)
class Action:
    """One timed step of the client (rally's "atomic action")."""

    name: str
    started_at: datetime
    ended_at: datetime
    ok: bool

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class HttpExchange:
    """One HTTP request/response seen on the client's session.

    ``sent_at`` is ``received_at`` less the time requests measured until the
    response headers arrived.  Only the request id is kept of the headers:
    Keystone's response carries the token in X-Subject-Token.
    """

    action: str | None
    method: str
    url: str
    status: int
    request_id: str | None
    sent_at: datetime
    received_at: datetime


@dataclass(frozen=True)
class StatusChange:
    """The server's state as first seen by a poll that saw it change."""

    at: datetime
    status: str | None
    task_state: str | None
    vm_state: str | None
    power_state: int | None


@dataclass(frozen=True)
class SmokeOptions:
    """What a smoke run was asked to do."""

    cloud: str
    image: str
    flavor: str
    network: str
    name_prefix: str
    timeout_s: float
    keep: bool = False
    volume_size_gb: int = 0
    status_interval_s: float = 1.0
    console_interval_s: float = 2.0
    delete_wait_s: float = 60.0


@dataclass
class SmokeResult:
    """Everything one ``bootprobe smoke`` run learned, filled as it goes."""

    options: SmokeOptions
    started_at: datetime
    ended_at: datetime | None = None
    outcome: Outcome = Outcome.OK
    failed_stage: Stage | None = None
    message: str | None = None
    hint: str | None = None

    config_file: str | None = None
    global_request_id: str | None = None
    project_id: str | None = None
    image_id: str | None = None
    flavor_id: str | None = None
    network_id: str | None = None

    server_id: str | None = None
    server_name: str | None = None
    status_changes: list[StatusChange] = field(default_factory=list)
    fault: dict[str, Any] | None = None

    console_text: str | None = None
    console: GuestConsole | None = None
    lease_seen_at: datetime | None = None
    metadata_seen_at: datetime | None = None
    ready_seen_at: datetime | None = None

    deleted: bool = False
    cleanup_error: str | None = None

    actions: list[Action] = field(default_factory=list)
    http: list[HttpExchange] = field(default_factory=list)

    def action(self, name: str) -> Action | None:
        """The last action of that name, if it was recorded."""
        for action in reversed(self.actions):
            if action.name == name:
                return action
        return None

    @property
    def active_at(self) -> datetime | None:
        for change in self.status_changes:
            if change.status == "ACTIVE":
                return change.at
        return None

    @property
    def metadata_uuid(self) -> str | None:
        if self.console is None or self.console.metadata is None:
            return None
        uuid = self.console.metadata.get("uuid")
        return uuid if isinstance(uuid, str) else None

    @property
    def metadata_matches(self) -> bool:
        return self.server_id is not None and self.metadata_uuid == self.server_id
