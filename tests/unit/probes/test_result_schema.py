"""Every result bootprobe gives matches the JSON schema of bootlab.run/1
(probes/data/result.schema.json), and the schema and the result's TypedDicts
(probes.records) name the same keys.

The results: each recorded fixture analysed with its boots.json and without it (the
boots found in its logs), the result of its boots unanalysed (Ctrl-C), a run's
additions to it, results merged into a baseline, and the recorded result files
(tests/fixtures/run-*.json).
"""

from __future__ import annotations

import json
import tomllib
import types
import typing
from dataclasses import asdict
from fnmatch import fnmatch
from importlib import resources
from typing import Any, get_args, get_origin, get_type_hints, is_typeddict

import pytest
from jsonschema import Draft202012Validator

from probes import records
from probes.analyze import analyze, unanalysed
from probes.boots import read_boots
from probes.catalog import load_catalog
from probes.collect import StackReport
from probes.compare import merge_results
from probes.run import Swept
from tests.support import FIXTURES, ROOT

FOLDERS = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and any(p.glob("*/host.json")))
RESULT_FILES = sorted(FIXTURES.glob("run-*.json"))

# The schema's definitions and the TypedDicts that type the same objects.
TYPED = {
    "evidence": records.Evidence, "error": records.ErrorLine, "stage": records.StageResult,
    "client": records.ClientSeen, "keys": records.BootKeysResult, "boot": records.BootResult,
    "source": records.SourceResult, "host": records.HostResult, "aggregate": records.Aggregate,
    "stage_summary": records.StageSummary, "summary": records.Summary,
    "setting": records.SettingResult, "unattributed": records.UnattributedFile,
    "segment": records.SegmentResult, "accounting": records.AccountingResult,
    "segment_summary": records.SegmentSummary, "share_summary": records.ShareSummary,
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(resources.files("probes").joinpath("data/result.schema.json").read_text())


@pytest.fixture(scope="module")
def validator(schema):
    return Draft202012Validator(schema)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _valid(validator, result) -> None:
    errors = sorted(validator.iter_errors(json.loads(json.dumps(result))), key=lambda e: e.path)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:10])


def _has_every_key(value: Any, hint: Any, where: str = "result") -> None:
    """The value has exactly the keys of its TypedDict (the optional ones may be absent),
    all the way down."""
    if hint is Any or value is None:
        return
    if get_origin(hint) in (typing.Union, types.UnionType):
        options = [h for h in get_args(hint) if h is not type(None)]
        if isinstance(value, dict):  # the TypedDict whose keys it has
            typed = [h for h in options if is_typeddict(h) and set(value) <= set(get_type_hints(h))
                     and h.__required_keys__ <= set(value)]
            options = typed[:1] or options
        for option in options[:1]:
            _has_every_key(value, option, where)
        return
    if get_origin(hint) is list:
        for index, item in enumerate(value):
            _has_every_key(item, get_args(hint)[0], f"{where}[{index}]")
        return
    if is_typeddict(hint):
        hints = get_type_hints(hint)
        assert hint.__required_keys__ <= set(value) <= set(hints), (where, hint.__name__, set(value) ^ set(hints))
        for key, item in value.items():
            _has_every_key(item, hints[key], f"{where}.{key}")


def test_the_schema_is_a_valid_draft_2020_12_schema(schema):
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema"] == {"const": records.RESULT_SCHEMA}


def test_the_schema_ships_with_the_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["probes"]
    assert any(fnmatch("data/result.schema.json", pattern) for pattern in patterns)


def test_the_schemas_outcomes_and_exit_codes_are_the_runs(schema):
    outcomes = [outcome.value for outcome in records.Outcome]
    assert schema["properties"]["outcome"]["enum"] == outcomes
    assert schema["$defs"]["boot"]["properties"]["outcome"]["enum"] == outcomes
    assert schema["properties"]["exit_code"]["enum"] == [o.exit_code for o in records.Outcome]


@pytest.mark.parametrize("name", sorted(TYPED))
def test_the_schema_and_the_typeddicts_name_the_same_keys(schema, name):
    typed, definition = TYPED[name], schema["$defs"][name]
    assert set(definition["properties"]) == set(get_type_hints(typed)), name
    assert set(definition["required"]) <= typed.__required_keys__, name
    assert definition["additionalProperties"] is False


def test_the_schema_names_the_results_keys(schema):
    assert set(schema["properties"]) == set(get_type_hints(records.Result))
    assert set(schema["required"]) <= records.Result.__required_keys__
    bad_lines = schema["properties"]["bad_lines"]
    assert set(bad_lines["properties"]) == set(get_type_hints(records.BadLines))


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_every_fixture_analysed_matches_the_schema(validator, catalog, folder):
    boots = read_boots(folder)
    variants = [boots, None] if boots is not None else [None]  # with boots.json, without
    for given in variants:
        result = analyze(folder, given, catalog)
        assert result["boots"]
        _valid(validator, result)
        _has_every_key(result, records.Result)
        assert records.Result.__required_keys__ == set(result)  # the analysis adds no other key
    for outcome in (None, "boot-failed", "interrupted") if boots is not None else ():
        given = read_boots(folder) or []  # the client's boots, their logs not analysed (Ctrl-C)
        for boot in given if outcome else ():
            boot.outcome, boot.message = outcome, "stopped"
        bare = unanalysed(given, catalog, "interrupted (Ctrl-C) during log collection")
        _valid(validator, bare)
        _has_every_key(bare, records.Result)

def test_a_runs_additions_match_the_schema(validator, catalog):
    boots = read_boots(FIXTURES / "boot-novalidhost-20261126") or []
    result = unanalysed(boots, catalog, "interrupted")
    result["interrupted_during"] = "collection"
    result.update({"tool_version": "0.1.0", "outcome": "interrupted", "exit_code": 130,
                   "message": "interrupted (Ctrl-C)", "options": {"cloud": "bootlab", "count": 1}})
    result["stacks"] = [asdict(StackReport("bootlab1", "nova-compute.service", [["a frame"]]))]
    result["swept"] = asdict(Swept(servers=["uuid"], left=["a port: gone"]))
    _valid(validator, result)
    _has_every_key(result, records.Result)


def test_results_merged_into_a_baseline_match_the_schema(validator):
    results = [json.loads(path.read_text()) for path in RESULT_FILES]
    _valid(validator, merge_results(results))


@pytest.mark.parametrize("path", RESULT_FILES, ids=lambda p: p.name)
def test_the_recorded_result_files_match_the_schema(validator, path):
    _valid(validator, json.loads(path.read_text()))


def test_a_result_off_the_schema_is_refused(validator):
    result = json.loads(RESULT_FILES[0].read_text())
    result["boots"][0]["stages"][0]["status"] = "seen"
    result["boots"][0]["stages"].pop()
    result["boots"][0]["unknown"] = 1
    messages = {e.message for e in validator.iter_errors(result)}
    assert any("'seen' is not one of" in m for m in messages)
    assert any("is too short" in m for m in messages)
    assert any("'unknown' was unexpected" in m for m in messages)
