"""The fast paths of the analysis give what the plain paths give.

The analysis skims: a format reads a plain stamped line without making a Parsed
(``quick``), a line no event rule of its service can match and carrying no id is only
counted (the catalog's literals), Ceph's, libvirt's and MariaDB's plain lines are counted
by the chunk (``probes.logs.bulk``), files are read side by side by worker processes and
merged, a boot's events are looked up in an index instead of tried one by one.  Each is
checked here against the plain path on every recorded fixture line, and the chunk counting
on generated lines too.
"""

from __future__ import annotations

import gzip
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probes import analyze as analyze_module
from probes import reading
from probes.analyze import analyze
from probes.boots import WINDOW_SLACK, boots_in, keys_for, read_boots
from probes.catalog import BY_KEYS, load_catalog
from probes.correlate import (
    Classifier,
    EventIndex,
    TiedEvents,
    boot_window,
    latest,
    required_literals,
    ties,
)
from probes.logs import bulk
from probes.logs.formats import (
    _DEBUG_SUFFIX,
    CONTINUED,
    FORMATS,
    ParseState,
    cut_debug_suffix,
    sniff,
)
from probes.logs.reader import find_hosts, log_record, read_logdir
from probes.reading import classify
from tests.support import FIXTURES

UTC = timezone.utc
FOLDERS = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and any(p.glob("*/host.json")))


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        return [line.rstrip("\r\n") for line in handle]


def _quick_agrees(fmt, lines: list[str], year: int = 2026) -> int:
    """Feed both readings the same lines; every quick answer must be parse's. Returns how many
    lines quick answered."""
    quick_state, parse_state = ParseState(year=year), ParseState(year=year)
    answered = 0
    for text in lines:
        parsed = fmt.parse(text, parse_state) if text.strip() else None
        quick = fmt.quick(text, quick_state)
        if quick is CONTINUED:
            assert parsed is None or parsed.continuation, text
            answered += 1
        elif quick is not None:
            assert parsed is not None and not parsed.continuation, text
            assert (parsed.at, parsed.level, parsed.message, parsed.logger) == quick, text
            assert parsed.request_id is None and parsed.global_request_id is None, text
            assert parsed.instance is None and parsed.unit is None and parsed.host is None, text
            answered += 1
        for state in (quick_state, parse_state):
            if parsed is not None and not parsed.continuation and parsed.at is not None:
                state.last_at = parsed.at
    return answered


def test_quick_reads_every_recorded_line_as_parse_does():
    answered = 0
    for path in sorted(FIXTURES.rglob("*.log*")) + sorted(FIXTURES.rglob("*.gz")):
        lines = _lines(path)
        fmt = sniff(lines[:60], 2026)
        if fmt is not None and hasattr(fmt, "quick"):
            answered += _quick_agrees(fmt, lines)
    assert answered > 50_000  # most of the recorded lines take the quick path


_PIECES = ("2026-11-26 09:40:01.123 1693 DEBUG nova.compute.manager [-] ",
           "2026-11-26T09:40:01.123456+0000 7f12ab34c640 10 ", "2026-11-26 09:40:01.123+0000: 1234: info : ",
           "2026-11-26 09:40:01.123456+00:00 [info] <0.1.0> ", "261126  9:40:01\t   42 Query\t",
           "\t\t   42 Query\t", "[-] ", "[instance: 7e713aef-5792-45f8-b386-e44eb1f7b9a2] ",
           "[None req-7e713aef-5792-45f8-b386-e44eb1f7b9a2 - - - - -] ", "{{(pid=1) f /p.py:1}}",
           "[pid: 1|app: 0|req: 1/1] ", "2026-13-26 25:40:01.123 ", "SELECT 1", " ", "\t", "x")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=4).map("".join), max_size=8))
def test_quick_agrees_with_parse_on_any_mix_of_line_shapes(lines):
    for fmt in FORMATS:
        if hasattr(fmt, "quick"):
            _quick_agrees(fmt, lines)


