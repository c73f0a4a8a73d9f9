"""``bootprobe smoke`` with the real CLI and the real openstacksdk, where no
lab is needed: a cloud missing from clouds.yaml, a Keystone nobody listens on.
Boots, failed boots, Ctrl-C and --keep are tested on the real lab (tests/e2e).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from probes.cli import main
from tests.support import ROOT

REPO = ROOT
SECRETS = ("probe-SECRET-pw",)


@pytest.fixture(autouse=True)
def clean_os_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("OS_"):
            monkeypatch.delenv(name)


def run_cli(monkeypatch, capsys, clouds_yaml: Path, *args: str):
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml))
    code = main(["smoke", "--os-cloud", "fake", *args])
    out, err = capsys.readouterr()
    for secret in SECRETS:
        assert secret not in out + err
    return code, out, err


def test_exit_2_when_the_cloud_is_not_in_clouds_yaml(tmp_path):
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n"
        "  bootlab-admin:\n"
        "    auth:\n"
        "      auth_url: http://127.0.0.1:9/v3\n"
        "      username: admin\n"
        "      password: probe-SECRET-pw\n"
        "      project_name: admin\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    proc = subprocess.run(
        [sys.executable, "-m", "probes", "smoke", "--os-cloud", "nosuch"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "cloud 'nosuch' is not in " + str(clouds) in proc.stderr
    assert "clouds there: bootlab-admin" in proc.stderr
    assert "next: pass --os-cloud" in proc.stderr
    assert "probe-SECRET-pw" not in proc.stdout + proc.stderr
    assert proc.stdout == ""


def test_exit_3_when_keystone_refuses_the_connection(tmp_path, monkeypatch, capsys):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  fake:\n    auth:\n"
        f"      auth_url: http://127.0.0.1:{port}/v3\n"
        "      username: probe\n      password: probe-SECRET-pw\n"
        "      project_name: probe\n      user_domain_name: Default\n"
        "      project_domain_name: Default\n"
    )
    code, out, err = run_cli(monkeypatch, capsys, clouds)
    assert code == 3
    assert f"could not reach Keystone at http://127.0.0.1:{port}/v3" in err
    assert "Connection refused" in err
