"""Collection decisions that need no lab: hosts file errors, rotated logs, clock offsets."""

from __future__ import annotations

import json
import shutil

import pytest

from probes.analyze import analyze
from probes.boots import read_boots
from probes.catalog import load_catalog
from probes.collect import FileMark, _start_offset, load_hosts
from probes.errors import ConfigError
from tests.support import FIXTURES

OK = FIXTURES / "boot-ok-20261126"


def test_hosts_file_errors_say_what_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the hosts file"):
        load_hosts(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("hosts:\n  - name: a\n")
    with pytest.raises(ConfigError, match="needs a name and an address"):
        load_hosts(bad)
    bad.write_text("{}\n")
    with pytest.raises(ConfigError, match="lists no hosts"):
        load_hosts(bad)


def test_a_file_is_read_from_where_it_was_when_the_boots_started():
    before = FileMark("/var/log/nova/nova-compute.log", 1000, 7)
    assert _start_offset(before, FileMark(before.path, 5000, 7), 0) == 1000
    assert _start_offset(before, FileMark(before.path, 5000, 7), 100) == 4900  # capped


def test_a_rotated_file_is_noticed():
    before = FileMark("/var/log/nova/nova-compute.log", 1000, 7)
    assert _start_offset(before, FileMark(before.path, 200, 8), 0) is None  # new inode
    assert _start_offset(before, FileMark(before.path, 200, 7), 0) is None  # truncated


def test_a_host_clock_offset_moves_its_lines_not_their_spacing(tmp_path):
    catalog = load_catalog()
    skewed = tmp_path / "skewed"
    shutil.copytree(OK, skewed)
    host_json = next(skewed.glob("*/host.json"))
    data = json.loads(host_json.read_text())
    data["clock_offset_s"] = data["clock_offset_s"] + 5.0  # the host claims to run 5 s ahead
    host_json.write_text(json.dumps(data))
    base = analyze(OK, read_boots(OK), catalog)["boots"][0]["stages"]
    moved = analyze(skewed, read_boots(skewed), catalog)["boots"][0]["stages"]
    # server-side stages keep their durations; client-to-server stages absorb the 5 s
    assert moved[12]["duration_s"] == pytest.approx(base[12]["duration_s"], abs=1e-6)
    assert moved[0]["duration_s"] == pytest.approx(base[0]["duration_s"] - 5.0, abs=1e-3)
    assert "clock offset" in moved[0]["reason"]


def test_a_missing_log_is_named_in_the_reason(tmp_path):
    catalog = load_catalog()
    partial = tmp_path / "partial"
    shutil.copytree(OK, partial)
    for path in partial.glob("*/var/log/ceph"):
        shutil.rmtree(path)
    stages = analyze(partial, read_boots(partial), catalog)["boots"][0]["stages"]
    for number in (49, 50, 51):
        assert stages[number - 1]["status"] == "unobserved"
        reason = stages[number - 1]["reason"]
        assert "ceph-" in reason and ("no log of it" in reason or "no line of" in reason), reason
    assert stages[42]["status"] == "measured"  # the rest is still analysed
