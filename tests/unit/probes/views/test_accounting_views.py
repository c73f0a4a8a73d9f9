"""The accounting in the views: the table's 'where the time went', the CSV's segment rows,
the Perfetto trace's segment slices, on a recorded cold boot analysed here."""

from __future__ import annotations

import csv
import io
import json

import pytest

from probes.analyze import analyze
from probes.boots import read_boots
from probes.catalog import load_catalog
from probes.views.csv import render_csv
from probes.views.table import render_table
from probes.views.trace import render_trace
from tests.support import FIXTURES


@pytest.fixture(scope="module")
def result():
    folder = FIXTURES / "boot-cold-20261126"
    return analyze(folder, read_boots(folder), load_catalog())


def test_the_table_says_where_the_time_went(result):
    text = render_table(result)
    accounting = result["boots"][0]["accounting"]
    assert f"where the time went: boot 0, {accounting['end_to_end_s']:.3f} s end to end" in text
    assert "guest boot to dhcp" in text and "volume wait" in text
    assert "where the time went across boots" in text


def test_the_csv_has_a_row_per_segment_with_its_kind_and_critical_seconds(result):
    rows = list(csv.DictReader(io.StringIO(render_csv(result))))
    segments = result["boots"][0]["accounting"]["segments"]
    assert len(rows) == 58 + sum(1 for s in segments if s["kind"] != "stage")
    by_name = {r["action"]: r for r in rows if r["kind"] != "stage"}
    wait = next(s for s in segments if s["name"] == "volume wait")
    assert by_name["volume wait"]["kind"] == "wait"
    assert float(by_name["volume wait"]["critical_s"]) == wait["critical_s"]
    assert by_name["volume wait"]["reason"] == wait["waits_for"]
    on_path = sum(float(r["critical_s"] or 0) for r in rows)
    assert on_path == pytest.approx(result["boots"][0]["accounting"]["end_to_end_s"], rel=0.01)


def test_the_trace_has_a_slice_per_segment_on_nesting_threads(result):
    events = json.loads(render_trace(result))["traceEvents"]
    threads = {e["tid"]: e["args"]["name"] for e in events if e.get("name") == "thread_name"}
    slices = [e for e in events if e["ph"] == "X"]
    segments = [s for s in result["boots"][0]["accounting"]["segments"] if s["kind"] != "stage"]
    named = [e for e in slices if e["cat"] in ("work", "wait", "unexplained")]
    assert sorted(e["name"] for e in named) == sorted(s["name"] for s in segments)
    assert {threads[e["tid"]].split(" #")[0] for e in named if e["cat"] == "wait"} >= {
        "wait: nova-compute"}
    for tid in threads:  # slices of one thread nest or are disjoint (Perfetto drops the rest)
        mine = sorted(((e["ts"], e["ts"] + e["dur"]) for e in slices if e["tid"] == tid),
                      key=lambda span: (span[0], -span[1]))
        open_ends: list[int] = []
        for start, end in mine:
            while open_ends and open_ends[-1] <= start:
                open_ends.pop()
            assert not open_ends or end <= open_ends[-1], threads[tid]
            open_ends.append(end)
