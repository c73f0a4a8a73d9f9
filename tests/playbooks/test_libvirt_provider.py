"""The libvirt provider's checks and cloud image cache, run for real on this machine
with no VM: a cloud image from a local file:// URL (no download), bad input named
before anything is created. The whole provider runs in `make e2e-libvirt`."""
import hashlib
import os
import shutil
import subprocess

import pytest
import yaml

from tests.support.playbooks import flat, inventory, run

# scripts/install-deps.sh installs qemu-utils: in CI a missing qemu-img fails these tests.
if shutil.which("qemu-img") is None and os.environ.get("CI") != "true":
    pytestmark = pytest.mark.skip(reason="needs qemu-img (qemu-utils; scripts/install-deps.sh installs it)")


@pytest.fixture()
def cloud_image(tmp_path):
    """A small qcow2 standing for a downloaded cloud image, and its sha256."""
    src = tmp_path / "src/tiny-cloud.qcow2"
    src.parent.mkdir()
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(src), "16M"], check=True)
    return src, hashlib.sha256(src.read_bytes()).hexdigest()


def fetch(tmp_path, url: str, checksum: str) -> subprocess.CompletedProcess:
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1"})
    return run(inv, "tests/playbooks/libvirt_cloud_image.yml",
               "-e", f"lab_host_libvirt_image_dir={tmp_path / 'images'}",
               "-e", f"lab_host_libvirt_cloud_image_url={url}",
               "-e", f"lab_host_libvirt_cloud_image_checksum={checksum}")


def test_cloud_image_is_checked_and_cached(tmp_path, cloud_image):
    src, digest = cloud_image
    proc = fetch(tmp_path, src.as_uri(), f"sha256:{digest}")
    assert proc.returncode == 0, proc.stdout[-3000:]
    cached = tmp_path / "images/cache/tiny-cloud.qcow2"
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == digest
    assert f"base {cached} format qcow2" in flat(proc.stdout)
    assert "changed: [localhost]" in proc.stdout
    # Cached: a second run takes the file it has (the checksum still matches).
    again = fetch(tmp_path, src.as_uri(), f"sha256:{digest}")
    assert again.returncode == 0, again.stdout[-3000:]
    assert "changed=0" in again.stdout


def test_cloud_image_with_wrong_checksum_is_refused(tmp_path, cloud_image):
    src, digest = cloud_image
    wrong = digest[::-1]
    proc = fetch(tmp_path, src.as_uri(), f"sha256:{wrong}")
    assert proc.returncode != 0
    out = flat(proc.stdout)
    assert "checksum" in out.lower() and wrong in out, out[-2000:]
    assert not (tmp_path / "images/cache/tiny-cloud.qcow2").exists()


def test_cloud_image_without_checksum_is_named(tmp_path):
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1", "lab_host_provider": "libvirt",
                               "lab_host_libvirt_image": "cloud",
                               "lab_host_libvirt_cloud_image_url": "file:///nowhere/image.qcow2"})
    proc = run(inv)
    assert proc.returncode != 0
    assert ("Lab VM ghost boots a cloud image (lab_host_libvirt_image: cloud): give its "
            "lab_host_libvirt_cloud_image_url and lab_host_libvirt_cloud_image_checksum") in flat(proc.stdout)


def test_hypervisor_outside_the_group_is_named(tmp_path):
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1", "lab_host_provider": "libvirt"})
    proc = run(inv)
    assert proc.returncode != 0
    assert ("Lab VM ghost runs on localhost, which was not prepared in this run: put localhost in the "
            "inventory group `hypervisors`") in flat(proc.stdout)
    # Nothing was created for the VM.
    assert not (tmp_path / "state/ssh/hostkeys").exists()


def test_unknown_domain_type_is_named(tmp_path):
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1", "lab_host_provider": "libvirt"})
    text = yaml.safe_load(inv.read_text())
    text["all"]["children"]["hypervisors"] = {"hosts": {"localhost": {"lab_host_libvirt_domain_type": "xen"}}}
    inv.write_text(yaml.safe_dump(text))
    proc = run(inv)
    assert proc.returncode != 0
    assert "lab_host_libvirt_domain_type must be one of: auto, kvm, qemu, got: xen" in flat(proc.stdout)
