#!/usr/bin/env python3
"""``make bench``: ``bootprobe analyze`` against its peers, side by side, on real logs.

    .venv/bin/python bench/run.py [--gb 1] [--rss-gb 5] [--rounds 1] [--dir /var/tmp/bootlab-bench]

Builds (once; ``bench/bundle.py``) a bundle of ``--gb`` GB from real recorded boots only
(copies of each recorded host's logs under distinct host names: many boots' windows, many
hosts) and runs on the same files, one after another, ``--rounds`` times each:

  cat             every file to /dev/null (the floor: reading the bytes)
  grep -c         ``grep -c <instance uuid>`` over every file (what an operator does by hand)
  os-log-merger   merges and time-sorts the OpenStack logs (PyPI os-log-merger; it skips the
                  files whose format it does not detect: Ceph's, MariaDB's, journald's)
  bootprobe       ``bootprobe analyze BUNDLE`` (finds every boot, 58 stages each)

then both of the last two again on the files os-log-merger reads (oslo and libvirt logs,
a folder of links beside the bundle).  Prints wall seconds, MB/s, CPU seconds (user +
system of the peer and its workers: the machine may be shared, CPU time moves less with
its load), each peer's peak RSS (the sum over its processes, sampled) and the ratios,
then ``bootprobe analyze`` alone on a ``--rss-gb`` GB bundle for its peak RSS.  Targets
(2 cores): >= 200 MB/s, >= 10x os-log-merger, peak RSS < 500 MB on 5 GB; a missed target
is printed with by how much.  Exit 0 whatever the figures (it measures, it does not gate).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bundle import build, default_sources  # noqa: E402
from probes.logs.formats import Libvirt, Oslo, sniff  # noqa: E402
from probes.logs.reader import _head, find_hosts  # noqa: E402

TARGET_MBS = 200.0
TARGET_VS_MERGER = 10.0
TARGET_RSS_MB = 500.0


@dataclass
class Run:
    peer: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    code: int


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and its descendants, now."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(c) for c in children.read().split())
        except (OSError, ValueError):
            continue
    return total


def run(peer: str, argv: list[str], stdin_path: Path | None = None, cwd: Path = ROOT) -> Run:
    """Run one peer to completion: wall time, CPU time, peak RSS of its process tree."""
    handle = stdin_path.open("rb") if stdin_path else None
    stdin = subprocess.DEVNULL if handle is None else handle
    start = time.perf_counter()
    # A session of its own, as from a user's shell: with the kernel's autogroup scheduling a
    # session's processes share one slice of a busy machine, whatever their number.
    proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=cwd, start_new_session=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if handle is not None:
        handle.close()
    peak = max(peak, usage.ru_maxrss * 1024)  # a single process's peak, if sampling missed it
    return Run(peer, wall, usage.ru_utime + usage.ru_stime, peak / 1e6, proc.returncode)


def log_files(bundle: Path) -> list[Path]:
    return [path for root in find_hosts(bundle) for path in root.files]


def merger_view(bundle: Path, files: list[Path]) -> tuple[Path, list[Path]]:
    """A folder of links to the bundle's oslo and libvirt logs (what os-log-merger reads),
    laid out as the bundle (host.json kept), for bootprobe to read the same files."""
    view = bundle.with_name(bundle.name + "-oslo")
    stamp = view / ".view.json"
    chosen = [f for f in files if isinstance(sniff(_head(f), 2026), (Oslo, Libvirt))]
    if not (stamp.is_file() and json.loads(stamp.read_text()).get("files") == len(chosen)):
        subprocess.run(["rm", "-rf", str(view)], check=True)
        for path in chosen:
            link = view / path.relative_to(bundle)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
        for host_json in bundle.glob("*/host.json"):
            target = view / host_json.relative_to(bundle)
            if target.parent.is_dir():
                target.write_bytes(host_json.read_bytes())
        stamp.write_text(json.dumps({"files": len(chosen)}) + "\n")
    return view, [view / f.relative_to(bundle) for f in chosen]


def instance_uuid(bundle: Path) -> str:
    """A uuid of a boot in the bundle (for grep -c): the first recorded boot's."""
    for boots in sorted(ROOT.glob("tests/fixtures/*/boots.json")):
        data = json.loads(boots.read_text())
        if data and data[0].get("server_id"):
            return str(data[0]["server_id"])
    return "00000000-0000-0000-0000-000000000000"


