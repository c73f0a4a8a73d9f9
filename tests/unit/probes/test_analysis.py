"""The analysis on logs recorded from real boots of the lab (tests/fixtures/boot-*).

See tests/fixtures/README.md for how each fixture was produced.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from probes.analyze import analyze, find_boots
from probes.boots import read_boots
from probes.catalog import load_catalog
from probes.views.table import render_table
from tests.support import FIXTURES

OK = FIXTURES / "boot-ok-20261126"
FAILED = FIXTURES / "boot-novalidhost-20261126"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def ok_result(catalog):
    return analyze(OK, read_boots(OK), catalog)


def stage(result, number):
    return result["boots"][0]["stages"][number - 1]


def test_every_stage_is_measured_or_says_why(ok_result):
    stages = ok_result["boots"][0]["stages"]
    assert [s["number"] for s in stages] == list(range(1, 59))
    for s in stages:
        if s["status"] == "unobserved":
            assert s["reason"], s
        else:
            assert s["start"] and s["end"] and s["duration_s"] is not None
            assert {e["role"] for e in s["evidence"]} >= {"start", "end"}


def test_most_stages_are_observed(ok_result):
    observed = [s for s in ok_result["boots"][0]["stages"] if s["status"] != "unobserved"]
    assert len(observed) >= 50


@pytest.mark.parametrize("number,service,text", [
    (6, "nova-conductor", "received message with unique_id"),
    (8, "nova-scheduler", "received message msg_id"),
    (13, "nova-compute", "received message with unique_id"),
    (38, "nova-compute", "Received event network-vif-plugged-"),
    (43, "nova-compute", "VM Started (Lifecycle Event)"),
    (51, "ceph-osd", "[watch "),
    (54, "metadata-proxy", "meta_data.json"),
])
def test_direct_stages_end_on_the_services_own_lines(ok_result, number, service, text):
    s = stage(ok_result, number)
    assert s["status"] == "measured"
    end = [e for e in s["evidence"] if e["role"] == "end"][0]
    assert end["source"].startswith(service)
    assert text in end["line"]


def test_rpc_stages_pair_send_and_receive_by_message_id(ok_result):
    s = stage(ok_result, 6)
    start, end = s["evidence"][0]["line"], s["evidence"][1]["line"]
    unique_id = start.split("unique_id: ")[1].split()[0]
    assert unique_id in end


def test_image_cache_is_a_reason_not_a_number(ok_result):
    for number in (19, 20, 23, 24, 25):
        s = stage(ok_result, number)
        assert s["status"] == "unobserved"
        assert "_base cache" in s["reason"]


def test_client_and_server_times_agree_within_the_clock_offset(ok_result):
    for number in (1, 4, 55):
        assert stage(ok_result, number)["duration_s"] >= -0.005


def test_critical_path_fits_within_the_boot(ok_result):
    boot = ok_result["boots"][0]
    assert 0 < boot["critical_path_s"] <= boot["end_to_end_s"]


@pytest.mark.parametrize("folder", sorted(p.parent for p in FIXTURES.glob("*/boots.json")),
                         ids=lambda p: p.name)
def test_no_boot_of_any_fixture_ends_after_the_client_saw_it_end(catalog, folder):
    """The build's lines end before the client's last look (its metadata, or its delete
    when it gave up): the critical path fits within the boot, and no evidence comes after."""
    given = read_boots(folder)
    for boot, client in zip(analyze(folder, given, catalog)["boots"], given, strict=True):
        if boot["critical_path_s"] is not None and boot["end_to_end_s"] is not None:
            assert boot["critical_path_s"] <= boot["end_to_end_s"]
        if client.stopped_at is not None:
            late = [(s["number"], e["at"]) for s in boot["stages"] for e in s["evidence"]
                    if e["host"] != "client" and datetime.fromisoformat(e["at"]) > client.stopped_at]
            assert not late


def test_boots_are_found_without_client_records(catalog, tmp_path):
    boots = find_boots(OK, catalog, None, None)
    recorded = read_boots(OK)[0]
    assert recorded.server_id in [b.server_id for b in boots]
    result = analyze(OK, [b for b in boots if b.server_id == recorded.server_id], catalog)
    s = stage(result, 13)
    assert s["status"] == "measured"  # server side needs no client data
    auth = stage(result, 1)  # the client side: Keystone's own line stands for the client's time
    assert auth["status"] == "proxy" and "no client record" in auth["note"]
    assert auth["duration_s"] == 0


@pytest.mark.parametrize("fixture", [OK, FIXTURES / "boot-cold-20261126"])
def test_logs_alone_and_client_records_agree_within_10_ms(catalog, fixture):
    """The same boot analysed with boots.json and from its logs alone."""
    recorded = read_boots(fixture)[0]
    with_client = analyze(fixture, [recorded], catalog)["boots"][0]
    alone = [b for b in analyze(fixture, None, catalog)["boots"]
             if b["server_id"] == recorded.server_id][0]
    assert alone["keys"]["global_request_id"] == with_client["keys"]["global_request_id"]
    both = 0
    for a, b in zip(with_client["stages"], alone["stages"], strict=True):
        if a["start"] and b["start"]:
            both += 1
            for edge in ("start", "end"):
                gap = abs((datetime.fromisoformat(a[edge]) - datetime.fromisoformat(b[edge]))
                          .total_seconds())
                assert gap <= 0.010, (a["number"], edge, a[edge], b[edge])
    observed = sum(s["status"] != "unobserved" for s in with_client["stages"])
    assert both == observed  # logs alone observe every stage the client records do


def test_failed_boot_names_its_stage_and_error_line(catalog):
    result = analyze(FAILED, read_boots(FAILED), catalog)
    boot = result["boots"][0]
    assert boot["outcome"] == "boot-failed"
    assert 9 <= boot["failed_stage"] <= 14
    assert "No valid host" in json.dumps(boot["error"])
    assert "not reached" in stage(result, 43)["reason"]


def test_table_renders_every_boot(ok_result):
    text = render_table(ok_result)
    assert "Authentication request" in text and "summary across boots" in text


def test_result_is_plain_json(ok_result):
    assert json.loads(json.dumps(ok_result)) == ok_result


COLD = FIXTURES / "boot-cold-20261126"


def test_a_cold_image_boot_observes_all_58_stages(catalog):
    result = analyze(COLD, read_boots(COLD), catalog)
    stages = result["boots"][0]["stages"]
    assert [s["number"] for s in stages if s["status"] == "unobserved"] == []
    sources = {n: {e["source"].split()[0] for e in stages[n - 1]["evidence"]} for n in (19, 20, 23, 24, 25)}
    assert sources[19] == {"glance-api"}
    assert sources[20] == {"glance-api", "ceph-rgw"}
    assert sources[23] == {"ceph-rgw"}
    assert sources[24] == {"ceph-osd"}
    assert sources[25] == {"ceph-rgw", "glance-api"}
    image_id = read_boots(COLD)[0].image_id
    assert image_id in stages[23]["evidence"][0]["line"]  # the OSD read the image's object
    for s in stages:
        assert s["duration_s"] >= 0, s


def test_logs_alone_find_the_image_a_cold_boot_downloaded(catalog):
    recorded = read_boots(COLD)[0]
    boots = [b for b in find_boots(COLD, catalog, None, None) if b.server_id == recorded.server_id]
    boot = analyze(COLD, boots, catalog)["boots"][0]
    assert boot["keys"]["image_id"] == recorded.image_id
    assert all(boot["stages"][n - 1]["status"] != "unobserved" for n in range(19, 26))


def test_a_failed_boot_is_found_from_its_logs_alone(catalog):
    """No compute host ever built it: nova-conductor's 'Setting instance to ERROR state'."""
    recorded = read_boots(FAILED)[0]
    [boot] = [b for b in analyze(FAILED, None, catalog)["boots"]
              if b["server_id"] == recorded.server_id]
    with_client = analyze(FAILED, read_boots(FAILED), catalog)["boots"][0]
    assert boot["outcome"] == "boot-failed"
    assert boot["failed_stage"] == with_client["failed_stage"]
    assert "No valid host" in boot["error"]["line"]


def test_an_interrupted_boot_says_so_not_that_it_failed(catalog):
    """Ctrl-C stopped the run mid-boot: no failed stage, no error line, the stage it stopped before."""
    recorded = read_boots(OK)[0]
    recorded.outcome, recorded.message = "interrupted", "interrupted (Ctrl-C)"
    recorded.client.active_sent = recorded.client.active_received = None
    recorded.client.metadata_seen = None
    full = analyze(OK, [read_boots(OK)[0]], catalog)["boots"][0]
    cut = datetime.fromisoformat(full["stages"][25]["start"])  # Ctrl-C as the network is allocated
    boot = analyze(OK, [recorded], catalog, until=cut)["boots"][0]
    assert boot["outcome"] == "interrupted"
    assert boot["failed_stage"] is None and boot["error"] is None
    assert boot["interrupted_at"] is not None and boot["interrupted_at"] >= 19  # 1-18 came first
    later = [s for s in boot["stages"] if s["number"] >= boot["interrupted_at"] and s["status"] == "unobserved"]
    assert later and all("interrupted (Ctrl-C)" in s["reason"] for s in later)
