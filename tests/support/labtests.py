"""What the suites that run on a deployed lab share (tests/e2e, tests/faults): the lab's
inventory variables, its clouds.yaml, the environment commands against it run in, and the
check that no lab secret shows in what they print or write."""
import os
import subprocess
import sys

import pytest

from tests.support import ROOT

INVENTORY = os.environ.get("BOOTLAB_INVENTORY", str(ROOT / "inventory/local"))


def labvar(name: str) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "scripts/labvar.py"), "-i", INVENTORY, name],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.strip()


@pytest.fixture(scope="session")
def clouds_yaml() -> str:
    path = labvar("bootlab_clouds_yaml")
    if not os.path.exists(path):
        pytest.fail(f"{path} does not exist: deploy the lab first (make deploy)")
    return path


def lab_environment(clouds_yaml: str) -> dict[str, str]:
    """The environment of a command against the lab: its clouds.yaml, the project's ansible.cfg."""
    return {**os.environ, "OS_CLIENT_CONFIG_FILE": clouds_yaml, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}


def assert_no_secret(texts: dict[str, str], secrets: list[str]) -> None:
    for name, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a lab secret appears in {name}"