def baseline_tree(ref: str, where: Path) -> Path:
    """The probe package as it was at git ``ref`` (``git archive``), to run side by side."""
    commit = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    tree = where / f"baseline-{commit}"
    if not (tree / "probes").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", commit, "probes"], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def peers(bundle: Path, files: list[Path], listing: Path, uuid: str, merger: bool,
          baseline: Path | None = None) -> dict[str, list[str]]:
    python = sys.executable
    out: dict[str, list[str]] = {
        "cat": ["xargs", "-0", "-a", str(listing), "cat"],
        "grep -c": ["xargs", "-0", "-a", str(listing), "grep", "-c", "--", uuid],
    }
    if merger:
        out["os-log-merger"] = [str(Path(python).with_name("os-log-merger")), *map(str, files)]
    # The worktree's probes (python -m from ROOT), not whatever bootprobe is installed.
    out["bootprobe"] = [python, "-m", "probes", "analyze", str(bundle), "--format", "json"]
    if baseline is not None:  # the same command in the baseline's tree (cwd: run() below)
        out[f"bootprobe@{baseline.name.removeprefix('baseline-')}"] = out["bootprobe"]
    return out


def measure(bundle: Path, files: list[Path], rounds: int, uuid: str, merger: bool = True,
            only: tuple[str, ...] | None = None,
            baseline: Path | None = None) -> tuple[int, dict[str, Run]]:
    listing = bundle.with_name(bundle.name + ".files")
    listing.write_bytes(b"\0".join(os.fsencode(f) for f in files) + b"\0")
    size = sum(f.stat().st_size for f in files)
    commands = peers(bundle, files, listing, uuid, merger, baseline)
    if only:
        commands = {k: v for k, v in commands.items() if k in only or k.startswith("bootprobe@")}
    subprocess.run(commands.get("cat", ["xargs", "-0", "-a", str(listing), "cat"]),
                   stdout=subprocess.DEVNULL, check=False)  # into the page cache first
    best: dict[str, Run] = {}
    for _ in range(rounds):  # interleaved: each round runs every peer once
        for peer, argv in commands.items():
            result = run(peer, argv, cwd=baseline if peer.startswith("bootprobe@") and baseline else ROOT)
            if peer not in best or result.wall_s < best[peer].wall_s:
                best[peer] = result
    return size, best


def table(title: str, size: int, results: dict[str, Run]) -> None:
    base = results.get("bootprobe")
    print(f"\n{title}: {size / 1e6:,.0f} MB")
    print(f"{'peer':<14} {'wall s':>8} {'MB/s':>8} {'cpu s':>8} {'MB/cpu-s':>9} {'peak RSS MB':>12} "
          f"{'x bootprobe':>12}  exit")
    for r in results.values():
        ratio = r.wall_s / base.wall_s if base else float("nan")
        print(f"{r.peer:<14} {r.wall_s:8.2f} {size / r.wall_s / 1e6:8.1f} {r.cpu_s:8.2f} "
              f"{size / max(r.cpu_s, 1e-3) / 1e6:9.1f} {r.peak_rss_mb:12.0f} {ratio:12.2f}  {r.code}")


def verdict(name: str, value: float, target: float, higher: bool, unit: str) -> str:
    met = value >= target if higher else value < target
    if met:
        return f"{name}: {value:,.1f}{unit} (target {'>=' if higher else '<'} {target:g}{unit}): met"
    short = (target / value if higher else value / target) if value else float("inf")
    return (f"{name}: {value:,.1f}{unit} (target {'>=' if higher else '<'} {target:g}{unit}): "
            f"MISSED by {abs(target - value):,.1f}{unit} ({short:.2f}x)")


