"""Collection through a real SSH server (tests/support/sshd.py: OpenSSH's sshd on 127.0.0.1,
host keys verified against the known_hosts it writes): ranged and whole reads of plain files
over SFTP, compressed files through ``gzip -dc``, a long file bisected for its window, files
rotated or gone during the run, and host keys that do not match."""

from __future__ import annotations

import gzip
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from probes import collect
from probes.collect import (
    Copied,
    FileMark,
    LabHost,
    Window,
    _connect,
    _copy_file,
    _file_chunks,
    _lines,
    _read_at,
    collect_host,
    in_window,
)
from tests.support import FIXTURES
from tests.support.sshd import Sshd, keygen

OK = FIXTURES / "boot-ok-20261126"
# A window inside boot-ok's recording (10:05:53 .. 10:06:14): both ends cut lines away.
MIDDLE = Window(datetime(2026, 11, 26, 10, 6, 0, tzinfo=timezone.utc),
                datetime(2026, 11, 26, 10, 6, 5, tzinfo=timezone.utc))
LOGS = ("var/log/nova/nova-api.log.gz", "var/log/nova/nova-compute.log.gz", "var/log/ceph/ceph-osd.0.log.gz",
        "var/log/mysql/query.log.gz")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with Sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def lab_host(sshd: Sshd, logs: tuple[str, ...] = (), known_hosts: Path | None = None) -> LabHost:
    return LabHost(name="bootlab1", address="127.0.0.1", user=sshd.user, port=sshd.port,
                   key_file=str(sshd.client_key), known_hosts=str(known_hosts or sshd.known_hosts),
                   logs=logs, journal=False)


@pytest.fixture
def client(sshd):
    client = _connect(lab_host(sshd))
    yield client
    client.close()


def plain(tmp_path: Path, name: str) -> Path:
    """A fixture log decompressed into ``tmp_path`` (the "remote" host's file)."""
    path = tmp_path / "remote" / name.removesuffix(".gz")
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(OK / "bootlab1" / name, "rb") as src:
        path.write_bytes(src.read())
    return path


def kept(data: bytes, window: Window) -> bytes:
    """What collection keeps of ``data`` for ``window`` (scrubbed), computed here."""
    return b"".join(collect._scrubbed(line) for line in in_window(_lines([data], Copied()), window, 2026))


