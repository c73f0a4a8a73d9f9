"""The accounting rules (probes.accounting, docs/accounting.md) on small timelines, and the
accounting of every recorded boot (tests/fixtures): at least 90 % of each boot attributed,
every unexplained stretch quoting the lines around it, the critical path adding up to the
end-to-end time, every segment proven by lines of the boot's logs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from probes.accounting import STAGE, UNEXPLAINED, WAIT, WORK, Segment, account, window
from probes.analyze import analyze
from probes.boots import read_boots
from probes.catalog import SegmentKind, load_catalog
from tests.support import FIXTURES

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
FOLDERS = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and any(p.glob("*/host.json")))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def seg(name: str, start: float, end: float, kind: str = WORK, stage: int | None = None) -> Segment:
    line = {"role": "end", "host": "h", "source": "svc f", "at": None, "line": f"{name} line"}
    return Segment(name, kind, at(start), at(end), "h", "svc", (line,), stage=stage)


def stage(number: int, start: float, end: float) -> Segment:
    return seg(f"{number} stage", start, end, STAGE, number)


def test_the_window_runs_from_the_token_request_to_the_metadata_reply():
    stages = [stage(1, 0, 0.1), stage(58, 5, 6), stage(54, 7, 8), stage(20, 3, 9)]
    assert window(stages) == (at(0), at(8))


def test_without_metadata_the_window_ends_at_active_and_else_at_the_last_end():
    assert window([stage(1, 0, 1), stage(58, 5, 6)]) == (at(0), at(6))
    assert window([stage(1, 0, 1), stage(13, 2, 3)]) == (at(0), at(3))
    assert window([]) is None


def test_what_no_stage_or_segment_covers_is_unexplained_and_quotes_its_neighbours():
    result = account([stage(1, 0, 1), stage(54, 3, 4)], [seg("work", 1, 2)])
    assert result is not None
    holes = [s for s in result.segments if s.kind == UNEXPLAINED]
    assert [(h.name, h.start, h.end) for h in holes] == [("unexplained after work", at(2), at(3))]
    assert [(e["role"], e["line"]) for e in holes[0].evidence] == [
        ("before", "work line"), ("after", "54 stage line")]
    assert (result.end_to_end_s, result.attributed_s, result.unexplained_s) == (4.0, 3.0, 1.0)


def test_work_side_by_side_is_counted_once():
    result = account([stage(1, 0, 1), stage(54, 9, 10)],
                     [seg("network", 1, 6), seg("volume", 1, 9, WAIT), seg("image", 2, 4)])
    assert result is not None
    assert result.unexplained_s == 0 and result.attributed_s == 10.0
    assert [s.name for s in result.segments] == ["1 stage", "network", "volume", "image", "54 stage"]


def test_the_critical_path_follows_what_ended_when_the_next_began_and_adds_up():
    # the volume wait ends when the spawn starts; the network, done earlier, is off the path
    result = account([stage(1, 0, 1), stage(43, 7, 8), stage(54, 9, 10)],
                     [seg("network", 1, 4), seg("volume wait", 1, 7, WAIT), seg("guest", 8, 9)])
    assert result is not None
    assert [(p.segment.name, p.seconds) for p in result.critical] == [
        ("1 stage", 1.0), ("volume wait", 6.0), ("43 stage", 1.0), ("guest", 1.0),
        ("54 stage", 1.0)]
    assert sum(p.seconds for p in result.critical) == result.end_to_end_s


def test_on_a_tie_the_critical_path_takes_the_later_start_then_a_stage_before_work():
    result = account([stage(1, 0, 1), stage(54, 5, 6), stage(30, 3, 5)],
                     [seg("long", 1, 5), seg("same as stage", 3, 5)])
    assert result is not None
    names = [p.segment.name for p in result.critical]
    assert names == ["1 stage", "long", "30 stage", "54 stage"]


def test_a_hole_is_on_the_critical_path_when_nothing_else_runs():
    result = account([stage(1, 0, 1), stage(54, 3, 4)], [])
    assert result is not None
    assert [p.segment.kind for p in result.critical] == [STAGE, UNEXPLAINED, STAGE]


def test_a_gap_under_the_logs_resolution_goes_to_what_ended_before_it():
    result = account([stage(1, 0, 1), stage(54, 1.0005, 2)], [])
    assert result is not None
    assert result.unexplained_s == 0
    assert sum(p.seconds for p in result.critical) == pytest.approx(2.0)


def _results():
    catalog = load_catalog()
    for folder in FOLDERS:
        boots = read_boots(folder)
        for given in ([boots, None] if boots is not None else [None]):
            yield folder.name, analyze(folder, given, catalog)


@pytest.fixture(scope="module")
def fixture_results():
    return list(_results())


def test_every_recorded_boot_is_at_least_90_percent_attributed(fixture_results):
    for name, result in fixture_results:
        for boot in result["boots"]:
            accounting = boot["accounting"]
            assert accounting is not None, name
            assert accounting["attributed_share"] >= 0.9, (name, accounting["attributed_share"])


def test_every_recorded_critical_path_adds_up_to_the_end_to_end_time(fixture_results):
    for name, result in fixture_results:
        for boot in result["boots"]:
            accounting = boot["accounting"]
            on_path = sum(s["critical_s"] for s in accounting["segments"])
            assert on_path == pytest.approx(accounting["end_to_end_s"], rel=0.01), name
            names = {s["name"] for s in accounting["segments"] if s["critical_s"] > 0}
            assert set(accounting["critical_path"]) == names, name


def test_every_recorded_segment_is_proven_by_lines_and_every_hole_by_its_neighbours(
        fixture_results):
    kinds = {k.value for k in SegmentKind}
    for name, result in fixture_results:
        for boot in result["boots"]:
            for segment in boot["accounting"]["segments"]:
                roles = [e["role"] for e in segment["evidence"]]
                if segment["kind"] in kinds:
                    assert roles == ["start", "end"], (name, segment["name"])
                    assert segment["start"] <= segment["end"]
                elif segment["kind"] == UNEXPLAINED:
                    assert set(roles) <= {"before", "after"} and roles, (name, segment["name"])


def test_a_cold_boot_names_the_volume_wait_and_the_guest(fixture_results):
    """boot-cold-20261126: a 1 GiB volume, a fresh image; nova-compute polls the volume every 3 s."""
    result = dict(fixture_results)["boot-cold-20261126"]
    segments = {s["name"]: s for s in result["boots"][0]["accounting"]["segments"]}
    assert {"volume create", "volume wait", "disk image", "guest boot to dhcp", "dhcp lease",
            "guest boot to metadata"} <= set(segments)
    assert segments["volume wait"]["kind"] == WAIT and segments["volume wait"]["waits_for"]
    assert segments["volume wait"]["duration_s"] > segments["volume create"]["duration_s"]
    assert segments["guest boot to dhcp"]["service"] == "guest"


def test_compare_and_the_junit_judge_the_segments_as_the_stages(fixture_results):
    import copy

    from probes.compare import Margins, compare, deltas_to_dict, render_compare
    from probes.junit import render_junit, stage_titles
    from probes.summary import summarize

    base = dict(fixture_results)["boot-cold-20261126"]
    new = copy.deepcopy(base)
    for segment in new["boots"][0]["accounting"]["segments"]:
        if segment["name"] == "volume wait":
            segment["duration_s"] += 3.0  # nova-compute polls the volume once more
    new["summary"] = summarize(new["boots"])
    margins = Margins()
    deltas = compare(base, new, margins=margins)
    judged = {d.segment: d for d in deltas if d.segment}
    assert {"volume wait", "guest boot to dhcp", "disk image"} <= set(judged)
    assert [d.label for d in deltas if d.regressed] == ["segment volume wait"]
    assert deltas_to_dict(deltas, "p95_s", margins)["regressed"] == ["segment:volume wait"]
    assert "volume wait" in render_compare(deltas, "p95_s", 0.2, margins)
    junit = render_junit(deltas, "p95_s", margins, stage_titles(base))
    assert 'name="segment: volume wait"' in junit and "segment volume wait regressed" in junit
    assert not [d for d in compare(base, base, margins=margins) if d.regressed]
