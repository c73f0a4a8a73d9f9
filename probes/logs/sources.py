"""Which service wrote a log: from a file path, a journald unit or an oslo logger.

Names, not contents, decide here, but only the services' own naming is used
(package file names, DevStack unit names, Python logger names), never a
lab's host names or folders.  Service names are the probe's vocabulary:
``nova-api``, ``nova-compute``, ``neutron-l2-agent`` ...
"""

from __future__ import annotations

import re

# Ordered: the first match wins (nova-api-metadata before nova-api).
_NAMES: tuple[tuple[str, str], ...] = (
    (r"nova-api-metadata|(?:^|[@/])n-api-meta", "nova-api-metadata"),
    (r"nova-api|(?:^|[@/])n-api\b|nova-osapi", "nova-api"),
    (r"nova-compute|(?:^|[@/])n-cpu", "nova-compute"),
    (r"nova-scheduler|(?:^|[@/])n-sch", "nova-scheduler"),
    (r"nova-conductor|(?:^|[@/])n-cond|(?:^|[@/])n-super-cond", "nova-conductor"),
    (r"placement", "placement"),
    (r"neutron-dhcp-agent|(?:^|[@/])q-dhcp", "neutron-dhcp-agent"),
    (r"neutron-(?:linuxbridge|openvswitch|sriov-nic)-agent|(?:^|[@/])q-agt", "neutron-l2-agent"),
    (r"neutron-metadata-agent|(?:^|[@/])q-meta|neutron-ovn-metadata-agent", "neutron-metadata-agent"),
    (r"neutron-l3-agent|(?:^|[@/])q-l3", "neutron-l3-agent"),
    (r"neutron-server|neutron-api|neutron-rpc-server|(?:^|[@/])q-svc|neutron/server\.log", "neutron-server"),
    (r"dnsmasq", "dnsmasq"),
    (r"haproxy", "metadata-proxy"),
    (r"cinder-api|(?:^|[@/])c-api", "cinder-api"),
    (r"cinder-volume|(?:^|[@/])c-vol", "cinder-volume"),
    (r"cinder-scheduler|(?:^|[@/])c-sch", "cinder-scheduler"),
    (r"glance-api|(?:^|[@/])g-api", "glance-api"),
    (r"keystone", "keystone"),
    (r"ceph-mon|ceph/mon\.", "ceph-mon"),
    (r"ceph-osd|ceph/osd\.", "ceph-osd"),
    (r"ceph-mgr", "ceph-mgr"),
    (r"radosgw|ceph-client\.rgw|\brgw\b", "ceph-rgw"),
    (r"libvirt/qemu/|\bqemu\b", "qemu"),
    (r"libvirtd|virtqemud|libvirt", "libvirt"),
    (r"mysql|mariadb", "mariadb"),
    (r"rabbit", "rabbitmq"),
)
_COMPILED = tuple((re.compile(pattern), service) for pattern, service in _NAMES)

_LOGGERS: tuple[tuple[str, str], ...] = (
    ("nova.api.metadata", "nova-api-metadata"),
    ("nova.compute", "nova-compute"),
    ("nova.virt", "nova-compute"),
    ("nova.scheduler", "nova-scheduler"),
    ("nova.conductor", "nova-conductor"),
    ("nova.api", "nova-api"),
    ("neutron.agent.dhcp", "neutron-dhcp-agent"),
    ("neutron.agent.linux.dhcp", "neutron-dhcp-agent"),
    ("neutron.plugins.ml2.drivers.agent", "neutron-l2-agent"),
    ("neutron.plugins.ml2.drivers.linuxbridge.agent", "neutron-l2-agent"),
    ("neutron.plugins.ml2.drivers.openvswitch.agent", "neutron-l2-agent"),
    ("neutron.agent.metadata", "neutron-metadata-agent"),
    ("neutron.agent.ovn.metadata", "neutron-metadata-agent"),
    ("cinder.api", "cinder-api"),
    ("cinder.volume", "cinder-volume"),
    ("cinder.scheduler", "cinder-scheduler"),
    ("glance", "glance-api"),
    ("keystone", "keystone"),
    ("placement", "placement"),
    ("neutron.agent", "neutron-agent"),
    ("neutron", "neutron-server"),
    ("nova", "nova"),
    ("cinder", "cinder"),
)


def service_of_name(name: str | None) -> str | None:
    """The service a file path, unit name or syslog tag belongs to, if known."""
    if not name:
        return None
    lowered = name.lower()
    for pattern, service in _COMPILED:
        if pattern.search(lowered):
            return service
    return None


def service_of_logger(logger: str | None) -> str | None:
    """The service an oslo logger name belongs to, if it says."""
    if not logger:
        return None
    for prefix, service in _LOGGERS:
        if logger == prefix or logger.startswith(prefix + "."):
            return service
    return None
