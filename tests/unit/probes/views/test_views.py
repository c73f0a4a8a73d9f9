"""The result views (probes.views): CSV, Chrome/Perfetto trace, HTML waterfall.

Each test runs on every result file in tests/fixtures: the ones recorded on the lab
(``run-lab-*.json``) and the hand-made sample (``run-sample-*.json``).
"""

from __future__ import annotations

import copy
import csv
import io
import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from html import escape
from html.parser import HTMLParser
from importlib.resources import files
from typing import Any

import pytest

from probes.views.csv import HEADER, render_csv
from probes.views.html import render_html
from probes.views.trace import Slice, assign_lanes, render_trace
from tests.support import FIXTURES

RESULT_FILES = sorted(FIXTURES.glob("run-lab-*.json")) + sorted(
    FIXTURES.glob("run-sample-*.json")
)
STAGES_PER_BOOT = 58
# The page's one script, as the package ships it.
JS = files("probes").joinpath("templates/run.js").read_text(encoding="utf-8")


def test_there_is_a_result_fixture():
    assert RESULT_FILES, f"no run-lab-*.json nor run-sample-*.json in {FIXTURES}"


@pytest.fixture(params=RESULT_FILES, ids=lambda p: p.name)
def result(request) -> dict[str, Any]:
    return json.loads(request.param.read_text(encoding="utf-8"))


def all_stages(result: dict[str, Any]):
    for boot in result["boots"]:
        for stage in boot["stages"]:
            yield boot, stage


def untrusted_texts(result: dict[str, Any]) -> list[str]:
    """Log-derived strings of the result: evidence lines, reasons, error lines."""
    texts = [e["line"] for _, s in all_stages(result) for e in s.get("evidence") or []]
    texts += [s["reason"] for _, s in all_stages(result) if s.get("reason")]
    for boot in result["boots"]:
        error = boot.get("error")
        texts.append(
            error.get("line", "") if isinstance(error, dict) else str(error or "")
        )
    return [t for t in texts if t]


# ---- the fixtures themselves ----------------------------------------------------------


def test_fixture_boots_have_all_58_stages_in_order(result):
    assert result["schema"] == "bootlab.run/1"
    assert result["boots"]
    for boot in result["boots"]:
        assert [s["number"] for s in boot["stages"]] == list(
            range(1, STAGES_PER_BOOT + 1)
        )


def test_handmade_sample_exercises_every_case():
    sample = json.loads((FIXTURES / "run-sample-handmade.json").read_text())
    statuses = Counter(s["status"] for _, s in all_stages(sample))
    assert statuses["measured"] and statuses["proxy"] and statuses["unobserved"]
    failed = [b for b in sample["boots"] if b["outcome"] == "boot-failed"]
    assert [b["failed_stage"] for b in failed] == [43]
    assert failed[0]["error"]["line"]
    assert any("<script>" in t for t in untrusted_texts(sample))
    assert any(s["duration_s"] == 0 for _, s in all_stages(sample))
    assert any(not h["reachable"] for h in sample["hosts"])


# ---- CSV ------------------------------------------------------------------------------


