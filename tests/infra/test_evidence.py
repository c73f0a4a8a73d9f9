"""Every evidence source the probe reads is switched on."""
import base64
import configparser
import gzip
import json
from pathlib import Path

import pytest

OSLO_CONFS = {
    "controller": ["/etc/keystone/keystone.conf", "/etc/glance/glance-api.conf", "/etc/placement/placement.conf",
                   "/etc/nova/nova.conf", "/etc/neutron/neutron.conf", "/etc/cinder/cinder.conf"],
}


def oslo_options(host, conf):
    """[DEFAULT] of an oslo.config file, option names lower-cased."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(host.file(conf).content_string)
    return {k.lower(): v.strip() for k, v in parser.defaults().items()}


# oslo.log's own logging_context_format_string, used when a file sets none.
OSLO_DEFAULT_FORMAT = ("%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s "
                       "[%(global_request_id)s %(request_id)s %(user_identity)s] %(instance)s%(message)s")


@pytest.mark.parametrize("conf", OSLO_CONFS["controller"])
def test_debug_logging_with_request_ids(host, groups, conf):
    if "controller" not in groups:
        pytest.skip("not a controller")
    options = oslo_options(host, conf)
    assert options.get("debug", "").lower() == "true", f"{conf}: debug is not on"
    fmt = options.get("logging_context_format_string", OSLO_DEFAULT_FORMAT)
    assert "%(global_request_id)s %(request_id)s" in fmt, f"{conf}: request ids not in the format"
    assert "oslo.messaging=DEBUG" in options.get("default_log_levels", ""), \
        f"{conf}: oslo.messaging is not at DEBUG (RPC message ids)"


def test_mariadb_general_log(host, groups, flavor):
    if "controller" not in groups:
        pytest.skip("not a controller")
    if flavor != "distro":
        pytest.skip("DevStack's root needs its password (test_health checks the log is written)")
    out = host.check_output("mysql -N -B -e 'SELECT @@general_log, @@general_log_file'")
    enabled, path = out.split()
    assert enabled == "1"
    assert host.file(path).exists


def lab_secrets(host):
    """The lab's generated secrets, by file name (read on the control machine)."""
    lab = host.backend.get_variables().get("bootlab_lab_name", "local")
    folder = Path.home() / ".local/state/bootlab" / lab / "secrets"
    return {p.name: p.read_text().split()[0] for p in folder.iterdir()
            if p.is_file() and p.read_text().strip() and len(p.read_text().split()[0]) >= 8}


def test_mariadb_general_log_holds_no_secret(host, groups, flavor):
    """The deploy keeps its password queries out of the general log (a bundle is attached
    to bug reports), and the cell mappings hold URL templates, not passwords."""
    if "controller" not in groups:
        pytest.skip("not a controller")
    if flavor != "distro":
        pytest.skip("DevStack's root needs its password to name the log file")
    path = host.check_output("mysql -N -B -e 'SELECT @@general_log_file'")
    # The statements that can carry a password (the log itself is hundreds of MB):
    # account and password statements, hashing calls, connection URLs, cell mappings.
    risky = host.check_output(
        "grep -a -E 'IDENTIFIED|PASSWORD|SHA1\\(|cell_mappings|://[^/ ]+:[^@ ]+@' %s | head -c 50000000",
        path)
    leaked = [name for name, secret in lab_secrets(host).items() if secret in risky]
    assert not leaked, f"{path} holds the lab secrets named {leaked}"


def test_dnsmasq_logs_dhcp(host, groups, flavor):
    if "network" not in groups:
        pytest.skip("not a network host")
    if flavor != "distro":
        pytest.skip("DevStack: test_health checks the running dnsmasq's --log-dhcp")
    assert "log-dhcp" in host.file("/etc/neutron/dnsmasq-neutron.conf").content_string
    assert host.file("/var/log/neutron/dnsmasq").is_directory


def test_libvirt_logs(host, groups):
    if "compute" not in groups:
        pytest.skip("not a compute host")
    conf = host.file("/etc/libvirt/libvirtd.conf").content_string
    assert 'log_outputs = "1:file:/var/log/libvirt/libvirtd.log"' in conf
    assert host.file("/var/log/libvirt/qemu").is_directory


def test_time_sync(host):
    assert host.service("chrony").is_running
    tracking = host.run("chronyc -n tracking")
    assert tracking.rc == 0, tracking.stderr


def test_journal_persistent(host):
    assert host.file("/var/log/journal").is_directory


def test_the_journal_holds_no_lab_secret(host, flavor):
    """A deploy passes no secret on a command line: journald keeps the command line of
    each process that logs (_CMDLINE: su's session lines for rabbitmqctl, say), and the
    journal is what bootprobe collect reads."""
    if flavor != "distro":
        pytest.skip("DevStack's stack.sh passes its passwords on command lines (sudo logs them)")
    packed = host.check_output(
        "journalctl --no-pager -o json --output-fields=MESSAGE,_CMDLINE | gzip -1 | base64 -w0")
    journal = gzip.decompress(base64.b64decode(packed)).decode("utf-8", "replace")
    assert journal.count("\n") > 100, "the journal is nearly empty"
    leaked = [name for name, secret in lab_secrets(host).items() if secret in journal]
    assert not leaked, f"the journal holds the lab secrets named {leaked}"


