"""The nightly gate: compare with noise margins, JUnit per stage, baselines pooled from
nights, and the trend over nights (moves found, CSV), on nights made from a recorded run."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

from probes.compare import Margins, compare, merge_results, spread
from probes.junit import render_junit, stage_titles
from probes.trend import find_moves, load_nights, render_trend_csv
from tests.support.nights import night, recorded, write_nights


def regressed(deltas):
    return [d.number for d in deltas if d.regressed]


def test_same_night_twice_has_no_regression():
    assert regressed(compare(recorded(), recorded(), margins=Margins())) == []


def test_a_slower_stage_is_the_one_named():
    base, new = night(1), night(2, slow={53: 1.0})
    deltas = compare(base, new, "p50_s", margins=Margins())
    assert regressed(deltas) == [53]
    d53 = deltas[53]
    assert round(d53.growth_s, 3) == 1.0 and d53.allowed_s < 0.1


def test_growth_within_the_baselines_spread_is_noise():
    # Stage 26 varies by 0.43 s from boot to boot in the recorded run (0.639 .. 1.071 s):
    # its p50 growing by 0.3 s is within that spread, beyond the relative and absolute margins.
    base, new = night(1), night(2, slow={26: 0.3})
    assert round(spread([0.639, 0.757, 1.071]), 3) == 0.432
    assert regressed(compare(base, new, "p50_s", margins=Margins())) == []
    assert regressed(compare(base, new, "p50_s", margins=Margins(spread=0))) == [26]
    # ... and growing by twice the spread is not.
    assert regressed(compare(base, night(2, slow={26: 0.9}), "p50_s", margins=Margins())) == [26]


def test_relative_and_absolute_margins():
    base = night(1)
    # Stage 43 (0.3 s): +0.04 s is below the 50 ms floor, +0.2 s above 20 % of it.
    assert regressed(compare(base, night(2, slow={43: 0.04}), "p50_s", margins=Margins(spread=0))) == []
    assert regressed(compare(base, night(2, slow={43: 0.2}), "p50_s", margins=Margins(spread=0))) == [43]
    assert regressed(compare(base, night(2, slow={43: 0.2}), "p50_s",
                             margins=Margins(relative=1.0, spread=0))) == []


def test_baseline_pools_nights():
    nights = [night(1), night(2, jitter=0.5), night(3)]
    merged = merge_results(nights)
    assert len(merged["boots"]) == 9
    assert merged["summary"]["stages"][25]["count"] == 9
    assert merged["merged_from"] == [n["started_at"] for n in nights]


def test_junit_has_a_case_per_stage_and_fails_the_slower_one():
    base, new = night(1), night(2, slow={53: 1.0})
    deltas = compare(base, new, "p50_s", margins=Margins())
    xml = render_junit(deltas, "p50_s", Margins(), stage_titles(new))
    suite = ET.fromstring(xml).find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 59 and suite.get("failures") == "1"
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == [
        "stage 53: Neutron_metadata_proxy -> Nova-api-metadata: http rest add uuid into X-headers"]
    assert "+1.000 s" in failed[0].find("failure").get("message")
    skipped = {c.get("name").split(":")[0] for c in cases if c.find("skipped") is not None}
    assert "stage 19" in skipped  # not observed on a cached image, in either night


def test_compare_cli_writes_junit_and_json(tmp_path):
    base, new = tmp_path / "base.json", tmp_path / "new.json"
    base.write_text(json.dumps(night(1)))
    new.write_text(json.dumps(night(2, slow={35: 2.0})))
    proc = subprocess.run([sys.executable, "-m", "probes", "compare", str(base), str(new),
                           "--metric", "p50", "--junit", str(tmp_path / "j.xml"),
                           "--json", str(tmp_path / "c.json")], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[-1] == "1 regression(s): stage 35"
    assert json.loads((tmp_path / "c.json").read_text())["regressed"] == [35]
    assert ET.parse(tmp_path / "j.xml").getroot().get("failures") == "1"
    same = subprocess.run([sys.executable, "-m", "probes", "compare", str(base), str(base)],
                          capture_output=True, text=True)
    assert same.returncode == 0


def trend_nights(tmp_path):
    results = [night(1), night(2, jitter=0.05), night(3, slow={53: 1.0}),
               night(4, slow={53: 1.0}, jitter=0.05), night(5)]
    return load_nights(reversed(write_nights(tmp_path, results)))


def test_trend_finds_the_night_a_stage_moved(tmp_path):
    nights = trend_nights(tmp_path)
    assert [n.label for n in nights] == ["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04",
                                         "2026-12-05"]
    moves = find_moves(nights)
    assert [(m.number, m.label, m.direction) for m in moves] == [
        (53, "2026-12-03", "up"), (53, "2026-12-05", "down")]
    assert round(moves[0].after_s - moves[0].before_s, 3) == 1.0


def test_trend_csv(tmp_path):
    nights = trend_nights(tmp_path)
    rows = list(csv.DictReader(io.StringIO(render_trend_csv(nights, find_moves(nights)))))
    assert len(rows) == 5 * 59
    moved = [(r["night"], r["stage"], r["moved"]) for r in rows if r["moved"]]
    assert moved == [("2026-12-03", "53", "up"), ("2026-12-05", "53", "down")]
    e2e = [r for r in rows if r["stage"] == "0"]
    assert [r["count"] for r in e2e] == ["3"] * 5


def test_trend_cli(tmp_path):
    paths = write_nights(tmp_path / "n", [night(1), night(2), night(3, slow={35: 2.0})])
    proc = subprocess.run([sys.executable, "-m", "probes", "trend", *map(str, paths), "--html",
                           str(tmp_path / "t.html"), "--csv", str(tmp_path / "t.csv")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "stage 35 moved up on 2026-12-03" in proc.stderr
    assert 'id="stage-35"' in (tmp_path / "t.html").read_text()
    bad = subprocess.run([sys.executable, "-m", "probes", "trend", str(tmp_path)],
                         capture_output=True, text=True)
    assert bad.returncode == 2


def test_a_stage_no_longer_observed_fails_when_asked():
    base, new = night(1), night(2)
    for boot in new["boots"]:
        for stage in boot["stages"]:
            if stage["number"] in (52, 53, 54):
                stage.update(status="unobserved", duration_s=None, reason="no log of it")
    from probes.summary import summarize
    new["summary"] = summarize(new["boots"])
    assert regressed(compare(base, new, "p50_s", margins=Margins())) == []
    deltas = compare(base, new, "p50_s", margins=Margins(), fail_lost=True)
    assert regressed(deltas) == [52, 53, 54]
    failures = [c.find("failure") for c in ET.fromstring(render_junit(deltas, "p50_s", Margins(), stage_titles(new)))
                .iter("testcase") if c.find("failure") is not None]
    assert [f.get("type") for f in failures] == ["evidence-lost"] * 3
    assert failures[1].get("message") == "stage 53 no longer observed: base 0.025 s over 3 boots, now none"


def test_a_stage_seen_now_and_then_is_not_lost():
    # Stages 40-41 (Cinder asks Keystone to validate the token) show only when
    # keystonemiddleware's cache misses: 2 of 6 boots in a lab night. Not seeing such a stage
    # in a night is not evidence lost; stage 53, seen in every boot, is. (Stage 44 of the
    # recorded run plays the intermittent one here: 40-41 are unobserved in it.)
    from probes.summary import summarize

    base, new = night(1), night(2)
    for boot in base["boots"][1:]:
        for stage in boot["stages"]:
            if stage["number"] == 44:
                stage.update(status="unobserved", duration_s=None)
    for boot in new["boots"]:
        for stage in boot["stages"]:
            if stage["number"] in (44, 53):
                stage.update(status="unobserved", duration_s=None)
    base["summary"], new["summary"] = summarize(base["boots"]), summarize(new["boots"])
    deltas = compare(base, new, "p50_s", margins=Margins(), fail_lost=True)
    assert regressed(deltas) == [53]
    assert deltas[44].note == "no longer observed (the base saw it in 1 of 3 boots only)"
    # A stage only the cold boot shows (fresh image: Glance, the gateway) counts as steady.
    base["options"] = {"fresh_image": True}
    assert regressed(compare(base, new, "p50_s", margins=Margins(), fail_lost=True)) == [44, 53]
