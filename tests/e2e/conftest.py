"""End-to-end checks on the deployed lab (`make e2e` deploys it first)."""
import pathlib
import subprocess
import sys

import pytest

from tests.support import labtests
from tests.support.labtests import INVENTORY, ROOT, assert_no_secret, lab_environment, labvar  # noqa: F401

VENV_BIN = pathlib.Path(sys.executable).parent

# The session fixture, for this folder's tests (a fixture parameter of that name is no redefinition).
clouds_yaml = labtests.clouds_yaml


@pytest.fixture(scope="session")
def lab_env(clouds_yaml):
    return lab_environment(clouds_yaml)


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
