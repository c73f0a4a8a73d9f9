"""Stream the records of a log folder, whatever its layout.

A log folder holds the logs of one host or of several:

* ``LOGDIR/<host>/`` as ``bootprobe collect`` writes it: a host's log files
  (any names, any depth) and journald exports, with ``host.json`` giving its
  address and measured clock offset (without it the offset is 0);
* a copy of hosts' trees, ``LOGDIR/<anything>/var/log/...`` (a sosreport:
  only ``var/log/`` and the files beside ``var/`` are read; the host is named
  by the tree's ``hostname`` or ``etc/hostname`` when it has one);
* one host's folder given directly: log files at its top (``nova-compute.log``,
  ``journal.json``), or the folders distributions keep logs in (``nova/``,
  ``neutron/``, kolla's ``kolla/nova/``, TripleO's ``containers/nova/``).
  Everything below such a folder is that host's.  When it is LOGDIR itself
  it is named after the folder, or after journald's ``_HOSTNAME`` when its
  journal exports name a single host; an export of several hosts gives each
  line to the host it names.

A folder is told from a folder of hosts by those markers only (``host.json``,
``var/log/``, log files at its top, a distribution's log folder name), never
by a lab's host names.  Files may be plain or gzipped (told by their first
bytes), rotated (``x.log.1``, ``x.log.2.gz``, ``x.log-20261126.gz``: each is
read as a file of its own).

Each file's format is sniffed from its first lines; its service comes per
line from the journald unit or syslog tag, else from the file's path, else
from the oslo logger, else from the format when only one service writes it
(MariaDB's general query log, RabbitMQ's log).  A file none of these attribute to a service is said
so (``SourceStats.unattributed``).  Records come out one at a time (memory
does not grow with the logs) and only within the time window asked for.
Lines no format understands are counted per source, never fatal.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from io import BufferedIOBase
from pathlib import Path
from typing import IO, Any, Protocol

from probes.logs.bulk import Bulk, Window, bulk_lines, can_bulk
from probes.logs.formats import ANSI, Format, JournalJSON, JournalText, Parsed, ParseState, Skim, sniff
from probes.logs.sources import is_log_folder, service_of_logger, service_of_name

HOST_FILE = "host.json"
PROBE_FILES = frozenset({HOST_FILE, "boots.json", "result.json"})  # the probe's own, not logs
HOSTNAME_FILES = ("hostname", "etc/hostname")  # sosreport's root link, a copied /etc
SNIFF_LINES = 60
SNIFF_BYTES = 4 * 1024 * 1024  # a binary file (a journald .journal) is not read further to sniff it
MAX_LINE = 64 * 1024  # longer lines (a guest XML, a huge query) are cut
GZIP_MAGIC = b"\x1f\x8b"
BINARY_JOURNAL = (".journal", ".journal~")  # systemd-journald's own files (/var/log/journal/)


# LogRecord.cut: where the message lies in the line, start | (characters after it) << CUT_BITS
CUT_BITS = 17  # MAX_LINE (64 KiB) fits


@dataclass(frozen=True, slots=True)
class LineSource:
    """Where a record's line comes from and how its stamp reads: the same for most lines
    of a file, so its records share one (memory)."""

    host: str
    service: str
    origin: str  # the file (relative to the host folder) or journald unit
    resolution_s: float = 0.001  # 1.0: the stamp has whole seconds only
    shift_s: float = 0.0  # the host's clock offset, subtracted from its stamps


@lru_cache(maxsize=4096, typed=True)  # a file's lines ask for the same few
def line_source(host: str, service: str, origin: str, resolution_s: float = 0.001,
                shift_s: float = 0.0) -> LineSource:
    return LineSource(host, service, origin, resolution_s, shift_s)


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log line, its time on the probe's clock, and what it says.

    The message is most often a part of the line (the line less its stamp and context):
    then only where it lies is kept (``cut``), not a copy of it; the host, service, file
    and stamp resolution are its :class:`LineSource`, shared (memory: a folder's kept
    records are most of what an analysis holds).  Made by :func:`log_record`."""

    at: datetime
    source: LineSource
    line: str
    cut: int | str  # the message's place in the line (see CUT_BITS), or the message itself
    level: str | None = None
    logger: str | None = None
    request_id: str | None = None
    global_request_id: str | None = None
    instance: str | None = None

    def __reduce__(self) -> tuple[type[LogRecord], tuple[Any, ...]]:
        """Pickled as its fields in order (a worker sends its records): a third less time
        each way than the dataclass's state, made and read field by field in Python."""
        return LogRecord, (self.at, self.source, self.line, self.cut, self.level, self.logger,
                           self.request_id, self.global_request_id, self.instance)

    @property
    def message(self) -> str:
        cut = self.cut
        if isinstance(cut, str):
            return cut
        after = cut >> CUT_BITS
        return self.line[cut & _CUT_MASK:len(self.line) - after]

    @property
    def host(self) -> str:
        return self.source.host

    @property
    def service(self) -> str:
        return self.source.service

    @property
    def origin(self) -> str:
        return self.source.origin

    @property
    def resolution_s(self) -> float:
        return self.source.resolution_s

    @property
    def shift_s(self) -> float:
        return self.source.shift_s


