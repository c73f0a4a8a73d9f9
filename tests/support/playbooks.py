"""Throw-away inventories for the playbook tests: one lab host, ``ghost``, and the control
machine as ``localhost``; the real playbooks run against them (127.0.0.1 only)."""
import os
import pathlib
import subprocess
import sys

import yaml

from tests.support import ROOT

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
