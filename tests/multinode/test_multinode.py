"""bootprobe run on the multi-node lab: three boots whose evidence comes from the
three lab hosts, each stage from the host that runs its actor (the DHCP reply from
the controller's dnsmasq, the guest's QEMU on the compute host, the image's
objects from the Ceph host), and the report printed."""
import json
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from conftest import INVENTORY, ROOT, VENV_BIN, labvar


def group(name):
    out = subprocess.run([str(VENV_BIN / "ansible-inventory"), "-i", INVENTORY, "--list"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return sorted(json.loads(out.stdout)[name]["hosts"])


@pytest.fixture(scope="module")
def hosts_file():
    return Path(labvar("bootlab_probe_hosts_file"))


@pytest.fixture(scope="module")
def three_boots(lab_env, hosts_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run3")
    proc = subprocess.run([str(VENV_BIN / "bootprobe"), "run", "--os-cloud", "bootlab", "--count", "3",
                           "--volume-size", "1", "--fresh-image", "--hosts", str(hosts_file),
                           "--output", str(folder)],
                          capture_output=True, text=True, cwd=ROOT, env=lab_env, check=False, timeout=1800)
    print(proc.stdout)
    return proc, folder


def test_hosts_file_lists_every_lab_host(hosts_file):
    listed = yaml.safe_load(hosts_file.read_text())["hosts"]
    assert sorted(h["name"] for h in listed) == group("lab_hosts")
    assert len(listed) == 3
    assert len({h["address"] for h in listed}) == 3


def evidence_by_host(boot):
    """{host: {stage number, ...}} of one boot's evidence lines."""
    hosts = defaultdict(set)
    for stage in boot["stages"]:
        for line in stage["evidence"]:
            hosts[line["host"]].add(stage["number"])
    return hosts


def sources_on(boot, host):
    return {e["source"] for s in boot["stages"] for e in s["evidence"] if e["host"] == host}


def test_three_boots_with_evidence_from_every_host(three_boots):
    proc, folder = three_boots
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    result = json.loads((folder / "result.json").read_text())
    assert len(result["boots"]) == 3
    (controller,), (compute,), (ceph,) = group("controller"), group("compute"), group("ceph")
    for boot in result["boots"]:
        by_host = evidence_by_host(boot)
        assert {controller, compute, ceph} <= set(by_host), dict(by_host)
        observed = [s for s in boot["stages"] if s["status"] != "unobserved"]
        print(f"boot {boot['index']}: {len(observed)}/58 observed, end to end {boot['end_to_end_s']:.1f} s; "
              + ", ".join(f"{h}: {len(n)} stages" for h, n in sorted(by_host.items())))
        assert len(observed) >= 50, [(s["number"], s["reason"]) for s in boot["stages"] if s not in observed]
        # Each actor's evidence comes from the host that runs it.
        assert any("dnsmasq" in src for src in sources_on(boot, controller)), sources_on(boot, controller)
        assert any("nova-compute" in src or "libvirt" in src for src in sources_on(boot, compute)), \
            sources_on(boot, compute)
        assert any("ceph" in src for src in sources_on(boot, ceph)), sources_on(boot, ceph)
        assert not any("dnsmasq" in src for src in sources_on(boot, compute))
