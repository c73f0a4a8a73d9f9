#!/usr/bin/env python3
"""The nightly job of a bootlab lab: converge check, health checks, boots, per-stage gate.

    scripts/nightly.py -i inventory/local --output nightly        (make nightly)

Steps, each recorded in one folder per night (OUTPUT/<UTC time>/), all run even when an
earlier one failed (a night says everything it can):

1. converge  ansible-playbook playbooks/site.yml must change nothing and fail nowhere
             (--converge check: in check mode; skip: not run); converge.log (with the
             diffs), converge.junit.xml (ansible-core's junit callback's report: a test case
             per task and host, failing where the task changed or failed, and one per
             unreachable host; lab secrets masked)
2. health    pytest tests/infra on every lab host (tests/infra/test_health.py and the rest):
             health.log, health.junit.xml
3. boots     bootprobe run --count N --fresh-image: the first boot fetches a new copy of the
             image (cold: not in Nova's image cache, stages 19-25 measured), the others boot
             the cached copy (warm); run/ (boots.json, logs/), result.json, report.html
4. compare   bootprobe compare against the baseline (--baseline; the first clean night
             becomes it when there is none) on --metric with the noise margins:
             stages.junit.xml (a test case per stage, failing on a regression),
             compare.txt, compare.json

Then summary.json (every step's status and time) and, over every night of OUTPUT, the
trend (OUTPUT/trend.html, OUTPUT/trend.csv).

Exit codes: 0 every step passed; 1 a stage regressed (and nothing else failed); 3 the
converge check changed or failed; 4 a health check failed; 5 a boot failed or no result;
2 usage (or another nightly holds OUTPUT's lock). With several failures, the first step's.
"""

from __future__ import annotations

import argparse
import configparser
import fcntl
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXIT = {"ok": 0, "compare": 1, "usage": 2, "converge": 3, "health": 4, "boots": 5}


@dataclass
class Step:
    name: str
    status: str = "not run"      # passed | failed | skipped | not run
    seconds: float = 0.0
    detail: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


# ---- converge -------------------------------------------------------------------------
# ansible-playbook reports the converge run itself, through two callbacks of ansible-core:
# junit writes a JUnit file with a test case per task and host, failing where the task failed
# or (fail_on_change) changed; tree writes a JSON file per host holding the host's last
# result, which says so when the host went unreachable (the JUnit file has no case for it).

CONVERGE_CALLBACKS = ("ansible.builtin.junit", "ansible.builtin.tree")
# What ansible-playbook's exit code says when the reports name no host that failed (a task
# with no_log hides that its host went unreachable).
EXITED = {2: " (a host failed)", 4: " (a host went unreachable)"}


@dataclass
class HostRun:
    """What a converge run did on a host: the tasks that changed, those that failed, and why
    it went unreachable (None if it did not)."""

    changed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unreachable: str | None = None

    def counts(self) -> dict[str, int]:
        return {"changed": len(self.changed), "unreachable": int(self.unreachable is not None),
                "failed": len(self.failed)}


def converge_env(env: dict[str, str], junit_dir: Path, tree_dir: Path) -> dict[str, str]:
    """``env`` with the junit and tree callbacks enabled besides ansible.cfg's (or the
    environment's) callbacks, writing into ``junit_dir`` and ``tree_dir``."""
    enabled = env.get("ANSIBLE_CALLBACKS_ENABLED")
    if enabled is None:
        config = configparser.ConfigParser(interpolation=None)
        config.read(env.get("ANSIBLE_CONFIG") or ROOT / "ansible.cfg")
        enabled = config.get("defaults", "callbacks_enabled", fallback="")
    names = [n.strip() for n in enabled.split(",") if n.strip()]
    return {**env, "ANSIBLE_CALLBACKS_ENABLED": ",".join([*names, *CONVERGE_CALLBACKS]),
            "JUNIT_OUTPUT_DIR": str(junit_dir), "JUNIT_FAIL_ON_CHANGE": "true",
            # Task arguments can hold secrets; a case is named "[host] play: task".
            "JUNIT_HIDE_TASK_ARGUMENTS": "true",
            # A case's class is its task file, relative to the checkout (roles/nova/tasks/main).
            "JUNIT_TASK_CLASS": "true", "JUNIT_TASK_RELATIVE_PATH": str(ROOT),
            "ANSIBLE_CALLBACK_TREE_DIR": str(tree_dir)}