_CUT_MASK = (1 << CUT_BITS) - 1


def message_cut(line: str, message: str) -> int | str:
    """:attr:`LogRecord.cut` for a message in a line: its place when it is a part of the
    line (the whole line, or a suffix: small numbers, Python's cached ints), else itself."""
    if message is line:
        return 0
    start = len(line) - len(message) if line.endswith(message) else line.find(message)
    if start < 0 or start > _CUT_MASK:
        return message
    return start | (len(line) - start - len(message)) << CUT_BITS


def log_record(at: datetime, host: str, service: str, origin: str, line: str, message: str,
               level: str | None = None, logger: str | None = None, request_id: str | None = None,
               global_request_id: str | None = None, instance: str | None = None,
               resolution_s: float = 0.001, shift_s: float = 0.0) -> LogRecord:
    """A :class:`LogRecord` of a line and its message, from where it comes."""
    return LogRecord(at, line_source(host, service, origin, resolution_s, shift_s), line,
                     message_cut(line, message), level, logger, request_id, global_request_id,
                     instance)


@dataclass
class SourceStats:
    """What reading one file gave: for the report's list of sources."""

    host: str
    path: str
    format: str | None
    service: str | None
    lines: int = 0
    records: int = 0
    bad_lines: int = 0
    note: str | None = None
    attributed: int = 0  # lines a service was found for (in the window or not)
    unattributed: str | None = None  # why no line of the file could be given a service


@dataclass
class HostInfo:
    """A host folder's facts: from host.json when ``bootprobe collect`` wrote one."""

    name: str
    address: str | None = None
    reachable: bool = True
    error: str | None = None
    clock_offset_s: float = 0.0  # measured at collection: host clock - probe clock
    clock_rtt_s: float | None = None  # the round trip it was measured over (error: half of it)
    clock_offset_applied: bool = True  # False: its lines are read on the host's own clock
    sources: list[SourceStats] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)
    damaged: list[dict[str, str]] = field(default_factory=list)  # files collected in part: why
    # Log files the host had at collection that gave no line of the window (not copied: last
    # written before it, or nothing stamped in it): their services run there, silent meanwhile.
    silent_logs: list[str] = field(default_factory=list)

    @property
    def shift_s(self) -> float:
        """What is subtracted from this host's stamps to put them on the probe's clock."""
        return self.clock_offset_s if self.clock_offset_applied else 0.0


@dataclass
class HostRoot:
    """A folder whose log files are one host's (paths are shown relative to it)."""

    folder: Path
    info: HostInfo
    files: list[Path]
    lines_name_hosts: bool = False  # journald lines go to the host they name (_HOSTNAME)


