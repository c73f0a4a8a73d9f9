"""The stage catalog: 58 stages, each observable one with a start and an end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from importlib import resources

from probes.catalog import CatalogError, Fidelity, load_catalog, parse_catalog


def raw():
    return yaml.safe_load(resources.files("probes").joinpath("data/stages.yaml").read_text())


def test_the_catalog_has_the_58_stages_in_order():
    catalog = load_catalog()
    assert [s.number for s in catalog.stages] == list(range(1, 59))
    assert catalog.stage(21).actor == "Nova-compute" and catalog.stage(21).target == "Ceph_mon"
    for stage in catalog.stages:
        if stage.fidelity is Fidelity.PROXY:
            assert stage.why
        assert stage.sources


def test_bootprobe_stages_json():
    proc = subprocess.run([sys.executable, "-m", "probes", "stages", "--format", "json"],
                          capture_output=True, text=True, check=True)
    data = json.loads(proc.stdout)
    assert len(data["stages"]) == 58
    s43 = data["stages"][42]
    assert s43["fidelity"] == "direct" and "VM Started" in s43["end"]["pattern"]
    assert "journald devstack@n-cpu.service" in s43["sources"]["devstack"]
    assert "/var/log/nova/nova-compute.log" in s43["sources"]["distro"]


@pytest.mark.parametrize("change,message", [
    (lambda d: d["stages"].pop(), "not 58"),
    (lambda d: d["stages"][4].update(fidelity="maybe"), "fidelity must be"),
    (lambda d: d["stages"][4].update(start={"event": "no_such_event"}), "unknown event"),
    (lambda d: d["stages"][1].pop("why"), "says what stands for it"),
    (lambda d: d["stages"][6]["start"].update(by=["moon"]), "unknown 'by' keys"),
])
def test_a_broken_catalog_is_refused_with_the_reason(change, message):
    data = raw()
    change(data)
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data)