def test_every_match_of_a_rule_holds_one_of_its_literals(catalog):
    classifier = Classifier(catalog)
    for folder in FOLDERS:
        hosts, records = read_logdir(folder)
        classifier.feed_all(records)
    checked = 0
    for name, events in classifier.events.items():
        needles = required_literals(catalog.events[name].pattern)
        for event in events:
            assert needles is None or any(n in event.record.message for n in needles), name
            checked += 1
    assert checked > 1000


def _seen(classifier: Classifier) -> dict[str, object]:
    return {
        "records": classifier.records, "services": classifier.services,
        "levels": dict(classifier.levels), "errors": classifier.errors,
        "events": {name: [(e.record, e.fields) for e in events]
                   for name, events in classifier.events.items() if events},
        "spans": [(key, span.first, span.times, span.global_request_id)
                  for key, span in classifier.spans.items()],
    }


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_skimming_keeps_what_feeding_every_record_keeps(catalog, folder):
    plain = Classifier(catalog)
    hosts, records = read_logdir(folder)
    plain.feed_all(records)
    plain_hosts = [(h.name, [vars(s) for s in h.sources]) for h in hosts]
    skim_hosts, skimmed = classify(folder, catalog, None, None, workers=1)
    assert _seen(skimmed) == _seen(plain)
    assert [(h.name, [vars(s) for s in h.sources]) for h in skim_hosts] == plain_hosts


@pytest.mark.parametrize("folder", [FIXTURES / "boot-ok-20261126", FIXTURES / "devstack-boot-cold-20261129"],
                         ids=lambda p: p.name)
def test_files_read_side_by_side_give_the_same_result(catalog, folder):
    boots = read_boots(folder)
    assert analyze(folder, boots, catalog, workers=2) == analyze(folder, boots, catalog, workers=1)
    assert analyze(folder, None, catalog, workers=2) == analyze(folder, None, catalog, workers=1)


def _slow_parts(batch):
    """A worker's batch, read slowly: this process reads the batches it would wait for."""
    time.sleep(0.5)
    return reading._read_batch(
        reading._WORKER["roots"], batch, reading._WORKER["catalog"],
        reading._WORKER["since"], reading._WORKER["until"], reading._WORKER["hosts"])


@pytest.mark.parametrize("folder", [FIXTURES / "boot-ok-20261126", FIXTURES / "devstack-boot-cold-20261129"],
                         ids=lambda p: p.name)
def test_batches_this_process_reads_instead_of_waiting_give_the_same_result(catalog, folder,
                                                                           monkeypatch):
    boots = read_boots(folder)
    alone = analyze(folder, boots, catalog, workers=1)
    read_here = []
    take = reading._Shares._read
    monkeypatch.setattr(reading, "_worker_parts", _slow_parts)
    monkeypatch.setattr(reading._Shares, "_read",
                        lambda shares, index: read_here.append(index) or take(shares, index))
    assert analyze(folder, boots, catalog, workers=2) == alone
    assert read_here  # some batches were read here, the others by the (slow) worker
    assert read_here == sorted(read_here)  # the next one each time: in folder order


def test_a_journal_naming_several_hosts_is_read_alike_side_by_side(catalog, tmp_path):
    folder = FIXTURES / "devstack-boot-warm-20261129"
    host = next(p for p in folder.iterdir() if p.is_dir())
    for path in host.rglob("*.gz"):  # one host's folder given directly: journald lines name hosts
        target = tmp_path / path.relative_to(host)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    assert find_hosts(tmp_path)[0].lines_name_hosts
    assert analyze(tmp_path, None, catalog, workers=2) == analyze(tmp_path, None, catalog, workers=1)


