"""Memory of the analysis does not grow with the size of the logs."""

from __future__ import annotations

import pickle
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import pytest

from probes.analyze import analyze
from probes.catalog import load_catalog
from probes.logs.reader import CUT_BITS, LogRecord, log_record, read_logdir
from probes.records import BootInput

LINE = ("2026-11-26 09:55:{s:02d}.{ms:03d} 1693 DEBUG nova.compute.resource_tracker [-] "
        "Auditing locally available compute resources for bootlab1 (node: bootlab1) "
        "update_available_resource /usr/lib/python3/dist-packages/nova/compute/resource_tracker.py:907\n")


def write_log(folder: Path, lines: int) -> None:
    path = folder / "host1" / "var" / "log" / "nova" / "nova-compute.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for i in range(lines):
            handle.write(LINE.format(s=(i // 1000) % 60, ms=i % 1000))


def peak_bytes(folder: Path) -> int:
    catalog = load_catalog()
    tracemalloc.start()
    try:
        analyze(folder, [BootInput(index=0, server_id="7e713aef-5792-45f8-b386-e44eb1f7b9a2")], catalog)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_ten_times_the_lines_do_not_need_more_memory(tmp_path):
    write_log(tmp_path / "small", 5_000)
    write_log(tmp_path / "large", 50_000)
    small, large = peak_bytes(tmp_path / "small"), peak_bytes(tmp_path / "large")
    assert large < small * 1.5 + 1_000_000, (small, large)


def _record(line: str, message: str) -> LogRecord:
    return log_record(datetime(2026, 11, 26, tzinfo=timezone.utc), "host1", "nova-compute",
                      "nova-compute.log", line, message)


@pytest.mark.parametrize("line, message", [
    ("2026-11-26 09:55:00.000 1693 INFO nova.compute.manager [-] Took 4.2 seconds", "Took 4.2 seconds"),
    ("DEBUG nova [None req-1] text {{(pid=3) f /a.py:1}}", "text"),  # the debug suffix cut
    ("same", "same"),
    ("a line", ""),
    ("1 Query\tSELECT 1", "1 Query\tSELECT  1"),  # MariaDB's message is rebuilt: not in the line
    ("é ü line – ok", "ü line"),
    ("x" * 140_000 + "tail", "tail"),  # past what a place in the line can say: the message kept
])
def test_a_record_keeps_where_its_message_lies_in_its_line(line, message):
    record = _record(line, message)
    assert record.message == message
    assert isinstance(record.cut, int) == (message in line and len(line) - len(message) < 1 << CUT_BITS)


def test_a_record_of_a_message_that_is_its_line_holds_one_string():
    line = "DEBUG nova.compute.manager [-] text"
    record = _record(line, line)
    assert record.cut == 0 and record.message is line
    assert pickle.loads(pickle.dumps(record)) == record  # as a worker sends it


def test_the_records_of_a_file_share_where_they_come_from(tmp_path):
    write_log(tmp_path, 50)
    _, stream = read_logdir(tmp_path)
    records = list(stream)
    assert len(records) == 50 and len({id(r.source) for r in records}) == 1
    record = records[0]
    assert (record.host, record.service, record.origin, record.resolution_s, record.shift_s) == (
        "host1", "nova-compute", "var/log/nova/nova-compute.log", 0.001, 0.0)
    assert record == pickle.loads(pickle.dumps(record))
