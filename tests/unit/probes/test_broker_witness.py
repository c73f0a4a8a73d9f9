"""The broker as a witness of the boot (docs/evidence.md): two boots recorded on the lab with
the RabbitMQ witness on (roles/rabbitmq), tests/fixtures/boot-broker-20261208 with
oslo.messaging at DEBUG and boot-broker-info-20261208 with it at its default INFO.

The RPC stages come from the broker's record first; they pick the very messages the
services' DEBUG lines name; at INFO the broker is the only evidence of stages 14-18, 46
and 47, which a cloud without the witness reports unobserved as before; and neither
fixture holds a payload, a token or a lab secret."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest

from probes.analyze import analyze
from probes.boots import read_boots
from probes.catalog import load_catalog
from tests.support import FIXTURES

DEBUG = FIXTURES / "boot-broker-20261208"
INFO = FIXTURES / "boot-broker-info-20261208"
WITNESS_LOG = "bootlab1/var/log/rabbitmq/rabbitmq-witness.log.gz"
RPC_STAGES = (6, 8, 12, 13, 14, 15, 16, 17, 18, 45, 46, 47)
INFO_ONLY = (14, 15, 16, 17, 18, 46, 47)  # no line of the services' at INFO
PROXIES = (12, 16, 46)
# What the witness writes of a message (roles/rabbitmq/files/rabbitmq-witness.py).
WITNESS_FIELDS = {"time", "act", "exchange", "routing_keys", "queues", "msg_id", "unique_id",
                  "reply_q", "method", "request_id", "global_request_id", "reply", "ending", "failure"}


def stages(folder: Path) -> dict[int, dict]:
    result = analyze(folder, read_boots(folder), load_catalog())
    assert len(result["boots"]) == 1
    return {s["number"]: s for s in result["boots"][0]["stages"]}


def without_witness(folder: Path, tmp: Path) -> Path:
    copy = tmp / folder.name
    shutil.copytree(folder, copy)
    (copy / WITNESS_LOG).unlink()
    return copy


@pytest.fixture(scope="module")
def debug():
    return stages(DEBUG)


@pytest.fixture(scope="module")
def info():
    return stages(INFO)


@pytest.fixture(scope="module")
def debug_logs(tmp_path_factory):
    return stages(without_witness(DEBUG, tmp_path_factory.mktemp("debug")))


@pytest.fixture(scope="module")
def info_logs(tmp_path_factory):
    return stages(without_witness(INFO, tmp_path_factory.mktemp("info")))


def message_ids(stage: dict) -> list[str]:
    """The RPC id each evidence line names: the witness's msg_id (else unique_id), the
    oslo.messaging line's 'msg_id: X' / 'unique_id: X'."""
    found = []
    for evidence in stage["evidence"]:
        line = evidence["line"]
        match = (re.search(r'"msg_id": "(\w+)"', line) or re.search(r'"unique_id": "(\w+)"', line)
                 or re.search(r"(?:msg_id|unique_id):? ([0-9a-f]{32})", line))
        assert match, line
        found.append(match.group(1))
    return found


@pytest.mark.parametrize("fixture", ["debug", "info"])
def test_the_rpc_stages_come_from_the_broker(fixture, request):
    found = request.getfixturevalue(fixture)
    for number in RPC_STAGES:
        stage = found[number]
        assert stage["witness"] == "broker", (number, stage["witness"], stage["reason"])
        assert stage["status"] == ("proxy" if number in PROXIES else "measured"), number
        assert {e["source"].split()[0] for e in stage["evidence"]} == {"rabbitmq-witness"}, number
        if number not in PROXIES:
            assert stage["note"] in (None, load_catalog().stage(number).why), number


def test_the_broker_picks_the_messages_the_debug_lines_name(debug, debug_logs):
    for number in RPC_STAGES:
        assert debug_logs[number]["witness"] in ("logs", "neighbours"), number
        assert message_ids(debug[number]) == message_ids(debug_logs[number]), number


def test_a_call_is_published_before_it_is_delivered_and_answered(debug, info):
    for found in (debug, info):
        for call, delivered, replied, answered in ((14, 15, 17, 18), (45, 46, 47, 47)):
            times = [found[call]["start"], found[delivered]["start"], found[replied]["start"],
                     found[answered]["end"]]
            assert times == sorted(times), (call, times)
            assert found[call]["duration_s"] < 0.01  # the broker routes a call within milliseconds


def test_at_info_the_broker_is_the_only_witness_of_seven_stages(info, info_logs):
    for number in INFO_ONLY:
        assert info[number]["status"] != "unobserved", number
        assert info_logs[number]["status"] == "unobserved", number
        assert info_logs[number]["reason"].startswith("turned off in this cloud: oslo.messaging=DEBUG")
        assert "broker_" not in info_logs[number]["reason"]  # no witness log: not named as sought
    assert not [n for n, s in info.items() if s["status"] == "unobserved"]


def witness_lines(folder: Path) -> list[dict]:
    with gzip.open(folder / WITNESS_LOG, "rt") as handle:
        return [json.loads(line) for line in handle]


@pytest.mark.parametrize("folder", [DEBUG, INFO], ids=lambda p: p.name)
def test_the_witness_log_holds_ids_and_no_payload(folder):
    lines = witness_lines(folder)
    assert len(lines) > 100
    assert all(set(line) <= WITNESS_FIELDS for line in lines)
    assert {line["act"] for line in lines} == {"publish", "deliver"}
    assert any(line.get("method") == "build_and_run_instance" for line in lines)


def lab_secrets() -> dict[str, str]:
    folder = Path.home() / ".local/state/bootlab/local/secrets"
    if not folder.is_dir():
        return {}
    return {p.name: p.read_text().split()[0] for p in folder.iterdir()
            if p.is_file() and p.read_text().strip() and len(p.read_text().split()[0]) >= 8}


@pytest.mark.parametrize("folder", [DEBUG, INFO], ids=lambda p: p.name)
def test_no_token_or_lab_secret_anywhere_in_the_fixture(folder):
    """Every file of the fixture: no oslo.messaging context key, no Fernet token, no
    token-shaped value after an auth_token key, and (on a machine that has them: the
    control machine of the lab the fixture was recorded on) none of the lab's secrets."""
    secrets = lab_secrets()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8", "replace")
        assert "_context_auth_token" not in text and "_context_user_name" not in text, path
        assert not re.search(r"gAAAAA[\w-]{40,}", text), path
        assert not re.search(r"auth_token\W{1,4}[A-Za-z0-9_-]{32,}", text), path
        leaked = [name for name, secret in secrets.items() if secret in text]
        assert not leaked, f"{path} holds the lab secrets named {leaked}"
