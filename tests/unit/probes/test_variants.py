"""The probe on boots it did not shape: recorded real boots of the lab's variants.

See tests/fixtures/README.md for how each was made.  None of these
folders has a boots.json: they are analysed from their logs alone, as a user
analyses the logs of a cloud bootlab did not deploy.
"""

from __future__ import annotations

import gzip
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from probes.analyze import analyze
from probes.boots import read_boots
from probes.catalog import load_catalog
from probes.views.table import render_table
from tests.support import FIXTURES

CLI_COLD = FIXTURES / "boot-cli-cold-20261129"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def only_boot(folder: Path, catalog) -> dict:
    result = analyze(folder, None, catalog)
    assert len(result["boots"]) == 1, [b["server_id"] for b in result["boots"]]
    return result["boots"][0]


def observed(boot: dict) -> list[int]:
    return [s["number"] for s in boot["stages"] if s["status"] != "unobserved"]


def test_a_cli_boot_is_followed_by_nova_request_id(catalog):
    """The openstack CLI sets no global request id: nova's create request id is the thread."""
    boot = only_boot(CLI_COLD, catalog)
    thread = boot["keys"]["global_request_id"]
    assert thread and thread.startswith("req-")
    create = boot["stages"][6]  # 7: nova-api's answer to POST /servers, under that id
    assert thread in create["evidence"][0]["line"] and "POST /v2.1/servers" in create["evidence"][0]["line"]
    # neutron, glance and cinder log nova's id as their global id
    for number, service in ((19, "glance-api"), (27, "neutron-server"), (39, "cinder-api")):
        start = boot["stages"][number - 1]["evidence"][0]
        assert start["source"].startswith(service), (number, start)


def test_a_cold_cli_boot_from_its_logs_alone_observes_at_least_54(catalog):
    boot = only_boot(CLI_COLD, catalog)
    assert len(observed(boot)) >= 54, [(s["number"], s["reason"]) for s in boot["stages"]
                                       if s["status"] == "unobserved"]
    for stage in boot["stages"]:
        assert stage["status"] != "unobserved" or stage["reason"], stage


@pytest.mark.parametrize("number", [1, 3, 4, 7, 55, 58])
def test_client_edges_stand_on_the_services_lines_and_say_so(catalog, number):
    stage = only_boot(CLI_COLD, catalog)["stages"][number - 1]
    assert stage["status"] == "proxy"
    assert "no client record" in stage["note"]
    assert all(e["host"] != "client" for e in stage["evidence"])


def test_the_poll_that_saw_active_began_after_the_build(catalog):
    boot = only_boot(CLI_COLD, catalog)
    answer = boot["stages"][57]["evidence"][0]["line"]  # 58: nova-api's access line of the poll
    assert f'"GET /v2.1/servers/{boot["server_id"]}"' in answer
    built = boot["stages"][46]["end"]  # 47: the instance saved ACTIVE
    assert boot["stages"][54]["start"] >= built


# Variant b: default_log_levels left at the services' defaults (oslo.messaging at INFO).
CLI_LEVELS = FIXTURES / "boot-cli-loglevels-cold-20261129"
LEVELS = FIXTURES / "boot-loglevels-cold-20261129"
RPC_ONLY = [14, 15, 16, 17, 18, 46, 47]  # round trips no line but oslo.messaging's shows


@pytest.mark.parametrize("folder", [CLI_LEVELS, LEVELS])
def test_default_log_levels_observe_at_least_50(catalog, folder):
    boot = only_boot(folder, catalog)
    assert len(observed(boot)) >= 50
    unobserved = {s["number"]: s["reason"] for s in boot["stages"] if s["status"] == "unobserved"}
    assert sorted(unobserved) == RPC_ONLY
    for reason in unobserved.values():
        assert reason.startswith("turned off in this cloud: oslo.messaging=DEBUG"), reason


def test_default_log_levels_are_named_missing_in_the_result(catalog):
    result = analyze(CLI_LEVELS, None, catalog)
    states = {s["name"]: s["on"] for s in result["evidence_settings"]}
    assert states["rpc_debug"] is False
    assert states["debug"] is True and states["db_general_log"] is True
    text = render_table(result)
    assert "oslo.messaging=DEBUG" in text.split("boot 0")[0]  # in the header, before the boots


@pytest.mark.parametrize("number", [5, 6, 8, 12, 13, 45])
def test_rpc_stages_fall_back_to_the_services_own_lines(catalog, number):
    stage = only_boot(CLI_LEVELS, catalog)["stages"][number - 1]
    assert stage["status"] == "proxy"
    assert "oslo.messaging=DEBUG" in stage["note"]
    assert not any("CAST unique_id" in e["line"] or "msg_id" in e["line"] for e in stage["evidence"])