def read_host_info(folder: Path) -> HostInfo:
    info = HostInfo(name=folder.name)
    path = folder / HOST_FILE
    if not path.is_file():
        return info
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        info.error = f"{HOST_FILE} unreadable: {exc}"
        return info
    info.address = data.get("address")
    info.reachable = bool(data.get("reachable", True))
    info.error = data.get("error")
    info.clock_offset_s = float(data.get("clock_offset_s") or 0.0)
    rtt = data.get("clock_rtt_s")
    info.clock_rtt_s = float(rtt) if isinstance(rtt, (int, float)) else None
    info.missing = list(data.get("missing") or [])
    info.damaged = list(data.get("damaged") or [])
    info.silent_logs = [str(f["path"]) for f in data.get("files") or []
                        if isinstance(f, dict) and f.get("path") and f.get("kept_lines") == 0]
    return info


def host_folders(logdir: Path) -> list[Path]:
    """The host folders of a ``LOGDIR/<host>/`` log folder, sorted by name."""
    return sorted(p for p in logdir.iterdir() if p.is_dir() and not p.name.startswith("."))


def log_files(folder: Path) -> list[Path]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            if name == HOST_FILE or name.startswith("."):
                continue
            files.append(Path(root) / name)
    return files


# --- where the hosts are ---------------------------------------------------

def _var_log(folder: Path) -> Path | None:
    path = folder / "var" / "log"
    return path if path.is_dir() else None


def _is_host_root(folder: Path) -> bool:
    return (folder / HOST_FILE).is_file() or _var_log(folder) is not None


def _entries(folder: Path) -> tuple[list[Path], list[Path]]:
    """(files, folders) directly in ``folder``, sorted; hidden ones and the probe's own left out."""
    files, folders = [], []
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return [], []
    for child in children:
        if child.name.startswith("."):
            continue
        if child.is_dir():
            if not child.is_symlink():  # as os.walk: no loops through linked folders
                folders.append(child)
        elif child.is_file() and child.name not in PROBE_FILES:
            files.append(child)
    return files, folders


def _scan(folder: Path, owner: Path | None, roots: dict[Path, list[Path]]) -> None:
    """Give the log files under ``folder`` to host roots (``owner``: the host they are under)."""
    files, folders = _entries(folder)
    if _is_host_root(folder):
        owner = folder
        roots.setdefault(folder, [])
        var_log = _var_log(folder)
        if var_log is not None:  # a tree: var/log and the files beside var/ (not sosreport's links)
            files, folders = [f for f in files if not f.is_symlink()], [var_log]
    elif owner is None and (files or any(is_log_folder(f.name) for f in folders)):
        owner = folder  # holds logs itself: one host's folder, everything below is its own
    if owner is not None:
        roots.setdefault(owner, []).extend(files)
    for child in folders:
        _scan(child, owner, roots)


def _hostname_file(folder: Path) -> str | None:
    for name in HOSTNAME_FILES:
        try:
            text = (folder / name).read_text(errors="replace").strip()
        except OSError:
            continue
        if text and len(text.split()) == 1:
            return text
    return None


def _journal_hosts(files: Iterable[Path]) -> set[str]:
    """The hosts the journald exports among ``files`` name in their first lines."""
    names: set[str] = set()
    for path in files:
        if path.name.endswith(BINARY_JOURNAL):
            continue
        head = _head(path)
        fmt = sniff(head, _year_of(path))
        if not isinstance(fmt, (JournalJSON, JournalText)):
            continue
        state = ParseState(year=_year_of(path))
        for line in head:
            parsed = fmt.parse(line, state)
            if parsed is not None and parsed.host:
                names.add(parsed.host)
    return names


