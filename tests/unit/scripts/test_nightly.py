"""The nightly driver's converge check (scripts/nightly.py): ansible-core's junit and tree
callbacks' reports of a real ansible-playbook run read per host, every changed or failed task
named in the JUnit failures, an unreachable host a failing case of its own, the lab's secrets
masked."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import nightly  # scripts/nightly.py (pyproject.toml: pytest's pythonpath)
from tests.support import ROOT

SECRET = "s3cretvalue123"

# A tiny converge: alpha's config drifted (the copy changes it, its handler runs, a task
# prints a secret and says it changed), beta is in sync but a task fails on it, ghost is
# unreachable (nothing listens on 127.0.0.1:1).
PLAYBOOK = f"""
- name: Converge
  hosts: lab
  gather_facts: false
  tasks:
    - name: Configure the service
      ansible.builtin.copy:
        dest: "{{{{ conf_dir }}}}/{{{{ inventory_hostname }}}}.conf"
        content: "debug = true\\n"
        mode: "0644"
      notify: Restart the service
    - name: Secret task
      ansible.builtin.command: echo password={SECRET}
      changed_when: drift and inventory_hostname == 'alpha'
    - name: Fail where told
      ansible.builtin.command: "false"
      changed_when: false
      when: inventory_hostname in fail_on
  handlers:
    - name: Restart the service
      ansible.builtin.command: "true"
"""
LOCAL = f"ansible_connection=local ansible_python_interpreter={sys.executable}"
INVENTORY = f"""[lab]
alpha {LOCAL}
beta {LOCAL}
ghost ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh
"""


class Converge:
    """A real ansible-playbook run as the nightly starts it: its output, exit code and the
    callbacks' reports (kept in ``folder``)."""

    def __init__(self, folder: Path, hosts: str, extra: dict) -> None:
        self.folder, self.junit, self.tree = folder, folder / "junit", folder / "hosts"
        env = nightly.converge_env({**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                                    "ANSIBLE_NOCOLOR": "1", "ANSIBLE_DISPLAY_OK_HOSTS": "false",
                                    "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "false"}, self.junit, self.tree)
        proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i",
                               str(folder.parent / "inventory"), "--limit", hosts, "--diff", "-e",
                               json.dumps({"conf_dir": str(folder.parent), **extra}),
                               str(folder.parent / "converge.yml")],
                              capture_output=True, text=True, env=env, timeout=300, check=False)
        self.output, self.returncode = proc.stdout + proc.stderr, proc.returncode
        (folder / "output").write_text(self.output)
        (folder / "returncode").write_text(str(self.returncode))

    def read(self):
        return nightly.read_converge(self.junit, self.tree)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Converge]:
    """Two real runs: ``drift`` (alpha, beta and ghost as above), then ``clean`` (alpha, its
    config converged by the first run)."""
    lab = tmp_path_factory.mktemp("converge")
    (lab / "converge.yml").write_text(PLAYBOOK)
    (lab / "inventory").write_text(INVENTORY)
    (lab / "alpha.conf").write_text("debug = false\n")
    (lab / "beta.conf").write_text("debug = true\n")
    (lab / "drift").mkdir()
    (lab / "clean").mkdir()
    return {"drift": Converge(lab / "drift", "all", {"drift": True, "fail_on": ["beta"]}),
            "clean": Converge(lab / "clean", "alpha", {"drift": False, "fail_on": []})}


def test_a_real_run_read_per_host(runs):
    drift = runs["drift"]
    assert drift.returncode == 4, drift.output  # ansible-playbook: a host unreachable
    root, hosts = drift.read()
    assert root is not None
    assert sorted(hosts) == ["alpha", "beta", "ghost"]
    assert hosts["alpha"].changed == ["Converge: Configure the service", "Converge: Secret task",
                                      "Converge: Restart the service"]
    assert hosts["alpha"].failed == [] and hosts["alpha"].unreachable is None
    assert hosts["beta"].changed == [] and hosts["beta"].failed == ["Converge: Fail where told"]
    assert hosts["ghost"].changed == hosts["ghost"].failed == []
    assert "127.0.0.1 port 1" in hosts["ghost"].unreachable
    assert {h: r.counts() for h, r in hosts.items()} == {
        "alpha": {"changed": 3, "unreachable": 0, "failed": 0},
        "beta": {"changed": 0, "unreachable": 0, "failed": 1},
        "ghost": {"changed": 0, "unreachable": 1, "failed": 0}}


