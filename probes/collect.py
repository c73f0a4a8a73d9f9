"""Pull the logs of every lab host over SSH (paramiko), in parallel.

Nothing here parses a log line beyond its stamp.  For each host of the hosts file:

* its clock offset is measured (``date +%s.%N`` bracketed by the probe's
  clock; the exchange with the shortest round trip of three wins);
* log files matching the host's globs are read (over SFTP; a compressed one
  through ``gzip -dc`` on the host), bounded: from the size they
  had when the boots started (``mark``), or their last ``max_bytes``; a file
  rotated in between is read from the rotated copy too; a file last written
  before the window is not read at all, and a long one is read from near the
  window's first line (a bisection on the stamps of a few probes);
* of what is read, only the lines stamped within the window (``since`` and
  ``until`` on the host's clock, widened by ``SLACK``) are written, with the
  lines that carry no stamp of their own after a kept line (a traceback, a
  guest XML, a multi-line query); the one thing known of a line is its stamp
  (:func:`probes.logs.formats.line_stamper`);
* journald is exported for the window (``journalctl -o json --since --until``);
* every line written, journald's too, goes through :func:`probes.scrub.scrub`:
  a collected folder is what gets attached to a bug report;
* everything lands in ``LOGDIR/<host>/`` under the file's own path, with
  ``host.json`` saying what was read, what was kept, what was missing and the
  offset.

Host keys are verified against the known_hosts file (paramiko's
RejectPolicy): an unknown or changed key stops that host, never silently.
A host that cannot be reached is written down as such; the others go on.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import shlex
import time
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from probes.errors import ConfigError
from probes.logs.formats import Format, LeadingStamp, LineStamp, line_stamper
from probes.logs.reader import HOST_FILE, SNIFF_LINES
from probes.scrub import scrub

DEFAULT_LOGS = (
    "/var/log/nova/*.log*", "/var/log/neutron/*.log*", "/var/log/neutron/dnsmasq/*/*",
    "/var/log/cinder/*.log*", "/var/log/glance/*.log*", "/var/log/keystone/*.log*",
    "/var/log/placement/*.log*", "/var/log/ceph/*.log*", "/var/log/libvirt/*.log*",
    "/var/log/libvirt/qemu/*.log*", "/var/log/mysql/*.log*", "/var/log/rabbitmq/*.log*",
    "/var/log/haproxy.log*",
)
CONNECT_TIMEOUT_S = 10.0
# How far around the asked window lines are kept: whole-second stamps (MariaDB,
# dnsmasq), lines logged just before the client saw its call leave.
SLACK = timedelta(seconds=5)
CHUNK = 1 << 20
# A plain file is read over SFTP SEGMENT bytes at a time (all of a segment's requests in
# flight together; at most a segment is read past where the window's lines end); a read
# waits at most SFTP_TIMEOUT_S for the host.
SEGMENT = 16 << 20
SFTP_TIMEOUT_S = 300.0
# Files with more than SEEK_MIN bytes to read are bisected for the window's
# first line first; each probe reads PROBE bytes (more, up to 16 times as
# much, when they hold no stamp: a second of MariaDB's general log can be long).
SEEK_MIN = 16 << 20
PROBE = 256 << 10


@dataclass(frozen=True)
class LabHost:
    """One host to collect from, as the hosts file describes it."""

    name: str
    address: str
    user: str = "root"
    port: int = 22
    key_file: str | None = None
    known_hosts: str | None = None
    logs: tuple[str, ...] = DEFAULT_LOGS
    journal: bool = True


@dataclass
class FileMark:
    """A log file's size and inode when the boots started (and its last write)."""

    path: str
    size: int
    inode: int
    mtime: float | None = None


@dataclass(frozen=True)
class Window:
    """The lines a collection keeps: stamped within [start, end], on the host's clock."""

    start: datetime
    end: datetime

    def holds(self, at: datetime) -> bool:
        return self.start <= at <= self.end


