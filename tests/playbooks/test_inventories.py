"""The inventories shipped with bootlab (inventory/*, inventory/examples/*) parse, give
every lab host a role, keep their state apart, and share the lab-wide files with the
default lab. The multi-node lab's addresses and interface names fit its bridges."""
import ipaddress
import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
ANSIBLE_INVENTORY = str(pathlib.Path(sys.executable).parent / "ansible-inventory")
# inventory/libvirt-test holds a lab VM and no OpenStack: the libvirt provider's test (make e2e-libvirt).
PROVIDER_TESTS = {ROOT / "inventory/libvirt-test"}
INVENTORIES = sorted(p for p in [*ROOT.glob("inventory/*/hosts.yml"), *ROOT.glob("inventory/examples/*/hosts.yml")]
                     if not p.parent.is_symlink() and p.parent not in PROVIDER_TESTS)
ROLE_GROUPS = {"controller", "network", "compute", "storage", "ceph"}
# Files every lab shares word for word (a lab's own choices live in lab.yml).
SHARED = ["openstack.yml", "secrets.yml"]


def listed(inventory: pathlib.Path) -> dict:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    proc = subprocess.run([ANSIBLE_INVENTORY, "-i", str(inventory.parent), "--list"], capture_output=True,
                          text=True, cwd=ROOT, env=env, check=True, timeout=120)
    return json.loads(proc.stdout)


def hosts_of(data: dict, group: str) -> list[str]:
    return sorted(data.get(group, {}).get("hosts", []))


def lab_vars(inventory: pathlib.Path) -> dict:
    return yaml.safe_load((inventory.parent / "group_vars/all/lab.yml").read_text())


@pytest.mark.parametrize("inventory", INVENTORIES, ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_every_lab_host_has_a_role(inventory):
    data = listed(inventory)
    lab_hosts = hosts_of(data, "lab_hosts")
    assert lab_hosts
    assert len(hosts_of(data, "controller")) == 1
    for host in lab_hosts:
        assert any(host in hosts_of(data, g) for g in ROLE_GROUPS), f"{host} is in no role group"
    for group in ROLE_GROUPS:
        assert set(hosts_of(data, group)) <= set(lab_hosts), f"{group} names a host outside lab_hosts"
    addresses = [data["_meta"]["hostvars"][h]["ansible_host"] for h in lab_hosts]
    assert len(set(addresses)) == len(addresses)


@pytest.mark.parametrize("inventory", INVENTORIES, ids=lambda p: str(p.parent.relative_to(ROOT)))
@pytest.mark.parametrize("name", SHARED)
def test_lab_wide_files_match_the_default_lab(inventory, name):
    assert (inventory.parent / "group_vars/all" / name).read_text() == \
        (ROOT / "inventory/local/group_vars/all" / name).read_text()


def test_each_lab_keeps_its_own_state():
    names = [lab_vars(inv)["bootlab_lab_name"] for inv in INVENTORIES]
    assert len(set(names)) == len(names), names


def test_multinode_lab_separates_the_roles():
    data = listed(ROOT / "inventory/local-multinode/hosts.yml")
    controller, compute, ceph = (hosts_of(data, g) for g in ("controller", "compute", "ceph"))
    assert len(controller) == len(compute) == len(ceph) == 1
    assert len(set(controller + compute + ceph)) == 3
    assert hosts_of(data, "network") == controller
    assert hosts_of(data, "lab_hosts") == sorted(controller + compute + ceph)


def test_multinode_lab_fits_its_bridges():
    data = listed(ROOT / "inventory/local-multinode/hosts.yml")
    hostvars = data["_meta"]["hostvars"]
    taken = {}
    for other in ("local", "devstack"):
        for h, v in listed(ROOT / f"inventory/{other}/hosts.yml")["_meta"]["hostvars"].items():
            if "lab_host_nspawn_gateway" in v:
                taken[h] = ipaddress.ip_network(f"{v['lab_host_nspawn_gateway']}/{v['lab_host_nspawn_prefix']}",
                                                strict=False)
    for host in hosts_of(data, "lab_hosts"):
        v = hostvars[host]
        assert v["lab_host_provider"] == "nspawn"
        net = ipaddress.ip_network(f"{v['lab_host_nspawn_gateway']}/{v['lab_host_nspawn_prefix']}", strict=False)
        assert ipaddress.ip_address(v["ansible_host"]) in net
        assert v["ansible_host"] != v["lab_host_nspawn_gateway"]
        assert not any(net.overlaps(n) for n in taken.values()), f"{net} overlaps another lab's link"
        assert v["lab_host_nspawn_bridge"] and v["lab_host_nspawn_provider_bridge"]
        assert v["lab_host_nspawn_bridge"] != v["lab_host_nspawn_provider_bridge"]
        # The veth names lab_host derives (defaults/main.yml): 15 characters at most.
        for prefix in ("ve-", "vp-"):
            assert len(prefix + host[:12]) <= 15 and host not in taken
    assert len({(prefix + h[:12]) for h in hosts_of(data, "lab_hosts") for prefix in ("ve-", "vp-")}) == 6
    assert lab_vars(ROOT / "inventory/local-multinode/hosts.yml")["neutron_physical_interface"] == \
        hostvars[hosts_of(data, "compute")[0]]["lab_host_nspawn_provider_interface"]
