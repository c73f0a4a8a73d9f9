"""Count a log's plain lines by the chunk, without a Python step per line.

Most lines of Ceph's, libvirt's and MariaDB's logs are only counted (lines, stamped
lines, records in the window, levels): no event rule of their service can match them
and they carry no request id.  :func:`bulk_lines` reads such a file in chunks of bytes
and hands the reader's loop two kinds of items:

* a line (``str``), for every line that needs the reader's own per-line path: one that
  holds a literal of its service's rules (a candidate), one the format reads another way
  (MariaDB's stamped lines), any line before the file's first stamp, and every line of a
  chunk that is not plain ASCII, has a line longer than the reader keeps, or holds a
  stamp ``fromisoformat`` refuses;
* a :class:`Bulk`: what the per-line path would have counted for a run of lines between
  those, found with one regular expression over the run's bytes (C speed).

On ASCII text a ``bytes`` pattern matches as the formats' ``str`` patterns do, except
``\\s`` (``str`` also counts ``\\x1c``-``\\x1f`` as space), which the patterns here spell
out.  ``tests/unit/probes/logs/test_bulk.py`` checks the counts against the per-line path on
every recorded line and on generated lines.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from io import BufferedIOBase
from types import ModuleType
from typing import Any

from probes.logs.formats import Ceph, Format, Libvirt, MariaDBGeneral, ParseState

hyperscan: ModuleType | None
try:  # Hyperscan finds all the literals in one pass, several times faster than a find per literal
    import hyperscan
except ImportError:  # pragma: no cover - the wheel is a dependency; find() gives the same lines
    hyperscan = None

UTC = timezone.utc
CHUNK = 8 << 20
ANSI_BYTES = re.compile(rb"\x1b\[[0-9;]*m")
_SPACE = rb"[ \t\r\f\v\x1c-\x1f]"  # str's \s on ASCII, less the newline (runs hold many lines)


@dataclass
class Bulk:
    """What the reader's per-line path counts for a run of lines, counted at once."""

    lines: int = 0
    attributed: int = 0  # stamped lines (the file's service is known)
    bad: int = 0
    levels: Counter[str | None] = field(default_factory=Counter)  # records in the window by level
    last_at: datetime | None = None  # the last stamp read (None: no stamped line)

    @property
    def records(self) -> int:
        return sum(self.levels.values())


@dataclass(frozen=True)
class Window:
    """The stamps a record may have, on the host's clock (the reader's window plus its shift)."""

    low: datetime | None
    high: datetime | None

    def counts(self, stamps: list[datetime], levels: list[str | None]) -> Counter[str | None]:
        if self.low is None and self.high is None:
            return Counter(levels)
        low, high = self.low, self.high
        return Counter(level for at, level in zip(stamps, levels, strict=True)
                       if (low is None or at >= low) and (high is None or at <= high))


# --- each format's run of plain lines -----------------------------------------------------

# Ceph: a stamped line (its stamp and priority); a line led by digits that is not one is
# malformed; any other is the next line of a multi-line record.
_CEPH_STAMPED = re.compile(
    rb"\n(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+[+-]\d{4}) [0-9a-f]+ +(-?\d+) ")
# ... whose stamp fromisoformat takes whatever its digits (February 29th is left to the
# per-line path): without a window, no stamp but the last need be read.
_SURE_DAY = (rb"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
             rb"|(?:0[13578]|1[02])-31)")
_CEPH_SURE = re.compile(
    rb"\n(?:[12]\d{3}-" + _SURE_DAY + rb"T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    rb"\.\d{1,9}[+-](?:[01]\d|2[0-3])[0-5]\d) [0-9a-f]+ +(-?\d+) ")
# text[:4].isdigit(): four digits, or a shorter line of digits only
_DIGIT_LED4 = re.compile(rb"\n(?:\d{4}|\d{1,3}(?=\n))")
# libvirt: the stamp and the optional 'thread: level :'; any other line is a continuation
_LIBVIRT_STAMPED = re.compile(
    rb"\n(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}): (?:\d+: (\w+) : )?")
