#!/usr/bin/env python3
"""Put a lab host's clock off by some seconds, for its programs only (and put it back).

    scripts/clockskew.py skew --host bootlab1 --seconds 1.5
    scripts/clockskew.py revert --host bootlab1
    scripts/clockskew.py status --host bootlab1

A container lab host shares the machine's kernel clock (a time namespace shifts only the
monotonic and boot-time clocks), and nothing here ever sets a clock. Instead a small
library (scripts/clockskew.c, built here with `cc`) is listed in the host's
/etc/ld.so.preload: every program started afterwards reads its wall clock (CLOCK_REALTIME,
gettimeofday, time) SECONDS off, from /etc/bootlab-clock-skew; monotonic time, sleeps and
timed waits stay true. Then every service whose lines are the probe's evidence is restarted
so that it runs on the skewed clock: journald (it stamps what it receives), MariaDB, the
Ceph daemons, the OpenStack services, libvirtd, and the DHCP agent's dnsmasq and haproxy
(stopped with their agent, started again by it). `skew` checks each of those processes
maps the library and waits for the cloud to be ready (services and agents reporting after
the restart). `revert` takes the library out and restarts the same services; a timer on
the host does it by itself after --watchdog seconds, should the caller die first.

Why not libfaketime: see scripts/clockskew.c (bookworm's 0.9.10 hangs or breaks python3.11's
timed waits and sleeps). The host is reached over SSH with the probe's hosts file.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import labssh  # scripts/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "scripts" / "clockskew.c"
LIB = "/usr/local/lib/bootlab-clockskew.so"
SKEW_FILE = "/etc/bootlab-clock-skew"
UNSKEW = "/usr/local/sbin/bootlab-clock-unskew"
TIMER = "bootlab-clock-unskew"
# The services whose lines are evidence (bootprobe stages), as systemd units.
WAIT_S = 600  # seconds for the restarted units to run (a busy 2-core machine: minutes)
UNITS = (r"^(systemd-journald|mariadb|ceph-(mon|mgr|osd|radosgw)@.+|apache2|keystone|glance-api"
         r"|placement-api|nova-.+|neutron-.+|cinder-.+|libvirtd|virtlogd|haproxy)\.service$")

# Host side: restart the evidence services (the DHCP agent's children with it), wait for
# them to run, then list the evidence processes and whether each maps the library.
RESTART = rf"""
units=$(systemctl list-units --type=service --all --no-legend --plain \
        | awk '$3 == "active" || $3 == "activating" || $3 == "failed" {{print $1}}' | grep -E '{UNITS}' || true)