def test_without_rpc_lines_both_ways_still_agree(catalog):
    recorded = read_boots(LEVELS)[0]
    with_client = analyze(LEVELS, [recorded], catalog)["boots"][0]
    alone = only_boot(LEVELS, catalog)
    for a, b in zip(with_client["stages"], alone["stages"], strict=True):
        assert (a["start"] is None) == (b["start"] is None), a["number"]
        for edge in ("start", "end"):
            if a[edge] and b[edge]:
                gap = abs((datetime.fromisoformat(a[edge]) - datetime.fromisoformat(b[edge])).total_seconds())
                assert gap <= 0.010, (a["number"], edge)


def test_services_the_cloud_does_not_run_are_named_not_blamed_on_collection(catalog, tmp_path):
    """A cloud without Ceph: its stages say so, not 'host unreachable, log missing or rotated'."""
    folder = tmp_path / "no-ceph"
    shutil.copytree(CLI_COLD, folder)
    for path in folder.glob("*/var/log/ceph"):
        shutil.rmtree(path)
    boot = only_boot(folder, catalog)
    for number in (21, 22, 23, 24, 25, 49, 50, 51):
        stage = boot["stages"][number - 1]
        if stage["status"] == "unobserved":
            assert "this cloud runs no ceph-" in stage["reason"], (number, stage["reason"])
            assert "rotated" not in stage["reason"]
    assert boot["stages"][43]["status"] != "unobserved"  # 44 (plugging the port) is still there


# Variant c: debug = False everywhere (and the services' default log levels): INFO lines only.
CLI_NODEBUG = FIXTURES / "boot-cli-nodebug-cold-20261129"


def test_info_lines_alone_find_the_boot_and_what_they_can(catalog):
    boot = only_boot(CLI_NODEBUG, catalog)
    assert boot["keys"]["global_request_id"].startswith("req-")  # from 'Claim successful' (INFO)
    assert boot["keys"]["port_ids"] and boot["keys"]["ips"] and boot["keys"]["volume_ids"]
    seen = observed(boot)
    # what INFO lines (and the Ceph, dnsmasq, haproxy, libvirt logs, still on) show
    for number in (4, 7, 19, 23, 24, 25, 29, 30, 31, 33, 35, 36, 39, 43, 45, 49, 51, 52, 54, 58):
        assert number in seen, number
    assert len(seen) >= 29


def test_info_only_every_unobserved_stage_names_the_setting_it_needs(catalog):
    boot = only_boot(CLI_NODEBUG, catalog)
    result = analyze(CLI_NODEBUG, None, catalog)
    states = {s["name"]: s["on"] for s in result["evidence_settings"]}
    assert states["debug"] is False and states["rpc_debug"] is False
    for stage in boot["stages"]:
        if stage["status"] == "unobserved":
            assert stage["reason"].startswith("turned off in this cloud: "), stage
            assert "debug = True" in stage["reason"] or "oslo.messaging=DEBUG" in stage["reason"]
        elif stage["status"] == "proxy" and stage["fidelity"] == "direct":
            note = stage["note"]  # a stand-in, and why: no client record or a setting off
            assert "off in this cloud" in note or note.startswith("no client record"), stage


def test_a_setting_off_in_one_service_is_named_for_its_stages_only(catalog, tmp_path):
    """debug = False in Neutron alone (its DEBUG lines dropped from a real boot's logs)."""
    folder = tmp_path / "neutron-info"
    shutil.copytree(CLI_COLD, folder)
    for path in folder.glob("*/var/log/neutron/neutron-*.log.gz"):
        with gzip.open(path, "rt") as handle:
            kept = [line for line in handle if " DEBUG " not in line[:40]]
        with gzip.open(path, "wt") as handle:
            handle.writelines(kept)
    result = analyze(folder, None, catalog)
    debug = {s["name"]: s for s in result["evidence_settings"]}["debug"]
    assert debug["on"] is False
    assert set(debug["off_in"]) == {"neutron-server", "neutron-dhcp-agent", "neutron-l2-agent",
                                    "neutron-metadata-agent"}
    boot = result["boots"][0]
    assert "debug = True" in boot["stages"][26]["reason"]  # 27: neutron-server's 'Allocated IP'
    assert boot["stages"][42]["status"] != "unobserved"  # 43: nova-compute still at DEBUG
    assert "off in: neutron-server" in render_table(result)


def test_a_warm_boot_does_not_call_the_gateways_debug_level_off(catalog):
    """No request reached the gateway (the image was cached): debug_rgw is not judged."""
    result = analyze(FIXTURES / "boot-ok-20261126", None, catalog)
    states = {s["name"]: s["on"] for s in result["evidence_settings"]}
    assert states["ceph_debug_rgw"] is None
    assert states["ceph_debug_osd"] is True and states["ceph_debug_mon"] is True


def test_the_html_report_names_the_settings_found_off(catalog):
    from probes.views.html import render_html

    page = render_html(analyze(CLI_NODEBUG, None, catalog))
    assert "Evidence settings off in this cloud" in page and "oslo.messaging=DEBUG" in page
