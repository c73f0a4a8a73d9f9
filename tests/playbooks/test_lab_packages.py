"""Every role's packages in one apt transaction (role lab_packages): each lab host's list
holds the packages of the roles its groups run and no other, for the one-host lab and the
multi-node lab's three hosts. Listed on this machine from the roles' own variables."""
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


def listed(tmp_path, inventory):
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(ROOT / inventory), "tests/playbooks/list_packages.yml",
         "-e", f"packages_dir={tmp_path}"],
        capture_output=True, text=True, cwd=ROOT, env=env, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}


def test_one_host_lab_gets_every_role_at_once(tmp_path):
    packages = listed(tmp_path, "inventory/local")["bootlab1"]
    for package in ("chrony", "mariadb-server", "rabbitmq-server", "memcached", "ceph-mon", "radosgw",
                    "keystone", "python3-openstackclient", "glance", "placement-api", "neutron-server",
                    "neutron-linuxbridge-agent", "neutron-dhcp-agent", "nova-api", "nova-compute",
                    "libvirt-daemon-system", "cinder-api", "cinder-volume", "cpio"):
        assert package in packages
    assert len(packages) == len(set(packages))


def test_multinode_hosts_get_their_roles_only(tmp_path):
    hosts = listed(tmp_path, "inventory/local-multinode")
    assert sorted(hosts) == ["blmn-ceph", "blmn-cmp", "blmn-ctl"]
    ctl, cmp, ceph = hosts["blmn-ctl"], hosts["blmn-cmp"], hosts["blmn-ceph"]
    assert {"mariadb-server", "keystone", "nova-api", "neutron-dhcp-agent", "cinder-volume"} <= set(ctl)
    assert not {"nova-compute", "ceph-mon", "ceph-osd"} & set(ctl)
    # the compute host: nova-compute, the L2 agent, Ceph's client libraries (RBD disks)
    assert {"nova-compute", "libvirt-daemon-system", "neutron-linuxbridge-agent", "python3-rbd",
            "ceph-common", "chrony"} <= set(cmp)
    assert not {"nova-api", "neutron-server", "neutron-dhcp-agent", "mariadb-server", "ceph-mon",
                "cinder-volume", "keystone"} & set(cmp)
    assert {"ceph-mon", "ceph-mgr", "ceph-osd", "radosgw", "chrony"} <= set(ceph)
    assert not {"nova-compute", "keystone", "neutron-linuxbridge-agent", "mariadb-server"} & set(ceph)
