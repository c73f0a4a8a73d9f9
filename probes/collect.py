"""Pull the logs of every lab host over SSH (paramiko), in parallel.

Nothing here parses a log line.  For each host of the hosts file:

* its clock offset is measured (``date +%s.%N`` bracketed by the probe's
  clock; the exchange with the shortest round trip of three wins);
* log files matching the host's globs are read, bounded: from the size they
  had when the boots started (``mark``), or their last ``max_bytes``; a file
  rotated in between is read from the rotated copy too;
* journald is exported for the window (``journalctl -o json --since --until``);
* everything lands in ``LOGDIR/<host>/`` under the file's own path, with
  ``host.json`` saying what was read, what was missing and the offset.

Host keys are verified against the known_hosts file (paramiko's
RejectPolicy): an unknown or changed key stops that host, never silently.
A host that cannot be reached is written down as such; the others go on.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from probes.errors import ConfigError
from probes.logs.reader import HOST_FILE

DEFAULT_LOGS = (
    "/var/log/nova/*.log*", "/var/log/neutron/*.log*", "/var/log/neutron/dnsmasq/*/*",
    "/var/log/cinder/*.log*", "/var/log/glance/*.log*", "/var/log/keystone/*.log*",
    "/var/log/placement/*.log*", "/var/log/ceph/*.log*", "/var/log/libvirt/*.log*",
    "/var/log/libvirt/qemu/*.log*", "/var/log/mysql/*.log*", "/var/log/rabbitmq/*.log*",
    "/var/log/haproxy.log*",
)
CONNECT_TIMEOUT_S = 10.0


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
    """A log file's size and inode when the boots started."""

    path: str
    size: int
    inode: int


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
    return client


def _run(client: Any, command: str, timeout: float = 120.0) -> tuple[int, bytes, bytes]:
    _, stdout, stderr = client.exec_command(command, timeout=timeout)
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
    channel = client.get_transport().open_session(timeout=10)
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
    command = f"for f in {pattern}; do [ -f \"$f\" ] && stat -c '%s %i %n' \"$f\"; done; true"
    _, out, _ = _run(client, command)
    marks = []
    for line in out.decode(errors="replace").splitlines():
        size, inode, path = line.split(" ", 2)
        marks.append(FileMark(path, int(size), int(inode)))
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


def _copy_output(client: Any, command: str, local: Path) -> tuple[int, int]:
    """Stream a remote command's output into ``local``: (bytes, lines) copied."""
    local.parent.mkdir(parents=True, exist_ok=True)
    _, stdout, _ = client.exec_command(command, timeout=300)
    copied = lines = 0
    with local.open("wb") as handle:
        for chunk in iter(lambda: stdout.read(1 << 20), b""):
            handle.write(chunk)
            copied += len(chunk)
            lines += chunk.count(b"\n")
    return copied, lines


def _fetch(client: Any, remote: str, start: int, local: Path) -> int:
    """Copy ``remote`` from byte ``start`` to ``local``; return the bytes copied."""
    quoted = shlex.quote(remote)
    command = f"tail -c +{start + 1} {quoted}" if not remote.endswith(".gz") else f"cat {quoted}"
    return _copy_output(client, command, local)[0]


def _journal(client: Any, since: datetime, until: datetime, local: Path) -> int:
    """journald's entries of the window as JSON lines; return how many."""
    command = (
        f"journalctl --utc -o json --no-pager --since @{since.timestamp():.0f} "
        f"--until @{until.timestamp() + 1:.0f}"
    )
    return _copy_output(client, command, local)[1]


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
        before = {m.path: m for m in (marks or [])}
        now = _list_files(client, host.logs)
        for current in now:
            start = _start_offset(before.get(current.path), current, max_bytes)
            if start is None:  # rotated: the rest of the old file is in path.1
                old = before[current.path]
                rotated = f"{current.path}.1"
                copied = _fetch(client, rotated, old.size, folder / (rotated.lstrip("/")))
                result.files.append({"path": rotated, "from": old.size, "bytes": copied,
                                     "note": "rotated during the run"})
                start = 0
            copied = _fetch(client, current.path, start, folder / current.path.lstrip("/"))
            result.files.append({"path": current.path, "from": start, "bytes": copied})
        for path in sorted(set(before) - {m.path for m in now}):
            result.missing.append({"path": path, "why": "gone since the boots started"})
        if not now:
            result.missing.append({"path": " ".join(host.logs), "why": "no log file matched"})
        if host.journal:
            result.journal_lines = _journal(client, since, until, folder / "journal.json")
    except Exception as exc:  # noqa: BLE001 - keep what was copied, say what broke
        result.error = f"collection stopped: {type(exc).__name__}: {exc}"
    finally:
        client.close()
    _write_host(folder, result)
    return result


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
    """Collect every host in parallel into ``logdir`` (created 0700)."""
    logdir.mkdir(parents=True, exist_ok=True)
    os.chmod(logdir, 0o700)
    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        futures = [
            pool.submit(collect_host, host, logdir, since, until,
                        (marks or {}).get(host.name), max_bytes)
            for host in hosts
        ]
        return [future.result() for future in futures]

