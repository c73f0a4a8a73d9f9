"""Log line formats: real lines recorded on the lab, and malformed ones."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from probes.logs.formats import FORMATS, JournalJSON, Oslo, ParseState, sniff
from probes.logs.reader import read_logdir
from probes.logs.sources import service_of_logger, service_of_name

FIXTURE = Path(__file__).parent / "fixtures" / "boot-ok-20261126"


def first_lines(relative: str, count: int = 40) -> list[str]:
    path = next(FIXTURE.glob(f"*/{relative}"))
    with gzip.open(path, "rt") as handle:
        return [line.rstrip("\n") for _, line in zip(range(count), handle)]


def test_each_recorded_file_is_recognised_by_its_content():
    expected = {
        "var/log/nova/nova-compute.log.gz": "oslo",
        "var/log/ceph/ceph-osd.0.log.gz": "ceph",
        "var/log/libvirt/libvirtd.log.gz": "libvirt",
        "var/log/mysql/query.log.gz": "mariadb",
        "journal.json.gz": "journal-json",
    }
    for relative, name in expected.items():
        fmt = sniff(first_lines(relative), 2026)
        assert fmt is not None and fmt.name == name, relative
    dnsmasq = next(FIXTURE.glob("*/var/log/neutron/dnsmasq/*/dhcp_dns_log.gz"))
    with gzip.open(dnsmasq, "rt") as handle:
        assert sniff([next(handle).rstrip()], 2026).name == "syslog"


def test_oslo_context_gives_global_and_local_request_ids():
    line = ("2026-11-26 09:55:37.714 1693 DEBUG oslo_messaging._drivers.amqpdriver "
            "[req-9579a62e-8b4d-4329-8c3a-57a69e286540 req-bb577ab0-8a69-4b4f-a2f8-7a119b5921b6 "
            "52aea470aa634f57937678a19b646eb8 c9ab7641a05e44ecb2fc8fad4caf7f77 - - default default] "
            "CAST unique_id: 3d73158f0d8f4c67ad42c20365b384d7 exchange 'nova' topic 'conductor'")
    parsed = Oslo().parse(line, ParseState())
    assert parsed.global_request_id == "req-9579a62e-8b4d-4329-8c3a-57a69e286540"
    assert parsed.request_id == "req-bb577ab0-8a69-4b4f-a2f8-7a119b5921b6"
    assert parsed.at == datetime(2026, 11, 26, 9, 55, 37, 714000, tzinfo=timezone.utc)
    assert parsed.message.startswith("CAST unique_id")


def test_devstack_journald_lines_keep_their_ids():
    entry = ('{"__REALTIME_TIMESTAMP": "1795686952018219", "_SYSTEMD_UNIT": "devstack@n-cpu.service",'
             ' "SYSLOG_IDENTIFIER": "nova-compute", "MESSAGE": "DEBUG nova.compute.manager '
             '[None req-9579a62e-8b4d-4329-8c3a-57a69e286540 admin admin] [instance: '
             '7e713aef-5792-45f8-b386-e44eb1f7b9a2] VM Started (Lifecycle Event)"}')
    parsed = JournalJSON().parse(entry, ParseState())
    assert parsed.instance == "7e713aef-5792-45f8-b386-e44eb1f7b9a2"
    assert parsed.message == "VM Started (Lifecycle Event)"
    assert service_of_name(parsed.unit) == "nova-compute"


def test_services_from_names_of_other_labs():
    assert service_of_name("devstack@n-cpu.service") == "nova-compute"
    assert service_of_name("/srv/logs/nova/nova-api-metadata.log") == "nova-api-metadata"
    assert service_of_name("q-svc") == "neutron-server"
    assert service_of_name("haproxy-metadata-proxy-71ca87f9") == "metadata-proxy"
    assert service_of_logger("nova.scheduler.manager") == "nova-scheduler"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_no_format_raises_on_garbage(text):
    for fmt in FORMATS:
        fmt.parse(text, ParseState(year=2026, last_at=datetime(2026, 1, 1, tzinfo=timezone.utc)))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120),
                min_size=1, max_size=30))
def test_malformed_lines_are_counted_not_fatal(tmp_path_factory, garbage):
    folder = tmp_path_factory.mktemp("logs") / "host1" / "var" / "log" / "nova"
    folder.mkdir(parents=True)
    good = first_lines("var/log/nova/nova-compute.log.gz", 5)
    lines = good[:3] + ["9" + g.replace("\n", " ").replace("\r", " ") for g in garbage] + good[3:]
    (folder / "nova-compute.log").write_text("\n".join(lines) + "\n")
    hosts, records = read_logdir(folder.parent.parent.parent)
    parsed = list(records)
    assert len(parsed) >= 5
    assert hosts[0].sources[0].bad_lines == len(garbage)