dhcp=$(echo "$units" | grep -x 'neutron-dhcp-agent.service' || true)
children() {{  # the dnsmasq and haproxy the DHCP agent started (its pid files)
    cat /var/lib/neutron/dhcp/*/pid /var/lib/neutron/external/pids/* 2>/dev/null \
        | while read -r pid; do [ -d "/proc/$pid" ] && echo "$pid"; done
}}
if [ -n "$dhcp" ]; then
    systemctl stop neutron-dhcp-agent.service
    for pid in $(children); do kill "$pid" 2>/dev/null || true; done
fi
restart() {{  # restart units, wait until they all run (a slow start is started again)
    # Ceph's units allow 3 starts in 30 min: a skew and its revert would use them up.
    systemctl reset-failed "$@"
    systemctl restart --no-block "$@"
    for i in $(seq {WAIT_S}); do
        waiting=$(for u in "$@"; do [ "$(systemctl is-active "$u")" = active ] || echo "$u"; done)
        [ -z "$waiting" ] && return 0
        for u in $waiting; do  # nova's units give a start 90 s: on a busy machine it fails
            if [ "$(systemctl is-active "$u")" = failed ]; then
                systemctl reset-failed "$u"; systemctl start --no-block "$u"
            fi
        done
        sleep 1
    done
    echo "not active after {WAIT_S} s: $waiting"
    exit 1
}}
# The stores first (a service started while MariaDB restarts can hang in its first request:
# keystone did), then everything that uses them.
stores=$(echo "$units" | grep -E '^(systemd-journald|mariadb|ceph-.+)\.service$' || true)
others=$(echo "$units" | grep -vE '^(systemd-journald|mariadb|ceph-.+)\.service$' || true)
[ -z "$stores" ] || restart $stores
if echo "$stores" | grep -qx mariadb.service; then
    for i in $(seq 120); do mysqladmin ping >/dev/null 2>&1 && break; sleep 1; done
fi
if echo "$stores" | grep -q '^ceph-osd@' && command -v ceph >/dev/null; then  # OSDs up again
    for i in $(seq 120); do
        ceph osd stat -f json 2>/dev/null | python3 -c 'import json, sys
d = json.load(sys.stdin); sys.exit(0 if d["num_up_osds"] == d["num_osds"] > 0 else 1)' && break
        sleep 1
    done
fi
[ -z "$others" ] || restart $others
if [ -n "$dhcp" ]; then  # the agent starts its dnsmasq and haproxy again as it syncs (a
    # dnsmasq may be replaced by another seconds later): until the same two are seen 5 s apart
    before=""
    for i in $(seq 30); do
        now=$(children | sort | tr '\n' ' ')
        [ "$now" = "$before" ] && [ "$(echo $now | wc -w)" -ge 2 ] && break
        before=$now
        sleep 5
    done
fi
for u in $units; do echo "$u $(systemctl show -p MainPID --value "$u")"; done
for pid in $(children); do echo "$(cat /proc/$pid/comm) $pid"; done
"""

PROCESSES = f"""
while read -r name pid; do
    [ "$pid" -gt 0 ] 2>/dev/null || continue
    if ! grep -q . /proc/$pid/maps 2>/dev/null; then echo "gone $name $pid"
    elif grep -q {LIB} /proc/$pid/maps; then echo "skewed $name $pid"; else echo "true $name $pid"; fi
done
"""

UNSKEW_SCRIPT = f"""#!/bin/bash
# Written by bootlab's scripts/clockskew.py: the lab host's programs back on the kernel's clock.
set -eu
systemctl stop {TIMER}.timer 2>/dev/null || true
if [ -f /etc/ld.so.preload ]; then
    sed -i '\\#^{LIB}$#d' /etc/ld.so.preload
    [ -s /etc/ld.so.preload ] || rm -f /etc/ld.so.preload
fi
rm -f {SKEW_FILE}
systemctl try-restart 'user@*.service' || true  # root's user manager, started by a skewed login
{RESTART}
"""


def ssh_command(hosts_file: Path, name: str) -> list[str]:
    return labssh.ssh_command(hosts_file, name, "clockskew")


def remote(ssh: list[str], script: str, stdin: bytes | None = None, timeout: float = 300) -> str:
    """Run a bash script on the host (``stdin``: bytes for ``cat`` instead); its output."""
    command = [*ssh, "bash", "-c", shlex.quote(script)] if stdin is not None else [*ssh, "bash", "-s"]
    data = stdin if stdin is not None else script.encode()
    proc = subprocess.run(command, input=data, capture_output=True, timeout=timeout, check=False)
    out = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"clockskew: the lab host said (exit {proc.returncode}):\n{out}"
                         f"{proc.stderr.decode(errors='replace')}")
    return out


def build(folder: Path) -> bytes:
    """The library, built from scripts/clockskew.c with this machine's C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SystemExit("clockskew: no C compiler (cc) on this machine: apt-get install gcc")
    out = folder / "bootlab-clockskew.so"
    subprocess.run([compiler, "-O2", "-Wall", "-shared", "-fPIC", "-o", str(out), str(SOURCE), "-ldl"],
                   check=True, capture_output=True)
    return out.read_bytes()


def processes(ssh: list[str], restarted: str) -> dict[str, list[str]]:
    """{'skewed': [...], 'true': [...], 'gone': [...]}: the evidence processes, by whether they
    map the library (or ended since they were listed)."""
    lines = [line for line in restarted.splitlines() if len(line.split()) == 2]
    out = remote(ssh, PROCESSES, stdin="\n".join(lines).encode() + b"\n") if lines else ""
    found: dict[str, list[str]] = {"skewed": [], "true": [], "gone": []}
    for line in out.splitlines():
        state, name, pid = line.split()
        found[state].append(f"{name}[{pid}]")
    return found


def host_now(ssh: list[str]) -> float:
    return float(remote(ssh, "date +%s.%N").strip())


def wait_ready(cloud: str, since: float, timeout: float) -> list[str]:
    """Wait until every compute and volume service and every network agent has reported
    since ``since`` (the host's clock) and is up; what is still not, if the time ran out."""
    import openstack

    def stamp(value: str | None) -> float:
        if not value:
            return 0.0
        text = value.replace("Z", "+00:00")
        at = datetime.fromisoformat(text)
        return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp()

    deadline = time.monotonic() + timeout
    late: list[str] = ["(not asked yet)"]
    while late and time.monotonic() < deadline:
        try:
            conn = openstack.connect(cloud=cloud)
            late = [f"compute {s.binary}@{s.host}" for s in conn.compute.services()
                    if s.state != "up" or stamp(s.updated_at) < since]
            late += [f"agent {a.binary}@{a.host}" for a in conn.network.agents()
                     if not a.is_alive or stamp(a.last_heartbeat_at) < since]
            late += [f"volume {s.binary}@{s.host}" for s in conn.block_storage.services()
                     if s.state != "up" or stamp(s.updated_at) < since]
        except Exception as exc:  # noqa: BLE001 - the APIs are starting again
            late = [f"API: {type(exc).__name__}: {str(exc)[:200]}"]
        if late:
            time.sleep(3)
    return late


def restart_and_check(ssh: list[str], script: str, want: str, cloud: str | None, timeout: float,
                      clock_back_s: float = 0.0) -> None:
    """Run the restarting ``script``; check every evidence process runs on the ``want`` clock;
    wait for the cloud. ``clock_back_s``: what the host's clock loses by the restart."""
    started = host_now(ssh) - clock_back_s
    restarted = remote(ssh, script, timeout=WAIT_S + 180)
    found = processes(ssh, restarted)
    other = "true" if want == "skewed" else "skewed"
    print(f"{len(found[want])} evidence processes on the {want} clock: {' '.join(found[want])}")
    if found[other]:
        raise SystemExit(f"clockskew: these still run on the {other} clock: {' '.join(found[other])}")
    if cloud:
        late = wait_ready(cloud, started, timeout)
        if late:
            raise SystemExit(f"clockskew: not ready after {timeout:.0f} s: {', '.join(late)}")
        print(f"cloud ready: every service and agent reported since the restart "
              f"({host_now(ssh) - started:.0f} s)")


def skew(ssh: list[str], seconds: float, watchdog: int, cloud: str | None, timeout: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        library = build(Path(folder))
    remote(ssh, f"cat > {LIB}.new && chmod 0644 {LIB}.new && mv {LIB}.new {LIB}", stdin=library)
    remote(ssh, f"cat > {UNSKEW} && chmod 0755 {UNSKEW}", stdin=UNSKEW_SCRIPT.encode())
    remote(ssh, f"""set -e
systemctl stop {TIMER}.timer 2>/dev/null || true
systemctl reset-failed {TIMER}.service {TIMER}.timer 2>/dev/null || true
systemd-run --quiet --unit={TIMER} --on-active={watchdog} {UNSKEW}
printf '%s\\n' {shlex.quote(f"{seconds:+.9f}")} > {SKEW_FILE}
grep -qx {LIB} /etc/ld.so.preload 2>/dev/null || echo {LIB} >> /etc/ld.so.preload
""")
    print(f"{SKEW_FILE}: {seconds:+.3f} s; {LIB} preloaded; reverted by itself in {watchdog} s")
    restart_and_check(ssh, RESTART, "skewed", cloud, timeout)


LEFT = f"""for f in $(grep -l {LIB} /proc/[0-9]*/maps 2>/dev/null); do
    pid=${{f#/proc/}}; pid=${{pid%/maps}}; echo "$(cat /proc/$pid/comm 2>/dev/null)[$pid]"
done
"""


def revert(ssh: list[str], cloud: str | None, timeout: float) -> None:
    remote(ssh, f"cat > {UNSKEW} && chmod 0755 {UNSKEW}", stdin=UNSKEW_SCRIPT.encode())
    skewed = remote(ssh, f"cat {SKEW_FILE} 2>/dev/null || echo 0").strip()
    restart_and_check(ssh, f"exec {UNSKEW}", "true", cloud, timeout, float(skewed or 0))
    left = remote(ssh, LEFT).split()
    if left:  # started while skewed, writing no evidence (an instance's qemu, a shell)
        print(f"still on the skewed clock until they end: {' '.join(left)}")
    remote(ssh, f"rm -f {LIB} {UNSKEW}; systemctl reset-failed {TIMER}.service 2>/dev/null || true")


STATUS = f"""cat {SKEW_FILE} 2>/dev/null || echo "no {SKEW_FILE}"
grep -x {LIB} /etc/ld.so.preload 2>/dev/null || echo "not preloaded"
systemctl list-timers --no-legend {TIMER}.timer 2>/dev/null || true
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("skew", "revert", "status"))
    parser.add_argument("--hosts", type=Path,
                        default=Path.home() / ".local/state/bootlab/local/bootprobe-hosts.yml",
                        help="the probe's hosts file (default: %(default)s)")
    parser.add_argument("--host", default="bootlab1", help="lab host (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=1.5,
                        help="the host's clock minus the true time (default: %(default)s)")
    parser.add_argument("--watchdog", type=int, default=900,
                        help="seconds after which the host reverts by itself (default: %(default)s)")
    parser.add_argument("--os-cloud", default="bootlab-admin",
                        help="admin cloud (clouds.yaml: OS_CLIENT_CONFIG_FILE) to wait for services and "
                        "agents; '' not to wait (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for them (default: %(default)s)")
    args = parser.parse_args(argv)
    ssh = ssh_command(args.hosts, args.host)
    if args.action == "skew":
        skew(ssh, args.seconds, args.watchdog, args.os_cloud or None, args.timeout)
    elif args.action == "revert":
        revert(ssh, args.os_cloud or None, args.timeout)
    else:
        print(remote(ssh, STATUS), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