def test_ranged_reads_are_the_files_bytes(client, tmp_path, monkeypatch):
    monkeypatch.setattr(collect, "SEGMENT", 300_007)  # several segments, cut inside chunks
    data = random.Random(16).randbytes(2_500_000)
    path = tmp_path / "random.bin"
    path.write_bytes(data)
    size = len(data)
    for offset in (0, 1, 32_767, 32_768, size // 2, size - 10, size, size + 100):
        for length in (0, 1, 100_000, 1 << 20, 3 << 20):
            assert _read_at(client, str(path), offset, length) == data[offset:offset + length], (offset, length)
    for start in (0, 5, size // 3, size):
        assert b"".join(_file_chunks(client, str(path), start)) == data[start:]
    assert _read_at(client, str(tmp_path / "gone.log"), 0, 10) == b""  # as tail's read of it gave


def test_a_growing_file_is_read_to_where_it_ends_then(client, tmp_path, monkeypatch):
    monkeypatch.setattr(collect, "SEGMENT", 1000)
    path = tmp_path / "growing.log"
    path.write_bytes(b"a" * 2500)
    read = []
    for chunk in _file_chunks(client, str(path), 0):
        read.append(chunk)
        if len(read) == 1:
            with path.open("ab") as log:  # written while it is read
                log.write(b"b" * 700)
    assert b"".join(read) == b"a" * 2500 + b"b" * 700


def test_a_host_is_collected_over_ssh(sshd, tmp_path):
    """Plain files read over SFTP and a compressed one through gzip -dc keep what the window
    holds of them, as a local read of the same files does; host.json says what was read."""
    remote = [plain(tmp_path, name) for name in LOGS[:3]]
    rotated = tmp_path / "remote/var/log/mysql/query.log.1.gz"
    rotated.parent.mkdir(parents=True)
    rotated.write_bytes((OK / "bootlab1" / LOGS[3]).read_bytes())
    globs = (f"{tmp_path}/remote/var/log/*/*.log", f"{tmp_path}/remote/var/log/mysql/*.gz")
    result = collect_host(lab_host(sshd, globs), tmp_path / "out", MIDDLE.start, MIDDLE.end, None, 0)
    assert result.reachable and result.error is None, result
    assert abs(result.clock_offset_s) < 0.5
    window = collect.host_window(MIDDLE.start, MIDDLE.end, result.clock_offset_s)
    entries = {e["path"]: e for e in result.files}
    assert sorted(entries) == sorted(map(str, [*remote, rotated]))
    for path in [*remote, rotated]:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        local = tmp_path / "out/bootlab1" / str(path).lstrip("/")
        copied = local.read_bytes() if path.suffix != ".gz" else gzip.decompress(local.read_bytes())
        assert copied == kept(data, window), path
        entry = entries[str(path)]
        assert entry["from"] == 0 and entry["kept_bytes"] == len(copied) > 0
        assert 0 < entry["bytes"] <= len(data)
        assert "error" not in entry and "note" not in entry
    host_json = json.loads((tmp_path / "out/bootlab1/host.json").read_text())
    assert host_json["reachable"] and host_json["missing"] == [] and host_json["damaged"] == []


def test_a_long_file_is_read_from_near_the_window(sshd, client, tmp_path, monkeypatch):
    src = plain(tmp_path, "var/log/ceph/ceph-osd.0.log.gz")
    monkeypatch.setattr(collect, "SEEK_MIN", 0)
    monkeypatch.setattr(collect, "PROBE", 16384)
    reads = []
    monkeypatch.setattr(collect, "_read_at", lambda *a: reads.append(a[2:]) or _read_at(*a))
    mark = FileMark(str(src), src.stat().st_size, 1, MIDDLE.end.timestamp())
    entry = _copy_file(client, mark, 0, tmp_path / "out", MIDDLE)
    assert entry["from"] > src.stat().st_size / 4
    assert entry["from"] + entry["bytes"] < src.stat().st_size  # it stopped after the window
    copied = (tmp_path / "out" / str(src).lstrip("/")).read_bytes()
    assert copied == kept(src.read_bytes(), MIDDLE) and entry["kept_lines"] == copied.count(b"\n")
    assert 0 < len(reads) < 25 and all(size >= 16384 for _, size in reads)


def test_files_rotated_or_gone_during_the_run_are_said(sshd, tmp_path):
    """A file renamed by logrotate is read from its copy where the mark left it; one copied
    and truncated without a copy found, or deleted, is named in host.json."""
    logs = tmp_path / "remote/var/log/nova"
    api, compute, conductor = (plain(tmp_path, f"var/log/nova/nova-{n}.log.gz")
                               for n in ("api", "compute", "conductor"))
    gone = logs / "nova-scheduler.log"
    gone.write_text("old\n")
    host = lab_host(sshd, (f"{logs}/*.log*",))
    marks = collect.mark([host])["bootlab1"]
    assert sorted(m.path for m in marks) == sorted(map(str, (api, compute, conductor, gone)))
    before = {m.path: m for m in marks}
    api.rename(f"{api}.1")  # rotated: renamed, a new file in its place
    api.write_bytes(b"")
    conductor.write_bytes(b"")  # truncated, and no copy of it anywhere
    gone.unlink()
    result = collect_host(host, tmp_path / "out", MIDDLE.start, MIDDLE.end, marks, 0)
    assert result.error is None, result
    entries = {e["path"]: e for e in result.files}
    copy = entries[f"{api}.1"]
    assert copy["note"] == f"rotated during the run: {api} was moved or copied to {api}.1"
    assert copy["from"] == before[str(api)].size and copy["bytes"] == 0
    assert entries[str(api)]["from"] == 0 and entries[str(compute)]["from"] == before[str(compute)].size
    assert result.damaged == [{"path": str(conductor), "why": (
        f"rotated during the run, and no rotated copy ({conductor}.1, .1.gz, -DATE) found: its lines "
        "from the boots' start to the rotation are lost")}]
    assert result.missing == [{"path": str(gone), "why": "gone since the boots started"}]


def test_a_damaged_gzip_is_named_with_what_gzip_says(sshd, client, tmp_path):
    src = OK / "bootlab1/var/log/nova/nova-compute.log.gz"
    cut = tmp_path / "nova-compute.log.1.gz"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    window = collect.host_window(MIDDLE.start, MIDDLE.end + timedelta(seconds=20), 0.0)
    entry = _copy_file(client, FileMark(str(cut), cut.stat().st_size, 1, MIDDLE.end.timestamp()), 0,
                       tmp_path / "out", window)
    assert "unexpected end of file" in entry["error"] and entry["kept_lines"] > 0, entry


def test_host_keys_are_verified(sshd, tmp_path):
    """Another key for the server's address is refused, and so is a server not listed."""
    other = tmp_path / "other_known_hosts"
    collect_args = (tmp_path / "out", MIDDLE.start, MIDDLE.end, None, 0)
    key_type, key = Path(f"{keygen(tmp_path / 'wrong')}.pub").read_text().split()[:2]
    other.write_text(f"[127.0.0.1]:{sshd.port} {key_type} {key}\n")
    result = collect_host(lab_host(sshd, known_hosts=other), *collect_args)
    assert not result.reachable and result.error == "host key of 127.0.0.1 does not match known_hosts: refused"
    other.write_text("")
    result = collect_host(lab_host(sshd, known_hosts=other), *collect_args)
    assert not result.reachable
    assert result.error == (f"host key of 127.0.0.1 is not in {other}: refused (verify it, then add it)")
