"""Stream the records of a log folder: one folder per host, files as collected.

``LOGDIR/<host>/`` holds a host's log files (any names, any depth, plain or
``.gz``; rotated files too) and journald exports (``journalctl -o json`` or
``-o short-iso-precise``).  ``LOGDIR/<host>/host.json``, written by
``bootprobe collect``, may add the host's address and its measured clock
offset; without it the offset is 0.

Each file's format is sniffed from its first lines; its service comes from
its path, or per line from the journald unit or the oslo logger.  Records
come out one at a time (memory does not grow with the logs) and only within
the time window asked for.  Lines no format understands are counted per
source, never fatal.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from probes.logs.formats import ANSI, JournalJSON, JournalText, ParseState, Parsed, sniff
from probes.logs.sources import service_of_logger, service_of_name

HOST_FILE = "host.json"
SNIFF_LINES = 60
MAX_LINE = 64 * 1024  # longer lines (a guest XML, a huge query) are cut


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log line, its time on the probe's clock, and what it says."""

    at: datetime
    host: str
    service: str
    origin: str  # the file (relative to the host folder) or journald unit
    line: str
    message: str
    level: str | None = None
    logger: str | None = None
    request_id: str | None = None
    global_request_id: str | None = None
    instance: str | None = None
    resolution_s: float = 0.001  # 1.0: the stamp has whole seconds only
    shift_s: float = 0.0  # the host's clock offset, subtracted from its stamps


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


@dataclass
class HostInfo:
    """A host folder's facts: from host.json when ``bootprobe collect`` wrote one."""

    name: str
    address: str | None = None
    reachable: bool = True
    error: str | None = None
    clock_offset_s: float = 0.0
    sources: list[SourceStats] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)


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
    info.missing = list(data.get("missing") or [])
    return info


def host_folders(logdir: Path) -> list[Path]:
    """The host folders of a log folder, sorted by name."""
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


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")


def _head(path: Path) -> list[str]:
    lines: list[str] = []
    try:
        with _open(path) as handle:
            for text in handle:
                text = text.rstrip("\r\n")
                if text:
                    lines.append(ANSI.sub("", text[:MAX_LINE]))
                if len(lines) >= SNIFF_LINES:
                    break
    except (OSError, EOFError):
        pass
    return lines


def _year_of(path: Path) -> int:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime).year
    except OSError:
        return datetime.now().year


def read_file(
    host: HostInfo,
    folder: Path,
    path: Path,
    since: datetime | None,
    until: datetime | None,
) -> Iterator[LogRecord]:
    """Records of one file within [since, until] (probe clock); fills host.sources."""
    relative = str(path.relative_to(folder))
    fmt = sniff(_head(path), _year_of(path))
    file_service = service_of_name(relative)
    stats = SourceStats(host.name, relative, fmt.name if fmt else None, file_service)
    host.sources.append(stats)
    if fmt is None:
        stats.note = "no known log format in its first lines: skipped"
        return
    offset = timedelta(seconds=host.clock_offset_s)
    state = ParseState(year=_year_of(path))
    journal = isinstance(fmt, (JournalJSON, JournalText))
    try:
        with _open(path) as handle:
            for text in handle:
                text = ANSI.sub("", text.rstrip("\r\n")[:MAX_LINE])
                stats.lines += 1
                if not text.strip():
                    continue
                parsed = fmt.parse(text, state)
                if parsed is None:
                    stats.bad_lines += 1
                    continue
                if parsed.continuation:
                    continue  # belongs to the record before; its first line stands for it
                if parsed.at is None:
                    continue
                state.last_at = parsed.at
                service = _service(parsed, file_service, journal)
                if service is None:
                    continue
                at = parsed.at - offset
                if since is not None and at < since:
                    continue
                if until is not None and at > until:
                    continue
                stats.records += 1
                yield _record(host.name, service, relative, text, parsed, at, journal,
                              host.clock_offset_s)
    except (OSError, EOFError) as exc:
        stats.note = f"read stopped: {exc}"


def _service(parsed: Parsed, file_service: str | None, journal: bool) -> str | None:
    if journal:
        return service_of_name(parsed.unit) or service_of_logger(parsed.logger)
    return file_service or service_of_logger(parsed.logger)


def _record(
    host: str, service: str, relative: str, text: str, parsed: Parsed, at: datetime,
    journal: bool, shift_s: float = 0.0,
) -> LogRecord:
    origin = f"{relative}:{parsed.unit}" if journal and parsed.unit else relative
    return LogRecord(
        at=at,
        host=host,
        service=service,
        origin=origin,
        line=parsed.message if journal else text,
        message=parsed.message,
        level=parsed.level,
        logger=parsed.logger,
        request_id=parsed.request_id,
        global_request_id=parsed.global_request_id,
        instance=parsed.instance,
        resolution_s=parsed.resolution_s,
        shift_s=shift_s,
    )


def read_logdir(
    logdir: Path, since: datetime | None = None, until: datetime | None = None
) -> tuple[list[HostInfo], Iterator[LogRecord]]:
    """The hosts of a log folder and a stream over all their records.

    The stream is lazy: the hosts' ``sources`` fill in as it is consumed.
    """
    hosts = [(read_host_info(folder), folder) for folder in host_folders(logdir)]

    def stream() -> Iterator[LogRecord]:
        for info, folder in hosts:
            for path in log_files(folder):
                yield from read_file(info, folder, path, since, until)

    return [info for info, _ in hosts], stream()
