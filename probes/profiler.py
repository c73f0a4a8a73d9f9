"""OSProfiler as a witness of the boot (``bootprobe run --profile``, docs/evidence.md).

* Where the lab's trace store is and its HMAC key: the hosts file's ``profiler`` section
  (the store's URL without its password, and the files holding the password and the key,
  under the lab's state folder): :func:`load_access`.  Neither secret is ever printed,
  logged or written: :class:`Secret` hides them from ``repr``.
* A boot traced: :func:`traced` initialises osprofiler in the boot's thread with the key
  before its first request, so that keystoneauth1 signs ``X-Trace-Info`` / ``X-Trace-HMAC``
  on every request the boot's session sends (keystoneauth1/session.py ``Session.request``:
  ``headers.update(osprofiler_web.get_trace_id_headers())``), and hands out the trace's
  base id.  The services' osprofiler WSGI middleware checks the signature against their
  ``[profiler] hmac_keys`` and traces the request, the RPC it leads to and its SQL.
* After the boots: each boot's trace read back through osprofiler's own API
  (``osprofiler.drivers.base.get_driver(connection_string).get_report(base_id)``) and
  reduced to what may reach disk (:func:`spans_of`): each span's name, start and end,
  project, service and host, and of its info only the WSGI method and path, the traced
  function's name (RPC and the services' traced classes) and the SQL statement's text,
  its quoted literals blanked.  Never the request's query string, the function's
  arguments (Nova's build_and_run_instance has the admin password among them), the SQL
  parameters or an exception's message.
* Written into the run's log folder as a log of each host the spans ran on,
  ``logs/<host>/osprofiler-trace-<base id>.log`` (:func:`write_trace`), one line per span
  stamped at its end with its duration, as an access log is: the log reader reads it
  like any other log (:class:`probes.logs.formats.OSProfilerTrace`), on the host's clock
  offset.

Collecting only: nothing here interprets a span as a stage (the catalog does).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

import yaml

from probes.errors import ConfigError
from probes.scrub import MASK, scrub

if TYPE_CHECKING:
    from probes.records import SmokeResult

# A host's trace file lies beside its copied tree (logs/<host>/var/log/...), where the log
# reader reads a host's own files too.
TRACE_PREFIX = "osprofiler-trace-"
# A store that does not answer must not hang the run: redis-py's socket timeouts.
STORE_TIMEOUTS = "socket_timeout=30&socket_connect_timeout=10"
_WHITESPACE = re.compile(r"\s+")
_SQL_LITERAL = re.compile(r"'(?:[^'\\]|\\.|'')*'")
_HOST_NAME = re.compile(r"[^A-Za-z0-9._-]")


class Secret:
    """A secret read from its file: its value is there to be used, never shown."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


@dataclass(frozen=True)
class ProfilerAccess:
    """The lab's trace store and HMAC key, as the hosts file names them."""

    store: str  # redis://host:port/db, without its password
    password_file: Path | None
    hmac_key_file: Path

    def hmac_key(self) -> Secret:
        return Secret(_read_secret(self.hmac_key_file, "HMAC key"))

    def connection_string(self) -> Secret:
        """The store's URL with its password (and the socket timeouts), for the driver."""
        parts = urlsplit(self.store)
        netloc = parts.netloc
        if self.password_file is not None:
            password = quote(_read_secret(self.password_file, "trace store password"), safe="")
            netloc = f":{password}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        query = "&".join(q for q in (parts.query, STORE_TIMEOUTS) if q)
        return Secret(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def _read_secret(path: Path, what: str) -> str:
    try:
        words = path.read_text().split()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}",
                          hint="the lab playbooks generate it under the lab's state folder") from exc
    if not words:
        raise ConfigError(f"the {what} file {path} is empty")
    return words[0]  # (ansible's password lookup may add ' salt=...' after it)