def machine() -> str:
    load = os.getloadavg()
    cores = len(os.sched_getaffinity(0))
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cores} cores ({model}), load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=1.0, help="the side-by-side bundle's size")
    parser.add_argument("--rss-gb", type=float, default=5.0, help="the bundle for peak RSS (0: skip)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp/bootlab-bench"))
    parser.add_argument("--baseline", metavar="GIT_REF",
                        help="also run bootprobe analyze as it was at this commit, side by side")
    parser.add_argument("--baseline-rss", action="store_true",
                        help="the baseline on the --rss-gb bundle too (slow)")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    sources = default_sources()
    uuid = instance_uuid(ROOT)
    baseline = baseline_tree(args.baseline, args.dir) if args.baseline else None

    bundle = args.dir / f"bundle-{args.gb:g}gb"
    built = build(bundle, int(args.gb * 1e9), sources)
    files = log_files(bundle)
    print(f"bundle {bundle}: {built['host_copies']} host folders (copies of {built['templates']} "
          f"recorded hosts from {len(sources)} recorded log folders), {len(files)} files")
    print(f"machine: {machine()}")
    size, full = measure(bundle, files, args.rounds, uuid, baseline=baseline)
    table("every file of the bundle", size, full)
    view, view_files = merger_view(bundle, files)
    view_size, oslo = measure(view, view_files, args.rounds, uuid, baseline=baseline)
    table("the files os-log-merger reads (oslo and libvirt logs)", view_size, oslo)

    print("exit: xargs gives 123 when grep found no match in a file; bootprobe 1: a boot in the "
          "bundle failed (the recorded NoValidHost boot)")
    print()
    probe = full["bootprobe"]
    for title, results in (("every file", full), ("oslo and libvirt files", oslo)):
        for peer, result in results.items():
            if peer.startswith("bootprobe@"):
                print(f"bootprobe now / as at {peer.removeprefix('bootprobe@')}, {title}: "
                      f"{result.wall_s / results['bootprobe'].wall_s:.2f}x faster (wall), "
                      f"{result.cpu_s / results['bootprobe'].cpu_s:.2f}x less CPU")
    print(verdict("bootprobe analyze, every file", size / probe.wall_s / 1e6, TARGET_MBS, True, " MB/s"))
    print(f"  per CPU-second: {size / probe.cpu_s / 1e6:,.1f} MB (on {len(os.sched_getaffinity(0))} "
          f"idle cores at most {len(os.sched_getaffinity(0)) * size / probe.cpu_s / 1e6:,.0f} MB/s)")
    for title, results in (("every file", full), ("oslo and libvirt files", oslo)):
        merger = results.get("os-log-merger")
        if merger:
            print(verdict(f"os-log-merger / bootprobe wall time, {title}",
                          merger.wall_s / results["bootprobe"].wall_s, TARGET_VS_MERGER, True, "x"))
    if args.rss_gb > 0:
        big = args.dir / f"bundle-{args.rss_gb:g}gb"
        built = build(big, int(args.rss_gb * 1e9), sources)
        big_files = log_files(big)
        big_size, alone = measure(big, big_files, 1, uuid, merger=False, only=("cat", "bootprobe"),
                                  baseline=baseline if args.baseline_rss else None)
        table(f"{big} ({built['host_copies']} host folders, {len(big_files)} files)", big_size, alone)
        print(verdict(f"bootprobe analyze peak RSS, {big_size / 1e9:.1f} GB",
                      alone["bootprobe"].peak_rss_mb, TARGET_RSS_MB, False, " MB"))
        print(verdict(f"bootprobe analyze, {big_size / 1e9:.1f} GB",
                      big_size / alone["bootprobe"].wall_s / 1e6, TARGET_MBS, True, " MB/s"))
    print(f"machine after: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