# MariaDB: a query line under the last stamp (it inherits it); any other line in a run is
# the next line of a multi-line query (the lines the format reads otherwise are not in runs)
_MARIADB_PLAIN = re.compile(rb"\n\t\t" + _SPACE + rb"*\d+ [A-Z][\w ]*?\t")
_MARIADB_OWN = re.compile(rb"\n(?:\d|/|Tcp port|Time )")  # stamped, or read by parse


def _stamps(raw: list[bytes]) -> list[datetime] | None:
    """The stamps as the formats read them (``fromisoformat``), None if one is refused."""
    try:
        return [datetime.fromisoformat(text.decode()).astimezone(UTC) for text in raw]
    except ValueError:
        return None


def _sure_stamp(raw: bytes) -> datetime:
    """A stamp _CEPH_SURE matched (fromisoformat takes it)."""
    return datetime.fromisoformat(raw.decode()).astimezone(UTC)


def _stamped_run(run: bytes, pattern: re.Pattern[bytes], window: Window, lines: int,
                 digit_led: re.Pattern[bytes] | None) -> Bulk | None:
    found = pattern.findall(run)
    stamps = _stamps([stamp for stamp, _ in found])
    if stamps is None:
        return None
    levels = [level.decode() or None for _, level in found]
    bad = len(digit_led.findall(run)) - len(found) if digit_led is not None else 0
    return Bulk(lines=lines, attributed=len(found), bad=bad, levels=window.counts(stamps, levels),
                last_at=stamps[-1] if stamps else None)


def _ceph_run(run: bytes, window: Window, lines: int, last_at: datetime) -> Bulk | None:
    if window.low is not None or window.high is not None:
        return _stamped_run(run, _CEPH_STAMPED, window, lines, _DIGIT_LED4)
    levels = _CEPH_SURE.findall(run)
    if len(levels) != len(_DIGIT_LED4.findall(run)):
        return _stamped_run(run, _CEPH_STAMPED, window, lines, _DIGIT_LED4)  # not all sure
    final_at = None
    if levels:  # the last stamped line's stamp: the state the next line is read with
        end = len(run) - 1
        while (last := _CEPH_STAMPED.match(run, run.rfind(b"\n", 0, end))) is None:
            end = run.rfind(b"\n", 0, end)
        final_at = _sure_stamp(last.group(1))
    counted = Counter({level.decode(): count for level, count in Counter(levels).items()})
    return Bulk(lines=lines, attributed=len(levels), levels=counted, last_at=final_at)


def _libvirt_run(run: bytes, window: Window, lines: int, last_at: datetime) -> Bulk | None:
    return _stamped_run(run, _LIBVIRT_STAMPED, window, lines, None)


def _mariadb_run(run: bytes, window: Window, lines: int, last_at: datetime) -> Bulk | None:
    plain = len(_MARIADB_PLAIN.findall(run))
    inside = window.counts([last_at], [None])[None] if plain else 0
    return Bulk(lines=lines, attributed=plain, levels=Counter({None: plain}) if inside else Counter())


@dataclass(frozen=True)
class _Kind:
    """How one format's runs are counted: (run, window, lines, last stamp) -> counts, or None
    when the run must be read line by line after all."""

    run: Callable[[bytes, Window, int, datetime], Bulk | None]
    own_lines: re.Pattern[bytes] | None = None  # lines always given to the per-line path


_KINDS: dict[type, _Kind] = {
    Ceph: _Kind(_ceph_run),
    Libvirt: _Kind(_libvirt_run),
    MariaDBGeneral: _Kind(_mariadb_run, _MARIADB_OWN),
}


def can_bulk(fmt: Format) -> bool:
    """Whether this format's plain lines can be counted by the chunk."""
    return type(fmt) in _KINDS


# --- reading a file by the chunk ---------------------------------------------------------

def _chunks(handle: BufferedIOBase) -> Iterator[bytes]:
    """The file in chunks that end at a line's end; universal newlines, as text mode reads."""
    while True:
        data = handle.read(CHUNK)
        if not data:
            return
        if not data.endswith(b"\n"):
            data += handle.readline()
        if b"\r" in data:  # a chunk ends with "\n": a "\r\n" is never split between two
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        yield data


