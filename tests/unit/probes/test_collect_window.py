"""Collection keeps to the window it was asked for and writes every line scrubbed,
on the recorded boots' own files (no lab: a stand-in client runs the remote
commands on the fixture files)."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from probes import collect
from probes.analyze import analyze
from probes.boots import read_boots
from probes.catalog import load_catalog
from probes.collect import (
    SLACK,
    Copied,
    FileMark,
    Window,
    _copy_file,
    _lines,
    _write,
    host_window,
    in_window,
    journal_in_window,
    seek_window,
)
from probes.logs.formats import line_stamper
from probes.logs.reader import log_files, read_logdir
from tests.support import FIXTURES

OK = FIXTURES / "boot-ok-20261126"
COLD = FIXTURES / "boot-cold-20261126"
UTC = timezone.utc
# A window inside boot-ok's recording (10:05:53 .. 10:06:14): both ends cut lines away.
MIDDLE = Window(datetime(2026, 11, 26, 10, 6, 0, tzinfo=UTC), datetime(2026, 11, 26, 10, 6, 5, tzinfo=UTC))


def bound_copy(src: Path, dst: Path, window: Window) -> Copied:
    """What collection writes of one file, but read from a local copy."""
    copied = Copied()
    with gzip.open(src, "rb") as handle:
        _write(in_window(_lines(iter(lambda: handle.read(1 << 16), b""), copied), window, 2026, copied),
               dst, copied)
    if copied.lines == 0:
        dst.unlink()  # as collection does
    return copied


def bound_folder(src: Path, dst: Path, window: Window) -> None:
    shutil.copytree(src, dst, ignore=lambda _, names: [n for n in names if n.endswith(".gz")])
    for path in log_files(src / "bootlab1"):
        bound_copy(path, dst / path.relative_to(src), window)


def stamps(path: Path) -> list[datetime | None]:
    lines = gzip.open(path, "rt", errors="surrogateescape").read().splitlines()
    stamp = line_stamper([line for line in lines[:60] if line], 2026)
    assert stamp is not None, path
    return [stamp(line) for line in lines]


def test_every_kept_line_is_in_the_window_or_belongs_to_one_that_is(tmp_path):
    bound_folder(OK, tmp_path / "b", MIDDLE)
    dropped = 0
    for path in log_files(tmp_path / "b" / "bootlab1"):
        original = gzip.open(OK / path.relative_to(tmp_path / "b"), "rb").read().count(b"\n")
        kept = stamps(path)
        dropped += original - len(kept)
        if not kept:
            continue
        assert kept[0] is not None, f"{path}: its first line has no stamp of its own"
        assert all(MIDDLE.start <= at <= MIDDLE.end for at in kept if at is not None), path
    assert dropped > 0


def test_the_window_loses_no_record_the_reader_would_find_in_it(tmp_path):
    bound_folder(OK, tmp_path / "b", MIDDLE)
    offset = timedelta(seconds=0.00025343894958496094)  # host.json's clock offset

    def records(logdir: Path) -> list[tuple]:
        _, stream = read_logdir(logdir, MIDDLE.start - offset, MIDDLE.end - offset)
        return [(r.origin, r.at, r.request_id, r.instance, r.service) for r in stream]

    original, bounded = records(OK), records(tmp_path / "b")
    assert len(original) > 1000
    assert bounded == original


def test_continuation_lines_go_with_their_line(tmp_path):
    """nova-compute logs the guest XML as one record of 98 lines, stamped 10:06:01.394."""
    src = OK / "bootlab1/var/log/nova/nova-compute.log.gz"
    lines = gzip.open(src, "rt").read().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if "<domain" in line)
    last = next(i for i, line in enumerate(lines) if "_get_guest_xml /usr/lib" in line and i > first)
    at = datetime(2026, 11, 26, 10, 6, 1, 394000, tzinfo=UTC)
    bound_copy(src, tmp_path / "nova-compute.log.gz", Window(at, at))
    kept = gzip.open(tmp_path / "nova-compute.log.gz", "rt").read().splitlines(keepends=True)
    assert kept == lines[first:last + 1] and len(kept) == 98


def test_a_mariadb_query_without_a_stamp_keeps_its_second(tmp_path):
    src = tmp_path / "query.log.gz"
    lines = [
        "261126 10:05:58\t    14 Query\tSELECT 1",
        "\t\t    14 Query\tSELECT 2",                     # 10:05:58, before the window
        "261126 10:06:01\t    15 Query\tSELECT 3",
        "\t\t    15 Query\tSELECT 4 FROM t",               # 10:06:01: kept
        "WHERE x = 1",                                    # its next line: kept
        "261126 10:06:07\t    16 Query\tSELECT 5",       # after the window
        "\t\t    16 Query\tSELECT 6",
    ]
    with gzip.open(src, "wt") as out:
        out.write("\n".join(lines) + "\n")
    bound_copy(src, tmp_path / "out.log.gz", MIDDLE)
    assert gzip.open(tmp_path / "out.log.gz", "rt").read().splitlines() == lines[2:5]


def test_a_file_in_no_known_format_is_not_copied(tmp_path):
    src = tmp_path / "notes.gz"
    with gzip.open(src, "wt") as out:
        out.write("password: hunter2hunter2\nsome text\n" * 10)
    copied = bound_copy(src, tmp_path / "out.gz", MIDDLE)
    assert copied.lines == 0 and not copied.known_format


def test_the_deploys_passwords_and_the_metadata_signature_never_reach_the_bundle(tmp_path):
    """The MariaDB general log as the deploy leaves it, and nova's metadata request line with
    its signature (the fixture holds them scrubbed: they are put back, with made-up values)."""
    password = "Xq7ZkP2mW9vL4tR8sN3bY6cH1dF5gJ0a"  # the shape of a lab password, not one
    signature = hashlib.sha256(b"not a lab's signature").hexdigest()  # 64 hex, as nova's HMAC
    query = gzip.open(OK / "bootlab1/var/log/mysql/query.log.gz", "rt").read().splitlines()
    at = next(i for i, line in enumerate(query) if line.startswith("261126 10:06:0"))
    query[at + 1:at + 1] = [
        f"\t\t    42 Query\tSELECT CONCAT('*', UCASE(SHA1(UNHEX(SHA1('{password}')))))",
        f"\t\t    42 Query\tCREATE USER 'nova'@'%' IDENTIFIED BY '{password}'",
        f"\t\t    42 Query\tSET PASSWORD FOR 'nova'@'%' = PASSWORD('{password}')",
    ]
    src = tmp_path / "src"
    shutil.copytree(OK, src)
    with gzip.open(src / "bootlab1/var/log/mysql/query.log.gz", "wt") as out:
        out.write("\n".join(query) + "\n")
    metadata = src / "bootlab1/var/log/nova/nova-api-metadata.log.gz"
    slot = b"'X-Instance-Id-Signature': '***'"
    recorded = gzip.open(metadata, "rb").read()
    assert slot in recorded
    with gzip.open(metadata, "wb") as out:
        out.write(recorded.replace(slot, b"'X-Instance-Id-Signature': '%s'" % signature.encode()))
    bound_folder(src, tmp_path / "b", Window(MIDDLE.start, MIDDLE.end + timedelta(seconds=30)))
    bundle = [gzip.open(p, "rt", errors="replace").read() for p in log_files(tmp_path / "b" / "bootlab1")]
    assert any("Metadata request headers" in text and "'X-Instance-Id-Signature': '***'" in text
               for text in bundle)
    assert any("SHA1('***')" in text for text in bundle)
    for secret in (password, signature):
        assert not any(secret in text for text in bundle)


def test_a_bundle_cut_to_the_boots_window_analyses_the_same(tmp_path):
    boot = read_boots(COLD)[0]
    window = host_window(boot.started_at, boot.ended_at, 0.0)
    bound_folder(COLD, tmp_path / "b", window)
    catalog = load_catalog()
    before = analyze(COLD, read_boots(COLD), catalog)["boots"][0]["stages"]
    after = analyze(tmp_path / "b", read_boots(tmp_path / "b"), catalog)["boots"][0]["stages"]
    assert [(s["status"], s["start"], s["duration_s"]) for s in after] == \
        [(s["status"], s["start"], s["duration_s"]) for s in before]


class LocalClient:
    """Runs collection's remote commands on this machine, and counts them."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def exec_command(self, command: str, timeout: float = 0):
        self.commands.append(command)
        proc = subprocess.Popen(command, shell=True, stdout=subprocess.PIPE)
        return None, proc.stdout, None


