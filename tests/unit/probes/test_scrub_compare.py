"""Secrets are masked in evidence lines; compare flags regressions with its exit code."""

from __future__ import annotations

import json
import subprocess
import sys

from probes.compare import compare
from probes.scrub import scrub
from tests.support import FIXTURES

RESULT = FIXTURES / "run-lab-20261126.json"


def test_scrub_masks_the_shapes_services_log_secrets_in():
    lines = {
        '-H "X-Auth-Token: {SHA256}abc123def" -H "Accept: application/json"': "abc123def",
        "transport_url = rabbit://openstack:S3cretPass@10.233.0.2:5672/": "S3cretPass",
        "connection=mysql+pymysql://nova:dbPass123@10.233.0.2/nova": "dbPass123",
        "{'password': 'hunter2hunter2', 'user': 'bootlab'}": "hunter2hunter2",
        "key = AQBxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789==": "AQBxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789==",
        "token gAAAAABn" + "x" * 60 + " issued": "gAAAAABn" + "x" * 60,
    }
    for line, secret in lines.items():
        assert secret not in scrub(line), line
    assert scrub("Starting instance...") == "Starting instance..."


def test_compare_same_result_has_no_regression():
    result = json.loads(RESULT.read_text())
    assert not any(d.regressed for d in compare(result, result))


def test_compare_cli_exit_code_says_regression(tmp_path):
    result = json.loads(RESULT.read_text())
    base = json.loads(RESULT.read_text())
    for row in base["summary"]["stages"]:
        if row["number"] == 26:
            row["p95_s"] = row["p95_s"] / 3
    (tmp_path / "base.json").write_text(json.dumps(base))
    (tmp_path / "new.json").write_text(json.dumps(result))
    proc = subprocess.run([sys.executable, "-m", "probes", "compare", str(tmp_path / "base.json"),
                           str(tmp_path / "new.json")], capture_output=True, text=True)
    assert proc.returncode == 1
    assert any(line.split()[0] == "26" and "REGRESSED" in line for line in proc.stdout.splitlines())
