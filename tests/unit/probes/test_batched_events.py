"""Neutron sends Nova its port events in batches: with boots side by side one
"Sending events" line names several servers (real lines from a run of 20 boots at
concurrency 5). Each plugged port is an event of its own, so every boot keeps stage 38."""
import shutil
from pathlib import Path

from probes.catalog import load_catalog
from probes.correlate import Classifier
from probes.logs.reader import read_logdir
from tests.support import FIXTURES

LINES = FIXTURES / "neutron-batched-events-20261130.log"


def events(tmp_path: Path) -> list[dict[str, str]]:
    log = tmp_path / "bootlab1" / "var" / "log" / "neutron" / "neutron-rpc-server.log"
    log.parent.mkdir(parents=True)
    shutil.copy(LINES, log)
    classifier = Classifier(load_catalog())
    classifier.feed_all(read_logdir(tmp_path)[1])
    return [e.fields for e in classifier.events["neutron_sending_events"]]


def test_each_server_of_a_batch_gets_its_plugged_event(tmp_path):
    assert [f["port_id"] for f in events(tmp_path)] == [
        "69565e57-5f1a-4911-bc04-223acaed7664", "30d5d997-dde5-4033-95f0-cdba88034ecf"]


def test_unplugged_changed_and_deleted_events_are_not_plugged_ones(tmp_path):
    assert all("04:40:40" in line for line in LINES.read_text().splitlines()
               if "'network-vif-plugged'" in line)
    assert len(events(tmp_path)) == 2