def test_a_file_last_written_before_the_window_is_not_read(tmp_path):
    client = LocalClient()
    src = OK / "bootlab1/var/log/nova/nova-api.log.gz"
    before = FileMark(str(src), src.stat().st_size, 1, MIDDLE.start.timestamp() - SLACK.total_seconds() - 60)
    entry = _copy_file(client, before, 0, tmp_path, host_window(MIDDLE.start, MIDDLE.end, 0.0))
    assert client.commands == [] and entry["bytes"] == 0 and "before the window" in entry["note"]


def test_a_file_is_copied_through_its_remote_command(tmp_path):
    client = LocalClient()
    src = OK / "bootlab1/var/log/nova/nova-api-metadata.log.gz"
    mark = FileMark(str(src), src.stat().st_size, 1, MIDDLE.end.timestamp() + 60)
    entry = _copy_file(client, mark, 0, tmp_path, host_window(MIDDLE.start, MIDDLE.end + timedelta(seconds=20), 0.0))
    local = tmp_path / str(src).lstrip("/")
    assert client.commands and client.commands[0].startswith("gzip -dc ")
    assert entry["kept_lines"] > 0 and entry["bytes"] >= entry["kept_bytes"]
    text = gzip.open(local, "rt").read()
    assert "'X-Instance-Id-Signature': '***'" in text


