"""Bad input fails at the start with a sentence naming what is wrong, and
changes nothing. These run the real playbooks against throw-away inventories;
no lab is needed and no traffic leaves this machine (127.0.0.1 only)."""
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLAYBOOK = str(pathlib.Path(sys.executable).parent / "ansible-playbook")
# An unused ed25519 host key: only its presence in known_hosts matters here.
FAKE_HOSTKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb4H0PAWtR1yKMH8zeZp8J0rQXs1G8vq1ye7x8bqB1E"


def inventory(tmp_path: pathlib.Path, ghost_vars: dict) -> pathlib.Path:
    state = tmp_path / "state"
    inv = {"all": {
        "hosts": {"localhost": {"ansible_connection": "local",
                                "ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
        "vars": {"bootlab_state_dir": str(state), "ansible_user": "root",
                 "ansible_ssh_private_key_file": f"{state}/ssh/id_ed25519",
                 "ansible_ssh_common_args": f"-o UserKnownHostsFile={state}/ssh/known_hosts "
                                            "-o StrictHostKeyChecking=yes -o ConnectTimeout=3"},
        "children": {"lab_hosts": {"hosts": {"ghost": ghost_vars}}},
    }}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inv))
    return path


def flat(text: str) -> str:
    """Ansible's YAML callback folds long messages: compare on single spaces."""
    return " ".join(text.split())


def run(inv: pathlib.Path, playbook: str = "playbooks/lab_hosts.yml", *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run([PLAYBOOK, "-i", str(inv), playbook, *extra], capture_output=True, text=True,
                          cwd=ROOT, env=env, check=False, timeout=300)


def test_unknown_provider_is_named(tmp_path):
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1", "lab_host_provider": "vmware"})
    proc = run(inv)
    assert proc.returncode != 0
    out = flat(proc.stdout)
    assert "lab_host_provider must be one of: existing, nspawn, libvirt, got: vmware" in out
    # validation ran before anything: no key was generated
    assert not (tmp_path / "state/ssh/id_ed25519").exists()


def test_missing_state_dir_is_named(tmp_path):
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1", "lab_host_provider": "existing"})
    text = yaml.safe_load(inv.read_text())
    del text["all"]["vars"]["bootlab_state_dir"]
    inv.write_text(yaml.safe_dump(text))
    proc = run(inv)
    assert proc.returncode != 0
    assert "missing required arguments: bootlab_state_dir" in flat(proc.stdout)


def test_wrong_type_is_named(tmp_path):
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1", "lab_host_provider": "existing",
                               "lab_host_connect_timeout": "soon"})
    proc = run(inv)
    assert proc.returncode != 0
    assert "lab_host_connect_timeout" in flat(proc.stdout)
    assert "cannot be converted to an int" in flat(proc.stdout)


def test_unknown_host_key_is_refused(tmp_path):
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1", "ansible_port": 9, "lab_host_provider": "existing"})
    proc = run(inv)
    assert proc.returncode != 0
    assert "The SSH host key of ghost (127.0.0.1) is not in" in flat(proc.stdout)


def test_unreachable_host_is_named_with_reason(tmp_path):
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1", "ansible_port": 9, "lab_host_provider": "existing",
                               "lab_host_connect_timeout": 5})
    ssh_dir = tmp_path / "state/ssh"
    ssh_dir.mkdir(parents=True)
    (ssh_dir / "known_hosts").write_text(f"[127.0.0.1]:9 {FAKE_HOSTKEY}\n")
    proc = run(inv)
    assert proc.returncode != 0
    out = flat(proc.stdout)
    assert "Lab host ghost (127.0.0.1, provider existing) is unreachable over SSH after 5 s" in out
    assert "port 9: Connection refused" in out