def _host_root(folder: Path, files: list[Path], logdir: Path) -> HostRoot:
    info = read_host_info(folder)
    if (folder / HOST_FILE).is_file():
        return HostRoot(folder, info, files)
    named = _hostname_file(folder)
    if named:
        info.name = named
        return HostRoot(folder, info, files)
    if folder != logdir:
        return HostRoot(folder, info, files)
    info.name = folder.resolve().name or "localhost"
    journal_hosts = _journal_hosts(files)
    if len(journal_hosts) == 1:
        info.name = journal_hosts.pop()
    return HostRoot(folder, info, files, lines_name_hosts=True)


def find_hosts(logdir: Path) -> list[HostRoot]:
    """The host roots of a log folder and their files, in folder order."""
    roots: dict[Path, list[Path]] = {}
    _scan(logdir, None, roots)
    return [_host_root(folder, files, logdir) for folder, files in sorted(roots.items())]


# --- reading one file ------------------------------------------------------

def _gzipped(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def _open(path: Path) -> IO[str]:
    if _gzipped(path):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")


def _open_bytes(path: Path) -> BufferedIOBase:
    return gzip.open(path, "rb") if _gzipped(path) else path.open("rb")


def _head(path: Path) -> list[str]:
    """The first non-empty lines of a file (cut at MAX_LINE), without colours."""
    lines: list[str] = []
    budget = SNIFF_BYTES
    try:
        with _open(path) as handle:
            while budget > 0 and len(lines) < SNIFF_LINES:
                text = handle.readline(MAX_LINE)
                if not text:
                    break
                budget -= len(text)
                rest = text
                while not rest.endswith("\n") and rest and budget > 0:  # skip a line's tail
                    rest = handle.readline(MAX_LINE)
                    budget -= len(rest)
                text = text.rstrip("\r\n")
                if text:
                    lines.append(ANSI.sub("", text))
    except (OSError, EOFError, zlib.error):
        pass
    return lines


def _year_of(path: Path) -> int:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime).year
    except OSError:
        return datetime.now().year


class Hosts:
    """The hosts of a log folder: its host roots, and those journald lines name."""

    def __init__(self, roots: list[HostRoot]) -> None:
        self.listed: list[HostInfo] = []
        self._by_name: dict[str, HostInfo] = {}
        # A host only journald lines name reads its lines as the folder's hosts do
        # (``--no-clock-offsets`` sets the roots' flag before the hosts are made).
        self._offsets_applied = all(root.info.clock_offset_applied for root in roots)
        for root in roots:
            if not root.lines_name_hosts:  # listed once a file gives it a line
                self.add(root.info)

    def add(self, info: HostInfo) -> HostInfo:
        if info.name not in self._by_name:
            self._by_name[info.name] = info
            self.listed.append(info)
        return self._by_name[info.name]

    def named(self, name: str) -> HostInfo:
        return self._by_name.get(name) or self.add(
            HostInfo(name=name, clock_offset_applied=self._offsets_applied))


class FileSources:
    """One file's ``SourceStats``, one per host its lines go to."""

    def __init__(self, root: HostRoot, hosts: Hosts, relative: str, fmt: Format | None) -> None:
        self.root, self.hosts, self.relative = root, hosts, relative
        self.format = fmt.name if fmt else None
        self.service = service_of_name(relative)
        self.by_host: dict[str, tuple[HostInfo, SourceStats]] = {}
        self.current: tuple[HostInfo, SourceStats] | None = None

    def of(self, host: str | None = None) -> tuple[HostInfo, SourceStats]:
        """The host and stats of a line naming ``host`` (None: the root's, or the line before's)."""
        if host is None or not self.root.lines_name_hosts:
            if self.current is not None:
                return self.current
            info = self.hosts.add(self.root.info)
        else:
            info = self.hosts.named(host)
        if info.name not in self.by_host:
            stats = SourceStats(info.name, self.relative, self.format, self.service)
            info.sources.append(stats)
            self.by_host[info.name] = (info, stats)
        self.current = self.by_host[info.name]
        return self.current

    def finish(self) -> None:
        """Say which of this file's stats got no line attributed to a service."""
        for _, stats in self.by_host.values():
            if stats.unattributed or stats.attributed or not stats.lines:
                continue
            stats.unattributed = (
                f"{stats.format} lines, but no service known by the file's name, its lines' "
                "units or tags, or their loggers")
            stats.note = stats.note or f"{stats.unattributed}: not used"