def test_the_broker_witness_runs_with_the_firehose_on(host, groups, flavor):
    """RabbitMQ's firehose is on in the services' virtual host and the witness reads it: its
    unit running and enabled with the broker, its queue bound to amq.rabbitmq.trace with one
    consumer, its log written in the last minutes (the services' own RPC traffic: agents'
    reports, periodic tasks) with lines holding ids only."""
    if "controller" not in groups:
        pytest.skip("not a controller")
    if flavor != "distro":
        pytest.skip("the broker witness is the distro roles' (roles/rabbitmq)")
    variables = host.backend.get_variables()
    if not variables.get("rabbitmq_witness_enabled", True):
        pytest.skip("rabbitmq_witness_enabled is false in this lab")
    witness = host.service("rabbitmq-witness")
    assert witness.is_running and witness.is_enabled
    vhost = variables.get("rabbitmq_vhost", "/")
    tracing = json.loads(host.check_output("rabbitmqctl --quiet list_vhosts name tracing --formatter json"))
    assert {"name": vhost, "tracing": True} in tracing, f"the firehose is off: {tracing}"
    queues = json.loads(host.check_output(
        "rabbitmqctl --quiet list_queues -p %s name consumers --formatter json", vhost))
    queue = variables.get("rabbitmq_witness_queue", "bootlab.witness")
    assert {"name": queue, "consumers": 1} in queues, f"no witness consuming {queue}"
    bindings = host.check_output("rabbitmqctl --quiet list_bindings -p %s source_name destination_name", vhost)
    assert any(line.split() == ["amq.rabbitmq.trace", queue] for line in bindings.splitlines())
    log = variables.get("rabbitmq_witness_log", "/var/log/rabbitmq/rabbitmq-witness.log")
    assert host.run("find %s -mmin -5", log).stdout.strip() == log, f"{log} not written in 5 minutes"
    lines = [json.loads(line) for line in host.check_output("tail -n 200 %s", log).splitlines()]
    assert lines and all(set(line) <= WITNESS_FIELDS for line in lines)
    text = json.dumps(lines)
    leaked = [name for name, secret in lab_secrets(host).items() if secret in text]
    assert not leaked and "auth_token" not in text and "gAAAAA" not in text


# What the witness writes of a message (roles/rabbitmq/files/rabbitmq-witness.py).
WITNESS_FIELDS = {"time", "act", "exchange", "routing_keys", "queues", "msg_id", "unique_id",
                  "reply_q", "method", "request_id", "global_request_id", "reply", "ending", "failure"}


# OSProfiler ([profiler] of every service that supports it), per group: the files the roles write.
PROFILED_CONFS = {
    "controller": ["/etc/keystone/keystone.conf", "/etc/glance/glance-api.conf",
                   "/etc/placement/placement.conf", "/etc/nova/nova.conf", "/etc/neutron/neutron.conf",
                   "/etc/cinder/cinder.conf"],
    "network": ["/etc/neutron/neutron.conf"],
    "compute": ["/etc/nova/nova.conf", "/etc/neutron/neutron.conf"],
    "storage": ["/etc/cinder/cinder.conf"],
}


def profiling(host, flavor):
    """Skip unless this lab profiles (the distro flavor with openstack_profiler_enabled)."""
    if flavor != "distro":
        pytest.skip("the DevStack flavor runs no trace store")
    if not host.backend.get_variables().get("openstack_profiler_enabled", False):
        pytest.skip("openstack_profiler_enabled is off in this lab")


@pytest.mark.parametrize("group,conf", [(g, c) for g, confs in PROFILED_CONFS.items() for c in confs])
def test_every_service_profiles_with_the_labs_key(host, groups, flavor, group, conf):
    """OSProfiler is on with SQL tracing, checks the lab's HMAC key and writes to the trace
    store (bootprobe run --profile's spans)."""
    profiling(host, flavor)
    if group not in groups:
        pytest.skip(f"not a {group} host")
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(host.file(conf).content_string)
    section = {k.lower(): v.strip() for k, v in parser["profiler"].items()} if parser.has_section("profiler") else {}
    secrets = lab_secrets(host)
    assert section.get("enabled", "").lower() == "true", f"{conf}: [profiler] enabled is not true"
    assert section.get("trace_sqlalchemy", "").lower() == "true", f"{conf}: SQL is not traced"
    assert section.get("hmac_keys") == secrets["osprofiler-hmac"], f"{conf}: hmac_keys is not the lab's key"
    store = section.get("connection_string", "")
    assert store.startswith("redis://") and f":{secrets['osprofiler-redis']}@" in store, \
        f"{conf}: connection_string is not the lab's trace store"


def test_the_trace_store_answers_the_probe_with_its_password_only(host, groups, flavor):
    """The controller's Redis, as bootprobe run --profile reaches it from the control machine:
    it answers with the lab's password and refuses without it."""
    profiling(host, flavor)
    if "controller" not in groups:
        pytest.skip("the trace store runs on the controller")
    import redis

    address = host.backend.get_variables()["ansible_host"]
    assert host.service("redis-server").is_running and host.service("redis-server").is_enabled
    secret = lab_secrets(host)["osprofiler-redis"]
    assert redis.Redis(host=address, port=6379, password=secret, socket_timeout=10).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host=address, port=6379, socket_timeout=10).ping()
