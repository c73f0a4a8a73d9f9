#!/usr/bin/env python3
"""Benchmark: how much does `bootprobe analyze` cost over just reading the logs?

    .venv/bin/python bench/analyze.py [LOGDIR] [--copies N]

LOGDIR defaults to the recorded fixture tests/fixtures/boot-ok-20261126,
replicated N times (default 20) into a temporary folder (each copy as another
rotated file of the same host, so the analysis reads N times the lines).
Peers, run side by side on the same files:

  grep      `grep -c <instance uuid>` over every file (what an operator does by hand)
  readline  a Python loop that only reads and splits the lines (the floor for any parser)
  analyze   bootprobe's analysis (parse, classify, correlate 58 stages)

Prints seconds, lines/s and the ratio of each to grep; peak memory of the analysis.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from probes.analyze import analyze  # noqa: E402
from probes.boots import read_boots  # noqa: E402
from probes.catalog import load_catalog  # noqa: E402
from probes.logs.reader import log_files  # noqa: E402

FIXTURE = Path(__file__).resolve().parent.parent / "tests/fixtures/boot-ok-20261126"
T = TypeVar("T")


def replicate(src: Path, dst: Path, copies: int) -> int:
    lines = 0
    shutil.copy(src / "boots.json", dst / "boots.json")
    for host in (p for p in src.iterdir() if p.is_dir()):
        for path in log_files(host):
            rel = path.relative_to(host)
            with gzip.open(path, "rt") as handle:
                text = handle.read()
            lines += text.count("\n") * copies
            for i in range(copies):
                out = dst / host.name / rel.parent / (rel.name.removesuffix(".gz") + (f".{i}" if i else ""))
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(text)
        if (host / "host.json").exists():
            shutil.copy(host / "host.json", dst / host.name / "host.json")
    return lines


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logdir", type=Path, nargs="?", default=FIXTURE)
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        lines = replicate(args.logdir, work, args.copies)
        boots = read_boots(work)
        uuid = boots[0].server_id if boots else None
        if boots is None or uuid is None:
            raise SystemExit(f"bench: {args.logdir} has no boots.json naming a server")
        files = [str(p) for host in work.iterdir() if host.is_dir() for p in log_files(host)]
        size = sum(Path(f).stat().st_size for f in files)

        t_grep, _ = timed(lambda: subprocess.run(["grep", "-c", uuid, *files], capture_output=True))

        def readline() -> int:
            n = 0
            for name in files:
                with open(name, errors="replace") as handle:
                    for line in handle:
                        n += len(line.split(" ", 3))
            return n
        t_read, _ = timed(readline)

        catalog = load_catalog()
        t_analyze, result = timed(lambda: analyze(work, boots, catalog))
        # Memory on a second pass: tracemalloc slows Python several times over.
        tracemalloc.start()
        analyze(work, boots, catalog)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        observed = sum(s["status"] != "unobserved" for s in result["boots"][0]["stages"])

    print(f"{len(files)} files, {size / 1e6:.1f} MB, {lines} lines ({args.copies} copies of {args.logdir.name})")
    print(f"{'peer':<10} {'seconds':>9} {'lines/s':>12} {'x grep':>8}")
    for name, seconds in (("grep", t_grep), ("readline", t_read), ("analyze", t_analyze)):
        print(f"{name:<10} {seconds:9.3f} {lines / seconds:12,.0f} {seconds / t_grep:8.1f}")
    print(f"analyze: peak Python memory {peak / 1e6:.1f} MB; {observed} of 58 stages observed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