def host_window(since: datetime, until: datetime, clock_offset_s: float,
                slack: timedelta = SLACK) -> Window:
    """[since, until] of the probe's clock as the host's clock reads it, widened by slack."""
    shift = timedelta(seconds=clock_offset_s)
    return Window(since + shift - slack, until + shift + slack)


@dataclass
class Copied:
    """What copying one stream gave: bytes read from the host, bytes and lines written."""

    read: int = 0
    written: int = 0
    lines: int = 0
    known_format: bool = True


@dataclass
class HostResult:
    name: str
    address: str
    reachable: bool = False
    error: str | None = None
    clock_offset_s: float | None = None
    clock_rtt_s: float | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)
    damaged: list[dict[str, str]] = field(default_factory=list)  # read in part: why
    journal_lines: int | None = None


def load_hosts(path: Path) -> list[LabHost]:
    """Read a hosts file (YAML: ``hosts: [{name, address, user, key_file, ...}]``)."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(
            f"cannot read the hosts file {path}: {exc.strerror}",
            hint="the lab playbooks write it as bootprobe-hosts.yml in the lab's state "
            "folder; pass --hosts FILE",
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"the hosts file {path} is not YAML: {exc}") from exc
    entries = (data or {}).get("hosts") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"the hosts file {path} lists no hosts (expected 'hosts: [...]')")
    hosts = []
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("address"):
            raise ConfigError(f"{path}: every host needs a name and an address, got {entry!r}")
        hosts.append(
            LabHost(
                name=str(entry["name"]), address=str(entry["address"]),
                user=str(entry.get("user", "root")), port=int(entry.get("port", 22)),
                key_file=entry.get("key_file"), known_hosts=entry.get("known_hosts"),
                logs=tuple(entry.get("logs") or DEFAULT_LOGS),
                journal=bool(entry.get("journal", True)),
            )
        )
    return hosts


def _connect(host: LabHost) -> Any:
    import paramiko  # imported late: `bootprobe --help` stays fast

    client = paramiko.SSHClient()
    known = host.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
    if os.path.exists(known):
        client.load_host_keys(known)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        host.address, port=host.port, username=host.user, key_filename=host.key_file,
        timeout=CONNECT_TIMEOUT_S, banner_timeout=CONNECT_TIMEOUT_S,
        auth_timeout=CONNECT_TIMEOUT_S, allow_agent=False, look_for_keys=host.key_file is None,
    )
    _OPEN.add(client)
    return client


# The SSH connections open now (a Ctrl-C during collection closes them).
_OPEN: weakref.WeakSet[Any] = weakref.WeakSet()


# A busy lab host's sshd may take longer than a channel's timeout to open one (seen on a
# multi-node controller at load 5: "Timeout opening channel" lost all its logs): try again.
CHANNEL_ATTEMPTS = 3


def _retrying(open_channel: Callable[[], Any]) -> Any:
    import paramiko

    for attempt in range(CHANNEL_ATTEMPTS):
        try:
            return open_channel()
        except paramiko.SSHException as exc:
            if "Timeout opening channel" not in str(exc) or attempt == CHANNEL_ATTEMPTS - 1:
                raise
            time.sleep(2 * (attempt + 1))
    raise AssertionError("unreachable")


def _exec(client: Any, command: str, timeout: float) -> tuple[Any, Any, Any]:
    return _retrying(lambda: client.exec_command(command, timeout=timeout))


def _run(client: Any, command: str, timeout: float = 120.0) -> tuple[int, bytes, bytes]:
    _, stdout, stderr = _exec(client, command, timeout)
    out = stdout.read()
    err = stderr.read()
    return stdout.channel.recv_exit_status(), out, err


def clock_offset(client: Any, clock: Callable[[], float] = time.time,
                 samples: int = 7) -> tuple[float, float]:
    """(host clock - probe clock, round trip) in seconds.

    One shell on the host answers each newline with ``date +%s.%N``; the
    exchange with the shortest round trip over the open channel wins (NTP's
    rule), so the error is at most half of that round trip (about a ms on a LAN).
    """
    channel = _retrying(lambda: client.get_transport().open_session(timeout=30))
    channel.settimeout(10)
    channel.exec_command("while read -r _; do date +%s.%N; done")
    best: tuple[float, float] | None = None
    try:
        for _ in range(samples):
            before = clock()
            channel.sendall(b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = channel.recv(64)
                if not chunk:
                    raise OSError("the host closed the clock channel")
                answer += chunk
            after = clock()
            remote = float(answer.decode().strip())
            rtt = after - before
            if best is None or rtt < best[1]:
                best = (remote - (before + after) / 2, rtt)
    finally:
        channel.close()
    assert best is not None
    return best


def _list_files(client: Any, globs: tuple[str, ...]) -> list[FileMark]:
    pattern = " ".join(globs)  # the shell expands them; an unmatched glob stays literal
    command = f"for f in {pattern}; do [ -f \"$f\" ] && stat -c '%s %i %Y %n' \"$f\"; done; true"
    _, out, _ = _run(client, command)
    marks = []
    for line in out.decode(errors="replace").splitlines():
        size, inode, mtime, path = line.split(" ", 3)
        marks.append(FileMark(path, int(size), int(inode), float(mtime)))
    return marks


def mark(hosts: list[LabHost]) -> dict[str, list[FileMark]]:
    """Sizes of every log file now, per reachable host (before the boots)."""

    def one(host: LabHost) -> tuple[str, list[FileMark]]:
        try:
            client = _connect(host)
        except Exception:  # noqa: BLE001 - collect() reports the host as unreachable later
            return host.name, []
        try:
            return host.name, _list_files(client, host.logs)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        return dict(pool.map(one, hosts))


def _chunks(client: Any, command: str) -> Generator[bytes, None, None]:
    """A remote command's output, as it comes (closing it early ends the command)."""
    _, stdout, _ = _exec(client, command, 300)
    try:
        yield from iter(lambda: stdout.read(CHUNK), b"")
    finally:
        stdout.close()
        channel = getattr(stdout, "channel", None)  # paramiko's: closing it ends the command
        if channel is not None:
            channel.close()