def test_journal_entries_out_of_time_order_are_kept_to_the_window():
    """journalctl --since only seeks, then reads its files merged by sequence number: an
    entry stamped before the window came after it in the lab (the CI run of 2026-11-30).
    Here boot-ok's journal, read with its last entries put first and its first ones last."""
    entries = gzip.open(OK / "bootlab1/journal.json.gz", "rb").read().splitlines(keepends=True)
    stamp = line_stamper([entries[0].decode()], 2026)
    inside = [e for e in entries if MIDDLE.holds(stamp(e.decode()))]
    assert 0 < len(inside) < len(entries)
    third = len(entries) // 3
    shuffled = entries[-third:] + entries[third:-third] + entries[:third]
    kept = list(journal_in_window(shuffled, MIDDLE))
    assert sorted(kept) == sorted(inside)


@pytest.mark.parametrize("offset", [0.0, 2.5, -2.5])
def test_the_window_moves_with_the_host_clock(offset):
    since = datetime(2026, 11, 26, 10, 6, 0, tzinfo=UTC)
    window = host_window(since, since + timedelta(seconds=10), offset)
    assert window.start == since + timedelta(seconds=offset) - SLACK
    assert window.end == since + timedelta(seconds=10 + offset) + SLACK


@pytest.mark.parametrize("name", ["var/log/mysql/query.log.gz", "var/log/ceph/ceph-osd.0.log.gz",
                                  "var/log/nova/nova-conductor.log.gz"])
def test_bisection_skips_to_near_the_window_and_loses_none_of_it(name):
    data = gzip.open(OK / "bootlab1" / name, "rb").read()
    reads: list[int] = []

    def read_at(offset: int, size: int) -> bytes:
        reads.append(size)
        return data[offset:offset + size]

    start = seek_window(read_at, 0, len(data), MIDDLE, 2026, probe=16384)
    whole = list(in_window(_lines([data], Copied()), MIDDLE, 2026))
    assert list(in_window(_lines([data[start:]], Copied()), MIDDLE, 2026)) == whole
    assert data.index(whole[0]) / 2 < start <= data.index(whole[0])
    assert len(reads) < 25


def test_a_log_the_reader_does_not_know_is_bounded_by_its_leading_stamps(tmp_path):
    """Ceph's cluster log (/var/log/ceph/ceph.log, as the lab's mon wrote it): no format of
    the reader's fits it, but each line leads with its stamp."""
    lines = [
        "2026-11-29T21:26:17.739871+0000 mon.bootlab1 (mon.0) 1 : cluster [INF] mon.bootlab1 is new "
        "leader, mons bootlab1 in quorum (ranks 0)",
        "2026-11-29T21:26:18.529345+0000 mon.bootlab1 (mon.0) 2 : cluster [DBG] monmap e2: 1 mons at "
        "{bootlab1=[v2:10.233.0.2:3300/0,v1:10.233.0.2:6789/0]} removed_ranks: {}",
        "2026-11-29T21:26:18.899228+0000 mon.bootlab1 (mon.0) 6 : audit [INF] from='client.? "
        "10.233.0.2:0/2320425422' entity='client.admin' cmd=[{\"prefix\": \"auth get-or-create\", "
        "\"entity\": \"mgr.bootlab1\"}]: dispatch",
    ]
    src = tmp_path / "ceph.log.gz"
    with gzip.open(src, "wt") as out:
        out.write("\n".join(lines) + "\n")
    at = datetime(2026, 11, 29, 21, 26, 18, 529345, tzinfo=UTC)
    copied = bound_copy(src, tmp_path / "out.log.gz", Window(at, at + timedelta(seconds=0.1)))
    assert copied.known_format
    assert gzip.open(tmp_path / "out.log.gz", "rt").read().splitlines() == lines[1:2]


def test_a_channel_that_timed_out_opening_is_tried_again(monkeypatch):
    """A busy lab host's sshd may not open a channel within its timeout (a multi-node
    controller at load 5 lost all its logs to one "Timeout opening channel"): collection
    tries again, and gives up on any other SSH error at once."""
    import paramiko

    monkeypatch.setattr(collect.time, "sleep", lambda _: None)
    calls = []

    def busy_twice():
        calls.append(1)
        if len(calls) < 3:
            raise paramiko.SSHException("Timeout opening channel.")
        return "channel"

    assert collect._retrying(busy_twice) == "channel" and len(calls) == 3

    def gone():
        calls.append(1)
        raise paramiko.SSHException("SSH session not active")

    calls.clear()
    with pytest.raises(paramiko.SSHException, match="not active"):
        collect._retrying(gone)
    assert len(calls) == 1