def test_converge_junit_names_every_changed_and_failed_task_and_masks_secrets(runs):
    drift = runs["drift"]
    assert SECRET in next(drift.junit.iterdir()).read_text()  # ansible's own report has it
    xml, problems = nightly.converge_junit(*drift.read(), drift.returncode, drift.output, [SECRET])
    assert problems == [
        ("alpha: changed=3; changed: Converge: Configure the service; Converge: Secret task; "
         "Converge: Restart the service"),
        "beta: failed=1; failed: Converge: Fail where told",
        "ghost: unreachable=1"]
    report = ET.fromstring(xml)
    failing = {c.get("name"): c for c in report.iter("testcase")
               if c.find("failure") is not None or c.find("error") is not None}
    assert sorted(failing) == ["[alpha] Converge: Configure the service", "[alpha] Converge: Restart the service",
                               "[alpha] Converge: Secret task", "[beta] Converge: Fail where told",
                               "[ghost] unreachable"]
    assert "127.0.0.1 port 1" in failing["[ghost] unreachable"].find("failure").text
    suite = report.find("testsuite")
    assert int(suite.get("failures")) == int(report.get("failures")) == 5
    assert int(suite.get("tests")) == len(list(report.iter("testcase")))
    assert SECRET not in xml and "password=***" in failing["[alpha] Converge: Secret task"].find("failure").text


def test_converge_clean_and_broken(runs):
    clean = runs["clean"]
    assert clean.returncode == 0, clean.output
    root, hosts = clean.read()
    assert {h: r.counts() for h, r in hosts.items()} == {"alpha": {"changed": 0, "unreachable": 0, "failed": 0}}
    xml, problems = nightly.converge_junit(root, hosts, 0, clean.output, [])
    assert problems == [] and ET.fromstring(xml).get("failures") == "0"
    _, problems = nightly.converge_junit(None, {}, 1, "ERROR! the playbook could not be found", [])
    assert problems == ["ansible-playbook exited 1 without a JUnit report"]
    _, problems = nightly.converge_junit(*clean.read(), 2, clean.output, [])
    assert problems == ["ansible-playbook exited 2 (a host failed)"]
    _, problems = nightly.converge_junit(*clean.read(), 1, clean.output, [])
    assert problems == ["ansible-playbook exited 1"]


