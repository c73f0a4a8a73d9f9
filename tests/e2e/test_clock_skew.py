"""A lab host whose clock runs 1.5 s ahead of the probe's: bootprobe measures the offset,
says in the report's header that it applied it, and the boot's stages keep their order; the
same collected logs read with the offsets forced to 0 show the disorder the skew makes.

The skew (scripts/clockskew.py): the host's kernel clock is the machine's (a container lab
host) and is never set; a preloaded library (scripts/clockskew.c, /etc/ld.so.preload) gives
every program the host starts a wall clock 1.5 s ahead, and every service whose lines are
evidence is restarted onto it (journald, MariaDB, Ceph, the OpenStack services, libvirtd, the
DHCP agent's dnsmasq and haproxy). So the probe's `date +%s.%N` over SSH, the services' log
stamps, journald's and haproxy's are all 1.5 s ahead, as on a host whose clock is off.
Not libfaketime: bookworm's 0.9.10 hangs python3.11's timed waits or breaks its sleeps
(scripts/clockskew.c says how). The fixture always reverts (restarts the services on the true
clock, and checks the probe measures the host back within 50 ms), even when the test fails;
a timer on the host reverts by itself after 15 minutes should this process die.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, labvar

HOST = "bootlab1"
SKEW_S = 1.5


@pytest.fixture(scope="module")
def hosts_file():
    return Path(labvar("bootlab_probe_hosts_file"))


def clockskew(lab_env, hosts_file, *args):
    return subprocess.run([sys.executable, str(ROOT / "scripts/clockskew.py"), *args, "--hosts", str(hosts_file),
                           "--host", HOST], capture_output=True, text=True, cwd=ROOT, env=lab_env, check=False,
                          timeout=1800)


def measured_offset(hosts_file):
    from probes.collect import _connect, clock_offset, load_hosts

    (lab_host,) = [h for h in load_hosts(hosts_file) if h.name == HOST]
    client = _connect(lab_host)
    try:
        return clock_offset(client)
    finally:
        client.close()


@pytest.fixture
def skewed_host(lab_env, hosts_file):
    try:
        proc = clockskew(lab_env, hosts_file, "skew", "--seconds", str(SKEW_S))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        print(proc.stdout)
        yield proc.stdout
    finally:
        back = clockskew(lab_env, hosts_file, "revert")
        print(back.stdout)
        assert back.returncode == 0, back.stdout + back.stderr
        offset, rtt = measured_offset(hosts_file)
        assert abs(offset) < 0.05, f"{HOST} still {offset:+.3f} s off after the revert"


def bootprobe(lab_env, *args):
    """This tree's bootprobe (``python -m probes`` from the tree: the venv's console script
    may be another checkout's)."""
    return subprocess.run([sys.executable, "-m", "probes", *args], capture_output=True, text=True, cwd=ROOT,
                          env=lab_env, check=False, timeout=900)


def by_number(result):
    (boot,) = result["boots"]
    return {s["number"]: s for s in boot["stages"]}


def negative(stages):
    return sorted(n for n, s in stages.items() if s["duration_s"] is not None and s["duration_s"] < 0)


def test_a_host_ahead_is_measured_named_and_put_back_in_order(skewed_host, lab_env, hosts_file, tmp_path):
    assert "evidence processes on the skewed clock" in skewed_host
    offset, _ = measured_offset(hosts_file)
    assert offset == pytest.approx(SKEW_S, abs=0.1)  # what the skew did, before the boot

    folder = tmp_path / "run"
    proc = bootprobe(lab_env, "run", "--count", "1", "--volume-size", "1", "--hosts", str(hosts_file),
                     "--output", str(folder))
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    result = json.loads((folder / "result.json").read_text())

    # The offset measured at collection, applied, and said in the header.
    (host,) = [h for h in result["hosts"] if h["name"] == HOST]
    assert host["clock_offset_s"] == pytest.approx(SKEW_S, abs=0.1), host
    assert host["clock_offset_applied"] and host["clock_rtt_s"] < 0.05
    said = [line for line in proc.stdout.splitlines() if line.startswith("clock offsets applied: ")]
    assert said and f"{HOST} +{host['clock_offset_s']:.3f} s (\u00b1" in said[0], proc.stdout[:2000]

    # In order: no stage ends before it starts, client-to-server stages take what they took.
    applied = by_number(result)
    observed = [n for n, s in applied.items() if s["status"] != "unobserved"]
    assert len(observed) >= 50, [(n, s["reason"]) for n, s in applied.items() if n not in observed]
    assert negative(applied) == [], [(n, applied[n]["duration_s"], applied[n]["reason"]) for n in negative(applied)]
    assert not [n for n, s in applied.items() if "clock offset" in (s["reason"] or "")]
    for number in (1, 4, 55):  # the client's request -> the service's line of it
        assert 0 <= applied[number]["duration_s"] < 1.0, applied[number]

    # The same logs with the offsets forced to 0: the skew shows.
    out = tmp_path / "ignored.json"
    again = bootprobe(lab_env, "analyze", str(folder / "logs"), "--no-clock-offsets", "--output", str(out))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "clock offsets NOT applied (each host's lines on its own clock): bootlab1 +1." in again.stdout
    ignored = by_number(json.loads(out.read_text()))
    assert negative(ignored), "without the offset some stage should end before it starts"
    assert all("clock offset" in ignored[n]["reason"] for n in negative(ignored))
    for number in (1, 4, 55):
        assert ignored[number]["duration_s"] == pytest.approx(applied[number]["duration_s"] + SKEW_S, abs=0.1)
    backwards = ", ".join(f"{n}: {ignored[n]['duration_s']:+.3f} s" for n in negative(ignored))
    print(f"{HOST}: offset {host['clock_offset_s']:+.4f} s \u00b1{host['clock_rtt_s'] * 500:.1f} ms; "
          f"{len(observed)}/58 observed, none negative; forced to 0: {backwards}")
