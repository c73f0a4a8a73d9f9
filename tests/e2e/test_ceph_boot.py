"""The lab with Ceph: an instance boots from the Glance image (held by the
RADOS Gateway) with a 1 GiB Cinder volume attached at boot; its disk and the
volume are RBD images, and the gateway logs the image download of that boot."""
import json
import re
import subprocess

import pytest
from conftest import INVENTORY, ROOT, VENV_BIN, labvar


def on_lab(host: str, command: str) -> str:
    proc = subprocess.run([str(VENV_BIN / "ansible"), "-i", INVENTORY, host, "-o", "-m", "ansible.builtin.shell",
                           "-a", command], capture_output=True, text=True, cwd=ROOT, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.split(">>", 1)[1] if ">>" in proc.stdout else proc.stdout


@pytest.fixture(scope="module")
def ceph_host():
    hosts = json.loads(labvar("groups['ceph'] | default([])"))
    if not hosts:
        pytest.skip("this lab has no ceph group")
    return hosts[0]


def test_boot_with_volume_on_ceph(lab_env, ceph_host):
    compute = json.loads(labvar("groups['compute']"))[0]
    # First boot of the image on this compute host: Nova keeps a copy in
    # _base after a download, which would spare the gateway the GET.
    on_lab(compute, "rm -f /var/lib/nova/instances/_base/*")
    rgw_log = f"/var/log/ceph/ceph-client.rgw.{ceph_host}.log"
    before = int(on_lab(ceph_host, f"wc -l < {rgw_log}").strip().split()[-1])

    proc = subprocess.run([str(VENV_BIN / "bootprobe"), "smoke", "--os-cloud", "bootlab", "--json", "--keep",
                           "--volume-size", "1"], capture_output=True, text=True, cwd=ROOT, env=lab_env,
                          check=False, timeout=900)
    result = json.loads(proc.stdout)
    server = result["server_id"]
    try:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert result["metadata_matches"]
        disks = on_lab(ceph_host, "rbd ls vms")
        assert f"{server}_disk" in disks
        volumes = on_lab(ceph_host, "rbd ls volumes")
        assert re.search(r"volume-[0-9a-f-]{36}", volumes), volumes
        attached = on_lab(compute, "virsh dumpxml $(virsh list --name | head -1) | grep -c \"protocol='rbd'\"")
        assert int(attached.strip().split()[-1]) >= 2, "root disk and volume should both be RBD"
        new_lines = on_lab(ceph_host, f"tail -n +{before + 1} {rgw_log} | grep -F 'GET /swift/v1/glance/'")
        assert f"GET /swift/v1/glance/{result['image_id']}" in new_lines
    finally:
        subprocess.run([str(VENV_BIN / "python"), "-c",
                        "import openstack,sys; c=openstack.connect(cloud='bootlab'); "
                        "s=c.compute.get_server(sys.argv[1]); c.compute.delete_server(s); "
                        "c.compute.wait_for_delete(s, wait=180)", server],
                       env=lab_env, check=False, timeout=300)
