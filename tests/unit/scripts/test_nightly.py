"""The nightly driver's converge check (scripts/nightly.py): the recap read per host, every
changed task named in the JUnit failure with the lab's secrets masked."""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import nightly  # scripts/nightly.py (pyproject.toml: pytest's pythonpath)
from tests.support import ROOT

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


# ---- the whole driver, with stand-ins for ansible-playbook, pytest and bootprobe -------

FAKE_PLAYBOOK = f'''#!{sys.executable}
import os, sys
sys.stdout.write(open(os.environ["FAKE_CONVERGE_OUTPUT"]).read())
'''
FAKE_PYTEST = f'''#!{sys.executable}
import os, sys
path = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--junitxml="))
failed = os.environ.get("FAKE_HEALTH") == "failed"
open(path, "w").write('<testsuites><testsuite name="bootlab.health" tests="2" failures="%d" errors="0" '
                      'skipped="0"><testcase classname="test_health" name="test_ceph_health_ok">%s</testcase>'
                      '<testcase classname="test_health" name="test_clocks_agree"/></testsuite></testsuites>'
                      % (failed, '<failure message="HEALTH_WARN"/>' if failed else ''))
sys.exit(1 if failed else 0)
'''
FAKE_BOOTPROBE = f'''#!{sys.executable}
import os, shutil, sys
out = sys.argv[sys.argv.index("--output") + 1]
os.makedirs(out + "/logs")
open(out + "/logs/boots.json", "w").write("[]")
shutil.copyfile(os.environ["FAKE_RESULT"], out + "/result.json")
print("boots", " ".join(sys.argv[1:]))
'''


def run_night(tmp_path, name, result, converge=CLEAN, health="passed", extra=()):
    import json
    import os
    import subprocess

    tools = tmp_path / "tools"
    if not tools.exists():
        tools.mkdir()
        for tool, text in (("ansible-playbook", FAKE_PLAYBOOK), ("pytest", FAKE_PYTEST),
                           ("bootprobe", FAKE_BOOTPROBE)):
            (tools / tool).write_text(text)
            (tools / tool).chmod(0o755)
    (tmp_path / "converge.out").write_text(converge)
    (tmp_path / f"{name}.json").write_text(json.dumps(result))
    env = {**os.environ, "BOOTLAB_NIGHTLY_ANSIBLE_PLAYBOOK": str(tools / "ansible-playbook"),
           "BOOTLAB_NIGHTLY_PYTEST": str(tools / "pytest"), "BOOTLAB_NIGHTLY_BOOTPROBE": str(tools / "bootprobe"),
           "FAKE_CONVERGE_OUTPUT": str(tmp_path / "converge.out"), "FAKE_HEALTH": health,
           "FAKE_RESULT": str(tmp_path / f"{name}.json")}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/nightly.py"), "--output", str(tmp_path / "nights"),
                           "--night", name, "--count", "3", *extra], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    summary = json.loads((tmp_path / "nights" / name / "summary.json").read_text())
    return proc, {s["name"]: s for s in summary["steps"]}


def test_nights_write_every_artifact_and_exit_by_what_failed(tmp_path):
    from tests.support.nights import night

    nights = tmp_path / "nights"
    proc, steps = run_night(tmp_path, "1-clean", night(1))
    assert proc.returncode == 0, proc.stderr[-2000:]
    for artifact in ("converge.log", "converge.junit.xml", "health.log", "health.junit.xml", "boots.log",
                     "result.json", "report.html", "stages.junit.xml", "compare.txt", "compare.json",
                     "summary.json"):
        assert (nights / "1-clean" / artifact).is_file(), artifact
    assert (nights / "baseline.json").is_file() and steps["compare"]["status"] == "skipped"
    assert "--fresh-image" in (nights / "1-clean" / "boots.log").read_text()

    proc, steps = run_night(tmp_path, "2-slow", night(2, slow={53: 1.0}))
    assert proc.returncode == 1, proc.stdout
    assert steps["compare"]["facts"]["regressed"] == [53]
    assert "regressed: stage 53 0.025 s -> 1.025 s" in proc.stdout
    failed = [c.get("name") for c in ET.parse(nights / "2-slow" / "stages.junit.xml").getroot().iter("testcase")
              if c.find("failure") is not None]
    assert failed == ["stage 53: Neutron_metadata_proxy -> Nova-api-metadata: http rest add uuid into X-headers"]

    proc, steps = run_night(tmp_path, "3-drift", night(3), converge=CHANGED)
    assert proc.returncode == 3 and steps["converge"]["status"] == "failed"
    assert "nova : Configure nova.conf" in steps["converge"]["detail"]

    proc, steps = run_night(tmp_path, "4-unhealthy", night(4), health="failed", extra=["--converge", "skip"])
    assert proc.returncode == 4 and "test_health::test_ceph_health_ok" in steps["health"]["detail"]
    assert steps["converge"]["status"] == "skipped" and steps["compare"]["status"] == "passed"

    trend = (nights / "trend.csv").read_text().splitlines()
    assert len(trend) == 1 + 4 * 59
    assert any(line.startswith("2-slow,") and ",53," in line and ",up," in line for line in trend)
    assert 'id="stage-53"' in (nights / "trend.html").read_text()

    proc, _ = run_night(tmp_path, "5-clean", night(5), extra=["--update-baseline"])
    assert proc.returncode == 0


def test_a_night_whose_logs_were_not_collected_fails(tmp_path):
    from tests.support.nights import night

    run_night(tmp_path, "1-clean", night(1))
    lost = night(2)
    lost["hosts"][0]["error"] = "collection stopped: SSHException: Timeout opening channel."
    for boot in lost["boots"]:
        for stage in boot["stages"]:
            if stage["number"] >= 52:
                stage.update(status="unobserved", duration_s=None)
    from probes.summary import summarize
    lost["summary"] = summarize(lost["boots"])
    proc, steps = run_night(tmp_path, "2-lost", lost)
    assert proc.returncode == 5, proc.stdout
    assert "logs not collected: bootlab1: collection stopped" in steps["boots"]["detail"]
    assert steps["compare"]["status"] == "failed" and 53 in steps["compare"]["facts"]["regressed"]
    assert "stage 53 no longer observed" in steps["compare"]["detail"]