def _lines(chunks: Iterable[bytes], copied: Copied) -> Iterator[bytes]:
    """The lines of a byte stream, each with its newline (the last one may lack it)."""
    rest = b""
    for chunk in chunks:
        copied.read += len(chunk)
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            yield line + b"\n"
    if rest:
        yield rest


def _text(line: bytes) -> str:
    return line.decode("utf-8", "surrogateescape")


def _scrubbed(line: bytes) -> bytes:
    """The line with its secrets masked; any bytes that are not UTF-8 stay as they were."""
    return scrub(_text(line)).encode("utf-8", "surrogateescape")


def in_window(lines: Iterable[bytes], window: Window, year: int,
              copied: Copied | None = None) -> Iterator[bytes]:
    """The lines stamped within ``window``, and the lines without a stamp of their
    own that follow a kept line; it stops at a line stamped more than ``SLACK``
    after the window.  A stream in no known format gives nothing (none of its
    lines can be placed in the window; ``copied`` says so)."""
    stream = iter(lines)
    head: list[bytes] = []
    texts: list[str] = []
    for line in stream:
        head.append(line)
        text = _text(line).rstrip("\r\n")
        if text:
            texts.append(text)
        if len(texts) >= SNIFF_LINES:
            break
    stamp = line_stamper(texts, year)
    if stamp is None:
        if copied is not None:
            copied.known_format = not texts
        return
    keep = False
    for line in itertools.chain(head, stream):
        at = stamp(_text(line))
        if at is not None:
            if at > window.end + SLACK:
                return
            keep = window.holds(at)
        if keep:
            yield line