def load_access(hosts_file: Path) -> ProfilerAccess:
    """The hosts file's ``profiler`` section: ``{store, password_file, hmac_key_file}``."""
    try:
        data = yaml.safe_load(hosts_file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the hosts file {hosts_file}: {exc}") from exc
    section = data.get("profiler") if isinstance(data, dict) else None
    if not isinstance(section, dict) or not section.get("store") or not section.get("hmac_key_file"):
        raise ConfigError(
            f"--profile: the hosts file {hosts_file} names no trace store (its 'profiler' "
            "section: store, password_file, hmac_key_file)",
            hint="deploy the lab with openstack_profiler_enabled: true (the default), which "
            "starts the trace store and writes the section; or run without --profile")
    password = section.get("password_file")
    return ProfilerAccess(str(section["store"]), Path(password) if password else None,
                          Path(section["hmac_key_file"]))


# --- a boot traced -------------------------------------------------------------------------

@contextmanager
def traced(hmac_key: Secret | None) -> Iterator[str | None]:
    """osprofiler initialised in this thread for one boot: the trace's base id (None, and
    nothing done, without a key).  osprofiler keeps one trace per thread and ``init`` keeps
    an existing one: the thread's trace is cleaned before and after."""
    if hmac_key is None:
        yield None
        return
    from osprofiler import profiler  # imported late: a run without --profile never needs it

    profiler.clean()
    try:
        yield profiler.init(hmac_key.reveal()).get_base_id()
    finally:
        profiler.clean()


def stop_tracing() -> None:
    """Requests this thread sends from now on carry no trace header (the boot's polls of
    its console and its delete are not the boot's)."""
    from osprofiler import profiler

    profiler.clean()


# --- the trace read back -------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    """One traced operation, with only what may reach disk."""

    name: str  # wsgi, db, rpc, or a traced class's name (compute_api, neutron_api ...)
    started: datetime
    finished: datetime
    project: str
    service: str
    host: str
    base_id: str
    trace_id: str
    parent_id: str
    what: str  # "POST /v2.1/servers", a function's name, a statement's text
    caller: str = "-"  # the parent span's "<project>-<service>/<name>" (-: the trace's root)
    error: str | None = None  # the exception's class name, never its message

    def line(self) -> str:
        """The span as its trace file's line (probes/logs/formats.py OSProfilerTrace)."""
        elapsed = (self.finished - self.started).total_seconds()
        error = f" error={self.error}" if self.error else ""
        return (f"{self.finished.strftime('%Y-%m-%dT%H:%M:%S.%fZ')} osprofiler {self.host} "
                f"{self.project} {self.service} {self.name} {elapsed:.6f} base {self.base_id} "
                f"span {self.trace_id} parent {self.parent_id} in {self.caller}{error}: {self.what}")


_LOCK = threading.Lock()  # osprofiler's drivers keep their results on the driver object


def read_report(connection_string: Secret, base_id: str) -> dict[str, Any]:
    """The trace's report, through osprofiler's own API (its driver for the store's scheme)."""
    from osprofiler import opts  # noqa: F401 - registers [profiler] on oslo.config's CONF, which the drivers read
    from osprofiler.drivers import base

    with _LOCK:
        driver = base.get_driver(connection_string.reveal())
        report: dict[str, Any] = driver.get_report(base_id)
        return report


def spans_of(report: Mapping[str, Any]) -> list[Span]:
    """Every span of a report with its start and its end, ordered by end (a span whose stop
    never reached the store, its process killed, has no end and is left out)."""
    found = [span for node, parent in _nodes(report.get("children") or (), None)
             if (span := _span(node, _caller(parent))) is not None]
    return sorted(found, key=lambda s: (s.finished, s.started))


def _nodes(children: Sequence[Mapping[str, Any]], parent: Mapping[str, Any] | None
           ) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any] | None]]:
    """Every node of the report's tree with its parent (None: a root)."""
    for node in children:
        yield node, parent
        yield from _nodes(node.get("children") or (), node)


def _caller(parent: Mapping[str, Any] | None) -> str:
    """Who a span ran for: its parent's project, service and name (what called a Keystone
    validation: cinder-cinder-api/wsgi), '-' for the trace's root (the client's request)."""
    if parent is None:
        return "-"
    info = parent.get("info") or {}
    return f"{_word(info.get('project'))}-{_word(info.get('service'))}/{_word(info.get('name'))}"