class Interest(Protocol):
    """What a reader's consumer wants as records.  A line it does not want is only counted
    (:meth:`tally`, once per file for each service and level), and no record is made of it."""

    def wants(self, service: str, message: str, request_id: str | None, level: str | None,
              instance: str | None) -> bool: ...

    def needles(self, service: str) -> tuple[str, ...] | None:
        """Literals one of which a line of ``service`` without ids must hold to be wanted
        (None: every line is)."""

    def tally(self, service: str, level: str | None, count: int = 1) -> None: ...


def read_file(
    root: HostRoot,
    path: Path,
    since: datetime | None,
    until: datetime | None,
    hosts: Hosts | None = None,
    interest: Interest | None = None,
    sources_out: list[FileSources] | None = None,
) -> Iterator[LogRecord]:
    """Records of one file within [since, until] (probe clock); fills its hosts' sources
    (``sources_out``: gets the file's :class:`FileSources`, which hosts its lines went to)."""
    hosts = hosts or Hosts([root])
    relative = str(path.relative_to(root.folder))
    if path.name.endswith(BINARY_JOURNAL):
        binary = FileSources(root, hosts, relative, None)
        if sources_out is not None:
            sources_out.append(binary)
        _, stats = binary.of()
        stats.unattributed = "journald's binary file: export it with journalctl --file ... -o json"
        stats.note = f"{stats.unattributed}: not read"
        return
    head = _head(path)
    fmt = sniff(head, _year_of(path))
    sources = FileSources(root, hosts, relative, fmt)
    if sources_out is not None:
        sources_out.append(sources)
    if fmt is None:
        _, stats = sources.of()
        stats.note = ("empty" if not head else "no known log format in its first lines: skipped")
        stats.unattributed = None if not head else "no known log format in its first lines"
        return
    try:
        yield from _records(path, fmt, sources, since, until, interest)
    except (OSError, EOFError, zlib.error) as exc:
        damaged = " (a damaged or truncated gzip file: the lines before the damage were read)" \
            if isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)) else ""
        sources.of()[1].note = f"read stopped: {exc}{damaged}"
    sources.finish()


def _records(
    path: Path, fmt: Format, sources: FileSources, since: datetime | None, until: datetime | None,
    interest: Interest | None = None,
) -> Iterator[LogRecord]:
    reading = _FileReading(path, fmt, sources, since, until, interest)
    try:
        if reading.bulk_needles is not None:
            with _open_bytes(path) as raw:
                yield from reading.records(bulk_lines(raw, fmt, reading.state, reading.bulk_needles,
                                                      reading.window(), MAX_LINE))
        else:
            with _open(path) as handle:
                yield from reading.records(handle)
    finally:
        reading.finish()