def _selectors(catalog):
    for spec in catalog.stages:
        for selector in (spec.start, spec.end, spec.absent, *spec.also):
            while selector is not None:
                yield selector
                selector = selector.otherwise


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_a_boots_events_looked_up_in_the_index_are_those_ties_keeps(catalog, folder):
    _, classifier = classify(folder, catalog, None, None, workers=1)
    index = EventIndex(classifier)
    boots = read_boots(folder) or boots_in(classifier)
    bys = {selector.by for selector in _selectors(catalog) if selector.by}
    bys |= {(name,) for name in BY_KEYS}
    compared = 0
    for boot in boots:
        keys = keys_for(boot, classifier)
        keys.window = boot_window(boot.client, WINDOW_SLACK)
        tied = TiedEvents(index, keys)
        for rule in catalog.events:
            for by in bys:
                expected = [e for e in classifier.events.get(rule, ()) if ties(e, by, keys)]
                assert tied.events(rule, by) == expected, (rule, by)
                compared += len(expected)
    assert compared > 0


# Lines of the formats read by the chunk (probes.logs.bulk), good and bad: stamps fromisoformat
# refuses or only the per-line path takes (February 29th), short lines of digits, blank lines,
# colours, carriage returns, non-ASCII text, the rules' literals.
_BULK_PIECES = {
    "ceph-osd.0.log": (
        "2026-11-29T23:15:18.047+0000 7f7d267fc6c0 10 osd.0 pg_epoch: 37 ",
        "2026-11-30T01:02:03.123456+0000 7f7d267fc6c0  1 ", "2024-02-29T00:00:00.1+0000 7f 5 ",
        "2026-13-26T25:40:01.123+0000 7f12 10 ", "2026-11-31T09:40:01.123+0000 7f12 -1 ",
        "do_op osd_op(client.4242 ", "CAST unique_id: 7 ", "12", "123", "1234x", " ", "\x1b[01;31m",
        "\r", "é", "\t",
    ),
    "libvirtd.log": (
        "2026-11-26 09:40:01.123+0000: 1234: info : ", "2026-11-26 09:40:01.123+0000: ",
        "2026-02-30 09:40:01.123+0000: 1: debug : ", "Creating domain 'instance-1' ", "12", " ",
        "\x1b[0m", "\r", "ü", "x",
    ),
    "mysql/query.log": (
        "261126  9:40:01\t   42 Query\t", "2026-11-26T09:40:01.123456Z\t   42 Query\t",
        "\t\t   42 Query\tSELECT 1", "\t\t\t42 Connect\tnova@", "\t\t \x1c42 Quit\t",
        "Query\tINSERT INTO build_requests ", "/usr/sbin/mariadbd", "Tcp port: 3306", "Time ",
        "\t\t", "7", " ", "\r", "ß",
    ),
}
_BULK_HEAD = {
    "ceph-osd.0.log": "2026-11-29T23:15:18.047+0000 7f7d267fc6c0 10 osd.0 start",
    "libvirtd.log": "2026-11-26 09:40:01.123+0000: 1234: info : start",
    "mysql/query.log": "261126  9:40:01\t   42 Query\tSELECT 1",
}


def _bulk_folder(tmp: Path, name: str, lines: list[str]) -> Path:
    folder = tmp / "logs"
    path = folder / "host-a" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    (folder / "host-a" / "host.json").write_text('{"clock_offset_s": 0.25}')
    path.write_text("\n".join([_BULK_HEAD[name]] * 3 + lines) + "\n", encoding="utf-8")
    return folder


def _plain_and_bulk_agree(catalog, folder: Path, since=None, until=None) -> None:
    plain = Classifier(catalog)
    hosts, records = read_logdir(folder, since, until)
    plain.feed_all(records)
    bulk_hosts, bulk = classify(folder, catalog, since, until, workers=1)
    assert _seen(bulk) == _seen(plain)
    assert [(h.name, [vars(s) for s in h.sources]) for h in bulk_hosts] == \
        [(h.name, [vars(s) for s in h.sources]) for h in hosts]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(_BULK_PIECES)), st.data())
