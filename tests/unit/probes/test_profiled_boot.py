"""A boot made with bootprobe run --profile (tests/fixtures/boot-profiled-cold-20261208): which
stages OSProfiler's spans make direct, that they tie to the boot by its trace (from boots.json,
or learnt from the logs alone), that without the trace the logs answer as before, and that
neither the fixture nor its trace holds a lab secret, an SQL parameter or a query string."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pytest

from probes.analyze import analyze
from probes.boots import BOOTS_FILE, read_boots
from probes.catalog import load_catalog
from tests.support import FIXTURES

PROFILED = FIXTURES / "boot-profiled-cold-20261208"
TRACE = next(PROFILED.glob("*/osprofiler-trace-*.log.gz"))
# The stages the spans make direct (the logs alone: proxies), and the spans that do it.
DIRECT = {5: "prof_create_db", 9: "prof_allocation_candidates", 11: "prof_allocation_claim",
          16: "prof_conductor_db", 40: "prof_validate_cinder", 41: "prof_validate_cinder"}
SECRETS = Path.home() / ".local/state/bootlab/local/secrets"


def stages(result):
    return {s["number"]: s for s in result["boots"][0]["stages"]}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def profiled(catalog):
    return analyze(PROFILED, read_boots(PROFILED), catalog)


@pytest.fixture(scope="module")
def untraced(catalog, tmp_path_factory):
    """The same boot's folder without its trace: what the logs alone say."""
    folder = tmp_path_factory.mktemp("untraced") / PROFILED.name
    shutil.copytree(PROFILED, folder, ignore=shutil.ignore_patterns("osprofiler-trace-*"))
    return analyze(folder, read_boots(folder), catalog)


def trace_lines() -> list[str]:
    return gzip.decompress(TRACE.read_bytes()).decode().splitlines()


def test_the_spans_make_the_database_and_token_validation_stages_direct(profiled, untraced):
    found, logs = stages(profiled), stages(untraced)
    for number in DIRECT:
        assert logs[number]["status"] == "proxy" and logs[number]["fidelity"] == "proxy", number
        assert found[number]["status"] == "measured", (number, found[number]["note"])
        assert found[number]["witness"] in ("profiler", "profiler+logs"), number
        assert found[number]["note"] is None  # a witness saw the act itself
        assert "osprofiler-trace-" in found[number]["evidence"][0]["source"]
    assert found[41]["witness"] == "profiler+logs"  # Keystone's answer, then cinder-api's first line
    def measured(found):
        return sum(s["status"] == "measured" for s in found.values())

    assert measured(found) == measured(logs) + len(DIRECT)


def test_keystones_span_bounds_the_token_request(profiled, untraced):
    found, logs = stages(profiled), stages(untraced)
    assert found[2]["status"] == "proxy" and found[2]["witness"] == "profiler"  # still no token store
    assert found[1]["end"] == found[2]["start"] and found[2]["end"] == found[3]["start"]
    # the middleware's span holds every line Keystone logged for the request
    assert found[2]["start"] <= logs[2]["start"] and found[2]["end"] >= logs[2]["end"]
    assert found[1]["start"] <= found[1]["end"] and found[3]["start"] <= found[3]["end"]


def test_the_spans_lie_where_the_logs_put_the_stages(profiled, untraced):
    found, logs = stages(profiled), stages(untraced)
    # the INSERTs between 'Going to run' and the create request's access line
    assert logs[5]["start"] <= found[5]["start"] <= found[5]["end"] <= logs[5]["end"]
    # the conductor's SQL between its receipt of compute's call and its reply
    assert found[15]["end"] <= found[16]["start"] <= found[16]["end"] <= found[17]["start"]
    # Keystone validated cinder-api's token before cinder-api logged the request
    assert found[40]["end"] == found[41]["start"] <= found[41]["end"] == found[39]["start"]
    # the scheduler: candidates, then the claim
    assert found[9]["end"] <= found[11]["start"]


def test_the_trace_ties_to_the_boot_with_or_without_boots_json(catalog, profiled, tmp_path):
    [boot] = read_boots(PROFILED)
    assert boot.trace_id and profiled["boots"][0]["keys"]["trace_ids"] == [boot.trace_id]
    assert all(f" base {boot.trace_id} " in line for line in trace_lines())
    folder = tmp_path / "logs-alone"
    shutil.copytree(PROFILED, folder, ignore=shutil.ignore_patterns(BOOTS_FILE))
    alone = analyze(folder, None, catalog)
    assert alone["boots"][0]["keys"]["trace_ids"] == [boot.trace_id]
    for number in DIRECT:
        assert stages(alone)[number]["status"] == "measured", number
        assert stages(alone)[number]["start"] == stages(profiled)[number]["start"], number


def test_without_the_trace_no_stage_names_the_profiler(untraced):
    assert all("profiler" not in (s["witness"] or "") for s in stages(untraced).values())
    assert "trace_ids" in untraced["boots"][0]["keys"]  # boots.json still names its trace


def test_the_trace_keeps_no_query_argument_or_sql_parameter():
    lines = trace_lines()
    assert len(lines) > 1000
    wsgi = [line for line in lines if re.search(r"Z osprofiler \S+ \S+ \S+ wsgi ", line)]
    assert wsgi and not [line for line in wsgi if "?" in line.split(": ", 1)[1]]
    db = [line.split(": ", 1)[1] for line in lines if " db " in line or " neutron.db " in line]
    assert db and not [s for s in db if re.search(r"'(?!\?')[^']*'", s)]  # literals blanked
    # (the function spans name the function only: never its args or kwargs)
    assert not [line for line in lines if re.search(r"\b(?:args|kwargs|params)\b", line)]


@pytest.mark.skipif(not SECRETS.is_dir(), reason="no lab secrets on this machine")
def test_the_fixture_holds_no_lab_secret():
    """Every lab secret, the HMAC key and the trace store's password included, against every
    file of the fixture (gzipped ones read uncompressed)."""
    secrets = {p.name: p.read_text().split()[0] for p in SECRETS.iterdir()
               if p.is_file() and p.read_text().strip() and len(p.read_text().split()[0]) >= 8}
    assert {"osprofiler-hmac", "osprofiler-redis"} <= set(secrets)
    for path in (p for p in PROFILED.rglob("*") if p.is_file()):
        data = path.read_bytes()
        text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8", "replace")
        leaked = [name for name, secret in secrets.items() if secret in text]
        assert not leaked, f"{path.relative_to(PROFILED)} holds the lab secrets {leaked}"
