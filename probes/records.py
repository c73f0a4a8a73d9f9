"""Plain records the modules exchange: what a probe run timed, what the cloud answered,
what the client knew of each boot (:class:`BootInput`, :class:`ClientTimes`), and the shape
of the result file (``bootlab.run/1``, :class:`Result`; its JSON schema is
``probes/data/result.schema.json``).

Everything here is data.  Times are timezone-aware UTC datetimes with their
microseconds kept (ISO-8601 strings in the result).  Collecting code fills these
records; reports are pure functions of them (see :mod:`probes.report`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from probes.guest import GuestConsole

if TYPE_CHECKING:
    # ClientTimes is still defined in probes.correlate (whose change is under way elsewhere):
    # it moves here then, and correlate imports it from here.  Until then it is imported from
    # there when first asked for (module __getattr__ below): the catalog and the log reader
    # correlate imports are not every command's.
    from probes.correlate import ClientTimes as ClientTimes  # noqa: PLC0414 (re-exported)

SMOKE_SCHEMA = "bootlab.smoke/1"
RESULT_SCHEMA = "bootlab.run/1"


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


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
    trace_id: str | None = None  # the base id of its OSProfiler trace (bootprobe run --profile)
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


def __getattr__(name: str) -> Any:
    """``ClientTimes``, from probes.correlate when first asked for (see the import above)."""
    if name == "ClientTimes":
        import probes.correlate

        return probes.correlate.ClientTimes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _no_client_times() -> ClientTimes:
    import probes.correlate

    return probes.correlate.ClientTimes()


@dataclass
class BootInput:
    """What the client knows of one boot (nothing of it is required): the analysis's input,
    kept in a run's ``logs/boots.json`` (:mod:`probes.boots`)."""

    index: int
    server_id: str | None
    server_name: str | None = None
    outcome: str = "ok"
    message: str | None = None
    fault: dict[str, Any] | None = None
    global_request_id: str | None = None
    image_id: str | None = None
    ports: list[dict[str, str]] = field(default_factory=list)
    volume_ids: list[str] = field(default_factory=list)
    client: ClientTimes = field(default_factory=_no_client_times)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    stopped_at: datetime | None = None  # the client gave up on it (timeout, error, Ctrl-C)
    client_stage: str | None = None  # where the client saw it fail (probes.records.Stage)
    trace_id: str | None = None  # the base id of its OSProfiler trace (bootprobe run --profile)


# The result file (bootlab.run/1), as probes.analyze makes it: every key is always there
# (a view of an older result finds fewer: the JSON schema says which are optional).
# Times are ISO-8601 strings with microseconds, durations seconds.


class Evidence(TypedDict):
    """A line that proves a stage's start or end (role start/end/also), or one of the last
    lines a failed boot's services logged (role last); host ``client`` for a client time."""

    role: str
    host: str
    source: str  # "<service> <file>", or bootprobe's
    at: str | None
    line: str  # scrubbed, 2000 characters at most


class ErrorLine(TypedDict):
    """The error line of a failed boot (or the client's message, host ``client``)."""

    host: str
    source: str
    at: str | None
    line: str


class StageResult(TypedDict):
    """One of a boot's 58 stages."""

    number: int
    actor: str
    target: str
    action: str
    fidelity: str  # direct | proxy | unobservable (the catalog's)
    status: str  # measured | proxy | unobserved
    start: str | None
    end: str | None
    duration_s: float | None
    offset_s: float | None  # start - the boot's start
    evidence: list[Evidence]
    reason: str | None
    note: str | None
    witness: NotRequired[str | None]  # the sources read, best first (docs/evidence.md)


class ClientSeen(TypedDict):
    """What the client saw of a boot."""

    create_sent_at: str | None
    active_seen_at: str | None
    metadata_seen_at: str | None
    time_to_active_s: float | None
    time_to_metadata_s: float | None


class _BootKeysResult(TypedDict):
    """The ids that tied log lines to the boot (probes.correlate.BootKeys.to_dict)."""

    server_id: str | None
    global_request_id: str | None
    request_ids: list[str]
    image_id: str | None
    volume_ids: list[str]
    port_ids: list[str]
    macs: list[str]
    ips: list[str]
    rpc_ids: list[str]
    rgw_requests: list[str]


class BootKeysResult(_BootKeysResult, total=False):
    """The boot's keys; a profiled boot's with its traces."""

    trace_ids: list[str]  # OSProfiler base ids (a profiled boot only)


class NoKeys(TypedDict):
    """The keys of a boot whose logs were not analysed (probes.analyze.unanalysed): none."""


class _SegmentResult(TypedDict):

    name: str
    kind: str  # stage | work | wait | unexplained
    start: str
    end: str
    duration_s: float
    host: str
    service: str
    evidence: list[Evidence]
    critical_s: float  # its seconds on the critical path (0: off it)


