"""The libvirt provider end to end on this machine (`make e2e-libvirt`, not in CI).

One lab VM (inventory/libvirt-test: bootlab-lv1 on localhost) is made from the
locally built Debian image and booted under QEMU (TCG here: the KVM probe fails
on this machine), reached over SSH with a host key the control machine made and
recorded beforehand, converged with role `common` twice (the second run changes
nothing), then destroyed, leaving no VM, network, disk or seed behind.

The tests run in order and share the lab: each one needs the previous.
BOOTLAB_LIBVIRT_KEEP=1 skips the destroy (to look at the VM afterwards);
BOOTLAB_LIBVIRT_FRESH_IMAGE=1 deletes the base image first, so it is built again.
"""
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = pathlib.Path(sys.executable).parent
INVENTORY = ROOT / "inventory/libvirt-test"
CONVERGE = ROOT / "tests/libvirt/converge.yml"
DESTROY = ROOT / "playbooks/lab_hosts_destroy.yml"
LOGS = pathlib.Path(os.environ.get("BOOTLAB_LIBVIRT_LOGS", "/work/logs" if pathlib.Path("/work/logs").is_dir()
                                   else "/tmp"))
VM = "bootlab-lv1"
RECAP = re.compile(r"^(?P<host>\S+)\s+: ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
                   r"failed=(?P<failed>\d+)", re.M)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creates VMs and networks: run as root")


def labvars() -> dict:
    """The inventory's values the checks need (plain YAML: no templating needed here)."""
    hosts = yaml.safe_load((INVENTORY / "hosts.yml").read_text())
    group = yaml.safe_load((INVENTORY / "group_vars/all/lab.yml").read_text())
    vm = hosts["all"]["children"]["lab_hosts"]["hosts"][VM]
    state = pathlib.Path.home() / ".local/state/bootlab" / group["bootlab_lab_name"]
    return {**group, **vm, "state": state}


LAB = labvars()
IMAGE_DIR = pathlib.Path("/var/lib/libvirt/images/bootlab")
NETWORKS = [LAB["lab_host_libvirt_mgmt_network"], LAB["lab_host_libvirt_provider_network"]]
BRIDGES = [LAB["lab_host_libvirt_mgmt_bridge"], LAB["lab_host_libvirt_provider_bridge"]]


def playbook(path: pathlib.Path, log: str, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0"}
    start = time.monotonic()
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(INVENTORY), str(path), *extra],
                          capture_output=True, text=True, cwd=ROOT, env=env, check=False, timeout=3600)
    took = time.monotonic() - start
    (LOGS / f"libvirt-{log}.log").write_text(proc.stdout + proc.stderr)
    print(f"\n{log}: {took:.0f} s (rc {proc.returncode}, output in {LOGS}/libvirt-{log}.log)")
    return proc, took


def recap(output: str) -> dict[str, tuple[int, int, int]]:
    return {m["host"]: (int(m["changed"]), int(m["unreachable"]), int(m["failed"]))
            for m in RECAP.finditer(output)}


def changed_tasks(output: str) -> list[str]:
    blocks = re.split(r"\n(?=(?:TASK|RUNNING HANDLER) \[)", output)
    return [block.strip()[:600] for block in blocks if re.search(r"^changed: \[", block, re.M)]


def ssh(*command: str, known_hosts: pathlib.Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-i", str(LAB["state"] / "ssh/id_ed25519"),
         "-o", f"UserKnownHostsFile={known_hosts or LAB['state'] / 'ssh/known_hosts'}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
         f"root@{LAB['ansible_host']}", *command],
        capture_output=True, text=True, check=False, timeout=120)


def virsh(*args: str) -> list[str]:
    out = subprocess.run(["virsh", "--connect", "qemu:///system", *args], capture_output=True, text=True,
                         check=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def console_tail() -> str:
    log = pathlib.Path(f"/var/log/libvirt/qemu/{VM}-serial.log")
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no serial log)"


def test_0_start_from_nothing():
    """A VM left by an earlier run would hide the create path: destroy first."""
    fresh = os.environ.get("BOOTLAB_LIBVIRT_FRESH_IMAGE") == "1"
    proc, _ = playbook(DESTROY, "destroy-before",
                       *(["-e", "lab_host_libvirt_destroy_base_images=true"] if fresh else []))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert VM not in virsh("list", "--all", "--name")
    if fresh:
        assert not (IMAGE_DIR / "base").exists()