def _first_stamp(data: bytes, fmt: Format | LeadingStamp, year: int) -> datetime | None:
    """The stamp of the first whole line of ``data`` (read from anywhere in a file)
    that has one of its own."""
    stamp = LineStamp(fmt, year)
    for line in data.split(b"\n")[1:-1]:  # the first and the last may be cut
        at = stamp(_text(line))
        if at is not None:
            return at
    return None


def _stamp_after(read_at: Callable[[int, int], bytes], offset: int, end: int, fmt: Format | LeadingStamp,
                 year: int, probe: int) -> datetime | None:
    """The first stamp after ``offset``, reading more (up to 16 probes) while none shows."""
    size = probe
    while True:
        at = _first_stamp(read_at(offset, size), fmt, year)
        if at is not None or size >= 16 * probe or offset + size >= end:
            return at
        size *= 4


def seek_window(read_at: Callable[[int, int], bytes], start: int, end: int, window: Window,
                year: int, probe: int = PROBE) -> int:
    """An offset in [start, end] of a file from which reading loses no line of the
    window, found by bisection on the stamps (which rise through a log file).

    Reading stays conservative: a probe with no stamp counts as in the window,
    and the answer is one probe earlier than the bisection's."""
    head = read_at(start, probe).split(b"\n")[(1 if start else 0):-1]
    texts = [t for t in (_text(line).rstrip("\r") for line in head) if t]
    stamp = line_stamper(texts[:SNIFF_LINES], year)
    if stamp is None:
        return start
    left, right = start, end
    while right - left > probe:
        mid = (left + right) // 2
        at = _stamp_after(read_at, mid, end, stamp.format, year, probe)
        if at is not None and at < window.start:
            left = mid
        else:
            right = mid
    return max(start, left - probe)


def _sftp(client: Any) -> Any:
    """The connection's SFTP session (paramiko's SFTPClient), opened on first use; a channel
    that times out opening is tried again, as a command's is."""
    sftp = _SFTP.get(client)
    if sftp is None:
        import paramiko

        channel = _retrying(lambda: client.get_transport().open_session(timeout=30))
        channel.settimeout(SFTP_TIMEOUT_S)
        channel.invoke_subsystem("sftp")
        sftp = _SFTP[client] = paramiko.SFTPClient(channel)
    return sftp


# Each connection's SFTP session (closed with the connection).
_SFTP: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _file_chunks(client: Any, remote: str, start: int,
                 size: int | None = None) -> Generator[bytes, None, None]:
    """The bytes of the file ``remote`` from byte ``start``: ``size`` of them, or up to its end
    (where it ends when the reading gets there: a log grows), read over SFTP a segment at a
    time, every 32 KB request of a segment in flight at once (paramiko's prefetch).  A file
    that cannot be opened (gone since it was listed, unreadable) gives nothing, as reading it
    with ``tail`` did; one cut shorter while it is read ends there."""
    try:
        handle = _sftp(client).open(remote, "rb")
    except OSError:  # paramiko raises FileNotFoundError, PermissionError, IOError
        return
    with handle:
        pos, end = start, None if size is None else start + size
        while end is None or pos < end:
            stop = min(handle.stat().st_size, pos + SEGMENT, end if end is not None else pos + SEGMENT)
            if stop <= pos:
                return
            handle.seek(pos)
            handle.prefetch(stop)
            while pos < stop:
                try:
                    data = handle.read(min(CHUNK, stop - pos))
                except EOFError:  # cut shorter than it was a moment ago
                    return
                if not data:
                    return
                yield data
                pos += len(data)


def _read_at(client: Any, remote: str, offset: int, size: int) -> bytes:
    return b"".join(_file_chunks(client, remote, offset, size))


def _write(lines: Iterable[bytes], local: Path, copied: Copied) -> None:
    """Write ``lines`` scrubbed to ``local`` (gzipped when its name says so)."""
    local.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(local, "wb") if local.suffix == ".gz" else local.open("wb") as handle:
        for line in lines:
            out = _scrubbed(line)
            handle.write(out)
            copied.written += len(out)
            copied.lines += 1