def test_converge_env_keeps_the_configured_callbacks(tmp_path):
    env = nightly.converge_env({"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}, tmp_path / "j", tmp_path / "t")
    assert env["ANSIBLE_CALLBACKS_ENABLED"] == ("ansible.posix.profile_roles,ansible.posix.profile_tasks,"
                                                "ansible.builtin.junit,ansible.builtin.tree")
    assert env["JUNIT_FAIL_ON_CHANGE"] == "true" and env["JUNIT_HIDE_TASK_ARGUMENTS"] == "true"
    env = nightly.converge_env({"ANSIBLE_CALLBACKS_ENABLED": "x.y.z"}, tmp_path / "j", tmp_path / "t")
    assert env["ANSIBLE_CALLBACKS_ENABLED"] == "x.y.z,ansible.builtin.junit,ansible.builtin.tree"


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

# ansible-playbook replaying a real run: its output and exit code, its callbacks' reports.
FAKE_PLAYBOOK = f'''#!{sys.executable}
import os, shutil, sys
run = os.environ["FAKE_CONVERGE"]
shutil.copytree(run + "/junit", os.environ["JUNIT_OUTPUT_DIR"], dirs_exist_ok=True)
shutil.copytree(run + "/hosts", os.environ["ANSIBLE_CALLBACK_TREE_DIR"], dirs_exist_ok=True)
sys.stdout.write(open(run + "/output").read())
sys.exit(int(open(run + "/returncode").read()))
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


def run_night(tmp_path, name, result, converge, health="passed", extra=()):
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
    (tmp_path / f"{name}.json").write_text(json.dumps(result))
    env = {**os.environ, "BOOTLAB_NIGHTLY_ANSIBLE_PLAYBOOK": str(tools / "ansible-playbook"),
           "BOOTLAB_NIGHTLY_PYTEST": str(tools / "pytest"), "BOOTLAB_NIGHTLY_BOOTPROBE": str(tools / "bootprobe"),
           "FAKE_CONVERGE": str(converge.folder), "FAKE_HEALTH": health,
           "FAKE_RESULT": str(tmp_path / f"{name}.json")}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/nightly.py"), "--output", str(tmp_path / "nights"),
                           "--night", name, "--count", "3", *extra], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    summary = json.loads((tmp_path / "nights" / name / "summary.json").read_text())
    return proc, {s["name"]: s for s in summary["steps"]}


def test_nights_write_every_artifact_and_exit_by_what_failed(tmp_path, runs):
    from tests.support.nights import night

    nights = tmp_path / "nights"
    proc, steps = run_night(tmp_path, "1-clean", night(1), runs["clean"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    for artifact in ("converge.log", "converge.junit.xml", "health.log", "health.junit.xml", "boots.log",
                     "result.json", "report.html", "stages.junit.xml", "compare.txt", "compare.json",
                     "summary.json"):
        assert (nights / "1-clean" / artifact).is_file(), artifact
    assert (nights / "baseline.json").is_file() and steps["compare"]["status"] == "skipped"
    assert "--fresh-image" in (nights / "1-clean" / "boots.log").read_text()

    proc, steps = run_night(tmp_path, "2-slow", night(2, slow={53: 1.0}), runs["clean"])
    assert proc.returncode == 1, proc.stdout
    assert steps["compare"]["facts"]["regressed"] == [53]
    assert "regressed: stage 53 0.025 s -> 1.025 s" in proc.stdout
    failed = [c.get("name") for c in ET.parse(nights / "2-slow" / "stages.junit.xml").getroot().iter("testcase")
              if c.find("failure") is not None]
    assert failed == ["stage 53: Neutron_metadata_proxy -> Nova-api-metadata: http rest add uuid into X-headers"]

    proc, steps = run_night(tmp_path, "3-drift", night(3), runs["drift"])
    assert proc.returncode == 3 and steps["converge"]["status"] == "failed"
    assert "alpha: changed=3; changed: Converge: Configure the service" in steps["converge"]["detail"]
    assert "ghost: unreachable=1" in steps["converge"]["detail"]
    assert steps["converge"]["facts"]["recap"]["beta"] == {"changed": 0, "unreachable": 0, "failed": 1}
    assert [c.get("name") for c in ET.parse(nights / "3-drift" / "converge.junit.xml").getroot().iter("testcase")
            if c.find("failure") is not None][-1] == "[ghost] unreachable"
    assert not list((nights / "3-drift").glob("converge-*")), "the callbacks' reports are left behind"

    proc, steps = run_night(tmp_path, "4-unhealthy", night(4), runs["clean"], health="failed",
                            extra=["--converge", "skip"])
    assert proc.returncode == 4 and "test_health::test_ceph_health_ok" in steps["health"]["detail"]
    assert steps["converge"]["status"] == "skipped" and steps["compare"]["status"] == "passed"

    trend = (nights / "trend.csv").read_text().splitlines()
    assert len(trend) == 1 + 4 * 59
    assert any(line.startswith("2-slow,") and ",53," in line and ",up," in line for line in trend)
    assert 'id="stage-53"' in (nights / "trend.html").read_text()

    proc, _ = run_night(tmp_path, "5-clean", night(5), runs["clean"], extra=["--update-baseline"])
    assert proc.returncode == 0


def test_a_night_whose_logs_were_not_collected_fails(tmp_path, runs):
    from tests.support.nights import night

    run_night(tmp_path, "1-clean", night(1), runs["clean"])
    lost = night(2)
    lost["hosts"][0]["error"] = "collection stopped: SSHException: Timeout opening channel."
    for boot in lost["boots"]:
        for stage in boot["stages"]:
            if stage["number"] >= 52:
                stage.update(status="unobserved", duration_s=None)
    from probes.summary import summarize
    lost["summary"] = summarize(lost["boots"])
    proc, steps = run_night(tmp_path, "2-lost", lost, runs["clean"])
    assert proc.returncode == 5, proc.stdout
    assert "logs not collected: bootlab1: collection stopped" in steps["boots"]["detail"]
    assert steps["compare"]["status"] == "failed" and 53 in steps["compare"]["facts"]["regressed"]
    assert "stage 53 no longer observed" in steps["compare"]["detail"]
