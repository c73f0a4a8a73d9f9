"""The nightly driver's converge check (scripts/nightly.py): the recap read per host, every
changed task named in the JUnit failure with the lab's secrets masked."""
from __future__ import annotations

import importlib.util
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("nightly", ROOT / "scripts/nightly.py")
nightly = importlib.util.module_from_spec(spec)
sys.modules["nightly"] = nightly
spec.loader.exec_module(nightly)

# The shape of ansible-playbook's output with ANSIBLE_DISPLAY_OK_HOSTS/SKIPPED_HOSTS=false --diff.
CHANGED = """
PLAY [Compute] *****************************************************************

TASK [nova : Configure nova.conf] **********************************************
--- before: /etc/nova/nova.conf
+++ after: /etc/nova/nova.conf
@@ -12 +12 @@
-debug = false
+debug = true
changed: [bootlab1]

TASK [nova : Secret task] ******************************************************
changed: [bootlab1]
password=s3cretvalue123

RUNNING HANDLER [nova : Restart nova-compute] **********************************
changed: [bootlab1]

PLAY RECAP *********************************************************************
bootlab1                   : ok=210  changed=3    unreachable=0    failed=0    skipped=12   rescued=0    ignored=0
localhost                  : ok=12   changed=0    unreachable=0    failed=0    skipped=3    rescued=0    ignored=0
"""

CLEAN = """
PLAY RECAP *********************************************************************
bootlab1                   : ok=210  changed=0    unreachable=0    failed=0    skipped=12   rescued=0    ignored=0
"""


def test_recap_per_host():
    assert nightly.recap(CHANGED) == {"bootlab1": {"changed": 3, "unreachable": 0, "failed": 0},
                                      "localhost": {"changed": 0, "unreachable": 0, "failed": 0}}


def test_converge_junit_names_every_changed_task_and_masks_secrets():
    xml, problems = nightly.converge_junit(CHANGED, 0, ["s3cretvalue123"])
    assert problems == ["bootlab1: changed=3; changed: nova : Configure nova.conf; nova : Secret task; "
                        "nova : Restart nova-compute"]
    suite = ET.fromstring(xml)
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    failure = suite.find("testcase/failure")
    assert "+debug = true" in failure.text
    assert "s3cretvalue123" not in xml and "password=***" in failure.text


def test_converge_clean_and_broken():
    xml, problems = nightly.converge_junit(CLEAN, 0, [])
    assert problems == [] and ET.fromstring(xml).get("failures") == "0"
    _, problems = nightly.converge_junit("ERROR! the playbook could not be found", 1, [])
    assert problems == ["ansible-playbook exited 1 without a PLAY RECAP"]
    _, problems = nightly.converge_junit(CLEAN, 2, [])
    assert problems == ["ansible-playbook exited 2"]


def test_junit_counts(tmp_path):
    path = tmp_path / "h.xml"
    path.write_text('<testsuites><testsuite name="bootlab.health" tests="3" failures="1" errors="0" '
                    'skipped="1"><testcase classname="test_health" name="test_a"/>'
                    '<testcase classname="test_health" name="test_b"><failure message="x"/></testcase>'
                    '<testcase classname="test_health" name="test_c"><skipped/></testcase>'
                    '</testsuite></testsuites>')
    assert nightly.junit_counts(path) == {"tests": 3, "failures": 1, "errors": 0, "skipped": 1,
                                          "failed": ["test_health::test_b"]}