class SegmentResult(_SegmentResult, total=False):
    """A stretch of a boot's window (probes.accounting): a stage, named work, a wait, or an
    unexplained hole, with the lines that show it (roles start/end; before/after for a hole)."""

    stage: int  # a stage's number
    waits_for: str  # a wait: what it waits for


class MissingSegment(TypedDict):
    """A catalog segment the boot's logs did not show, and why."""

    name: str
    kind: str
    reason: str


class AccountingResult(TypedDict):
    """Where the boot's time went (docs/accounting.md)."""

    start: str
    end: str
    end_to_end_s: float
    attributed_s: float
    unexplained_s: float
    attributed_share: float  # attributed_s / end_to_end_s
    segments: list[SegmentResult]
    critical_path: list[str]  # the segments' names, first to last
    unobserved: list[MissingSegment]


class _BootResult(TypedDict):

    index: int
    server_id: str | None
    server_name: str | None
    outcome: str  # ok | boot-failed | interrupted | ... (probes.records.Outcome)
    failed_stage: int | None
    interrupted_at: int | None  # the first stage an interrupted boot did not reach
    error: ErrorLine | None
    last_line: Evidence | None
    last_lines: list[Evidence]
    message: str | None
    started_at: str | None
    ended_at: str | None
    client: ClientSeen
    critical_path_s: float | None
    end_to_end_s: float | None
    keys: BootKeysResult | NoKeys
    stages: list[StageResult]


class BootResult(_BootResult, total=False):
    """One boot of the result."""

    accounting: AccountingResult | None  # where its time went (None: no stage observed)


class SourceResult(TypedDict):
    """One log file read on a host."""

    source: str | None  # the service
    path: str
    format: str | None
    lines: int
    records: int
    bad_lines: int
    missing: bool
    note: str | None


class HostResult(TypedDict):
    """One lab host whose logs were read."""

    name: str
    address: str | None
    reachable: bool
    error: str | None
    clock_offset_s: float | None  # host.json's (null: not measured)
    clock_rtt_s: float | None
    clock_offset_applied: bool
    missing: list[dict[str, str]]  # {path, why}
    damaged: list[dict[str, str]]  # {path, why}
    sources: list[SourceResult]


class BadLines(TypedDict):
    total: int
    by_source: dict[str, int]


class UnattributedFile(TypedDict):
    """A file read that no service could be found for."""

    host: str
    path: str
    why: str


class SettingResult(TypedDict):
    """An evidence setting as the logs show it."""

    name: str
    what: str
    on: bool | None  # None: no service of it runs, or nothing in the window needed it
    off_in: list[str]


class Aggregate(TypedDict):
    """count, nearest-rank p50 and p95, and max of some durations (None: no value)."""

    count: int
    p50_s: float | None
    p95_s: float | None
    max_s: float | None


class StageSummary(Aggregate):
    number: int


class SegmentSummary(Aggregate):
    """A stage's or segment's time across the boots that had it: its duration, its seconds on
    the critical path (``critical``) and their share of each boot's end-to-end time."""

    name: str
    kind: str
    critical: Aggregate
    share_p50: float | None
    share_p95: float | None


class ShareSummary(TypedDict):
    """The share of each boot's time its accounting attributes."""

    count: int
    p50: float | None
    min: float | None


class _Summary(TypedDict):
    stages: list[StageSummary]
    end_to_end: Aggregate
    time_to_active: Aggregate
    critical_path: Aggregate


class Summary(_Summary, total=False):
    """Across the boots that reached each stage (a result of an earlier version has no
    accounting: no attributed_share, no segments)."""

    attributed_share: ShareSummary
    segments: list[SegmentSummary]


class _AnalysedResult(TypedDict):
    """What probes.analyze gives."""

    schema: str  # RESULT_SCHEMA
    started_at: str | None
    ended_at: str | None
    hosts: list[HostResult]
    bad_lines: BadLines
    unattributed: list[UnattributedFile]
    evidence_settings: list[SettingResult]
    records_read: int
    boots: list[BootResult]
    summary: Summary


class Result(_AnalysedResult, total=False):
    """The result file: the analysis, and what ``bootprobe run`` / ``analyze`` add to it."""

    tool_version: str
    outcome: str  # probes.records.Outcome
    exit_code: int
    message: str | None
    options: dict[str, Any]  # the command's options
    interrupted_during: str  # launch | collection | analysis (the logs were not analysed)
    stacks: list[dict[str, Any]]  # probes.collect.StackReport
    swept: dict[str, list[str]]  # probes.run.Swept
    profile: dict[str, Any]  # bootprobe run --profile: the store, and each trace read (probes.profiler.TraceRead)
    merged_from: list[str | None]  # probes.compare.merge_results: the results' started_at