def _fetch(client: Any, remote: str, start: int, local: Path, window: Window,
           year: int) -> Copied:
    """Copy the lines of ``remote`` from byte ``start`` that fall in the window (a compressed
    file: all of it, decompressed on the host by ``gzip -dc``)."""
    copied = Copied()
    chunks = (_chunks(client, f"gzip -dc {shlex.quote(remote)}") if remote.endswith(".gz")
              else _file_chunks(client, remote, start))
    try:
        _write(in_window(_lines(chunks, copied), window, year, copied), local, copied)
    finally:
        chunks.close()
    return copied


def gzip_damage(client: Any, remote: str) -> str | None:
    """What gzip says is wrong with a compressed file (truncated, not gzip, a bad CRC),
    or None when it reads to its end."""
    command = f"gzip -t {shlex.quote(remote)} 2>&1; echo \"rc=$?\""
    out = _text(b"".join(_chunks(client, command))).strip().splitlines()
    if not out or out[-1] == "rc=0":
        return None
    said = [line.strip().replace(f"gzip: {remote}: ", "gzip: ") for line in out[:-1] if line.strip()]
    return (said[0] if said else f"gzip -t exited {out[-1][3:]}")[:300]


_JOURNAL_STAMP = re.compile(rb'"__REALTIME_TIMESTAMP"\s*:\s*"(\d+)"')
# journalctl --until stops at the first entry past it, in its merge order of the journal
# files: entries of the window a little later in that order are read to this far past it.
_JOURNAL_OVERRUN = timedelta(seconds=60)


def _journal(client: Any, window: Window, local: Path) -> int:
    """journald's entries of the window (on the host's clock, as its files') as JSON lines,
    scrubbed; return how many."""
    command = (
        f"journalctl --utc -o json --no-pager --since @{window.start.timestamp():.0f} "
        f"--until @{(window.end + _JOURNAL_OVERRUN).timestamp():.0f}"
    )
    copied = Copied()
    _write(journal_in_window(_lines(_chunks(client, command), copied), window), local, copied)
    return copied.lines


def journal_in_window(entries: Iterable[bytes], window: Window) -> Iterator[bytes]:
    """The entries stamped within ``window``.  journalctl's --since only seeks: it then
    reads the journal files merged by sequence number and boot, not by time, so an entry
    stamped before the window can follow (another file's, or one written late)."""
    start_us = int(window.start.timestamp() * 1_000_000)
    end_us = int(window.end.timestamp() * 1_000_000)
    for entry in entries:
        found = _JOURNAL_STAMP.search(entry, 0, 400) or _JOURNAL_STAMP.search(entry)
        if found is not None and start_us <= int(found.group(1)) <= end_us:
            yield entry


def _copy_file(client: Any, remote: FileMark, start: int, folder: Path,
               window: Window) -> dict[str, Any]:
    """Copy one log file's lines of the window into ``folder``; what host.json says of it."""
    entry: dict[str, Any] = {"path": remote.path, "from": start}
    if remote.mtime is not None and remote.mtime < window.start.timestamp():
        return {**entry, "bytes": 0, "kept_lines": 0,
                "note": "last written before the window: not read"}
    year = datetime.fromtimestamp(remote.mtime or window.end.timestamp(), timezone.utc).year
    if not remote.path.endswith(".gz") and remote.size - start > SEEK_MIN:
        start = seek_window(lambda offset, size: _read_at(client, remote.path, offset, size),
                            start, remote.size, window, year, PROBE)
        entry["from"] = start
    local = folder / remote.path.lstrip("/")
    copied = _fetch(client, remote.path, start, local, window, year)
    if copied.lines == 0:
        local.unlink(missing_ok=True)
    entry.update({"bytes": copied.read, "kept_bytes": copied.written, "kept_lines": copied.lines})
    if not copied.known_format:
        entry["note"] = "no known log format: no line could be placed in the window"
    if remote.path.endswith(".gz"):
        damage = gzip_damage(client, remote.path)
        if damage is not None:  # gzip -dc gave what it could decompress, then stopped
            entry["error"] = (f"{damage} (read {copied.read} bytes decompressed up to there, "
                              f"{copied.lines} lines of the window kept)")
    return entry


