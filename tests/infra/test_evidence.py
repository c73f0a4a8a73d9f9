"""Every evidence source the probe reads is switched on."""
import pytest

OSLO_CONFS = {
    "controller": ["/etc/keystone/keystone.conf", "/etc/glance/glance-api.conf", "/etc/placement/placement.conf",
                   "/etc/nova/nova.conf", "/etc/neutron/neutron.conf", "/etc/cinder/cinder.conf"],
}


@pytest.mark.parametrize("conf", OSLO_CONFS["controller"])
def test_debug_logging_with_request_ids(host, groups, conf):
    if "controller" not in groups:
        pytest.skip("not a controller")
    text = host.file(conf).content_string
    assert "debug = true" in text
    assert "%(global_request_id)s %(request_id)s" in text
    assert "oslo.messaging=DEBUG" in text


def test_mariadb_general_log(host, groups):
    if "controller" not in groups:
        pytest.skip("not a controller")
    out = host.check_output("mysql -N -B -e 'SELECT @@general_log, @@general_log_file'")
    enabled, path = out.split()
    assert enabled == "1"
    assert host.file(path).exists


def test_dnsmasq_logs_dhcp(host, groups):
    if "network" not in groups:
        pytest.skip("not a network host")
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