def parse_csv(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == HEADER
    return list(reader)


def test_csv_header_is_the_documented_one():
    assert ",".join(HEADER) == (
        "boot,server_id,stage,actor,target,action,status,fidelity,start,end,duration_s,"
        "offset_s,evidence_count,reason,kind,critical_s,witness"
    )


def test_csv_has_one_row_per_boot_per_stage_and_parses_back(result):
    rows = parse_csv(render_csv(result))
    pairs = list(all_stages(result))
    assert len(rows) == STAGES_PER_BOOT * len(result["boots"]) == len(pairs)
    for row, (boot, stage) in zip(rows, pairs, strict=True):
        assert int(row["boot"]) == boot["index"]
        assert row["server_id"] == (boot["server_id"] or "")
        assert int(row["stage"]) == stage["number"]
        for key in ("actor", "target", "action", "status", "fidelity"):
            assert row[key] == stage[key]
        assert row["start"] == (stage["start"] or "")
        assert row["end"] == (stage["end"] or "")
        for key in ("duration_s", "offset_s"):
            if stage[key] is None:
                assert row[key] == ""
            else:
                assert float(row[key]) == stage[key]
        assert int(row["evidence_count"]) == len(stage["evidence"])
        assert row["reason"] == (stage["reason"] or "")


def test_csv_quotes_commas_quotes_and_newlines(result):
    tricky = copy.deepcopy(result)
    tricky["boots"][0]["stages"][1]["reason"] = 'a, "quoted"\nsecond line'
    rows = parse_csv(render_csv(tricky))
    assert len(rows) == STAGES_PER_BOOT * len(result["boots"])
    assert rows[1]["reason"] == 'a, "quoted"\nsecond line'


# ---- trace ----------------------------------------------------------------------------


def trace_events(result: dict[str, Any]) -> list[dict[str, Any]]:
    text = render_trace(result)
    document = json.loads(text)
    # Older Perfetto importers stop at a top-level key they don't know: events first.
    assert list(document) == ["displayTimeUnit", "traceEvents", "otherData"]
    assert document["displayTimeUnit"] == "ms"
    assert isinstance(document["traceEvents"], list)
    return document["traceEvents"]


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def test_trace_events_follow_the_trace_event_format(result):
    events = trace_events(result)
    metadata_names = {
        "process_name",
        "process_labels",
        "process_sort_index",
        "thread_name",
        "thread_sort_index",
    }
    for event in events:
        assert isinstance(event["name"], str) and event["name"], event
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int), event
        assert event["ph"] in {"X", "M", "i"}, event
        if event["ph"] == "X":
            assert is_number(event["ts"]) and event["ts"] >= 0, event
            assert is_number(event["dur"]) and event["dur"] >= 0, event
            assert isinstance(event["cat"], str), event
        elif event["ph"] == "i":
            assert is_number(event["ts"]) and event["ts"] >= 0, event
            assert event["s"] in {"g", "p", "t"}, event
        else:
            assert event["name"] in metadata_names, event
            assert set(event["args"]) & {"name", "sort_index", "labels"}, event
    assert min(e["ts"] for e in events if "ts" in e) == 0


def test_trace_has_one_complete_event_per_observed_stage(result):
    events = trace_events(result)
    xs = [e for e in events if e["ph"] == "X"]
    observed = [(b, s) for b, s in all_stages(result) if s["status"] != "unobserved"]
    assert len(xs) == len(observed)
    by_key = {(e["pid"], e["args"]["stage"]): e for e in xs}
    pids = {b["index"]: pid for pid, b in enumerate(result["boots"], start=1)}
    for boot, stage in observed:
        event = by_key[(pids[boot["index"]], stage["number"])]
        assert event["name"] == f"{stage['number']:02d} {stage['action']}"
        assert event["cat"] == stage["status"]
        assert event["args"]["fidelity"] == stage["fidelity"]
        assert len(event["args"]["evidence"]) == len(stage["evidence"])
        if stage["duration_s"] is not None:
            assert abs(event["dur"] - stage["duration_s"] * 1e6) <= 1.0


def test_trace_thread_ids_are_unique_across_processes(result):
    # Perfetto keys threads by tid alone: one tid in two processes would merge them.
    owners: dict[int, set[int]] = defaultdict(set)
    for event in trace_events(result):
        owners[event["tid"]].add(event["pid"])
    assert all(len(pids) == 1 for pids in owners.values()), owners


def test_trace_names_every_process_and_thread(result):
    events = trace_events(result)
    process_names = {
        e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"
    }
    thread_names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events
        if e["name"] == "thread_name"
    }
    assert len(process_names) == len(result["boots"])
    for pid, boot in enumerate(result["boots"], start=1):
        assert (boot["server_name"] or boot["server_id"]) in process_names[pid]
    for event in events:
        if event["ph"] == "X":
            actor = event["args"]["actor"]
            assert thread_names[(event["pid"], event["tid"])].split(" #")[0] == actor


