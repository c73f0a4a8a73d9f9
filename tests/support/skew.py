"""A recorded host as if its clock had run ``shift`` seconds ahead: every stamp of its
log files and journald export moved by ``shift``, and its host.json's measured offset
with them (what `bootprobe collect` would have written of such a host).

Stamps with a fraction of a second (oslo, Ceph, libvirt, QEMU, RabbitMQ, journald)
move by exactly ``shift`` (their digits kept: use a shift they can hold, e.g. 1.5 s
for milliseconds). A stamp of whole seconds (MariaDB's general log, dnsmasq's syslog
file, uwsgi's request lines) only says the line was logged within that second: it is
taken as logged in the middle of it, so a clock ``shift`` ahead prints
``floor(S + 0.5 + shift)``; for a whole number of seconds that is ``S + shift``, exact.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

UTC = timezone.utc
_ISO = re.compile(r"^(?P<day>\d{4}-\d{2}-\d{2})(?P<sep>[ T])(?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d+)?")
_MARIADB = re.compile(r"^(?P<ts>\d{6} [ \d]\d:\d{2}:\d{2})(?=\s)")
_SYSLOG = re.compile(r"^(?P<ts>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}) ")
_HAPROXY = re.compile(r"\[(?P<ts>\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2}\.\d{3})\]")  # its accept date
_UWSGI = re.compile(r"^(?P<head>\[pid: .*?\] \S+ \(\S*\) \{[^}]*\} \[)"
                    r"(?P<ts>\w{3} \w{3} +\d+ \d{2}:\d{2}:\d{2} \d{4})\]")


def _whole(at: datetime, shift: float) -> datetime:
    """A whole-second stamp as a clock ``shift`` ahead prints it (the line in mid-second)."""
    return at + timedelta(seconds=math.floor(0.5 + shift))


def shift_text(line: str, shift: float, year: int) -> str:
    """One line of a log file with its leading stamp moved (lines without one unchanged)."""
    match = _ISO.match(line)
    if match:
        frac = match.group("frac") or ""
        at = datetime.fromisoformat(f"{match.group('day')} {match.group('time')}{frac[:7]}")
        if frac:
            moved = at + timedelta(seconds=shift)
            digits = len(frac) - 1
            stamp = f"{moved:%Y-%m-%d}{match.group('sep')}{moved:%H:%M:%S}.{moved.microsecond:06d}"
            stamp = stamp[: len(stamp) - 6 + digits]
        else:
            moved = _whole(at, shift)
            stamp = f"{moved:%Y-%m-%d}{match.group('sep')}{moved:%H:%M:%S}"
        return stamp + line[match.end():]
    match = _MARIADB.match(line)
    if match:
        at = datetime.strptime(match.group("ts").replace("  ", " 0"), "%y%m%d %H:%M:%S")
        moved = _whole(at, shift)
        return f"{moved:%y%m%d} {moved.hour:2d}:{moved:%M:%S}" + line[match.end():]
    match = _SYSLOG.match(line)
    if match:
        at = datetime.strptime(f"{year} {match.group('ts')}", "%Y %b %d %H:%M:%S")
        moved = _whole(at, shift)
        return f"{moved:%b} {moved.day:2d} {moved:%H:%M:%S} " + line[match.end():]
    match = _UWSGI.match(line)
    if match:
        at = datetime.strptime(" ".join(match.group("ts").split()), "%a %b %d %H:%M:%S %Y")
        moved = _whole(at, shift)
        return (match.group("head") + f"{moved:%a %b} {moved.day:2d} {moved:%H:%M:%S %Y}]"
                + line[match.end():])
    return line


def _haproxy(match: re.Match[str], shift: float) -> str:
    moved = datetime.strptime(match.group("ts"), "%d/%b/%Y:%H:%M:%S.%f") + timedelta(seconds=shift)
    return f"[{moved:%d/%b/%Y:%H:%M:%S}.{moved.microsecond // 1000:03d}]"


def shift_journal(line: str, shift: float) -> str:
    """One ``journalctl -o json`` entry as journald on that host would have stamped it."""
    entry = json.loads(line)
    micros = round(shift * 1_000_000)
    for key in ("__REALTIME_TIMESTAMP", "_SOURCE_REALTIME_TIMESTAMP"):
        if key in entry:
            entry[key] = str(int(entry[key]) + micros)
    message = entry.get("MESSAGE")
    if isinstance(message, str) and _ISO.match(message):  # an oslo line's own stamp wins
        entry["MESSAGE"] = shift_text(message, shift, 1970)
    elif isinstance(message, str):
        entry["MESSAGE"] = _HAPROXY.sub(lambda m: _haproxy(m, shift), message, count=1)
    if isinstance(entry.get("SYSLOG_TIMESTAMP"), str):
        year = datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6, UTC).year
        entry["SYSLOG_TIMESTAMP"] = shift_text(entry["SYSLOG_TIMESTAMP"], shift, year)
    return json.dumps(entry, separators=(",", ":")) + "\n"


def shift_host(folder: Path, shift: float) -> None:
    """Rewrite the host folder ``folder`` (in place) as if its clock ran ``shift`` s ahead."""
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        if path.name == "host.json":
            data = json.loads(path.read_text())
            data["clock_offset_s"] = (data.get("clock_offset_s") or 0.0) + shift
            path.write_text(json.dumps(data, indent=2) + "\n")
            continue
        stat = path.stat()
        year = datetime.fromtimestamp(stat.st_mtime, UTC).year
        zipped = path.read_bytes()[:2] == b"\x1f\x8b"
        with (gzip.open(path, "rt", encoding="utf-8", errors="surrogateescape", newline="") if zipped
              else path.open(encoding="utf-8", errors="surrogateescape", newline="")) as handle:
            lines = handle.readlines()
        journal = path.name.startswith("journal.json")
        out = [shift_journal(line, shift) if journal and line.startswith("{")
               else shift_text(line, shift, year) for line in lines]
        with (gzip.open(path, "wt", encoding="utf-8", errors="surrogateescape", newline="") if zipped
              else path.open("w", encoding="utf-8", errors="surrogateescape", newline="")) as handle:
            handle.writelines(out)
        os.utime(path, (stat.st_atime, stat.st_mtime))  # the reader takes a year from it