# The names logrotate gives a file's older generations: x.log.1, x.log.2.gz, x.log-20261130.
ROTATED_NAME = re.compile(r"(\.\d+(\.gz)?|\.gz|-\d{8,10}(\.gz)?)$")


def rotated_copy(old: FileMark, now: list[FileMark]) -> FileMark | None:
    """Where logrotate put the file ``old`` was when the boots started: the file that has
    its inode now (renamed: ``x.log.1``, ``x.log-20261130``), else the newest of its usual
    names (copied then truncated, or compressed at once: ``x.log.1``, ``x.log.1.gz``,
    ``x.log-DATE[.gz]``)."""
    for mark_now in now:
        if mark_now.path != old.path and mark_now.inode == old.inode:
            return mark_now
    prefix = old.path
    names = [m for m in now if m.path in (f"{prefix}.1", f"{prefix}.1.gz")
             or (m.path.startswith(f"{prefix}-") and m.path[len(prefix) + 1:].split(".")[0].isdigit())]
    return max(names, key=lambda m: (m.mtime or 0.0, m.path.endswith(".gz") is False), default=None)


def collect_host(
    host: LabHost,
    logdir: Path,
    since: datetime,
    until: datetime,
    marks: list[FileMark] | None,
    max_bytes: int,
) -> HostResult:
    """Everything one host has for the window; never raises."""
    result = HostResult(host.name, host.address)
    folder = logdir / host.name
    folder.mkdir(parents=True, exist_ok=True)
    try:
        client = _connect(host)
    except Exception as exc:  # noqa: BLE001 - any failure is this host's verdict
        result.error = _why_unreachable(host, exc)
        _write_host(folder, result)
        return result
    result.reachable = True
    try:
        result.clock_offset_s, result.clock_rtt_s = clock_offset(client)
        window = host_window(since, until, result.clock_offset_s)
        before = {m.path: m for m in (marks or [])}
        now = _list_files(client, host.logs)
        _copy_files(client, before, now, max_bytes, folder, window, result)
        _say_damaged_and_missing(result, host, before, now, window)
        if host.journal:
            result.journal_lines = _journal(client, window, folder / "journal.json")
    except Exception as exc:  # noqa: BLE001 - keep what was copied, say what broke
        result.error = f"collection stopped: {type(exc).__name__}: {exc}"
    finally:
        client.close()
    _write_host(folder, result)
    return result


def _copy_files(client: Any, before: dict[str, FileMark], now: list[FileMark], max_bytes: int,
                folder: Path, window: Window, result: HostResult) -> None:
    """Each file listed now, from where it was at the mark (or its tail); a file rotated
    during the run after the rest of its old self, from its rotated copy."""
    done: set[str] = set()  # rotated copies already read (the globs list them too)
    for current in now:
        if current.path in done:
            continue
        start = _start_offset(before.get(current.path), current, max_bytes)
        if start is None and ROTATED_NAME.search(current.path):
            start = 0  # an older generation moved up (x.log.1 -> x.log.2.gz): read it whole
        if start is None:  # rotated during the run: the rest of the old file is in its copy
            copied = _copy_rotated(client, before[current.path], current, now, folder, window, result)
            if copied is not None:
                done.add(copied)
            start = 0
        entry = _copy_file(client, current, start, folder, window)
        result.files.append(entry)
        done.add(current.path)