def _changed(case_result: str | None) -> bool:
    """Whether a failing case's result (the task's result as JSON) says the task changed:
    then it failed for that (fail_on_change), else the task failed."""
    try:
        result = json.loads(case_result or "")
    except ValueError:
        return False
    return isinstance(result, dict) and result.get("changed") is True


def read_converge(junit_dir: Path, tree_dir: Path) -> tuple[ET.Element | None, dict[str, HostRun]]:
    """The JUnit report of a converge run (None when ansible-playbook wrote none: it stopped
    before the end) and what it did per host."""
    reports = sorted(junit_dir.glob("*.xml"))
    if not reports:
        return None, {}
    root = ET.parse(reports[-1]).getroot()
    hosts: dict[str, HostRun] = {}
    for case in root.iter("testcase"):
        host, _, task = case.get("name", "").partition("] ")
        host = host.removeprefix("[")
        if host == "include":  # the junit callback's case for an include_tasks
            continue
        run = hosts.setdefault(host, HostRun())
        failure = case.find("failure")
        if failure is not None and _changed(failure.text):
            run.changed.append(task)
        elif failure is not None or case.find("error") is not None:
            run.failed.append(task)
    for path in sorted(tree_dir.glob("*")) if tree_dir.is_dir() else ():
        try:
            last = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(last, dict) and last.get("unreachable"):
            hosts.setdefault(path.name, HostRun()).unreachable = str(last.get("msg") or "unreachable")
    return root, hosts


def masked(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _add_case(root: ET.Element, name: str, message: str, text: str) -> None:
    """A failing test case added to the report's (first) suite, its counts and the report's
    counted too."""
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        suite = ET.SubElement(root, "testsuite", name="bootlab.converge")
    case = ET.SubElement(suite, "testcase", classname="bootlab.converge", name=name)
    ET.SubElement(case, "failure", message=message).text = text
    for element in {root, suite}:
        for key in ("tests", "failures"):
            element.set(key, str(int(element.get(key) or 0) + 1))


def converge_junit(root: ET.Element | None, hosts: dict[str, HostRun], returncode: int, output: str,
                   secrets: Sequence[str]) -> tuple[str, list[str]]:
    """The converge run's JUnit XML (ansible's report, with a failing case per unreachable host
    and one when ansible-playbook failed otherwise; lab secrets masked) and the problems found."""
    problems = []
    if root is None:
        root = ET.Element("testsuites")
        problems.append(f"ansible-playbook exited {returncode} without a JUnit report")
        _add_case(root, "report", problems[-1], output[-4000:])
    for host, run in sorted(hosts.items()):
        counts = {k: v for k, v in run.counts().items() if v}
        if not counts:
            continue
        message = f"{host}: " + ", ".join(f"{k}={v}" for k, v in counts.items())
        if run.changed:
            message += "; changed: " + "; ".join(run.changed)
        if run.failed:
            message += "; failed: " + "; ".join(run.failed)
        problems.append(message)
        if run.unreachable is not None:
            _add_case(root, f"[{host}] unreachable", f"{host}: unreachable", run.unreachable)
    if not problems and not hosts:
        problems.append(f"ansible-playbook exited {returncode} and ran no task")
        _add_case(root, "tasks", problems[-1], output[-4000:])
    if not problems and returncode != 0:
        problems.append(f"ansible-playbook exited {returncode}" + EXITED.get(returncode, ""))
        _add_case(root, "exit code", problems[-1], output[-4000:])
    for element in root.iter():
        element.text = element.text and masked(element.text, secrets)
        for key, value in element.attrib.items():
            element.set(key, masked(value, secrets))
    ET.indent(root, space="\t")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n",
            [masked(p, secrets) for p in problems])


# ---- health ---------------------------------------------------------------------------


