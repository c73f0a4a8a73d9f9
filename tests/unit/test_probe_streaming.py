"""Memory of the analysis does not grow with the size of the logs."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from probes.analyze import BootInput, analyze
from probes.catalog import load_catalog

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
