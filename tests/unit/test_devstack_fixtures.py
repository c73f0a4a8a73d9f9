"""bootprobe on real DevStack boots (stable/2026.1, ML2/OVS with the userspace
datapath, Nova and Cinder on the lab's Ceph, Glance on RBD, services logging to
journald as devstack@<service> units): fixtures devstack-boot-cold-20261129
(first boot of a fresh image) and devstack-boot-warm-20261129 (the next one,
image cached), see fixtures/README.md."""
from __future__ import annotations

from pathlib import Path

import pytest

from probes.analyze import analyze, read_boots
from probes.catalog import load_catalog

FIXTURES = Path(__file__).parent / "fixtures"
COLD = FIXTURES / "devstack-boot-cold-20261129"
WARM = FIXTURES / "devstack-boot-warm-20261129"


@pytest.fixture(scope="module")
def results():
    catalog = load_catalog()
    return {folder.name: analyze(folder, read_boots(folder), catalog) for folder in (COLD, WARM)}


def stage(result, number):
    return result["boots"][0]["stages"][number - 1]


def observed(result):
    return [s["number"] for s in result["boots"][0]["stages"] if s["status"] != "unobserved"]


@pytest.mark.parametrize("folder, at_least", [(COLD, 46), (WARM, 45)])
def test_a_devstack_boot_is_measured(results, folder, at_least):
    result = results[folder.name]
    assert len(result["boots"]) == 1 and result["boots"][0]["outcome"] == "ok"
    assert len(observed(result)) >= at_least, observed(result)
    assert not result["unattributed"]  # every journald unit and file is claimed by a service
    settings = {s["name"]: s["on"] for s in result["evidence_settings"]}
    assert settings["debug"] and settings["rpc_debug"] and settings["db_general_log"]


def test_devstack_units_are_the_services(results):
    """Lines come from journald's devstack@ units, told apart by their unit name."""
    result = results[COLD.name]
    sources = {e["source"].split()[0] for s in result["boots"][0]["stages"] for e in s["evidence"]}
    for service in ("nova-api", "nova-compute", "nova-scheduler", "neutron-server", "neutron-l2-agent",
                    "neutron-dhcp-agent", "glance-api", "cinder-api", "keystone"):
        assert service in sources, service
    assert all("journal.json" in e["source"] for e in stage(result, 35)["evidence"])


def test_nova_api_under_compute_prefix(results):
    """DevStack serves Nova's API under /compute: its access line still ends stage 7."""
    evidence = stage(results[COLD.name], 7)["evidence"][0]["line"]
    assert '"POST /compute/v2.1/servers" status: 202' in evidence


def test_open_vswitch_agent_stages(results):
    """The OVS agent names ports by id: its lines stand for stages 28 and 34-36."""
    for folder in (COLD, WARM):
        result = results[folder.name]
        port = sorted(result["boots"][0]["keys"]["port_ids"])[0]
        lines = {n: [e["line"] for e in stage(result, n)["evidence"]] for n in (28, 34, 35, 36)}
        assert lines[28][-1].startswith(f"Resource Port {port} updated")
        assert lines[34][0].startswith("Starting to process devices in:")
        assert lines[35] == [f"Processing port: {port}", f"Setting status for {port} to UP"]
        assert lines[36][-1].startswith(f"Device {port} up at agent ovs-agent-")


def test_cold_boot_fetches_the_image_warm_does_not(results):
    assert stage(results[COLD.name], 19)["status"] != "unobserved"
    assert stage(results[WARM.name], 19)["status"] == "unobserved"