def test_1_create_and_converge():
    proc, took = playbook(CONVERGE, "converge-1")
    assert proc.returncode == 0, f"{proc.stdout[-5000:]}\n--- serial console ---\n{console_tail()}"
    result = recap(proc.stdout)
    assert result.get(VM, (0, 1, 1))[1:] == (0, 0), result
    flat = " ".join(proc.stdout.split())
    # The hypervisor says which accelerator and why (here: TCG, the KVM test guest fails).
    assert re.search(r"Lab VMs on localhost run under (KVM|QEMU TCG)", flat), flat[-3000:]
    assert "Nested virtualisation" in flat
    print(f"create + converge from nothing: {took:.0f} s")


def test_2_vm_is_what_the_inventory_says():
    assert VM in virsh("list", "--name"), "the VM is not running"
    xml = "\n".join(virsh("dumpxml", VM))
    assert "type='qemu'" in xml or "type='kvm'" in xml
    for network in NETWORKS:
        assert f"network='{network}'" in xml
    proc = ssh("hostname; ip -o -4 addr show eth0; ip route; cat /etc/apt/apt.conf.d/*proxy*; "
               "cloud-init status; nproc; free -m | awk '/Mem/ {print $2}'")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.splitlines()[0] == VM
    assert f"inet {LAB['ansible_host']}/{LAB['lab_host_libvirt_mgmt_prefix']}" in out
    # Isolated: no default route out of the lab network; apt goes through the hypervisor's cache.
    assert "default" not in out
    assert f"http://{LAB['lab_host_libvirt_mgmt_gateway']}:3142" in out
    assert "status: done" in out
    # The provider interface is up with no address (Neutron's flat network takes it).
    link = ssh("ip -br link show eth1; ip -o -4 addr show eth1")
    assert link.stdout.split()[1] == "UP" and "inet " not in link.stdout, link.stdout
    # common converged: chrony and journald as the role wants them.
    proc = ssh("systemctl is-active chrony; test -f /etc/systemd/journald.conf.d/bootlab.conf && echo journald-ok")
    assert proc.stdout.split() == ["active", "journald-ok"], proc.stdout + proc.stderr


def test_3_host_key_is_the_one_made_on_the_control_machine():
    pub = (LAB["state"] / f"ssh/hostkeys/{VM}_ed25519.pub").read_text().split()[:2]
    known = (LAB["state"] / "ssh/known_hosts").read_text().splitlines()
    assert f"{LAB['ansible_host']} {' '.join(pub)}" in known
    # What the VM serves is that key (and only an ed25519 key: none was generated in it).
    scan = subprocess.run(["ssh-keyscan", "-T", "10", LAB["ansible_host"]], capture_output=True, text=True,
                          check=False).stdout.split("\n")
    served = {tuple(line.split()[1:3]) for line in scan if line and not line.startswith("#")}
    assert served == {tuple(pub)}, served
    # And SSH refuses the VM under a known_hosts that does not vouch for it.
    empty = LAB["state"] / "ssh/known_hosts.empty-test"
    empty.write_text("")
    try:
        refused = ssh("true", known_hosts=empty)
    finally:
        empty.unlink()
    assert refused.returncode != 0 and "Host key verification failed" in refused.stderr, refused.stderr


def test_4_second_converge_changes_nothing():
    proc, took = playbook(CONVERGE, "converge-2", "--diff")
    assert proc.returncode == 0, proc.stdout[-4000:]
    result = recap(proc.stdout)
    changed = {host: r[0] for host, r in result.items() if r[0]}
    tasks = "\n\n".join(changed_tasks(proc.stdout))
    assert result and not changed, f"second run changed {changed}:\n{tasks}"
    print(f"second converge: {took:.0f} s")


@pytest.mark.skipif(os.environ.get("BOOTLAB_LIBVIRT_KEEP") == "1", reason="BOOTLAB_LIBVIRT_KEEP=1")
def test_5_destroy_leaves_nothing():
    proc, took = playbook(DESTROY, "destroy")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert VM not in virsh("list", "--all", "--name")
    nets = virsh("net-list", "--all", "--name")
    assert not set(NETWORKS) & set(nets), nets
    for bridge in BRIDGES:
        assert subprocess.run(["ip", "link", "show", bridge], capture_output=True, check=False).returncode != 0
    # Only the base image (a cache, kept unless lab_host_libvirt_destroy_base_images) stays.
    left = sorted(p.name for p in IMAGE_DIR.iterdir()) if IMAGE_DIR.exists() else []
    assert not [name for name in left if VM in name], left
    assert not (IMAGE_DIR / "seeds" / VM).exists()
    assert not pathlib.Path(f"/var/log/libvirt/qemu/{VM}-serial.log").exists()
    assert LAB["ansible_host"] + " " not in (LAB["state"] / "ssh/known_hosts").read_text()
    assert not (LAB["state"] / f"ssh/hostkeys/{VM}_ed25519").exists()
    print(f"destroy: {took:.0f} s")
