"""The lab's RabbitMQ witness (roles/rabbitmq/files/rabbitmq-witness.py) keeps a message's
ids and nothing else, and the probe reads what it writes (probes/logs/formats.py
RabbitWitness, the catalog's broker_* events).

The messages are built as oslo.messaging 14 (Zed, Debian's python3-oslo.messaging) builds
them: amqpdriver.AMQPDriverBase._send (a call: _msg_id, _reply_q, _timeout, _unique_id,
then rpc_amqp.pack_context's _context_* keys), AMQPIncomingMessage._send_reply (a reply:
result, failure, ending, _msg_id, _unique_id), each in common.serialize_msg's envelope; the
firehose's headers as rabbit_trace.erl writes them (py-amqp gives longstr as str)."""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime, timezone

import pytest

from probes.catalog import load_catalog
from probes.logs.formats import ParseState, RabbitWitness
from tests.support import ROOT

SPEC = importlib.util.spec_from_file_location("rabbitmq_witness",
                                              ROOT / "roles/rabbitmq/files/rabbitmq-witness.py")
assert SPEC is not None and SPEC.loader is not None
witness = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(witness)

AT = datetime(2026, 12, 8, 3, 40, 26, 144459, tzinfo=timezone.utc)
TOKEN = "gAAAAABnVfakeFernetTokenOfTheCallerXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
SECRET = "hunter2-the-instances-admin-password"
CONTEXT = {
    "_context_auth_token": TOKEN, "_context_user_name": "probe-user",
    "_context_project_name": "bootlab-probe", "_context_roles": ["member", "reader"],
    "_context_service_catalog": [{"type": "volumev3", "endpoints": [{"publicURL": "http://x"}]}],
    "_context_request_id": "req-3da0d830-4223-44e1-b082-5f76309dd9ff",
    "_context_global_request_id": "req-95ba00ed-7cc8-47ae-b92d-7d6e5ca06473",
}
CALL = {
    "method": "object_action", "namespace": None, "version": "3.0",
    "args": {"objinst": {"nova_object.data": {"admin_pass": SECRET, "user_data": "c2VjcmV0"}}},
    "_msg_id": "943c578cca914d1db32c49454e3f7417", "_reply_q": "reply_10e46de3d4194764b98a7dd4dcb197d1",
    "_timeout": None, "_unique_id": "4b3b2981c52f49bb90ed9ed0384daba2", **CONTEXT,
}
REPLY = {"result": {"admin_pass": SECRET}, "failure": None, "ending": True,
         "_msg_id": "943c578cca914d1db32c49454e3f7417", "_unique_id": "a512cbd47ff94637a727b378f91554d5"}
ALLOWED = {"time", "act", "exchange", "routing_keys", "queues", "msg_id", "unique_id", "reply_q",
           "method", "request_id", "global_request_id", "reply", "ending", "failure"}


def envelope(message: dict) -> bytes:
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(message)}).encode()


def published(exchange: str, key: str, queues: list[str], body: bytes) -> dict:
    headers = {"exchange_name": exchange, "routing_keys": [key], "properties": {"priority": 0},
               "node": "rabbit@bootlab1", "vhost": "/", "connection": "10.233.0.2:40000 -> 10.233.0.2:5672",
               "channel": 1, "user": "openstack", "routed_queues": queues}
    line = witness.witness_line(f"publish.{exchange}", headers, body, AT)
    assert line is not None
    return line


def test_a_call_keeps_its_ids_only():
    line = published("nova", "conductor", ["conductor"], envelope(CALL))
    assert line == {
        "time": "2026-12-08T03:40:26.144459+00:00", "act": "publish", "exchange": "nova",
        "routing_keys": ["conductor"], "queues": ["conductor"],
        "msg_id": CALL["_msg_id"], "unique_id": CALL["_unique_id"], "reply_q": CALL["_reply_q"],
        "method": "object_action", "request_id": CONTEXT["_context_request_id"],
        "global_request_id": CONTEXT["_context_global_request_id"]}
    text = json.dumps(line)
    for kept_out in (TOKEN, SECRET, "c2VjcmV0", "probe-user", "bootlab-probe", "openstack",
                     "rabbit@bootlab1", "10.233.0.2", "auth_token", "admin_pass", "http://x"):
        assert kept_out not in text


