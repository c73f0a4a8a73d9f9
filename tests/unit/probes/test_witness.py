"""A stage's witness (docs/evidence.md): the sources its start and end were read from, and
how falling back past a broker's or a profiler's selector differs from a stand-in. Each case
changes the shipped catalog's stage 14 or 10 and analyses a recorded boot
(tests/fixtures/boot-ok-20261126)."""

from __future__ import annotations

from collections import Counter
from importlib import resources

import pytest
import yaml

from probes.analyze import analyze
from probes.boots import read_boots
from probes.catalog import CatalogError, load_catalog, parse_catalog
from tests.support import FIXTURES

OK = FIXTURES / "boot-ok-20261126"
# a selector that finds nothing in any log: a topic no RPC server listens on
NOWHERE = {"event": "rpc_call_sent", "by": ["request"], "where": {"topic": "^no-such-topic$"}}


def raw():
    return yaml.safe_load(resources.files("probes").joinpath("data/stages.yaml").read_text())


def stage(data, number):
    return next(s for s in data["stages"] if s["number"] == number)


def logs_first(selectors):
    """The logs' first choice of a start or end: its first selector that reads no broker or
    profiler (the shipped RPC stages read the broker's witness first)."""
    chain = selectors if isinstance(selectors, list) else [selectors]
    return next(s for s in chain if s.get("witness", "logs") == "logs")


def analysed(data, number):
    result = analyze(OK, read_boots(OK), parse_catalog(data))
    return next(s for s in result["boots"][0]["stages"] if s["number"] == number)


@pytest.fixture(scope="module")
def shipped():
    result = analyze(OK, read_boots(OK), load_catalog())
    return {s["number"]: s for s in result["boots"][0]["stages"]}


def test_every_observed_stage_names_its_witness(shipped):
    kinds = Counter(s["witness"] for s in shipped.values() if s["status"] != "unobserved")
    assert None not in kinds and set(kinds) <= {"logs", "neighbours", "client", "logs+client",
                                                "neighbours+client"}
    assert all(s["witness"] is None for s in shipped.values() if s["status"] == "unobserved")
    assert shipped[14]["witness"] == "logs" and shipped[16]["witness"] == "neighbours"


def test_past_a_broker_selector_the_logs_are_the_first_choice(shipped):
    data = raw()
    stage(data, 14)["start"] = [{**NOWHERE, "witness": "broker"}, logs_first(stage(data, 14)["start"])]
    assert analysed(data, 14) == shipped[14]


def test_past_a_logs_selector_the_next_line_is_a_stand_in(shipped):
    data = raw()
    stage(data, 14)["start"] = [NOWHERE, logs_first(stage(data, 14)["start"])]
    found = analysed(data, 14)
    assert (found["start"], found["end"]) == (shipped[14]["start"], shipped[14]["end"])
    assert found["status"] == "proxy" and found["witness"] == "neighbours"
    assert found["note"].startswith("fallback: first 'rpc_call_sent' by request")


def test_a_direct_witness_of_a_proxy_stage_makes_it_measured(shipped):
    data = raw()
    start, end = stage(data, 10)["start"], stage(data, 10)["end"]
    stage(data, 10)["start"] = [{**start, "witness": "profiler", "fidelity": "direct"}, start]
    stage(data, 10)["end"] = [{**end, "witness": "profiler", "fidelity": "direct"}, end]
    found = analysed(data, 10)
    assert shipped[10]["status"] == "proxy" and shipped[10]["note"]
    assert (found["status"], found["witness"], found["note"]) == ("measured", "profiler", None)
    assert (found["start"], found["end"]) == (shipped[10]["start"], shipped[10]["end"])


def test_one_direct_witness_end_of_a_proxy_stage_leaves_it_a_proxy(shipped):
    data = raw()
    end = stage(data, 10)["end"]
    stage(data, 10)["end"] = [{**end, "witness": "broker", "fidelity": "direct"}, end]
    found = analysed(data, 10)
    assert (found["status"], found["witness"]) == ("proxy", "broker+neighbours")


def test_the_schema_refuses_an_unknown_witness():
    data = raw()
    stage(data, 14)["start"] = {**logs_first(stage(data, 14)["start"]), "witness": "oracle"}
    with pytest.raises(CatalogError, match="witness is broker, profiler, logs or client"):
        parse_catalog(data)
