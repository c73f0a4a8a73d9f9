"""Log folders of other layouts, built from the lines of a recorded boot.

Every layout below is made of the real lines of ``fixtures/boot-ok-20261126``
(see fixtures/README.md), laid out as other deployments keep them: kolla-ansible,
a copy of an RDO host's /var/log, a sosreport, a flat folder, rotated and
gzipped files, and DevStack's journald (``journalctl -o json``, one host or
several in one file; the text of ``-o short-precise`` per unit and
``-o short-iso-precise``).  Each must give the same boot and the same observed
stages as the recorded layout.  The file names are the distributions' own
(kolla-ansible's templates, RDO's unit files, sos's plugins, DevStack's
``functions``); see probes/logs/sources.py.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from probes.analyze import analyze, find_boots
from probes.boots import read_boots
from probes.catalog import load_catalog
from probes.logs.formats import REQUEST_ID, ParseState, sniff
from probes.logs.reader import read_logdir
from probes.views.table import render_table
from tests.support import FIXTURES

OK = FIXTURES / "boot-ok-20261126"
HOST = OK / "bootlab1"
RECORDED_AT = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc).timestamp()  # syslog stamps lack a year
DNSMASQ = next(HOST.glob("var/log/neutron/dnsmasq/*/dhcp_dns_log.gz")).relative_to(HOST)


def lines_of(relative: str | Path) -> list[str]:
    with gzip.open(HOST / relative, "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()


def write(path: Path, lines: list[str], gz: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(line + "\n" for line in lines)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    os.utime(path, (RECORDED_AT, RECORDED_AT))


def recorded_files() -> list[str]:
    return sorted(str(p.relative_to(HOST)) for p in HOST.rglob("*.gz"))


def lay_out(target: Path, names: dict[str, str]) -> None:
    """Copy each recorded file to ``target / names[file]`` (plain); files sharing a name are joined."""
    joined: dict[str, list[str]] = {}
    for relative in recorded_files():
        joined.setdefault(names[relative], []).extend(lines_of(relative))
    for name, lines in joined.items():
        write(target / name, lines)


def kolla_name(relative: str) -> str:
    """Where kolla-ansible keeps it (ansible/roles/*/templates, the old kolla ceph role)."""
    name = Path(relative).name.removesuffix(".gz")
    service = Path(relative).parts[2] if relative.startswith("var/") else ""
    special = {
        "journal.json": "journal.json",
        "nova-api-metadata.log": "var/log/kolla/nova/nova-metadata.log",
        "neutron-api.log": "var/log/kolla/neutron/neutron-server.log",
        "neutron-rpc-server.log": "var/log/kolla/neutron/neutron-server.log",
        "dhcp_dns_log": "var/log/kolla/neutron/dnsmasq.log",
        "query.log": "var/log/kolla/mariadb/mariadb-general.log",
    }
    if name in special:
        return special[name]
    if "/qemu/" in relative:
        return f"var/log/kolla/libvirt/qemu/{name}"
    return f"var/log/kolla/{service}/{name}"


def rdo_name(relative: str) -> str:
    """A copy of an RDO host's /var/log (rdo-packages/*-distgit unit files and dist.conf)."""
    name = Path(relative).name.removesuffix(".gz")
    special = {
        "journal.json": "journal.json",
        "neutron-api.log": "neutron/server.log",
        "neutron-rpc-server.log": "neutron/rpc-server.log",
        "neutron-dhcp-agent.log": "neutron/dhcp-agent.log",
        "neutron-linuxbridge-agent.log": "neutron/linuxbridge-agent.log",
        "neutron-metadata-agent.log": "neutron/metadata-agent.log",
        "cinder-api.log": "cinder/api.log",
        "cinder-scheduler.log": "cinder/scheduler.log",
        "cinder-volume.log": "cinder/volume.log",
        "glance-api.log": "glance/api.log",
        "query.log": "mariadb/query.log",
    }
    if name in special:
        return special[name]
    return str(Path(relative).relative_to("var/log")).removesuffix(".gz")


def flat_name(relative: str) -> str:
    return Path(relative).name.removesuffix(".gz")


# --- DevStack: the oslo lines as DevStack's units write them to journald -----

# (unit, SyslogIdentifier): uwsgi units set it to the unit name (functions-common,
# write_uwsgi_user_unit_file); the others get their executable's name.
DEVSTACK_UNITS = {
    "nova-api": ("devstack@n-api.service", None),
    "nova-api-metadata": ("devstack@n-api-meta.service", None),
    "nova-compute": ("devstack@n-cpu.service", "nova-compute"),
    "nova-conductor": ("devstack@n-super-cond.service", "nova-conductor"),
    "nova-scheduler": ("devstack@n-sch.service", "nova-scheduler"),
    "neutron-api": ("devstack@neutron-api.service", None),
    "neutron-rpc-server": ("devstack@neutron-rpc-server.service", "neutron-rpc-server"),
    "neutron-dhcp-agent": ("devstack@q-dhcp.service", "neutron-dhcp-agent"),
    "neutron-linuxbridge-agent": ("devstack@q-agt.service", "neutron-linuxbridge-agent"),
    "neutron-metadata-agent": ("devstack@q-meta.service", "neutron-metadata-agent"),
    "cinder-api": ("devstack@c-api.service", None),
    "cinder-scheduler": ("devstack@c-sch.service", "cinder-scheduler"),
    "cinder-volume": ("devstack@c-vol.service", "cinder-volume"),
    "glance-api": ("devstack@g-api.service", None),
    "keystone": ("devstack@keystone.service", None),
    "placement-api": ("devstack@placement-api.service", None),
}
_OSLO_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) (?P<pid>\d+) (?P<level>[A-Z]+) "
    r"(?P<logger>\S+) \[(?P<ctx>[^\]]*)\] (?P<instance>\[instance: [0-9a-f-]{36}\] )?(?P<msg>.*)$")
# Debian's logging_debug_format_suffix, "%(funcName)s %(pathname)s:%(lineno)d"
_DEBIAN_SUFFIX = re.compile(r" (?P<func>\S+) (?P<path>/\S+\.py:\d+)$")
_COLOURS = {"DEBUG": "\x1b[00;32m", "INFO": "\x1b[00;36m", "WARNING": "\x1b[01;33m",
            "ERROR": "\x1b[01;31m", "CRITICAL": "\x1b[01;31m"}


def devstack_message(line: str) -> str | None:
    """An oslo file line in the form of DevStack's setup_systemd_logging (devstack/functions)."""
    match = _OSLO_LINE.match(line)
    if not match:
        return None
    level, msg = match["level"], match["msg"]
    colour = _COLOURS.get(level, "")
    ids = REQUEST_ID.findall(match["ctx"])
    if ids:
        global_id, local_id = (ids[0], ids[1]) if len(ids) > 1 else ("None", ids[0])
        context = f"[\x1b[01;36m{global_id} {local_id} \x1b[00;36madmin admin{colour}]"
    else:
        context = f"[\x1b[00;36m-{colour}]"
    suffix = ""
    if level == "DEBUG" and (debug := _DEBIAN_SUFFIX.search(msg)):
        msg = msg[:debug.start()]
        suffix = f" \x1b[00;33m{{{{(pid={match['pid']}) {debug['func']} {debug['path']}}}}}\x1b[00m"
    return (f"{colour}{level} {match['logger']} {context} \x1b[01;35m{match['instance'] or ''}"
            f"{colour}{msg}\x1b[00m{suffix}")


def _micros(line: str) -> int | None:
    match = _OSLO_LINE.match(line)
    if not match:
        return None
    stamp = datetime.fromisoformat(match["ts"]).replace(tzinfo=timezone.utc)
    return int(stamp.timestamp() * 1_000_000)


def devstack_entries(host_of: Callable[[str], str], as_bytes: set[str]) -> list[dict[str, object]]:
    """The recorded oslo files as journald entries of DevStack's units, with the recorded journal."""
    entries = [json.loads(line) for line in lines_of("journal.json.gz")]
    for entry in entries:  # the metadata proxy and systemd
        entry["_HOSTNAME"] = host_of(str(entry.get("SYSLOG_IDENTIFIER")))
    for relative in recorded_files():
        name = Path(relative).name.removesuffix(".log.gz")
        if name not in DEVSTACK_UNITS:
            continue
        unit, identifier = DEVSTACK_UNITS[name]
        micros = None
        for line in lines_of(relative):
            message = devstack_message(line)
            micros = _micros(line) or micros  # uwsgi and continuation lines: written after the last
            if micros is None:
                continue
            text = message if message is not None else line
            entries.append({
                "__REALTIME_TIMESTAMP": str(micros), "_HOSTNAME": host_of(name),
                "_SYSTEMD_UNIT": unit, "SYSLOG_IDENTIFIER": identifier or unit,
                # journalctl writes a message with control characters as a byte array
                "MESSAGE": list(text.encode()) if name in as_bytes else text,
            })
    return sorted(entries, key=lambda e: int(str(e["__REALTIME_TIMESTAMP"])))


def devstack_folder(target: Path, host_of: Callable[[str], str]) -> None:
    """DevStack's host: services in journald, the rest where their own config puts them."""
    entries = devstack_entries(host_of, as_bytes={"nova-conductor"})
    write(target / "journal.json", [json.dumps(e) for e in entries])
    for relative in recorded_files():
        if relative.startswith("var/log/") and Path(relative).name.removesuffix(".log.gz") \
                not in DEVSTACK_UNITS:
            write(target / rdo_name(relative), lines_of(relative))


def devstack_text_folder(target: Path) -> None:
    """DevStack's journal as text: each unit as its CI exports it (``journalctl -o short-precise
    --unit devstack@<name>.service > screen-<name>.txt``, roles/export-devstack-journal), the
    other units in one ``journalctl -o short-iso-precise`` file."""
    screens: dict[str, list[str]] = {}
    rest = []
    for entry in devstack_entries(lambda name: "bootlab1", as_bytes=set()):
        at = datetime.fromtimestamp(int(str(entry["__REALTIME_TIMESTAMP"])) / 1e6, timezone.utc)
        unit, tag = str(entry.get("_SYSTEMD_UNIT")), entry.get("SYSLOG_IDENTIFIER")
        if unit.startswith("devstack@"):
            name = unit.removeprefix("devstack@").removesuffix(".service")
            screens.setdefault(name, []).append(
                f"{at:%b %d %H:%M:%S.%f} bootlab1 {tag}[4242]: {entry['MESSAGE']}")
        else:
            rest.append(f"{at:%Y-%m-%dT%H:%M:%S.%f}+0000 bootlab1 {tag}[{entry.get('_PID', 1)}]: "
                        f"{entry['MESSAGE']}")
    for name, lines in screens.items():
        write(target / "logs" / f"screen-{name}.txt", lines)
    write(target / "logs" / "journal.txt", rest)
    for relative in recorded_files():
        if relative.startswith("var/log/") and Path(relative).name.removesuffix(".log.gz") \
                not in DEVSTACK_UNITS:
            write(target / rdo_name(relative), lines_of(relative))


# --- the layouts -------------------------------------------------------------

def split_points(relative: str, lines: list[str]) -> list[int]:
    """Two line numbers where a record starts, so each part begins with a stamped line."""
    fmt = sniff(lines[:60], 2026)
    starts = []
    for index, line in enumerate(lines):
        parsed = fmt.parse(line, ParseState(year=2026)) if fmt else None
        if index and parsed is not None and parsed.at is not None and not parsed.continuation:
            starts.append(index)
    if len(starts) < 2:
        return []
    return [starts[len(starts) // 3], starts[2 * len(starts) // 3]]


def rotated(target: Path) -> None:
    """The recorded layout with every file split the ways logrotate leaves it."""
    host = target / "bootlab1"
    (host).mkdir(parents=True)
    (host / "host.json").write_text((HOST / "host.json").read_text())
    for number, relative in enumerate(recorded_files()):
        lines = lines_of(relative)
        name = relative.removesuffix(".gz")
        cuts = split_points(relative, lines) if relative.startswith("var/log/") else []
        if not cuts:
            write(host / name, lines)
            continue
        oldest, newer, current = lines[:cuts[0]], lines[cuts[0]:cuts[1]], lines[cuts[1]:]
        if number % 2:  # dateext
            write(host / f"{name}-20261125.gz", oldest, gz=True)
            write(host / f"{name}-20261126", newer)
        else:
            write(host / f"{name}.2.gz", oldest, gz=True)
            write(host / f"{name}.1", newer)
        write(host / name, current)


def sosreport(target: Path) -> None:
    """sos's tree: var/log as the sos plugins copy it, the hostname link, commands' output."""
    root = target / "sosreport-bootlab1-2026-11-26-qxzpkta"
    for relative in recorded_files():
        if relative.startswith("var/log/"):
            write(root / relative.removesuffix(".gz"), lines_of(relative))
    # rsyslog's /var/log/haproxy.log: neutron's metadata proxy, tagged by its log-tag
    proxy = []
    for entry in map(json.loads, lines_of("journal.json.gz")):
        if str(entry.get("SYSLOG_IDENTIFIER", "")).startswith("haproxy-"):
            at = datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6, timezone.utc)
            proxy.append(f"{at:%b %d %H:%M:%S} bootlab1 {entry['SYSLOG_IDENTIFIER']}[8321]: "
                         f"{entry['MESSAGE']}")
    write(root / "var/log/haproxy.log", proxy)
    write(root / "sos_commands/host/hostname", ["bootlab1"])
    write(root / "sos_commands/kernel/uname_-a", ["Linux bootlab1 6.1.0-27-amd64 x86_64 GNU/Linux"])
    write(root / "version.txt", ["sosreport: 4.8.0"])
    write(root / "etc/hostname", ["bootlab1"])
    os.symlink("sos_commands/host/hostname", root / "hostname")
    os.symlink("sos_commands/kernel/uname_-a", root / "uname")


LAYOUTS: dict[str, Callable[[Path], None]] = {
    "kolla": lambda t: lay_out(t / "bootlab1", {r: kolla_name(r) for r in recorded_files()}),
    "rdo-var-log-copy": lambda t: lay_out(t, {r: rdo_name(r) for r in recorded_files()}),
    "sosreport": sosreport,
    "flat": lambda t: lay_out(t, {r: flat_name(r) for r in recorded_files()}),
    "rotated": rotated,
    "devstack-journal": lambda t: devstack_folder(t, lambda name: "bootlab1"),
    "devstack-text": devstack_text_folder,
    "devstack-two-hosts": lambda t: devstack_folder(
        t, lambda name: "compute1" if name in ("nova-compute", "neutron-linuxbridge-agent")
        else "controller"),
}
HOSTS = {
    "kolla": {"bootlab1"}, "rdo-var-log-copy": {"bootlab1"}, "sosreport": {"bootlab1"},
    "flat": {"bootlab1"}, "rotated": {"bootlab1"}, "devstack-journal": {"bootlab1"},
    "devstack-text": {"bootlab1"},
    "devstack-two-hosts": {"controller", "compute1", "devstack-two-hosts"},
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def recorded(catalog):
    result = analyze(OK, read_boots(OK), catalog)
    return result, observed(result)


def observed(result) -> list[int]:
    return [s["number"] for s in result["boots"][0]["stages"] if s["status"] != "unobserved"]


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def layout(request, tmp_path_factory):
    target = tmp_path_factory.mktemp("layouts") / request.param
    target.mkdir()
    LAYOUTS[request.param](target)
    return request.param, target


def test_the_same_boot_and_stages_in_every_layout(layout, catalog, recorded):
    name, logdir = layout
    result = analyze(logdir, read_boots(OK), catalog)
    assert {h["name"] for h in result["hosts"]} == HOSTS[name]
    assert result["boots"][0]["server_id"] == read_boots(OK)[0].server_id
    assert len(observed(result)) == len(recorded[1])
    assert observed(result) == recorded[1]
    assert result["bad_lines"]["total"] == recorded[0]["bad_lines"]["total"]


def test_boots_are_found_without_help_in_every_layout(layout, catalog):
    _, logdir = layout
    found = [b.server_id for b in find_boots(logdir, catalog, None, None)]
    assert read_boots(OK)[0].server_id in found


def test_devstack_messages_lose_colours_and_debug_suffix(tmp_path):
    devstack_folder(tmp_path, lambda name: "bootlab1")
    hosts, records = read_logdir(tmp_path)
    by_service: dict[str, list] = {}
    for record in records:
        by_service.setdefault(record.service, []).append(record)
    assert {"nova-compute", "nova-conductor", "nova-api", "neutron-server", "keystone",
            "metadata-proxy", "ceph-osd", "dnsmasq"} <= set(by_service)
    for record in by_service["nova-compute"] + by_service["nova-conductor"]:
        assert "\x1b" not in record.message and "{{" not in record.message, record.message
    started = [r for r in by_service["nova-compute"] if r.message == "VM Started (Lifecycle Event)"]
    assert started and started[0].instance == read_boots(OK)[0].server_id
    assert started[0].request_id and started[0].origin == "journal.json:nova-compute"
    scheduling = [r for r in by_service["nova-scheduler"]
                  if r.message.startswith("Starting to schedule for instances")]
    assert scheduling and scheduling[0].message.endswith("]")  # Debian's file line goes on
    assert scheduling[0].global_request_id and scheduling[0].level == "DEBUG"  # ' select_destinations ...'
    assert [h.name for h in hosts] == ["bootlab1"]  # journald's _HOSTNAME, not the folder's name


def test_files_no_service_claims_are_listed(tmp_path, catalog):
    lay_out(tmp_path, {r: rdo_name(r) for r in recorded_files()})
    write(tmp_path / "audit" / "audit.log", [
        "type=SERVICE_START msg=audit(1795687554.433:812): pid=1 uid=0 auid=4294967295 "
        "ses=4294967295 msg='unit=systemd-machined comm=\"systemd\" res=success'"])
    write(tmp_path / "httpd" / "keystone_wsgi_access.log", [
        '10.233.0.1 - - [26/Nov/2026:10:05:37 +0000] "POST /v3/auth/tokens HTTP/1.1" 201 3120'])
    write(tmp_path / "cron.log", ["2026-11-26T10:05:37.123456+00:00 bootlab1 CRON[812]: "
                                  "(root) CMD (run-parts /etc/cron.hourly)"])
    result = analyze(tmp_path, read_boots(OK), catalog)
    unattributed = {u["path"]: u for u in result["unattributed"]}
    assert set(unattributed) == {"audit/audit.log", "httpd/keystone_wsgi_access.log", "cron.log"}
    assert all(u["host"] == "bootlab1" for u in unattributed.values())
    assert "no known log format" in unattributed["httpd/keystone_wsgi_access.log"]["why"]
    assert "journal-text lines, but no service" in unattributed["cron.log"]["why"]
    assert observed(result) == observed(analyze(OK, read_boots(OK), catalog))
    text = render_table(result)
    assert "3 file(s) not attributed to a service" in text
    assert "bootlab1 audit/audit.log: no known log format" in text


def test_the_recorded_layout_leaves_nothing_unattributed(recorded):
    assert recorded[0]["unattributed"] == []


def test_a_flat_folder_without_journal_is_named_after_the_folder(tmp_path):
    folder = tmp_path / "ctl-logs"
    write(folder / "nova-compute.log", lines_of("var/log/nova/nova-compute.log.gz")[:20])
    hosts, records = read_logdir(folder)
    assert {r.host for r in records} == {"ctl-logs"}
    assert [h.name for h in hosts] == ["ctl-logs"]


def test_host_folders_without_host_json_stay_hosts(tmp_path):
    for host in ("ctl", "cmp"):
        write(tmp_path / host / "nova-compute.log", lines_of("var/log/nova/nova-compute.log.gz")[:5])
    write(tmp_path / "boots.json", ["[]"])
    hosts, records = read_logdir(tmp_path)
    assert sorted(h.name for h in hosts) == ["cmp", "ctl"]
    assert {r.host for r in records} == {"cmp", "ctl"}
    assert all(not s.unattributed for h in hosts for s in h.sources)


def test_journald_binary_files_are_named_not_read(tmp_path):
    write(tmp_path / "nova" / "nova-compute.log", lines_of("var/log/nova/nova-compute.log.gz")[:5])
    journal = tmp_path / "journal" / "20fc764856374c27b40736153f37a87e" / "system.journal"
    journal.parent.mkdir(parents=True)
    journal.write_bytes(b"LPKSHHRH" + bytes(4096))
    hosts, records = read_logdir(tmp_path)
    assert len(list(records)) == 5
    [stats] = [s for s in hosts[0].sources if s.path.endswith("system.journal")]
    assert "journalctl" in stats.unattributed and stats.lines == 0