def _span(node: Mapping[str, Any], caller: str) -> Span | None:
    info = node.get("info") or {}
    name = str(info.get("name") or "")
    start = info.get(f"meta.raw_payload.{name}-start")
    stop = info.get(f"meta.raw_payload.{name}-stop")
    if not isinstance(start, Mapping) or not isinstance(stop, Mapping):
        return None
    started, finished = _stamp(start.get("timestamp")), _stamp(stop.get("timestamp"))
    if started is None or finished is None:
        return None
    begun = start.get("info") or {}
    host = str(info.get("host") or begun.get("host") or "")
    error = (stop.get("info") or {}).get("etype")
    return Span(name=name, started=started, finished=finished,
                project=_word(info.get("project")), service=_word(info.get("service")),
                host=_word(host), base_id=_word(start.get("base_id")),
                trace_id=_word(node.get("trace_id")), parent_id=_word(node.get("parent_id")),
                what=what_of(name, begun), caller=caller, error=_word(error) if error else None)


def _stamp(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)).replace(tzinfo=UTC)  # osprofiler: utcnow()
    except ValueError:
        return None


def _word(value: Any) -> str:
    """One word of a span's line (a space or a colon would shift the line's fields)."""
    text = str(value) if value is not None else "-"
    return _WHITESPACE.sub("_", text.replace(":", "_")) or "-"


def what_of(name: str, info: Mapping[str, Any]) -> str:
    """What a span did, from the start's info, with nothing a secret can be in: the HTTP
    method and path (not the query), the SQL statement's text (placeholders, never the
    parameters; a quoted literal in it blanked), the traced function's name."""
    request = info.get("request")
    if isinstance(request, Mapping):
        return f"{_word(request.get('method'))} {_word(request.get('path'))}"
    db = info.get("db")
    if isinstance(db, Mapping):
        statement = _WHITESPACE.sub(" ", str(db.get("statement") or "")).strip()
        return scrub(_SQL_LITERAL.sub("'?'", statement))[:4000]
    function = info.get("function")
    if isinstance(function, Mapping) and function.get("name"):
        return _word(function.get("name"))
    return "-"


# --- the trace written ---------------------------------------------------------------------

def host_folder(span_host: str, lab_hosts: Sequence[str]) -> str:
    """The log folder a span's host's lines go to: the lab host of that name (or of that
    short name), else a folder of its own."""
    short = span_host.split(".")[0]
    for name in lab_hosts:
        if name == span_host:
            return name
    for name in lab_hosts:
        if name.split(".")[0] == short:
            return name
    return _HOST_NAME.sub("_", span_host) or "unknown-host"


def write_trace(logdir: Path, base_id: str, spans: Sequence[Span],
                lab_hosts: Sequence[str]) -> list[Path]:
    """The spans as a log of each host they ran on, ``logs/<host>/osprofiler-trace-<base
    id>.log``, in the order they ended; the files written."""
    by_folder: dict[str, list[Span]] = {}
    for span in spans:
        by_folder.setdefault(host_folder(span.host, lab_hosts), []).append(span)
    written = []
    for folder, mine in by_folder.items():
        path = logdir / folder / f"{TRACE_PREFIX}{_word(base_id)}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(scrub(span.line()) + "\n" for span in mine))
        written.append(path)
    return written


@dataclass(frozen=True)
class TraceRead:
    """What reading one boot's trace gave (the result's ``profile.traces``)."""

    index: int  # the boot's
    base_id: str
    spans: int = 0  # spans written (each with its start and end)
    files: tuple[str, ...] = ()  # the trace files written, relative to the log folder
    error: str | None = None  # why the trace could not be read


def read_traces(connection_string: Secret, results: Sequence[SmokeResult], logdir: Path,
                lab_hosts: list[str]) -> list[TraceRead]:
    """Each traced boot's trace read from the store and written into ``logdir``; never
    raises (a store that does not answer leaves the boots' stages to the logs)."""
    found = []
    for index, result in enumerate(results):
        if result.trace_id is None:
            continue
        try:
            spans = spans_of(read_report(connection_string, result.trace_id))
            paths = write_trace(logdir, result.trace_id, spans, lab_hosts)
        except Exception as exc:  # noqa: BLE001 - the store's driver raises what its client raises
            why = f"{type(exc).__name__}: {exc}".replace(connection_string.reveal(), MASK)
            found.append(TraceRead(index, result.trace_id, error=scrub(why)[:500]))
            continue
        found.append(TraceRead(index, result.trace_id, len(spans),
                               tuple(str(p.relative_to(logdir)) for p in paths)))
    return found
