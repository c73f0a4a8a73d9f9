"""A boot's keys are widened by the catalog's rules (stages.yaml 'widen'), which
correlate.widen_keys applies: a cloud whose logs name a key elsewhere is a data change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest
import yaml

from probes.catalog import LEARN_KEYS, CatalogError, load_catalog, parse_catalog
from probes.correlate import _LEARNT, BootKeys, Classifier, widen_keys
from probes.logs.reader import LogRecord, log_record

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SERVER = "6d9b2f4e-8a4c-4b7e-9d61-0c2a5f3e1b7a"
PORT = "69565e57-5f1a-4911-bc04-223acaed7664"
OTHER_PORT = "30d5d997-dde5-4033-95f0-cdba88034ecf"
IMAGE = "b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
OTHER_IMAGE = "c4a2d3e5-6f70-4b8c-9dae-1f2a3b4c5d6e"
VOLUME = "d5b3e4f6-7081-4c9d-aebf-2a3b4c5d6e7f"
GLOBAL = "req-0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
MAC, OTHER_MAC = "fa:16:3e:12:34:56", "fa:16:3e:65:43:21"


def record(service: str, message: str, second: int = 0, **context: str) -> LogRecord:
    return log_record(T0 + timedelta(seconds=second), "host1", service, f"{service}.log",
                      message, message, **context)


def classifier_of(*records: LogRecord) -> Classifier:
    classifier = Classifier(load_catalog())
    classifier.feed_all(records)
    return classifier


def raw() -> dict:
    return yaml.safe_load(resources.files("probes").joinpath("data/stages.yaml").read_text())


def test_logs_alone_give_the_request_thread_ports_macs_ips_image_volumes_and_rpc_ids():
    classifier = classifier_of(
        record("glance-api", f"Determining version of request: GET /v2/images/{IMAGE}/file",
               request_id="req-glance", global_request_id=GLOBAL),
        record("nova-compute", f"Successfully created port: {PORT}", instance=SERVER),
        record("neutron-l2-agent", f"Port tap{PORT[:11]} updated. Details: {{'mac_address': '{MAC}'}}"),
        record("dnsmasq", f"DHCPACK(tap{PORT[:11]}) 10.0.0.5 {MAC} guest"),
        record("cinder-api", f"POST http://ctl:8776/v3/p/volumes/{VOLUME}/action",
               request_id="req-cinder", global_request_id=GLOBAL),
        record("cinder-api", f"PUT http://ctl:8776/v3/p/attachments/{OTHER_PORT}",
               request_id="req-cinder", global_request_id=GLOBAL),
        record("nova-conductor", "CAST unique_id: 0a1b2c exchange 'nova' topic 'compute'",
               request_id="req-conductor", global_request_id=GLOBAL),
        record("nova-scheduler", "CALL msg_id: 3d4e5f exchange 'nova' topic 'placement'",
               request_id="req-conductor"),
        record("nova-compute", "CAST unique_id: 99 exchange 'nova' topic 'conductor'",
               request_id="req-someone-else"),
    )
    keys = BootKeys(server_id=SERVER, global_request_id=GLOBAL)
    widen_keys(classifier, keys)
    assert keys.request_ids == {GLOBAL, "req-glance", "req-cinder", "req-conductor"}
    assert keys.image_id == IMAGE
    assert (keys.port_ids, keys.macs, keys.ips) == ({PORT}, {MAC}, {"10.0.0.5"})
    assert keys.volume_ids == {VOLUME}  # the attachment's id is no volume's
    assert keys.rpc_ids == {"0a1b2c", "3d4e5f"}


def test_unless_is_judged_once_before_the_rule_and_an_image_keeps_the_first_found():
    classifier = classifier_of(
        record("glance-api", f'"GET /v2/images/{IMAGE}/file HTTP/1.1" 200 1024 0.5', 1,
               request_id="req-glance", global_request_id=GLOBAL),
        record("glance-api", f'"GET /v2/images/{OTHER_IMAGE}/file HTTP/1.1" 200 1024 0.5', 2,
               request_id="req-glance", global_request_id=GLOBAL),
        record("neutron-l2-agent", f"Port tap{PORT[:11]} updated. Details: {{'mac_address': '{MAC}'}}"),
        record("nova-compute", f"Successfully plugged vif VIFBridge(address={OTHER_MAC},id={PORT})",
               instance=SERVER),
    )
    keys = BootKeys(server_id=SERVER, global_request_id=GLOBAL, port_ids={PORT})
    widen_keys(classifier, keys)
    assert keys.image_id == IMAGE
    assert keys.macs == {MAC, OTHER_MAC}  # the rule had no MAC when it began: both its events
    given = BootKeys(server_id=SERVER, global_request_id=GLOBAL, image_id=OTHER_IMAGE,
                     port_ids={PORT}, macs={"fa:16:3e:00:00:01"})
    widen_keys(classifier, given)
    assert given.image_id == OTHER_IMAGE and given.macs == {"fa:16:3e:00:00:01"}


def test_a_variant_naming_a_key_elsewhere_is_a_rule_in_the_catalog():
    # An Open vSwitch agent at INFO names the MAC in its port details, by the port's id.
    classifier = classifier_of(
        record("neutron-l2-agent",
               f"Port {PORT} updated. Details: {{'device': '{PORT}', 'mac_address': '{MAC}'}}"),
    )
    keys = BootKeys(server_id=SERVER, port_ids={PORT})
    widen_keys(classifier, keys, [])
    assert not keys.macs
    data = raw()
    data["widen"] = [{"learn": {"mac": "mac"}, "unless": "mac",
                      "from": [{"event": "ovs_port_updated", "by": ["port"]}]}]
    widen_keys(classifier, keys, parse_catalog(data).widen)
    assert keys.macs == {MAC}


def test_the_key_kinds_the_schema_names_are_those_widen_keys_learns():
    assert set(_LEARNT) == LEARN_KEYS
    assert {attribute for attribute, _ in _LEARNT.values()} <= set(BootKeys.__dataclass_fields__)


@pytest.mark.parametrize("rule,message", [
    ({"learn": {"moon": "port_id"}, "from": ["compute_port_created"], "by": ["instance"]},
     r"widen\[0\] learn: unknown key kind 'moon'"),
    ({"learn": {"port": "port_id"}, "from": ["no_such_event"], "by": ["instance"]},
     r"widen\[0\] from\[0\]: unknown event 'no_such_event'"),
    ({"learn": {"volume": "volume_id"}, "from": ["compute_port_created"], "by": ["instance"]},
     "none of its sources has a field 'volume_id'"),
    ({"learn": {"port": "port_id"}, "from": ["compute_port_created", "ks_path"], "by": ["instance"]},
     "ks_path has none of the fields it learns"),
    ({"learn": {"port": "port_id"}, "from": ["compute_port_created"]},
     "'by' on the rule or on each of its events"),
    ({"learn": {"request": "request_id"}, "from": "spans", "by": ["instance"]},
     r"the request spans are tied to a boot by its request ids \('by: \[request\]'\)"),
    ({"learn": {"request": "request_id"}, "from": "logs", "by": ["request"]},
     "'from' is boot, spans or a list of event rules, not 'logs'"),
])
def test_a_broken_widen_rule_is_refused_with_the_reason(rule, message):
    data = raw()
    data["widen"] = [rule]
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data)


@pytest.mark.parametrize("rule,message", [
    ({"learn": {"request": "global_request_id"}, "from": "boot", "by": ["request"]},
     "the boot's own keys need no 'by' or 'where'"),
    ({"learn": {"mac": "mac"}, "unless": "moon", "from": ["compute_plugged"], "by": ["port"]},
     r"widen\[0\] unless: unknown key kind 'moon'"),
    ({"learn": {"volume": "id"}, "from": ["cinder_request"], "by": ["request"],
      "where": {"what": "(volumes"}},
     r"widen\[0\] where: missing \)"),
    ({"learn": {"volume": "id"}, "from": ["cinder_request"], "by": ["request"],
      "where": {"kind": "^volumes$"}},
     "none of its sources has a field 'kind'"),
    ({"learn": {}, "from": ["cinder_request"], "by": ["request"]},
     "a rule learns one key at least"),
    ({"learn": {"volume": "id"}, "from": [], "by": ["request"]},
     "'from' names one event rule at least"),
    ({"learn": {"volume": "id"}, "from": ["cinder_request"], "by": ["moon"]},
     r"widen\[0\] by\[0\]: unknown 'by' keys \['moon'\]"),
    ({"learn": {"volume": "id"}, "from": ["cinder_request"], "by": ["request"], "when": "x"},
     r"widen\[0\]: Additional properties"),
])
def test_a_misshapen_widen_rule_is_refused_by_the_schema_or_the_checks(rule, message):
    data = raw()
    data["widen"] = [rule]
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data)


def test_the_shipped_rules_read_the_boot_then_its_spans_then_events():
    widen = load_catalog().widen
    assert [source.kind for source in widen[0].sources] == ["boot"]
    assert [(source.kind, source.by) for source in widen[1].sources] == [("spans", ("request",))]
    assert all(source.kind == "event" and source.by for rule in widen[2:] for source in rule.sources)
    # the 'unless' rules are the stand-ins for what a DEBUG line or the client gives
    assert {rule.unless for rule in widen if rule.unless} == {"image", "mac", "ip"}


def test_a_rule_with_where_reads_only_the_matching_spans():
    classifier = classifier_of(
        record("glance-api", "GET /v2/images", request_id="req-glance", global_request_id=GLOBAL),
        record("cinder-api", "GET /v3/volumes", request_id="req-cinder", global_request_id=GLOBAL),
    )
    data = raw()
    data["widen"] = [{"learn": {"request": "request_id"}, "from": "spans", "by": ["request"],
                      "where": {"request_id": "^req-g"}}]
    keys = BootKeys(server_id=SERVER, global_request_id=GLOBAL)
    widen_keys(classifier, keys, parse_catalog(data).widen)
    assert keys.request_ids == {"req-glance"}


def test_no_widen_section_learns_nothing():
    data = raw()
    del data["widen"]
    catalog = parse_catalog(data)
    assert catalog.widen == ()
    classifier = classifier_of(
        record("nova-compute", f"Successfully created port: {PORT}", instance=SERVER))
    keys = BootKeys(server_id=SERVER, global_request_id=GLOBAL)
    widen_keys(classifier, keys, catalog.widen)
    assert not keys.port_ids and not keys.request_ids
