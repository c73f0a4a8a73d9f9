"""``probes.run.run_boots``, the whole of ``bootprobe run``, with every step that needs a
cloud or a lab replaced by a fake (:class:`probes.run.RunSteps`): what it writes, what it
says, and how it ends, Ctrl-C at each step included."""

from __future__ import annotations

import dataclasses
import json
import signal
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from probes.analyze import analyze, unanalysed
from probes.boots import read_boots
from probes.catalog import load_catalog
from probes.collect import LabHost, StackReport
from probes.errors import ConfigError
from probes.records import (
    Outcome,
    SmokeOptions,
    SmokeResult,
    Stage,
    StatusChange,
    utc_now,
)
from probes.run import (
    RunOutcome,
    RunRequest,
    RunSteps,
    Swept,
    run_boots,
    stuck_building,
)
from tests.support import FIXTURES

HOSTS = [LabHost(name="controller", address="192.0.2.1")]


class Recorder:
    """Progress kept as a list of what was said ('step: ...' for a step)."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def __call__(self, text: str) -> None:
        self.said.append(text)

    @contextmanager
    def step(self, text: str) -> Any:
        self.said.append(f"step: {text}")
        yield


def smoke_result(index: int, outcome: Outcome = Outcome.OK, **fields: Any) -> SmokeResult:
    started = utc_now()
    values: dict[str, Any] = {"server_id": f"server-{index}",
                              "server_name": f"bootprobe-run-x-{index:03d}",
                              "deleted": outcome is Outcome.OK}
    values.update(fields)
    return SmokeResult(options=SmokeOptions("c", "i", "f", "n", "p", 60.0), started_at=started,
                       ended_at=started + timedelta(seconds=30), outcome=outcome, **values)


class Fakes:
    """A run's steps, each noting that it ran (and with what) in ``calls``."""

    def __init__(self, results: list[SmokeResult] | None = None, interrupted: bool = False,
                 analysed: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.results = results if results is not None else [smoke_result(0)]
        self.interrupted = interrupted
        self.analysed = analysed
        self.sigint_in_sweep: Any = None

    def steps(self, **replaced: Any) -> RunSteps:
        steps = RunSteps(
            load_hosts=self.load_hosts, mark=self.mark, launch=self.launch, stacks=self.stacks,
            sweep=self.sweep, collect=self.collect, analyze=self.analyze,
            fresh_image=self.fresh_image, delete_image=self.delete_image)
        return dataclasses.replace(steps, **replaced)

    def load_hosts(self, path: Path) -> list[LabHost]:
        self.calls.append(("load_hosts", path))
        return HOSTS

    def mark(self, hosts: list[LabHost]) -> dict[str, Any]:
        self.calls.append(("mark", [h.name for h in hosts]))
        return {"controller": []}

    def launch(self, options: Any, app_version: str, progress: Any) -> tuple[list[SmokeResult], bool]:
        self.calls.append(("launch", options))
        return self.results, self.interrupted

    def stacks(self, hosts: list[LabHost]) -> list[StackReport]:
        self.calls.append(("stacks", None))
        return [StackReport("compute1", "nova-compute.service")]

    def sweep(self, cloud: str, prefix: str, app_version: str, server_ids: Any) -> Swept:
        self.calls.append(("sweep", list(server_ids)))
        self.sigint_in_sweep = signal.getsignal(signal.SIGINT)
        return Swept(servers=["server-0"])

    def collect(self, hosts: Any, logs: Path, since: Any, until: Any, marks: Any) -> object:
        self.calls.append(("collect", marks))
        return []

    def analyze(self, logs: Path, boots: Any, catalog: Any) -> dict[str, Any]:
        self.calls.append(("analyze", [b.server_id for b in boots]))
        if self.analysed is not None:
            return self.analysed
        return unanalysed(boots, catalog, "not analysed by this test")

    def fresh_image(self, cloud: str, image: str, name: str, app_version: str) -> str:
        self.calls.append(("fresh_image", image))
        return "fresh-image-id"

    def delete_image(self, cloud: str, image_id: str, app_version: str) -> bool:
        self.calls.append(("delete_image", image_id))
        return True

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def request(tmp_path: Path, **fields: Any) -> RunRequest:
    values: dict[str, Any] = {"cloud": "lab", "image": "guest", "flavor": "tiny", "network": "net",
                              "hosts_file": tmp_path / "hosts.yml", "output": tmp_path / "run"}
    values.update(fields)
    return RunRequest(**values)


def test_a_run_marks_launches_collects_analyses_and_writes_its_result(tmp_path):
    analysed = analyze(FIXTURES / "boot-ok-20261126", read_boots(FIXTURES / "boot-ok-20261126"),
                       load_catalog())
    fakes, progress, told = Fakes(analysed=analysed), Recorder(), []
    outcome = run_boots(request(tmp_path, count=1), "9.9", progress, told.append, fakes.steps())
    assert fakes.names() == ["load_hosts", "mark", "launch", "collect", "analyze"]
    assert outcome.exit_code == 0 and told == [outcome]
    assert outcome.path == tmp_path / "run" / "result.json"
    written = json.loads(outcome.path.read_text())
    assert written == outcome.result
    assert (written["outcome"], written["exit_code"], written["message"]) == ("ok", 0, None)
    assert written["tool_version"] == "9.9"
    assert written["options"] == {
        "cloud": "lab", "image": "guest", "flavor": "tiny", "network": "net",
        "volume_size_gb": 1, "count": 1, "concurrency": 1, "fresh_image": False,
        "hosts_file": str(tmp_path / "hosts.yml")}
    assert "stacks" not in written and "swept" not in written
    boots = json.loads((tmp_path / "run" / "logs" / "boots.json").read_text())
    assert [b["server_id"] for b in boots] == ["server-0"]
    assert progress.said == ["marking the log files of 1 host(s)",
                             "step: launching 1 boot(s), 1 at a time",
                             "step: collecting the logs of 1 host(s)", "step: analysing"]
    options = fakes.calls[2][1]
    assert options.smoke.image == "guest" and options.smoke.name_prefix.startswith("bootprobe-run-")


def test_ctrl_c_before_the_first_boot_sweeps_and_writes_an_interrupted_result(tmp_path):
    fakes, progress = Fakes(results=[], interrupted=True), Recorder()
    outcome = run_boots(request(tmp_path), "9.9", progress, steps=fakes.steps())
    assert fakes.names() == ["load_hosts", "mark", "launch", "sweep"]  # nothing to collect
    assert outcome.exit_code == 130 and outcome.result is not None
    assert outcome.result["outcome"] == "interrupted"
    assert outcome.result["interrupted_during"] == "launch"
    assert outcome.result["message"] == "interrupted (Ctrl-C); no server had been asked for"
    assert outcome.result["swept"] == {"servers": ["server-0"], "volumes": [], "ports": [],
                                       "left": []}
    assert "interrupted; deleted 1 server(s), 0 blank volume(s), 0 port(s) the run left" \
        in progress.said
    assert json.loads((tmp_path / "run" / "result.json").read_text()) == outcome.result


def test_ctrl_c_while_marking_is_a_run_interrupted_before_its_first_boot(tmp_path):
    fakes = Fakes()

    def mark(hosts: list[LabHost]) -> dict[str, Any]:
        raise KeyboardInterrupt

    outcome = run_boots(request(tmp_path), "9.9", steps=fakes.steps(mark=mark))
    assert fakes.names() == ["load_hosts", "sweep"]
    assert outcome.exit_code == 130 and outcome.result["interrupted_during"] == "launch"


@pytest.mark.parametrize("during", ["collection", "analysis"])
def test_ctrl_c_in_collection_or_analysis_leaves_the_clients_result_unanalysed(tmp_path, during):
    fakes = Fakes()

    def interrupted(*args: Any) -> Any:
        raise KeyboardInterrupt

    replaced = {"collect" if during == "collection" else "analyze": interrupted}
    outcome = run_boots(request(tmp_path), "9.9", steps=fakes.steps(**replaced))
    assert outcome.exit_code == 130
    result = outcome.result
    assert result["outcome"] == "interrupted" and result["interrupted_during"] == during
    reason = result["boots"][0]["stages"][0]["reason"]
    assert reason == (f"the run was interrupted (Ctrl-C) during log {during}: not analysed "
                      f"(`bootprobe analyze {tmp_path / 'run' / 'logs'}` analyses what was "
                      "collected)")
    assert "sweep" not in fakes.names()  # the boot ended with its server deleted


def test_the_sweep_runs_with_ctrl_c_ignored_and_after_a_failed_boot(tmp_path):
    fakes = Fakes(results=[smoke_result(0, Outcome.BOOT_FAILED, failed_stage=Stage.LEASE,
                                        message="no lease")])
    before = signal.getsignal(signal.SIGINT)
    outcome = run_boots(request(tmp_path), "9.9", steps=fakes.steps())
    assert fakes.sigint_in_sweep is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is before
    assert ("sweep", ["server-0"]) in fakes.calls
    assert outcome.exit_code == 1 and outcome.result["outcome"] == "boot-failed"


def test_a_boot_that_never_got_active_asks_nova_compute_for_its_stack(tmp_path):
    building = StatusChange(utc_now(), "BUILD", "spawning", "building", 0)
    stuck = smoke_result(0, Outcome.BOOT_FAILED, failed_stage=Stage.ACTIVE,
                         status_changes=[building])
    assert stuck_building(stuck)
    assert not stuck_building(smoke_result(1))
    fakes = Fakes(results=[stuck])
    outcome = run_boots(request(tmp_path), "9.9", steps=fakes.steps())
    assert fakes.names().index("stacks") < fakes.names().index("sweep")
    assert [(s["host"], s["unit"]) for s in outcome.result["stacks"]] == [
        ("compute1", "nova-compute.service")]


def test_boots_that_all_failed_before_asking_for_a_server_write_no_result(tmp_path):
    fakes = Fakes(results=[smoke_result(0, Outcome.CONFIG_ERROR, server_id=None,
                                        server_name=None, message="cloud 'x' is not in y",
                                        hint="pass --os-cloud")])
    told: list[RunOutcome] = []
    outcome = run_boots(request(tmp_path), "9.9", on_outcome=told.append, steps=fakes.steps())
    assert outcome == RunOutcome(2, "config-error: cloud 'x' is not in y", "pass --os-cloud")
    assert told == [outcome]
    assert fakes.names() == ["load_hosts", "mark", "launch"]
    assert not (tmp_path / "run" / "logs").exists()


@pytest.mark.parametrize("fields", [{"count": 0}, {"concurrency": 0}])
def test_no_boot_at_all_is_a_usage_error(tmp_path, fields):
    fakes = Fakes()
    outcome = run_boots(request(tmp_path, **fields), "9.9", steps=fakes.steps())
    assert outcome == RunOutcome(2, "--count and --concurrency must be at least 1")
    assert fakes.calls == []


def test_a_bad_hosts_file_is_a_configuration_error_with_its_hint(tmp_path):
    fakes = Fakes()

    def load_hosts(path: Path) -> list[LabHost]:
        raise ConfigError("the hosts file lists no hosts", "pass --hosts FILE")

    outcome = run_boots(request(tmp_path), "9.9", steps=fakes.steps(load_hosts=load_hosts))
    assert outcome == RunOutcome(2, "the hosts file lists no hosts", "pass --hosts FILE")
    assert not (tmp_path / "run").exists()


def test_a_fresh_image_is_booted_and_deleted_after_the_outcome_is_told(tmp_path):
    fakes, progress = Fakes(), Recorder()
    order: list[str] = []
    steps = fakes.steps(delete_image=lambda *args: order.append("deleted"))
    run_boots(request(tmp_path, fresh_image=True), "9.9", progress,
              lambda outcome: order.append(f"told {outcome.exit_code}"), steps)
    assert order == ["told 0", "deleted"]
    launched = dict(fakes.calls)["launch"]
    assert launched.smoke.image == "fresh-image-id"
    assert progress.said[0] == "uploaded a fresh copy of guest: fresh-image-id"
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["options"]["image"] == "guest" and result["options"]["fresh_image"] is True


def test_an_image_that_cannot_be_copied_is_a_configuration_error(tmp_path):
    fakes = Fakes()

    def fresh_image(*args: Any) -> str:
        raise RuntimeError("403 Forbidden")

    outcome = run_boots(request(tmp_path, fresh_image=True), "9.9",
                        steps=fakes.steps(fresh_image=fresh_image))
    assert outcome == RunOutcome(2, "could not upload a fresh copy of image 'guest': 403 Forbidden")
    assert "launch" not in fakes.names() and "delete_image" not in fakes.names()


def test_the_fresh_image_is_deleted_also_when_ctrl_c_reaches_the_caller(tmp_path):
    fakes = Fakes()

    def told(outcome: RunOutcome) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the caller prints the result

    with pytest.raises(KeyboardInterrupt):
        run_boots(request(tmp_path, fresh_image=True), "9.9", on_outcome=told,
                  steps=fakes.steps())
    assert fakes.names()[-1] == "delete_image"