def junit_counts(path: Path) -> dict[str, Any]:
    """tests, failures, errors, skipped and the failing cases of a JUnit file."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    counts: dict[str, Any] = {k: sum(int(s.get(k, 0)) for s in suites)
                              for k in ("tests", "failures", "errors", "skipped")}
    counts["failed"] = [f"{c.get('classname')}::{c.get('name')}" for s in suites
                        for c in s.iter("testcase")
                        if c.find("failure") is not None or c.find("error") is not None]
    return counts


# ---- the night ------------------------------------------------------------------------


class Night:
    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args = args
        self.folder = folder
        self.steps: dict[str, Step] = {n: Step(n) for n in ("converge", "health", "boots", "compare")}
        self.env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                    "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
        self.started = time.monotonic()
        # The tools each step runs; BOOTLAB_NIGHTLY_<TOOL> puts a stand-in there (the unit
        # test of this driver runs it without a lab).
        self.tools = {name: shlex.split(os.environ.get(f"BOOTLAB_NIGHTLY_{name.upper().replace('-', '_')}",
                                                       default))
                      for name, default in (("ansible-playbook", str(BIN / "ansible-playbook")),
                                            ("bootprobe", str(BIN / "bootprobe")),
                                            ("pytest", f"{sys.executable} -m pytest"))}

    def say(self, text: str) -> None:
        print(f"nightly [{time.monotonic() - self.started:7.1f} s] {text}", file=sys.stderr, flush=True)

    def labvar(self, name: str) -> str:
        out = subprocess.run([sys.executable, str(ROOT / "scripts/labvar.py"), "-i", self.args.inventory,
                              name], capture_output=True, text=True, check=True, cwd=ROOT, env=self.env)
        return out.stdout.strip()

    def run(self, command: list[str], log: Path, timeout: float, env: dict[str, str] | None = None,
            secrets: Sequence[str] = ()) -> tuple[int, str]:
        self.say("$ " + " ".join(command))
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                                env=env or self.env, preexec_fn=default_sigint)
        try:
            output, _ = proc.communicate(timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            # Ctrl-C first: bootprobe deletes its servers on it; then kill.
            proc.send_signal(signal.SIGINT)
            try:
                output, _ = proc.communicate(timeout=180)
            except subprocess.TimeoutExpired:
                proc.kill()
                output, _ = proc.communicate()
            output, code = f"{output}\n[timed out after {timeout:.0f} s]", 124
        log.write_text(masked(output, secrets))
        return code, output

    def secrets(self) -> list[str]:
        try:
            folder = Path(self.labvar("bootlab_secrets_dir"))
            return [p.read_text().split()[0] for p in folder.iterdir() if p.is_file() and p.read_text().strip()]
        except (OSError, subprocess.CalledProcessError):
            return []

    # -- steps

    def converge(self) -> None:
        step = self.steps["converge"]
        if self.args.converge == "skip":
            step.status, step.detail = "skipped", "--converge skip"
            return
        command = [*self.tools["ansible-playbook"], "-i", self.args.inventory, "playbooks/site.yml", "--diff"]
        if self.args.converge == "check":
            command.append("--check")
        secrets = self.secrets()
        with tempfile.TemporaryDirectory(prefix="converge-", dir=self.folder) as reports:
            junit_dir, tree_dir = Path(reports, "junit"), Path(reports, "hosts")
            env = converge_env({**self.env, "ANSIBLE_DISPLAY_OK_HOSTS": "false",
                                "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "false"}, junit_dir, tree_dir)
            code, output = self.run(command, self.folder / "converge.log", self.args.converge_timeout, env,
                                    secrets)
            root, hosts = read_converge(junit_dir, tree_dir)
        xml, problems = converge_junit(root, hosts, code, output, secrets)
        (self.folder / "converge.junit.xml").write_text(xml)
        step.facts = {"mode": self.args.converge, "recap": {h: r.counts() for h, r in sorted(hosts.items())}}
        step.status = "failed" if problems else "passed"
        step.detail = "; ".join(problems) if problems else "changed=0 on every host"

    def health(self) -> None:
        step = self.steps["health"]
        if self.args.skip_health:
            step.status, step.detail = "skipped", "--skip-health"
            return
        junit = self.folder / "health.junit.xml"
        command = [*self.tools["pytest"], "-q", "-rfE", "-p", "no:cacheprovider", "tests/infra",
                   "--hosts=ansible://lab_hosts", f"--ansible-inventory={self.args.inventory}",
                   "--force-ansible", f"--junitxml={junit}", "-o", "junit_suite_name=bootlab.health"]
        code, _ = self.run(command, self.folder / "health.log", self.args.health_timeout)
        if not junit.is_file():
            step.status, step.detail = "failed", f"pytest exited {code} without JUnit XML (health.log)"
            return
        counts = junit_counts(junit)
        step.facts = counts
        failed = counts["failures"] + counts["errors"]
        step.status = "failed" if failed or code != 0 else "passed"
        step.detail = (f"{counts['tests']} checks, {failed} failed, {counts['skipped']} skipped"
                       + (": " + ", ".join(counts["failed"][:10]) if failed else ""))

    def boots(self) -> dict[str, Any] | None:
        step = self.steps["boots"]
        run_dir = self.folder / "run"
        env = {**self.env, "OS_CLIENT_CONFIG_FILE": self.labvar("bootlab_clouds_yaml")}
        command = [*self.tools["bootprobe"], "run", "--os-cloud", self.args.os_cloud, "--count",
                   str(self.args.count), "--volume-size", str(self.args.volume_size), "--hosts",
                   self.labvar("bootlab_probe_hosts_file"), "--output", str(run_dir)]
        if self.args.count > 1 or self.args.cold:
            command.append("--fresh-image")
        code, output = self.run(command, self.folder / "boots.log", self.args.boots_timeout, env)
        result_file = run_dir / "result.json"
        if not result_file.is_file():
            step.status, step.detail = "failed", f"bootprobe run exited {code} without a result (boots.log)"
            return None
        result = json.loads(result_file.read_text())
        shutil.copyfile(result_file, self.folder / "result.json")
        from probes.views.html import render_html

        (self.folder / "report.html").write_text(render_html(result))
        boots = result.get("boots") or []
        ok = sum(1 for b in boots if b.get("outcome") == "ok")
        step.facts = {"exit_code": code, "boots": len(boots), "ok": ok,
                      "cold": 1 if "--fresh-image" in command else 0,
                      "end_to_end_p50_s": (result.get("summary") or {}).get("end_to_end", {}).get("p50_s")}
        lost = [f"{h.get('name')}: {h.get('error') or 'unreachable'}" for h in result.get("hosts") or []
                if not h.get("reachable") or h.get("error")]
        step.facts["hosts_not_collected"] = lost
        step.status = "passed" if code == 0 and not lost else "failed"
        step.detail = (f"{ok} of {len(boots)} boots ok"
                       + ("" if code == 0 else f"; bootprobe run exited {code}: {result.get('message')}")
                       + (f"; logs not collected: {'; '.join(lost)}" if lost else ""))
        return result

    def compare(self, result: dict[str, Any] | None) -> None:
        from probes.compare import Margins, compare, deltas_to_dict, render_compare
        from probes.junit import render_junit, stage_titles

        step = self.steps["compare"]
        if result is None:
            step.status, step.detail = "not run", "no result to compare"
            return
        baseline_file = self.args.baseline
        metric = f"{self.args.metric}_s"
        margins = Margins(relative=self.args.threshold, absolute_s=self.args.floor, spread=self.args.spread)
        base = json.loads(baseline_file.read_text()) if baseline_file.is_file() else {}
        deltas = compare(base, result, metric, margins=margins, fail_lost=not self.args.allow_unobserved)
        (self.folder / "stages.junit.xml").write_text(render_junit(
            deltas, metric, margins, stage_titles(result, base), timestamp=result.get("started_at"),
            properties={"baseline": baseline_file, "night": self.folder.name}))
        (self.folder / "compare.txt").write_text(render_compare(deltas, metric, self.args.threshold, margins) + "\n")
        (self.folder / "compare.json").write_text(json.dumps(
            {"baseline": str(baseline_file), **deltas_to_dict(deltas, metric, margins)}, indent=2) + "\n")
        if not base:
            clean = all(s.status in ("passed", "skipped") for s in self.steps.values() if s.name != "compare")
            if clean:
                baseline_file.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.folder / "result.json", baseline_file)
            step.status = "skipped"
            step.detail = (f"no baseline at {baseline_file}: "
                           + ("this night is the baseline now" if clean else "this night is not clean, none written"))
            return
        regressed = [d for d in deltas if d.regressed]
        step.facts = {"baseline": str(baseline_file), "metric": metric, "regressed": [d.key for d in regressed]}
        step.status = "failed" if regressed else "passed"
        step.detail = ("regressed: " + "; ".join(
            f"{d.label} {d.base_s:.3f} s -> {d.new_s:.3f} s (allowed +{d.allowed_s:.3f} s)" if d.new_s is not None
            else f"{d.label} no longer observed" for d in regressed)
            if regressed else f"no stage regressed against {baseline_file}")
        if not regressed and self.args.update_baseline:
            shutil.copyfile(self.folder / "result.json", baseline_file)
            step.detail += "; the baseline is this night now (--update-baseline)"

    def trend(self) -> None:
        from probes.compare import Margins
        from probes.trend import find_moves, load_nights, render_trend_csv, titles_of
        from probes.views.trend_html import render_trend_html

        folders = sorted(p.parent for p in self.args.output.glob("*/summary.json")
                         if (p.parent / "result.json").is_file())[-self.args.trend_nights:]
        if not folders:
            return
        nights = load_nights(folders)
        margins = Margins(relative=self.args.threshold, absolute_s=self.args.floor, spread=self.args.spread)
        moves = find_moves(nights, f"{self.args.metric}_s", margins)
        (self.args.output / "trend.html").write_text(render_trend_html(nights, moves, titles_of(nights)))
        (self.args.output / "trend.csv").write_text(render_trend_csv(nights, moves))

    def exit_code(self) -> int:
        for name in ("converge", "health", "boots", "compare"):
            step = self.steps[name]
            if step.status == "failed" or (name == "boots" and step.status == "not run"):
                return EXIT[name]
        return 0

    def write_summary(self, code: int) -> None:
        summary = {"schema": "bootlab.nightly/1", "night": self.folder.name, "inventory": self.args.inventory,
                   "exit_code": code, "seconds": round(time.monotonic() - self.started, 1),
                   "steps": [asdict(s) for s in self.steps.values()]}
        (self.folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")


def default_sigint() -> None:
    """A step's process takes Ctrl-C (a job started in the background ignores SIGINT, and its
    children would inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def timed(night: Night, name: str, func: Any, *args: Any) -> Any:
    started = time.monotonic()
    night.say(f"{name} ...")
    try:
        return func(*args)
    except Exception as exc:  # noqa: BLE001 - a step's crash fails the step, the night goes on
        night.steps[name].status, night.steps[name].detail = "failed", f"{type(exc).__name__}: {exc}"
        return None
    finally:
        night.steps[name].seconds = round(time.monotonic() - started, 1)
        night.say(f"{name}: {night.steps[name].status} ({night.steps[name].detail})")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-i", "--inventory", default="inventory/local")
    parser.add_argument("--output", type=Path, default=ROOT / "nightly",
                        help="folder of the nights (default: %(default)s)")
    parser.add_argument("--night", default=None, help="the night's folder name (default: UTC time)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="result file to compare with (default: OUTPUT/baseline.json)")
    parser.add_argument("--update-baseline", action="store_true",
                        help="a night without regression becomes the baseline")
    parser.add_argument("--converge", choices=("apply", "check", "skip"), default="apply",
                        help="apply: run site.yml, changed must be 0; check: the same in check mode; "
                        "skip (default: %(default)s)")
    parser.add_argument("--skip-health", action="store_true")
    parser.add_argument("--count", type=int, default=6, help="boots: one cold, the others warm "
                        "(default: %(default)s)")
    parser.add_argument("--cold", action="store_true", help="with --count 1: make that boot cold")
    parser.add_argument("--os-cloud", default="bootlab")
    parser.add_argument("--volume-size", type=int, default=1)
    parser.add_argument("--metric", choices=("p50", "p95", "max"), default="p50")
    parser.add_argument("--threshold", type=float, default=0.20, help="relative margin (default: %(default)s)")
    parser.add_argument("--floor", type=float, default=0.100, help="absolute margin, seconds (default: %(default)s)")
    parser.add_argument("--spread", type=float, default=1.0, help="times the baseline's spread (default: %(default)s)")
    parser.add_argument("--allow-unobserved", action="store_true",
                        help="a stage the baseline observed and the night did not is not a failure")
    parser.add_argument("--trend-nights", type=int, default=30, help="nights in OUTPUT/trend.html")
    parser.add_argument("--converge-timeout", type=float, default=3600)
    parser.add_argument("--health-timeout", type=float, default=1200)
    parser.add_argument("--boots-timeout", type=float, default=3600)
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    args.output = args.output.resolve()
    args.baseline = (args.baseline or args.output / "baseline.json").resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    lock = open(args.output / ".lock", "w")  # noqa: SIM115 - held until exit
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"nightly: another nightly is running in {args.output}", file=sys.stderr)
        return EXIT["usage"]
    name = args.night or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    folder = args.output / name
    if folder.exists():
        print(f"nightly: {folder} exists; pick another --night", file=sys.stderr)
        return EXIT["usage"]
    folder.mkdir(parents=True)
    sys.path.insert(0, str(ROOT))
    night = Night(args, folder)
    timed(night, "converge", night.converge)
    timed(night, "health", night.health)
    result = timed(night, "boots", night.boots)
    timed(night, "compare", night.compare, result)
    code = night.exit_code()
    night.write_summary(code)
    try:
        night.trend()
    except Exception as exc:  # noqa: BLE001 - the trend never fails a night
        night.say(f"trend not written: {exc}")
    width = max(len(s) for s in night.steps)
    print(f"nightly {folder}: exit {code}")
    for step in night.steps.values():
        print(f"  {step.name:<{width}}  {step.status:<8} {step.seconds:7.1f} s  {step.detail}")
    return code


if __name__ == "__main__":
    sys.exit(main())