class _FileReading:
    """One pass over a file's lines, each by the quickest path that counts it as parsing it
    would: a run of plain lines by the chunk (``probes.logs.bulk``), a stamped line without
    ids that holds none of its service's needles by the skim (the format's ``quick``), any
    other line parsed.  A record is made of a parsed line within [since, until] that the
    interest wants; every other line is only counted."""

    def __init__(self, path: Path, fmt: Format, sources: FileSources, since: datetime | None,
                 until: datetime | None, interest: Interest | None) -> None:
        self.fmt, self.sources, self.since, self.until, self.interest = fmt, sources, since, until, interest
        self.state = ParseState(year=_year_of(path))
        self.journal = isinstance(fmt, (JournalJSON, JournalText))
        self.per_line = self.journal and sources.root.lines_name_hosts  # each line's host: the one it names
        self.host: HostInfo | None = None
        self.stats: SourceStats | None = None
        if not self.per_line:
            self.host, self.stats = sources.of()
        self.shift = timedelta(seconds=self.host.shift_s) if self.host else timedelta(0)
        self.own = getattr(fmt, "service", None)
        # The skim: a line the format reads quickly as a stamped line carrying no ids, and
        # that holds none of the needles its service's rules need, is only counted (the same
        # counts as a parsed line's).
        self.quick = getattr(fmt, "quick", None) if interest is not None and not self.per_line else None
        self.file_service = sources.service
        # By the chunk: a file of one service whose plain lines its rules' literals tell apart
        # (probes.logs.bulk); those lines come as counts, the others one by one.
        self.bulk_service = self.file_service or self.own
        self.bulk_needles = (interest.needles(self.bulk_service) if interest is not None and self.quick is not None
                             and self.bulk_service and can_bulk(fmt) else None)
        self.unwanted: dict[tuple[str, str | None], int] = {}  # (service, level): records not wanted
        # by logger: the skimmed line's service and needles (None: its lines are parsed)
        self.skims: dict[str | None, tuple[str, tuple[str, ...]] | None] = {}
        self.windowed = since is not None or until is not None
        self.skim_lines = self.skim_attributed = self.skim_records = 0  # added to stats when done

    def window(self) -> Window:
        """[since, until] on the host's clock."""
        return Window(None if self.since is None else self.since + self.shift,
                      None if self.until is None else self.until + self.shift)

    def records(self, lines: Iterable[str | Bulk]) -> Iterator[LogRecord]:
        quick, state, skimmed, parsed_record = self.quick, self.state, self._skimmed, self._parsed_record
        for item in lines:
            if isinstance(item, Bulk):
                self._count_run(item)
                continue
            text = item.rstrip("\r\n")
            if len(text) > MAX_LINE:
                text = text[:MAX_LINE]
            if "\x1b" in text:
                text = ANSI.sub("", text)
            if quick is not None and (skim := quick(text, state)) is not None and skimmed(skim):
                continue
            record = parsed_record(text)
            if record is not None:
                yield record

    def finish(self) -> None:
        """The counted lines into the file's stats, the unwanted records to the interest."""
        if self.stats is not None:
            self.stats.lines += self.skim_lines
            self.stats.attributed += self.skim_attributed
            self.stats.records += self.skim_records
        if self.interest is not None:
            for (service, level), count in self.unwanted.items():
                self.interest.tally(service, level, count)

    def _count_run(self, run: Bulk) -> None:
        stats, service = self.stats, self.bulk_service
        assert stats is not None and service  # by the chunk: a file of one host and service
        self.skim_lines += run.lines
        self.skim_attributed += run.attributed
        stats.bad_lines += run.bad
        if run.last_at is not None:
            self.state.last_at = run.last_at
        for level, count in run.levels.items():
            self.skim_records += count
            self.unwanted[service, level] = self.unwanted.get((service, level), 0) + count

    def _skimmed(self, skim: Skim) -> bool:
        """Whether the skim counted the line (False: it holds a needle, or its service has
        none; it is parsed)."""
        if not isinstance(skim, tuple):  # CONTINUED: counted as a line, nothing more (as a parsed one)
            self.skim_lines += 1
            return True
        stamp, level, message, logger = skim
        try:
            known = self.skims[logger]
        except KeyError:
            known = self.skims[logger] = self._skim_of(logger)
        if known is None:
            return False
        service, needles = known
        for needle in needles:
            if needle in message:
                return False
        self.skim_lines += 1
        self.skim_attributed += 1
        self.state.last_at = stamp
        if self.windowed and self._outside(stamp - self.shift):
            return True
        self.skim_records += 1
        key = service, level
        self.unwanted[key] = self.unwanted.get(key, 0) + 1
        return True

    def _skim_of(self, logger: str | None) -> tuple[str, tuple[str, ...]] | None:
        """The service and needles of a skimmed line of ``logger`` (None: it is parsed)."""
        service = self.file_service or service_of_logger(logger) or self.own
        if service is None or self.interest is None:
            return None
        needles = self.interest.needles(service)
        return None if needles is None else (service, needles)

    def _outside(self, at: datetime) -> bool:
        return (self.since is not None and at < self.since) or (self.until is not None and at > self.until)

    def _parsed_record(self, text: str) -> LogRecord | None:
        """The record of a line the skim did not count (None: the line is only counted)."""
        blank = not text.strip()
        parsed = None if blank else self.fmt.parse(text, self.state)
        if self.per_line:
            self._follow_host(parsed)
        host, stats = self.host, self.stats
        assert host is not None and stats is not None
        stats.lines += 1
        if parsed is None:
            stats.bad_lines += 0 if blank else 1
            return None
        if parsed.continuation or parsed.at is None:
            return None  # a continuation belongs to the record before; its first line stands for it
        self.state.last_at = parsed.at
        service = _service(parsed, self.file_service) or self.own
        if service is None:
            return None
        stats.attributed += 1
        at = parsed.at - self.shift
        if self._outside(at):
            return None
        stats.records += 1
        if self.interest is not None and not self.interest.wants(
                service, parsed.message, parsed.request_id, parsed.level, parsed.instance):
            self.unwanted[service, parsed.level] = self.unwanted.get((service, parsed.level), 0) + 1
            return None
        return _record(host, service, self.sources.relative, text, parsed, at, self.journal)

    def _follow_host(self, parsed: Parsed | None) -> None:
        """A journal of several hosts: its lines go to the host they name (a line naming
        none, to the host of the line before)."""
        named = parsed.host if parsed is not None else None
        if self.host is None or named and named != self.host.name:
            self.host, self.stats = self.sources.of(named)
            self.shift = timedelta(seconds=self.host.shift_s)


