"""The DevStack flavor, as far as it can be tested without opendev.org: the
local.conf it renders switches on the same evidence as the distro flavor, and
the playbooks parse with the flavor selected."""
import os
import pathlib
import stat
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


def ansible(cmd, *args, env=None):
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", **(env or {})}
    return subprocess.run([str(BIN / cmd), *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          check=False, timeout=300)


def test_local_conf_switches_evidence_on(tmp_path):
    dest = tmp_path / "local.conf"
    state = tmp_path / "state"
    proc = ansible("ansible-playbook", "tests/playbooks/render_devstack.yml",
                   "-e", f"devstack_localconf_dest={dest}", "-e", f"bootlab_state_dir={state}")
    assert proc.returncode == 0, proc.stdout[-3000:]
    text = dest.read_text()
    password = (state / "secrets/admin").read_text().split()[0]
    assert f"ADMIN_PASSWORD={password}" in text
    assert password not in proc.stdout + proc.stderr
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert "LIBVIRT_TYPE=qemu" in text
    assert "Q_AGENT=linuxbridge" in text
    assert "HOST_IP=10.233.0.2" in text
    assert "ENABLE_DEBUG_LOG_LEVEL=True" in text
    assert text.count("oslo.messaging=DEBUG") >= 4  # nova, neutron, cinder, glance
    assert "dnsmasq_base_log_dir" in text


def test_devstack_flavor_playbooks_parse():
    proc = ansible("ansible-playbook", "--syntax-check", "playbooks/site.yml",
                   "-e", "bootlab_openstack_flavor=devstack")
    assert proc.returncode == 0, proc.stdout + proc.stderr