def _copy_rotated(client: Any, old: FileMark, current: FileMark, now: list[FileMark], folder: Path,
                  window: Window, result: HostResult) -> str | None:
    """The rest of ``old`` (rotated during the run) from its rotated copy: the copy's path,
    None (said damaged) when there is none."""
    copy = rotated_copy(old, now)
    if copy is None:
        result.damaged.append({"path": current.path, "why": (
            f"rotated during the run, and no rotated copy ({current.path}.1, .1.gz, "
            "-DATE) found: its lines from the boots' start to the rotation are lost")})
        return None
    # A compressed copy is read whole (the window keeps the lines), a plain one
    # from where the file was when the boots started.
    offset = 0 if copy.path.endswith(".gz") or copy.inode != old.inode else old.size
    entry = _copy_file(client, copy, offset, folder, window)
    result.files.append({**entry, "note": f"rotated during the run: {current.path} "
                         f"was moved or copied to {copy.path}"})
    return copy.path


def _say_damaged_and_missing(result: HostResult, host: LabHost, before: dict[str, FileMark],
                             now: list[FileMark], window: Window) -> None:
    """The copies that broke, the files marked that are gone (but old rotated ones), no file at all."""
    for entry in result.files:
        if entry.get("error"):
            result.damaged.append({"path": entry["path"], "why": entry["error"]})
    for path in sorted(set(before) - {m.path for m in now}):
        gone = before[path]
        if gone.mtime is not None and gone.mtime < window.start.timestamp():
            continue  # an old rotated file deleted by logrotate: nothing of the window in it
        result.missing.append({"path": path, "why": "gone since the boots started"})
    if not now:
        result.missing.append({"path": " ".join(host.logs), "why": "no log file matched"})


def _start_offset(before: FileMark | None, now: FileMark, max_bytes: int) -> int | None:
    if before is None:  # new since the mark (or no mark): its tail
        return max(0, now.size - max_bytes) if max_bytes else 0
    if before.inode != now.inode or now.size < before.size:
        return None
    return max(before.size, now.size - max_bytes) if max_bytes else before.size


def _why_unreachable(host: LabHost, exc: Exception) -> str:
    name = type(exc).__name__
    if name == "SSHException" and "not found in known_hosts" in str(exc):
        return (f"host key of {host.address} is not in "
                f"{host.known_hosts or '~/.ssh/known_hosts'}: refused (verify it, then add it)")
    if name == "BadHostKeyException":
        return f"host key of {host.address} does not match known_hosts: refused"
    errors = getattr(exc, "errors", None)  # paramiko's NoValidConnectionsError
    if isinstance(errors, dict) and errors:
        why = "; ".join(sorted({os.strerror(e.errno) if getattr(e, "errno", None) else str(e)
                                for e in errors.values()}))
        return f"cannot connect to {host.address}:{host.port} over SSH: {why}"
    if isinstance(exc, OSError) and exc.errno:
        return f"cannot connect to {host.address}:{host.port} over SSH: {os.strerror(exc.errno)}"
    return f"{name}: {exc}" if str(exc) else name


def _write_host(folder: Path, result: HostResult) -> None:
    (folder / HOST_FILE).write_text(json.dumps(asdict(result), indent=2) + "\n")


def collect(
    hosts: list[LabHost],
    logdir: Path,
    since: datetime,
    until: datetime,
    marks: dict[str, list[FileMark]] | None = None,
    max_bytes: int = 256 * 1024 * 1024,
) -> list[HostResult]:
    """Collect every host in parallel into ``logdir`` (created 0700).

    Ctrl-C closes every SSH connection still open (their threads end at once, each host
    saying where its collection stopped) and raises KeyboardInterrupt."""
    logdir.mkdir(parents=True, exist_ok=True)
    os.chmod(logdir, 0o700)
    pool = ThreadPoolExecutor(max_workers=max(1, len(hosts)))
    try:
        futures = [
            pool.submit(collect_host, host, logdir, since, until,
                        (marks or {}).get(host.name), max_bytes)
            for host in hosts
        ]
        return [future.result() for future in futures]
    except KeyboardInterrupt:
        for client in list(_OPEN):
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing is all that is wanted
                pass
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)



# --- a stuck process's stack --------------------------------------------------------------