def test_lines_counted_by_the_chunk_are_counted_as_one_by_one(tmp_path_factory, name, data):
    pieces = st.lists(st.sampled_from(_BULK_PIECES[name]), max_size=4).map("".join)
    lines = data.draw(st.lists(pieces, max_size=30))
    folder = _bulk_folder(tmp_path_factory.mktemp("bulk"), name, lines)
    catalog = load_catalog()
    for chunk in (bulk.CHUNK, 64):  # small chunks: runs and candidates across their ends
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(bulk, "CHUNK", chunk)
            _plain_and_bulk_agree(catalog, folder)
            _plain_and_bulk_agree(catalog, folder, datetime(2026, 11, 26, 9, 40, 1, 100000, UTC),
                                  datetime(2026, 11, 29, 23, 15, 18, 300000, UTC))


def test_a_line_longer_than_the_reader_keeps_is_read_one_by_one(catalog, tmp_path):
    lines = ["2026-11-29T23:15:18.047+0000 7f 10 " + "x\x1b[0m" * 20_000 + " do_op osd_op(client.1 ",
             "2026-11-29T23:15:19.047+0000 7f 10 after"]
    _plain_and_bulk_agree(catalog, _bulk_folder(tmp_path, "ceph-osd.0.log", lines))


def test_the_literals_are_found_with_and_without_hyperscan(monkeypatch):
    data = b"a CAST unique_id: 1\nb\nc CALL msg_id: 2 CAST unique_id: 3\n"
    needles = (b"CAST unique_id: ", b"CALL msg_id: ")
    found = sorted(bulk._needle_starts(data, needles))
    monkeypatch.setattr(bulk, "hyperscan", None)
    assert sorted(bulk._needle_starts(data, needles)) == found == [2, 24, 39]


_SUFFIX_PIECES = ("{{", "}}", " ", "(pid=1) ", "(pid=) ", "f", "/p.py:1", "a:2", "\n", "\t", "x", "{",
                  "}", ":", "9")


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_SUFFIX_PIECES), max_size=14).map("".join))
def test_the_debug_suffix_is_cut_as_the_pattern_cuts_it(text):
    assert cut_debug_suffix(text) == _DEBUG_SUFFIX.sub("", text)


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
@pytest.mark.parametrize("with_boots", [True, False], ids=["boots.json", "boots found"])
def test_spans_keeping_their_latest_line_only_give_the_same_result(catalog, folder, with_boots,
                                                                   monkeypatch):
    boots = read_boots(folder) if with_boots else None
    kept = analyze(folder, boots, catalog, workers=1)
    monkeypatch.setattr(analyze_module, "_lines_kept", lambda boots, catalog: None)  # every line
    assert kept == analyze(folder, boots, catalog, workers=1)


def _span_record(second: int, index: int):
    return log_record(datetime(2026, 11, 26, 9, 0, second, tzinfo=timezone.utc), "host1",
                      "neutron-server", "neutron-server.log", f"line {index}", f"line {index}",
                      request_id="req-11111111-2222-3333-4444-555555555555")


@given(st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=6), min_size=1, max_size=6))
@settings(max_examples=200, deadline=None)
def test_a_span_keeping_its_latest_line_only_has_the_whole_span_s_first_and_latest(stamps):
    import probes.correlate as correlate_module
    catalog = load_catalog()
    whole, latest_only = Classifier(catalog), Classifier(catalog, frozenset({"nova-api"}))
    cap = correlate_module.MAX_SPAN_LINES
    correlate_module.MAX_SPAN_LINES = 7  # files of a few lines each pass the cap
    try:
        index = 0
        for file_stamps in stamps:  # one classifier per file, absorbed in order, as reading.classify does
            part = Classifier(catalog)
            for second in file_stamps:
                part.feed(_span_record(second, index))
                index += 1
            whole.absorb(part)
            latest_only.absorb(part)
    finally:
        correlate_module.MAX_SPAN_LINES = cap
    (key, span), = whole.spans.items()
    kept = latest_only.spans[key]
    assert kept.first is span.first and kept.counted == len(span.times)
    assert kept.times == [latest(span.times)]
    assert latest(span.times) is [r for r in span.times if r.at == max(r.at for r in span.times)][-1]
