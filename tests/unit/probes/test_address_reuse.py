"""A boot whose guest got the address the run's previous server had held (recorded on the
lab, tests/fixtures/boot-ip-reused-20261208): the previous guest's metadata request, made
within the window's slack before this boot's token request and tied only by that address,
is not this boot's stage 52-54, so the boot's window, critical path and accounting stand
(the CI failure of 2026-12-07: critical_path_s 19.5 s over end_to_end_s 17.3 s, no
accounting)."""

from __future__ import annotations

import gzip
from datetime import datetime

import pytest

from probes.analyze import analyze
from probes.boots import read_boots
from probes.catalog import load_catalog
from tests.support import FIXTURES

REUSED = FIXTURES / "boot-ip-reused-20261208"


@pytest.fixture(scope="module", params=["boots.json", "logs alone"])
def boot(request):
    given = read_boots(REUSED) if request.param == "boots.json" else None
    result = analyze(REUSED, given, load_catalog())
    assert len(result["boots"]) == 1
    return result["boots"][0]


def _stage(boot, number):
    return next(s for s in boot["stages"] if s["number"] == number)


def test_the_fixture_holds_the_previous_guests_metadata_request():
    boots = read_boots(REUSED)
    assert boots is not None
    auth = boots[0].client.auth_sent
    assert auth is not None
    lines = [line for path in REUSED.glob("*/**/*neutron-metadata-agent*")
             for line in _text(path).splitlines() if "meta_data.json" in line]
    stamps = [datetime.fromisoformat(line[:23]).replace(tzinfo=auth.tzinfo) for line in lines]
    assert any(stamp < auth for stamp in stamps), "the earlier guest's request is not in the fixture"
    assert any(stamp > auth for stamp in stamps)


def _text(path):
    return gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()


def test_the_metadata_stages_are_this_boots(boot):
    started = datetime.fromisoformat(_stage(boot, 43)["start"])
    for number in (52, 53, 54):
        stage = _stage(boot, number)
        assert stage["start"] and datetime.fromisoformat(stage["start"]) > started, number
        assert stage["end"] and datetime.fromisoformat(stage["end"]) > started, number


def test_the_critical_path_fits_in_the_boot_and_it_is_accounted(boot):
    assert 0 < boot["critical_path_s"] <= boot["end_to_end_s"]
    assert boot["accounting"] is not None
    assert boot["accounting"]["attributed_share"] >= 0.95