# How long a process gets to write its Guru Meditation report after SIGUSR2.
GMR_WAIT_S = 5.0
# SIGUSR2 is signal 12: bit 11 of /proc/<pid>/status SigCgt when the process catches it (a
# process that does not would be killed by it: it is only sent to one that catches it).
_STACK_COMMAND = r"""
unit={unit}
systemctl is-active --quiet "$unit" || {{ echo "BOOTLAB-NO-STACK: $unit is not running here"; exit 0; }}
pid=$(systemctl show -p MainPID --value "$unit")
mask=$(awk '/^SigCgt:/ {{print $2}}' "/proc/$pid/status" 2>/dev/null)
if [ -z "$mask" ] || [ $(( 0x$mask >> 11 & 1 )) -ne 1 ]; then
    echo "BOOTLAB-NO-STACK: $unit (pid $pid) does not catch SIGUSR2 (no Guru Meditation report)"; exit 0
fi
since=$(date +%s)
kill -USR2 "$pid"
sleep {wait}
journalctl -u "$unit" --since "@$since" -o cat --no-pager | head -c 4000000
"""


@dataclass
class StackReport:
    """What a stuck service's Guru Meditation report showed (oslo.reports, on SIGUSR2)."""

    host: str
    unit: str
    threads: list[list[str]] = field(default_factory=list)  # the matching threads' frames
    error: str | None = None


def gmr_threads(text: str, needles: tuple[str, ...]) -> list[list[str]]:
    """The threads and green threads of an oslo.reports Guru Meditation report with a frame
    in one of the functions ``needles``, each as its lines (file:line in function, the code)."""
    threads: list[list[str]] = []
    section = ""
    block: list[str] | None = None

    def close() -> None:  # a frame line: "/usr/lib/.../manager.py:2521 in _build_and_run_instance"
        if block and any(line.rstrip().endswith(f" in {n}") for line in block for n in needles):
            threads.append([line for line in block if line.strip()])

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("====") and stripped.endswith("====") and stripped.strip("= "):
            close()
            block = None
            section = stripped.strip("= ")
            continue
        if section not in ("Threads", "Green Threads"):
            continue
        if stripped.startswith("------") and stripped.endswith("------"):
            close()
            block = [f"{section}: {stripped.strip('- ')}"]
            continue
        if block is not None:
            block.append(line.rstrip())
    close()
    return threads


# The functions whose frames mark a thread of a build in nova-compute (the build itself, and
# the network allocation it runs beside it).
BUILD_FRAMES = ("_build_and_run_instance", "_allocate_network_async", "_allocate_network")


def process_stacks(hosts: list[LabHost], unit: str = "nova-compute.service",
                   needles: tuple[str, ...] = BUILD_FRAMES) -> list[StackReport]:
    """Ask ``unit`` on every host for its Guru Meditation report (SIGUSR2, which OpenStack's
    services answer by writing every thread's stack to their stderr: journald) and keep the
    threads whose frames hold one of ``needles``; never raises."""

    def one(host: LabHost) -> StackReport | None:
        report = StackReport(host.name, unit)
        try:
            client = _connect(host)
        except Exception as exc:  # noqa: BLE001
            report.error = _why_unreachable(host, exc)
            return report
        try:
            command = _STACK_COMMAND.format(unit=shlex.quote(unit), wait=GMR_WAIT_S)
            text = _text(b"".join(_chunks(client, command)))
        except Exception as exc:  # noqa: BLE001
            report.error = f"{type(exc).__name__}: {exc}"
            return report
        finally:
            client.close()
        if text.startswith("BOOTLAB-NO-STACK: "):
            return None if "is not running here" in text else StackReport(
                host.name, unit, error=text.split(": ", 1)[1].strip())
        report.threads = [[scrub(line) for line in thread] for thread in gmr_threads(text, needles)]
        if not report.threads:
            report.error = ("no Guru Meditation report in its journal" if "Guru Meditation" not in text
                            else "its Guru Meditation report shows no thread in a build")
        return report

    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        return [r for r in pool.map(one, hosts) if r is not None]
