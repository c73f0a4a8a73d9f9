"""The multi-node lab's checks (`make e2e-multinode` deploys it first): the lab is the
inventory in BOOTLAB_INVENTORY, inventory/local-multinode by default."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = pathlib.Path(sys.executable).parent
INVENTORY = os.environ.get("BOOTLAB_INVENTORY", str(ROOT / "inventory/local-multinode"))


def labvar(name: str, host: str = "localhost") -> str:
    out = subprocess.run([sys.executable, str(ROOT / "scripts/labvar.py"), "-i", INVENTORY, "--host", host, name],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.strip()


@pytest.fixture(scope="session")
def lab_env():
    path = labvar("bootlab_clouds_yaml")
    if not os.path.exists(path):
        pytest.fail(f"{path} does not exist: deploy the lab first (make lab INVENTORY={INVENTORY})")
    return {**os.environ, "OS_CLIENT_CONFIG_FILE": path, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
