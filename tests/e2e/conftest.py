"""End-to-end checks on the deployed lab (`make e2e` deploys it first)."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = pathlib.Path(sys.executable).parent
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


@pytest.fixture(scope="session")
def lab_env(clouds_yaml):
    return {**os.environ, "OS_CLIENT_CONFIG_FILE": clouds_yaml, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}


def run_then_ctrl_c(args, env, ready, what, timeout=120):
    """Start a bootprobe command as a terminal would (SIGINT at its default: a runner
    started in the background ignores it, and the child would inherit that), send it
    Ctrl-C once ``ready()`` holds, and return (exit code, stdout, stderr)."""
    import signal
    import time

    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, f"{what} never appeared"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err
