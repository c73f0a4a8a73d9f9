#!/usr/bin/env python3
"""``make bench-overhead``: what the lab's evidence settings cost a boot, side by side.

    .venv/bin/python bench/overhead.py -i inventory/local [--boots 5] [--rounds 1]

Each round deploys the lab three times and boots ``--boots`` instances after each deploy:

  off   every evidence setting at the services' own defaults (``-e @playbooks/vars/evidence-off.yml``:
        oslo.log INFO, default logger levels, no query log, dnsmasq without --log-dhcp,
        libvirtd warnings only, Ceph's default debug levels), no broker witness, no profiling
  logs  the lab's log evidence (DEBUG with request ids, RPC debug, query log ...) without the
        broker witness and the profiler (``-e @playbooks/vars/evidence-logs.yml``)
  full  the lab as ``make lab`` leaves it: the logs, RabbitMQ's firehose read by the broker
        witness, OSProfiler on in every service, and boots made with ``bootprobe run --profile``

One unmeasured boot (``bootprobe smoke``) follows each deploy, so that restarted services
have served a boot before the measured ones. The figures come from the client's clock
only (``bootprobe run``: the create call, the poll that saw ACTIVE, the guest's metadata
fetch), which does not depend on the logs; the stages observed per boot show what the
settings buy. Prints p50 and p95 of both times per mode and the ratios of the p50s to the
evidence off; writes overhead.json beside the runs. The lab is left as ``make lab`` leaves it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from probes.summary import percentile  # noqa: E402

VENV_BIN = Path(sys.executable).parent
# Each mode's deploy variables and its boots' extra arguments; the last mode is the lab's own.
MODES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "off": (("-e", "@playbooks/vars/evidence-off.yml"), ()),
    "logs": (("-e", "@playbooks/vars/evidence-logs.yml"), ()),
    "full": ((), ("--profile",)),
}


@dataclass
class Boot:
    mode: str
    round: int
    outcome: str
    to_active_s: float | None
    to_metadata_s: float | None
    stages_observed: int
    stages_direct: int


@dataclass
class Mode:
    mode: str
    boots: int
    failed: int
    to_active_p50_s: float | None
    to_active_p95_s: float | None
    to_metadata_p50_s: float | None
    to_metadata_p95_s: float | None
    stages_observed_p50: float | None
    stages_direct_p50: float | None
    ratio_to_active: float | None = None  # p50 against the evidence off
    ratio_to_metadata: float | None = None


@dataclass
class Overhead:
    inventory: str
    started_at: str
    rounds: int
    boots_per_run: int
    load_before: str
    load_after: str = ""
    modes: list[Mode] = field(default_factory=list)
    boots: list[Boot] = field(default_factory=list)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def labvar(inventory: str, name: str) -> str:
    return subprocess.run([sys.executable, str(ROOT / "scripts/labvar.py"), "-i", inventory, name],
                          capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()


def deploy(inventory: str, mode: str, log: Path) -> None:
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", inventory, "playbooks/site.yml", *MODES[mode][0]]
    started = time.monotonic()
    with log.open("w") as out:
        code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, check=False).returncode
    print(f"  deploy, evidence {mode}: exit {code} in {time.monotonic() - started:.0f} s ({log})", flush=True)
    if code != 0:
        raise SystemExit(f"the deploy with the evidence {mode} failed: see {log}")


def boot_run(env: dict[str, str], hosts: str, boots: int, folder: Path, extra: tuple[str, ...]) -> list[dict]:
    subprocess.run([str(VENV_BIN / "bootprobe"), "smoke", "--os-cloud", "bootlab"], env=env, cwd=ROOT,
                   capture_output=True, check=False, timeout=900)
    proc = subprocess.run([str(VENV_BIN / "bootprobe"), "run", "--os-cloud", "bootlab", "--count", str(boots),
                           "--hosts", hosts, "--output", str(folder), "--format", "json", *extra],
                          env=env, cwd=ROOT, capture_output=True, text=True, check=False, timeout=3600)
    result = folder / "result.json"
    if not result.exists():
        raise SystemExit(f"bootprobe run wrote no result (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(result.read_text())["boots"]


def boot_figures(mode: str, rnd: int, boot: dict) -> Boot:
    client = boot.get("client") or {}
    observed = sum(1 for s in boot.get("stages", []) if s.get("status") != "unobserved")
    direct = sum(1 for s in boot.get("stages", []) if s.get("status") == "measured")
    return Boot(mode, rnd, boot.get("outcome", "?"), client.get("time_to_active_s"),
                client.get("time_to_metadata_s"), observed, direct)


def summarize(mode: str, boots: list[Boot]) -> Mode:
    ok = [b for b in boots if b.mode == mode and b.outcome == "ok"]
    active = [b.to_active_s for b in ok if b.to_active_s is not None]
    metadata = [b.to_metadata_s for b in ok if b.to_metadata_s is not None]
    observed = [float(b.stages_observed) for b in ok]
    direct = [float(b.stages_direct) for b in ok]
    return Mode(mode, len(ok), sum(1 for b in boots if b.mode == mode) - len(ok),
                percentile(active, 50), percentile(active, 95), percentile(metadata, 50),
                percentile(metadata, 95), percentile(observed, 50), percentile(direct, 50))


def ratio(on: float | None, off: float | None) -> float | None:
    return round(on / off, 3) if on and off else None


def fmt(value: float | None, unit: str = " s") -> str:
    return f"{value:.2f}{unit}" if value is not None else "-"


def print_table(result: Overhead) -> None:
    print(f"\nevidence overhead on {result.inventory}: {result.rounds} round(s)"
          f" of {result.boots_per_run} boots per mode")
    print(f"load average before {result.load_before}; after {result.load_after}")
    print(f"{'evidence':<9} {'boots':>5} {'failed':>6} {'ACTIVE p50':>11} {'p95':>8} {'x off':>6}"
          f" {'metadata p50':>13} {'p95':>8} {'x off':>6} {'stages seen':>12} {'direct':>7}")
    for m in result.modes:
        print(f"{m.mode:<9} {m.boots:>5} {m.failed:>6} {fmt(m.to_active_p50_s):>11} {fmt(m.to_active_p95_s):>8}"
              f" {fmt(m.ratio_to_active, 'x'):>6} {fmt(m.to_metadata_p50_s):>13} {fmt(m.to_metadata_p95_s):>8}"
              f" {fmt(m.ratio_to_metadata, 'x'):>6} {fmt(m.stages_observed_p50, ''):>12}"
              f" {fmt(m.stages_direct_p50, ''):>7}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", default="inventory/local")
    parser.add_argument("--boots", type=int, default=5, help="measured boots per mode and round (default 5)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the three modes (default 1)")
    parser.add_argument("--output", type=Path, help="folder of the runs (default bootprobe-runs/overhead-<UTC time>)")
    args = parser.parse_args()
    if args.boots < 1 or args.rounds < 1:
        parser.error("--boots and --rounds must be at least 1")
    stamp = datetime.now(timezone.utc)
    out = (args.output or ROOT / "bootprobe-runs" / f"overhead-{stamp:%Y%m%dT%H%M%SZ}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": labvar(args.inventory, "bootlab_clouds_yaml")}
    hosts = labvar(args.inventory, "bootlab_probe_hosts_file")
    result = Overhead(args.inventory, stamp.isoformat(), args.rounds, args.boots, load())
    for rnd in range(1, args.rounds + 1):
        for mode in MODES:
            print(f"round {rnd}, evidence {mode}", flush=True)
            deploy(args.inventory, mode, out / f"deploy-{mode}-{rnd}.log")
            boots = boot_run(env, hosts, args.boots, out / f"{mode}-{rnd}", MODES[mode][1])
            result.boots += [boot_figures(mode, rnd, b) for b in boots]
            print(f"  {len(boots)} boots: " + ", ".join(
                f"{fmt(b.to_active_s)}/{fmt(b.to_metadata_s)}" for b in result.boots[-len(boots):]), flush=True)
    result.load_after = load()
    result.modes = [summarize(mode, result.boots) for mode in MODES]
    off = result.modes[0]
    for m in result.modes:
        m.ratio_to_active = ratio(m.to_active_p50_s, off.to_active_p50_s)
        m.ratio_to_metadata = ratio(m.to_metadata_p50_s, off.to_metadata_p50_s)
    (out / "overhead.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    print_table(result)
    print(f"\nruns and overhead.json under {out}")
    return 0 if all(m.boots for m in result.modes) else 1


if __name__ == "__main__":
    sys.exit(main())
