"""A boot the probe did not shape: the plain `openstack` CLI on the lab's controller
(no request id set by the client), analysed from the collected logs alone."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, labvar


@pytest.fixture(scope="module")
def cli_boot(tmp_path_factory, lab_env):
    out = tmp_path_factory.mktemp("cli-boot")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/cli-boot.py"), str(out), "--cold"],
                          capture_output=True, text=True, cwd=ROOT, env=lab_env, timeout=900,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_the_cli_boot_is_found_and_observed_from_its_logs_alone(cli_boot):
    record = json.loads((cli_boot / "boot.json").read_text())
    result = json.loads((cli_boot / "result.json").read_text())
    [boot] = [b for b in result["boots"] if b["server_id"] == record["server_id"]]
    stages = boot["stages"]
    observed = [s["number"] for s in stages if s["status"] != "unobserved"]
    assert len(observed) >= 54, [(s["number"], s["reason"]) for s in stages
                                 if s["status"] == "unobserved"]
    assert boot["keys"]["global_request_id"].startswith("req-")  # nova's own id: the CLI set none
    for number in (1, 4, 7, 55, 58):
        assert "no client record" in stages[number - 1]["note"]


def test_the_collected_bundle_holds_no_lab_secret(cli_boot):
    folder = Path(labvar("bootlab_state_dir")) / "secrets"
    secrets = [p.read_text().strip() for p in folder.iterdir() if len(p.read_text().strip()) >= 8]
    assert secrets
    for path in cli_boot.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            for secret in secrets:
                assert secret not in text, f"{path} holds a lab secret"