def test_a_reply_says_it_is_one_and_how_it_ended():
    line = witness.witness_line("deliver.reply_10e46de3d4194764b98a7dd4dcb197d1", {
        "exchange_name": "", "routing_keys": ["reply_10e46de3d4194764b98a7dd4dcb197d1"],
        "redelivered": 0, "user": "openstack"}, envelope(REPLY), AT)
    assert line == {"time": "2026-12-08T03:40:26.144459+00:00", "act": "deliver", "exchange": "",
                    "routing_keys": ["reply_10e46de3d4194764b98a7dd4dcb197d1"],
                    "queues": ["reply_10e46de3d4194764b98a7dd4dcb197d1"],
                    "msg_id": REPLY["_msg_id"], "unique_id": REPLY["_unique_id"],
                    "reply": True, "ending": True, "failure": False}
    failed = {**REPLY, "result": None, "failure": json.dumps({"class": "ValueError", "tb": [SECRET]})}
    line = published("", "reply_x", ["reply_x"], envelope(failed))
    assert line["failure"] is True and SECRET not in json.dumps(line)


@pytest.mark.parametrize("body", [b"\x00\xffnot json", b"[1, 2]", b'{"oslo.message": "{broken"}',
                                  json.dumps({"event_type": "compute.instance.update",
                                              "payload": {"secret": SECRET}}).encode()])
def test_a_body_that_is_no_oslo_message_gives_the_broker_fields_only(body):
    line = published("nova", "notifications.info", [], body)
    assert set(line) == {"time", "act", "exchange", "routing_keys", "queues"}
    assert SECRET not in json.dumps(line)


def test_values_that_are_no_plain_ids_are_dropped():
    odd = {**CALL, "_msg_id": "a b", "method": {"nested": SECRET}, "_context_request_id": "x' or 1=1",
           "_unique_id": 42}
    line = published("nova", "conductor", ["conductor"], envelope(odd))
    assert set(line) <= ALLOWED and not {"msg_id", "method", "request_id", "unique_id"} & set(line)
    assert witness.witness_line("other.key", {}, envelope(CALL), AT) is None


def test_the_probe_reads_what_the_witness_writes():
    """Each of the six kinds of lines parses and gives its event of the catalog, with the
    request ids of the message's context on the record."""
    catalog, fmt = load_catalog(), RabbitWitness()
    cast = {k: v for k, v in CALL.items() if k not in ("_msg_id", "_reply_q", "_timeout")}
    lines = {
        "broker_call_published": published("nova", "conductor", ["conductor"], envelope(CALL)),
        "broker_call_delivered": witness.witness_line(
            "deliver.conductor", {"exchange_name": "nova", "routing_keys": ["conductor"]}, envelope(CALL), AT),
        "broker_cast_published": published("nova", "compute.bootlab1", ["compute.bootlab1"], envelope(cast)),
        "broker_cast_delivered": witness.witness_line(
            "deliver.compute.bootlab1", {"exchange_name": "nova", "routing_keys": ["compute.bootlab1"]},
            envelope(cast), AT),
        "broker_reply_published": published("", CALL["_reply_q"], [CALL["_reply_q"]], envelope(REPLY)),
        "broker_reply_delivered": witness.witness_line(
            f"deliver.{CALL['_reply_q']}", {"exchange_name": "", "routing_keys": [CALL["_reply_q"]]},
            envelope(REPLY), AT),
    }
    rules = {name: rule for name, rule in catalog.events.items() if "rabbitmq-witness" in rule.services}
    assert set(rules) == set(lines)
    for name, line in lines.items():
        parsed = fmt.parse(json.dumps(line), ParseState())
        assert parsed is not None and parsed.at == AT and parsed.unit == "rabbitmq-witness"
        assert [n for n, rule in rules.items() if rule.pattern.search(parsed.message)] == [name]
        fields = rules[name].pattern.search(parsed.message).groupdict()
        assert fields["msg_id" if "msg_id" in fields else "unique_id"] in (CALL["_msg_id"], CALL["_unique_id"])
        if "reply" not in name:
            assert parsed.request_id == CONTEXT["_context_request_id"]
            assert parsed.global_request_id == CONTEXT["_context_global_request_id"]