def test_trace_lists_the_unobserved_stages_of_each_boot(result):
    events = trace_events(result)
    for pid, boot in enumerate(result["boots"], start=1):
        listed = [
            e
            for e in events
            if e["ph"] == "i" and e["pid"] == pid and e["name"].startswith("unobserved")
        ]
        assert len(listed) == 1
        expected = [s for s in boot["stages"] if s["status"] == "unobserved"]
        assert listed[0]["args"]["count"] == len(expected)
        for text, stage in zip(listed[0]["args"]["stages"], expected, strict=True):
            assert text.startswith(f"{stage['number']:02d} ")


def test_trace_marks_a_failed_boot(result):
    events = trace_events(result)
    for pid, boot in enumerate(result["boots"], start=1):
        marks = [
            e for e in events if e["pid"] == pid and e["name"].startswith("boot failed")
        ]
        assert len(marks) == (1 if boot["failed_stage"] is not None else 0)


def nested_per_thread(events: list[dict[str, Any]]) -> bool:
    by_thread: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for e in events:
        if e["ph"] == "X":
            by_thread[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
    return not any(
        a_start < b_start < a_end < b_end
        for spans in by_thread.values()
        for a_start, a_end in spans
        for b_start, b_end in spans
    )


def test_trace_complete_events_on_a_thread_nest(result):
    assert nested_per_thread(trace_events(result))


def test_trace_gives_partially_overlapping_stages_their_own_thread(result):
    changed = copy.deepcopy(result)
    boot = changed["boots"][0]
    start = datetime.fromisoformat(boot["started_at"])
    for number, begin, end in ((43, 1, 3), (44, 2, 4)):  # both Nova-compute
        boot["stages"][number - 1].update(
            status="measured",
            fidelity="direct",
            start=(start + timedelta(seconds=begin)).isoformat(),
            end=(start + timedelta(seconds=end)).isoformat(),
            duration_s=float(end - begin),
            offset_s=float(begin),
        )
    events = trace_events(changed)
    assert nested_per_thread(events)
    names = {
        e["args"]["name"]
        for e in events
        if e["name"] == "thread_name" and e["pid"] == 1
    }
    assert {"Nova-compute", "Nova-compute #2"} <= names


def test_partially_overlapping_stages_of_one_actor_go_to_two_lanes():
    stage = {"actor": "Nova-compute"}
    slices = [
        Slice(0, 10, stage),
        Slice(2, 3, stage),
        Slice(5, 10, stage),
        Slice(20, 0, stage),
    ]
    assert assign_lanes(slices) == [0, 0, 1, 0]


# ---- HTML -----------------------------------------------------------------------------


class Tags(HTMLParser):
    """Start tags with their attributes, and the text of each <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data

    def with_class(self, name: str) -> list[dict[str, str | None]]:
        return [a for _, a in self.tags if name in (a.get("class") or "").split()]


def parse_html(result: dict[str, Any]) -> tuple[str, Tags]:
    text = render_html(result)
    tags = Tags()
    tags.feed(text)
    tags.close()
    return text, tags


def test_html_has_58_rows_per_boot(result):
    _, tags = parse_html(result)
    rows = Counter(a["data-boot"] for a in tags.with_class("stage"))
    assert rows == {str(i): STAGES_PER_BOOT for i in range(len(result["boots"]))}


def test_html_has_a_bar_per_timed_stage_and_reason_per_unobserved(result):
    _, tags = parse_html(result)
    observed = [s for _, s in all_stages(result) if s["status"] != "unobserved"]
    assert len(tags.with_class("bar")) == len(observed)
    assert len(tags.with_class("zero")) == sum(
        1 for s in observed if s["duration_s"] == 0
    )
    unobserved = [s for _, s in all_stages(result) if s["status"] == "unobserved"]
    assert len(tags.with_class("why")) == len(unobserved)


def test_html_escapes_every_log_derived_text(result):
    text, tags = parse_html(result)
    assert [t for t, _ in tags.tags].count("script") == 1
    assert tags.scripts == [JS]
    for untrusted in untrusted_texts(result):
        assert escape(untrusted) in text
        if any(c in untrusted for c in "<>&"):
            assert untrusted not in text


def test_html_escapes_the_script_in_the_handmade_sample():
    sample = json.loads((FIXTURES / "run-sample-handmade.json").read_text())
    text = render_html(sample)
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in text


def test_html_is_self_contained(result):
    text, tags = parse_html(result)
    for tag, attrs in tags.tags:
        assert tag not in {"link", "img", "iframe", "object", "embed", "base"}, tag
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)
    style = text[text.index("<style>") : text.index("</style>")]
    assert "url(" not in style and "@import" not in style


def test_html_tooltips_carry_times_fidelity_and_evidence(result):
    text, tags = parse_html(result)
    assert len(tags.with_class("tip")) == STAGES_PER_BOOT * len(result["boots"])
    for _, stage in all_stages(result):
        if stage["start"]:
            assert escape(stage["start"]) in text
        for evidence in stage["evidence"]:
            assert escape(f"{evidence['host']}") in text
            assert escape(f"{evidence['source']}") in text


def test_html_header_names_outcome_hosts_offsets_and_bad_lines(result):
    text, _ = parse_html(result)
    assert escape(result["started_at"]) in text
    assert f">{escape(result['outcome'])}</span>" in text
    for host in result["hosts"]:
        assert escape(host["name"]) in text
        if not host["reachable"]:
            note = text[text.index('class="unreachable"') :]
            assert escape(host["name"]) in note[: note.index("</div>")]
        if host.get("clock_offset_s") is not None:
            assert f"{host['clock_offset_s'] * 1000:+.1f} ms" in text
    assert f"bad lines: <b>{result['bad_lines']['total']}" in text


def test_html_shows_the_failed_stage_and_error_line(result):
    text, tags = parse_html(result)
    failed = [
        (position, boot)
        for position, boot in enumerate(result["boots"])
        if boot.get("failed_stage") is not None
    ]
    assert len(tags.with_class("failure")) == len(failed)
    for position, boot in failed:
        assert f"Boot failed at stage {boot['failed_stage']}" in text
        rows = [
            a["id"]
            for a in tags.with_class("failed")
            if a["data-boot"] == str(position)
        ]
        assert rows == [f"b{position}-s{boot['failed_stage']}"]
        error = boot["error"]
        line = error["line"] if isinstance(error, dict) else error
        assert escape(line) in text


def test_html_shows_an_error_given_as_a_message(result):
    changed = copy.deepcopy(result)
    boot = changed["boots"][0]
    boot.update(
        outcome="boot-failed",
        failed_stage=4,
        error="server went to ERROR: <No valid host>",
    )
    text = render_html(changed)
    failure = text[text.index('class="failure"') :]
    assert "Boot failed at stage 4" in failure
    assert "server went to ERROR: &lt;No valid host&gt;" in failure


def test_html_summary_has_a_row_per_stage(result):
    text, tags = parse_html(result)
    assert len(tags.with_class("sum")) == len(result["summary"]["stages"])
    assert "end to end" in text


def test_html_escapes_quotes_and_shows_nulls_as_an_en_dash(result):
    """The template escapes as html.escape does (quotes too, in text and attributes alike),
    and a null or a missing key is an en dash, as in the page's first (f-string) version."""
    changed = copy.deepcopy(result)
    boot = changed["boots"][0]
    boot["server_name"] = """it's "quoted" <b>&"""
    boot["stages"][0]["number"] = 'x"y'
    del boot["stages"][1]["actor"]
    boot["stages"][2]["target"] = None
    text = render_html(changed)
    assert "it&#x27;s &quot;quoted&quot; &lt;b&gt;&amp;" in text
    assert 'id="b0-sx&quot;y"' in text
    actions = [boot["stages"][1]["action"], boot["stages"][2]["action"]]
    assert f"<span>\u2013 \u2192 {escape(boot['stages'][1]['target'])}</span><span>{escape(actions[0])}" in text
    assert f"\u2192 \u2013</span><span>{escape(actions[1])}" in text
    assert "&#39;" not in text and "&#34;" not in text


# ---- all views ------------------------------------------------------------------------


@pytest.mark.parametrize("render", [render_csv, render_trace, render_html])
def test_views_are_pure(result, render):
    before = copy.deepcopy(result)
    first = render(result)
    assert result == before
    assert render(copy.deepcopy(result)) == first