def _has_long_line(data: bytes, limit: int) -> bool:
    """Whether a line may be longer than ``limit``: such a line holds a whole aligned
    window of half that size without a newline (a few hundred finds per chunk)."""
    width = limit // 2
    return any(data.find(b"\n", start, start + width) < 0
               for start in range(0, len(data) - width + 1, width))


@lru_cache(maxsize=64)
def _literals(needles: tuple[bytes, ...]) -> Any:
    """A Hyperscan database of the needles (one per process and set of needles)."""
    assert hyperscan is not None  # asked for only when the module is there
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=list(needles), ids=list(range(len(needles))), literal=True)
    return database


def _needle_starts(data: bytes, needles: tuple[bytes, ...]) -> list[int]:
    """Where the needles occur in data (Hyperscan when there, else a find per needle)."""
    if not needles:
        return []
    if hyperscan is not None:
        found: list[int] = []
        _literals(needles).scan(
            data, match_event_handler=lambda index, _, end, *rest: found.append(end - len(needles[index])))
        return found
    found = []
    for needle in needles:
        at = data.find(needle)
        while at >= 0:
            found.append(at)
            at = data.find(needle, at + len(needle))
    return found


def _candidates(data: bytes, needles: tuple[bytes, ...], own: re.Pattern[bytes] | None) -> list[int]:
    """Starts of the lines the per-line path reads: those holding a needle, and the
    format's own (``own``: matched at the newline before the line), sorted."""
    starts = {data.rfind(b"\n", 0, at) + 1 for at in _needle_starts(data, needles)}
    if own is not None:  # a match at the newline before a line, in b"\n" + data: its start in data
        starts.update(match.start() for match in own.finditer(b"\n" + data))
    return sorted(starts)


def bulk_lines(
    handle: BufferedIOBase, fmt: Format, state: ParseState, needles: tuple[str, ...], window: Window,
    max_line: int,
) -> Iterator[str | Bulk]:
    """The file's lines for the reader's loop (see the module's doc); ``state`` is the
    reader's, read between items (a run is only counted once the file has had a stamp)."""
    kind = _KINDS[type(fmt)]
    if "" in needles:  # every line holds it: every line is read one by one
        yield from (line for data in _chunks(handle) for line in _text_lines(data))
        return
    # ASCII lines hold no other needle, and no line a newline
    encoded = tuple(sorted({n.encode() for n in needles if n.isascii() and "\n" not in n}))
    for data in _chunks(handle):
        if not data.isascii() or _has_long_line(data, max_line):
            yield from _text_lines(data)  # the reader cuts, decodes and strips colours per line
            continue
        if b"\x1b" in data:  # colours out, as the reader does per line: on ASCII lines no
            data = ANSI_BYTES.sub(b"", data)  # longer than it keeps, the same (none spans lines)
        start = 0
        for line_start in (*_candidates(data, encoded, kind.own_lines), len(data)):
            if line_start > start:
                yield from _run(data, start, line_start, kind, state, window)
            if line_start < len(data):
                end = data.find(b"\n", line_start)
                end = len(data) if end < 0 else end
                yield data[line_start:end].decode()
                start = end + 1


def _text_lines(data: bytes) -> Iterator[str]:
    lines = data.decode("utf-8", "replace").split("\n")
    if lines[-1] == "":
        lines.pop()
    yield from lines


def _run(data: bytes, start: int, end: int, kind: _Kind, state: ParseState,
         window: Window) -> Iterator[str | Bulk]:
    """Lines data[start:end] (whole lines, the last one's newline included when there is one)."""
    while state.last_at is None and start < end:  # before the first stamp: line by line
        stop = data.find(b"\n", start, end)
        stop = end if stop < 0 else stop
        yield data[start:stop].decode()
        start = stop + 1
    if start >= end:
        return
    run = b"\n" + data[start:end]
    lines = run.count(b"\n") - (1 if run.endswith(b"\n") else 0)
    if not run.endswith(b"\n"):
        run += b"\n"  # every line ends with one: the patterns look ahead to it
    assert state.last_at is not None  # the loop above read up to the file's first stamp
    bulk = kind.run(run, window, lines, state.last_at)
    if bulk is None:  # a stamp fromisoformat refuses: the per-line path says what it is
        yield from _text_lines(data[start:end])
        return
    yield bulk
