"""The stage catalog: 58 stages, each observable one with a start and an end."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from importlib import resources

import jsonschema
import pytest
import yaml

from probes.catalog import (
    SCHEMA,
    CatalogError,
    Fidelity,
    SegmentKind,
    Selector,
    entry_name,
    load_catalog,
    parse_catalog,
    validate,
)


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
    (lambda d: d["stages"][6].update(number=9), "numbered 1..58 in order"),
    (lambda d: d["stages"][6].pop("end"), "an observable stage has a start and an end"),
    (lambda d: d["stages"][6].update(fidelity="unobservable"), "an unobservable stage says why"),
    (lambda d: d["stages"][6].update(requires="ceph"), "'requires' is one of"),
    (lambda d: d["stages"][6].update(needs=["verbose"]), "unknown settings in 'needs'"),
    (lambda d: d["stages"][6].update(start={"client": "auth.sent", "event": "ks_path"}),
     "exactly one of event, client, request"),
    (lambda d: d["stages"][0].update(start={"client": "auth.maybe"}), "unknown client time"),
    (lambda d: d["stages"][6].update(start="nova"), "a selector is a mapping"),
    (lambda d: d["settings"]["debug"].pop("what"), "needs 'what', 'services' and 'seen'"),
    (lambda d: d["settings"]["rpc_debug"]["seen"]["events"].append("nope"), "unknown events"),
    (lambda d: d["events"]["ks_path"].update(match="(unclosed"), "event ks_path: missing \\)"),
])
def test_a_broken_catalog_is_refused_with_the_reason(change, message):
    data = raw()
    change(data)
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data)


@pytest.mark.parametrize("change,message", [
    (lambda d: d["stages"][6]["start"].update(by=["moon"]),
     r"^stage 7 start by\[0\]: unknown 'by' keys \['moon'\]$"),
    (lambda d: d["stages"][3]["end"][1].update(event="nope"), r"^stage 4 end\[1\]: unknown event 'nope'$"),
    (lambda d: d["stages"][6]["start"].update(bye=["request"]),
     r"^stage 7 start: unknown selector key 'bye'$"),
    (lambda d: d["stages"][6]["start"].update(after="seven"),
     r"^stage 7 start after: a point is N.start, N.end or <segment>.start / .end, not 'seven'$"),
    (lambda d: d["stages"][18]["absent"].pop("reason"), r"^stage 19 absent: 'absent' gives the reason"),
    (lambda d: d["events"]["ks_path"].update(mtach="x"), r"^event ks_path: Additional properties"),
    (lambda d: d["settings"]["debug"].update(seen={}), r"^setting debug seen: needs 'what'"),
    (lambda d: d.update(stagse=[]), r"^the catalog: Additional properties"),
    (lambda d: d["stages"].pop(), r"^stages: the catalog has 57 stages, not 58$"),
])
def test_the_error_names_the_bad_entry(change, message):
    data = raw()
    change(data)
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data)


def test_the_schema_is_a_json_schema_and_names_every_selector_key():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    keys = set(SCHEMA["$defs"]["selectorKey"]["enum"])
    assert keys == set(SCHEMA["$defs"]["selectorProperties"]["properties"])
    assert keys == {f.name for f in dataclasses.fields(Selector)} - {"otherwise"}


def test_the_shipped_catalog_matches_the_schema():
    # load_catalog parses the shipped file as valid: this is where it is validated
    text = resources.files("probes").joinpath("data/stages.yaml").read_text()
    validate(yaml.safe_load(text))


def test_a_shape_error_in_the_shipped_file_is_named_by_the_schema(monkeypatch):
    text = resources.files("probes").joinpath("data/stages.yaml").read_text()
    broken = yaml.safe_load(text)
    del broken["stages"][6]["actor"]
    monkeypatch.setattr(yaml, "load", lambda *_, **__: broken)
    with pytest.raises(CatalogError, match="stage 7"):
        load_catalog()


def test_the_schema_is_package_data():
    assert resources.files("probes").joinpath("data/catalog.schema.json").is_file()


def test_entry_names():
    data = raw()
    assert entry_name([], data) == "the catalog"
    assert entry_name(["stages", 3, "end", 1, "by", 0], data) == "stage 4 end[1] by[0]"
    assert entry_name(["events", "ks_path", "match"], data) == "event ks_path match"
    assert entry_name(["widen", 2, "from", 0], data) == "widen[2] from[0]"



def _segment(**fields):
    return {"name": "a wait", "kind": "wait", "service": "nova-compute", "what": "waits",
            "waits_for": "something", "start": {"point": "18.end"}, "end": {"point": "26.start"},
            **fields}


@pytest.mark.parametrize(("segments", "message"), [
    ([_segment(waits_for=None)], r"^segments\[0\] \(a wait\): a wait names what it waits for"),
    ([_segment(start={"point": "later.end"})],
     r"^segments\[0\] \(a wait\): 'later.end' is neither a stage's nor an earlier segment's"),
    ([_segment(end={"point": "59.start"})], r"'59.start' is neither a stage's"),
    ([_segment(), _segment()], r"^segments\[1\]: a second segment named 'a wait'$"),
    ([_segment(start={"event": "no_such_event"})], r"unknown event 'no_such_event'"),
])
def test_a_bad_segment_is_named(segments, message):
    data = raw()
    data["segments"] = [{k: v for k, v in s.items() if v is not None} for s in segments]
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data)


def test_a_segment_may_name_an_earlier_segments_points():
    data = raw()
    data["segments"] = [_segment(), _segment(name="next", kind="work", waits_for=None,
                                             start={"point": "a wait.end"},
                                             end=[{"point": "43.start"}, {"point": "a wait.end"}])]
    data["segments"][1].pop("waits_for")
    catalog = parse_catalog(data)
    assert [s.name for s in catalog.segments] == ["a wait", "next"]
    assert catalog.segments[1].start.point == "a wait.end"
    assert catalog.segments[1].end.otherwise is not None


def test_the_shipped_segments_read_real_templates():
    catalog = load_catalog()
    assert len(catalog.segments) >= 15
    for spec in catalog.segments:
        for selector in (spec.start, spec.end):
            while selector is not None:
                if selector.event:
                    assert catalog.events[selector.event].source, selector.event
                selector = selector.otherwise
        assert (spec.kind is SegmentKind.WAIT) == bool(spec.waits_for), spec.name


def test_bootprobe_stages_json_lists_the_segments_with_their_templates():
    from probes.catalog import catalog_to_dict

    catalog = load_catalog()
    printed = catalog_to_dict(catalog)
    assert [s["name"] for s in printed["segments"]] == [s.name for s in catalog.segments]
    wait = next(s for s in printed["segments"] if s["name"] == "volume wait")
    assert wait["kind"] == "wait" and wait["waits_for"]
    assert wait["start"]["pattern"].startswith("^Booting with")
    assert "source" not in wait["start"] and wait["start"]["template_source"]
    json.dumps(printed)  # as the CLI prints it