def _service(parsed: Parsed, file_service: str | None) -> str | None:
    """The line's journald unit or syslog tag first, then the file's name, then its logger."""
    return (service_of_name(parsed.unit) or service_of_name(parsed.systemd_unit)
            or file_service or service_of_logger(parsed.logger))


def _record(
    host: HostInfo, service: str, relative: str, text: str, parsed: Parsed, at: datetime,
    journal: bool,
) -> LogRecord:
    origin = f"{relative}:{parsed.unit}" if journal and parsed.unit else relative
    message = parsed.message
    line = message if journal else text
    # Ids repeat over a request's lines and a boot's records: kept once (memory); a file's
    # journald units are few: one string each.
    level, logger, request_id, global_id, instance = (
        parsed.level, parsed.logger, parsed.request_id, parsed.global_request_id, parsed.instance)
    return LogRecord(
        at, line_source(host.name, service, sys.intern(origin), parsed.resolution_s, host.shift_s),
        line, message_cut(line, message),
        None if level is None else sys.intern(level),
        None if logger is None else sys.intern(logger),
        None if request_id is None else sys.intern(request_id),
        None if global_id is None else sys.intern(global_id),
        None if instance is None else sys.intern(instance),
    )


def read_logdir(
    logdir: Path, since: datetime | None = None, until: datetime | None = None,
    clock_offsets: bool = True,
) -> tuple[list[HostInfo], Iterator[LogRecord]]:
    """The hosts of a log folder and a stream over all their records.

    The stream is lazy: the hosts' ``sources`` fill in as it is consumed, and
    hosts that only journald lines name join the list as they are met.
    ``clock_offsets=False`` reads every host's lines on its own clock (the
    offsets measured at collection are kept in the hosts' facts, not applied).
    """
    roots = find_hosts(logdir)
    for root in roots:
        root.info.clock_offset_applied = clock_offsets
    hosts = Hosts(roots)

    def stream() -> Iterator[LogRecord]:
        for root in roots:
            for path in root.files:
                yield from read_file(root, path, since, until, hosts)

    return hosts.listed, stream()
