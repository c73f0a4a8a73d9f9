"""Log line formats: real lines recorded on the lab, and malformed ones."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from itertools import islice

from hypothesis import given, settings
from hypothesis import strategies as st

from probes.logs.formats import FORMATS, JournalJSON, JournalText, Oslo, ParseState, _utc, ctime_utc, sniff
from probes.logs.reader import read_logdir
from probes.logs.sources import service_of_logger, service_of_name
from tests.support import FIXTURES

FIXTURE = FIXTURES / "boot-ok-20261126"


def first_lines(relative: str, count: int = 40) -> list[str]:
    path = next(FIXTURE.glob(f"*/{relative}"))
    with gzip.open(path, "rt") as handle:
        return [line.rstrip("\n") for line in islice(handle, count)]


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


def test_devstack_json_messages_lose_colours_whether_string_or_bytes():
    message = ("\x1b[00;32mDEBUG nova.compute.manager [\x1b[01;36mNone "
               "req-3311ee07-1a47-41ad-9827-caf5954af351 \x1b[00;36madmin admin\x1b[00;32m] "
               "\x1b[01;35m[instance: 2f470776-8968-45c0-8a44-4c03143cf4e3] \x1b[00;32mVM Started "
               "(Lifecycle Event)\x1b[00m \x1b[00;33m{{(pid=2540) handle_lifecycle_event "
               "/opt/stack/nova/nova/compute/manager.py:1590}}\x1b[00m")
    for encoded in (message, list(message.encode())):  # journalctl -o json writes the bytes
        entry = json.dumps({"__REALTIME_TIMESTAMP": "1795687561775000", "_HOSTNAME": "ctl1",
                            "_SYSTEMD_UNIT": "devstack@n-cpu.service",
                            "SYSLOG_IDENTIFIER": "nova-compute", "MESSAGE": encoded})
        parsed = JournalJSON().parse(entry, ParseState())
        assert parsed.message == "VM Started (Lifecycle Event)"
        assert parsed.level == "DEBUG" and parsed.logger == "nova.compute.manager"
        assert parsed.request_id == "req-3311ee07-1a47-41ad-9827-caf5954af351"
        assert parsed.instance == "2f470776-8968-45c0-8a44-4c03143cf4e3"
        assert (parsed.host, parsed.unit, parsed.systemd_unit) == (
            "ctl1", "nova-compute", "devstack@n-cpu.service")


def test_a_debug_suffix_in_braces_is_not_part_of_the_message():
    line = ("2026-11-26 10:05:38.265 2548 DEBUG nova.scheduler.manager "
            "[req-d286ce88-a344-407a-9693-ab8f20a185d0 req-e78700cf-1e5a-4192-aaae-8bfffdf57799 "
            "admin admin] Starting to schedule for instances: ['aefe73fa-f3fa-43c2-a8d0-3654c9a7ba04'] "
            "{{(pid=2548) select_destinations /opt/stack/nova/nova/scheduler/manager.py:141}}")
    parsed = Oslo().parse(line, ParseState())
    assert parsed.message == "Starting to schedule for instances: ['aefe73fa-f3fa-43c2-a8d0-3654c9a7ba04']"


def test_journalctl_text_exports_short_precise_and_short_iso_precise():
    fmt = JournalText()
    precise = ("Nov 26 10:06:01.775123 ctl1 nova-compute[2540]: INFO nova.compute.manager "
               "[None req-3311ee07-1a47-41ad-9827-caf5954af351 admin admin] "
               "[instance: 2f470776-8968-45c0-8a44-4c03143cf4e3] VM Started (Lifecycle Event)")
    parsed = fmt.parse(precise, ParseState(year=2026))
    assert parsed.at == datetime(2026, 11, 26, 10, 6, 1, 775123, tzinfo=timezone.utc)
    assert (parsed.host, parsed.unit, parsed.instance) == (
        "ctl1", "nova-compute", "2f470776-8968-45c0-8a44-4c03143cf4e3")
    iso = "2026-11-26T10:06:01.775123+00:00 ctl1 devstack@n-api.service[812]: INFO nova.api..."
    assert fmt.parse(iso, ParseState()).host == "ctl1"
    assert sniff([precise], 2026).name == "journal-text"


def test_services_from_the_distributions_own_file_names():
    names = {
        "var/log/kolla/nova/nova-metadata.log": "nova-api-metadata",  # kolla-ansible
        "var/log/kolla/neutron/neutron-openvswitch-agent.log": "neutron-l2-agent",
        "var/log/kolla/neutron/dnsmasq.log": "dnsmasq",
        "var/log/kolla/ceph/ceph-osd.0.log": "ceph-osd",
        "var/log/neutron/server.log-20261126.gz": "neutron-server",  # RDO, rotated
        "var/log/neutron/rpc-server.log": "neutron-server",
        "var/log/neutron/openvswitch-agent.log.1": "neutron-l2-agent",
        "var/log/neutron/dhcp-agent.log.2.gz": "neutron-dhcp-agent",
        "var/log/neutron/metadata-agent.log": "neutron-metadata-agent",
        "var/log/cinder/volume.log": "cinder-volume",
        "var/log/glance/api.log": "glance-api",
        "var/log/containers/nova/nova-metadata-api.log": "nova-api-metadata",  # TripleO
        "var/log/containers/neutron/networking-ovn-metadata-agent.log": "neutron-metadata-agent",
        "var/log/nova/nova-api-os-compute.log": "nova-api",  # Ubuntu
        "screen-n-cpu.txt": "nova-compute",  # DevStack's CI export
        "devstack@q-ovn-metadata-agent.service": "neutron-metadata-agent",
        "ceph-0c1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8@osd.0.service": "ceph-osd",  # cephadm
    }
    for name, service in names.items():
        assert service_of_name(name) == service, name
    # A load balancer's haproxy (kolla's, TripleO's) is not neutron's metadata proxy.
    assert service_of_name("var/log/kolla/haproxy/haproxy.log") is None


_CTIME_PARTS = st.tuples(
    st.sampled_from(["Mon", "Sat", "sun", "Sun", "Xyz", "Monday"]),
    st.sampled_from(["Jan", "Feb", "Nov", "nov", "Dec", "Foo", "May"]),
    st.sampled_from(["0", "00", "1", "01", "9", "28", "29", "30", "31", "32", " 7"]),
    st.integers(0, 29), st.integers(0, 69), st.integers(0, 69),
    st.sampled_from(["0000", "1970", "2024", "2026", "2100", "9999", "26"]),
)


@given(_CTIME_PARTS)
@settings(max_examples=500, deadline=None)
def test_a_uwsgi_stamp_is_read_as_strptime_reads_it(parts):
    weekday, month, day, hour, minute, second, year = parts
    text = f"{weekday} {month} {day} {hour:02d}:{minute:02d}:{second:02d} {year}"
    assert ctime_utc(text) == _utc(text, "%a %b %d %H:%M:%S %Y")


@given(st.text(max_size=30))
def test_any_text_is_read_as_strptime_reads_it(text):
    assert ctime_utc(text) == _utc(text, "%a %b %d %H:%M:%S %Y")
