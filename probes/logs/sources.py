"""Which service wrote a log: from a file path, a journald unit or an oslo logger.

Names, not contents, decide here, but only the services' own naming is used
(package file names, DevStack unit names, Python logger names), never a
lab's host names or folders.  Service names are the probe's vocabulary:
``nova-api``, ``nova-compute``, ``neutron-l2-agent`` ...
"""

from __future__ import annotations

import re
from functools import lru_cache

# DevStack's unit names (``devstack@n-cpu.service``) and the files its CI
# exports them to (``screen-n-cpu.txt``).
_DS = r"(?:^|[@/]|screen-)"
# cephadm's units: ceph-<fsid>@osd.0.service
_CEPHADM = r"ceph-[0-9a-f-]{36}@"
# Ordered: the first match wins (nova-api-metadata before nova-api).  Names after
# the distributions' own: Debian/Ubuntu (``/var/log/nova/nova-compute.log``,
# ``neutron-rpc-server.log``), RDO (``/var/log/neutron/server.log``,
# ``dhcp-agent.log``, ``/var/log/cinder/volume.log``, ``/var/log/glance/api.log``),
# TripleO (``/var/log/containers/nova/nova-metadata-api.log``), kolla-ansible
# (``/var/log/kolla/nova/nova-metadata.log``, ``neutron-openvswitch-agent.log``),
# cephadm units (``ceph-<fsid>@osd.0.service``).
_NAMES: tuple[tuple[str, str], ...] = (
    (rf"nova-api-metadata|nova-metadata|{_DS}n-api-meta", "nova-api-metadata"),
    (rf"nova-api|{_DS}n-api\b|nova-osapi", "nova-api"),
    (rf"nova-compute|{_DS}n-cpu", "nova-compute"),
    (rf"nova-scheduler|{_DS}n-sch", "nova-scheduler"),
    (rf"nova-conductor|nova-super-conductor|{_DS}n-cond|{_DS}n-super-cond", "nova-conductor"),
    (r"placement", "placement"),
    (rf"dhcp-agent|{_DS}q-dhcp", "neutron-dhcp-agent"),
    (rf"(?:linuxbridge|openvswitch|sriov-nic|macvtap)-agent|{_DS}q-agt", "neutron-l2-agent"),
    (rf"metadata-agent|{_DS}q-meta", "neutron-metadata-agent"),
    (rf"l3-agent|{_DS}q-l3", "neutron-l3-agent"),
    (rf"neutron-server|neutron-api|neutron-rpc-server|neutron-periodic-workers|{_DS}q-svc"
     r"|neutron/(?:rpc-)?server\.log", "neutron-server"),
    (r"dnsmasq", "dnsmasq"),
    # neutron's metadata proxy tags its lines haproxy-metadata-proxy-<network or router>;
    # a bare haproxy is a load balancer (kolla's, TripleO's), not a boot's.
    (r"haproxy-metadata-proxy|neutron-ns-metadata-proxy", "metadata-proxy"),
    (rf"cinder-api|{_DS}c-api|cinder/api\.log", "cinder-api"),
    (rf"cinder-volume|{_DS}c-vol|cinder/volume\.log", "cinder-volume"),
    (rf"cinder-scheduler|{_DS}c-sch|cinder/scheduler\.log", "cinder-scheduler"),
    (rf"glance-api|{_DS}g-api|glance/api\.log", "glance-api"),
    (r"keystone", "keystone"),
    (rf"ceph-mon|ceph/mon\.|{_CEPHADM}mon\.", "ceph-mon"),
    (rf"ceph-osd|ceph/osd\.|{_CEPHADM}osd\.", "ceph-osd"),
    (rf"ceph-mgr|{_CEPHADM}mgr\.", "ceph-mgr"),
    (r"radosgw|ceph-client\.rgw|\brgw\b", "ceph-rgw"),
    # libvirt/qemu/<domain>.log; nova names its domains instance-%08x (instance_name_template)
    (r"libvirt/qemu/|\bqemu\b|(?:^|/)instance-[0-9a-f]{8}\.log", "qemu"),
    (r"libvirtd|virtqemud|libvirt", "libvirt"),
    (r"mysql|mariadb", "mariadb"),
    # bootlab's RabbitMQ witness (roles/rabbitmq): the broker's firehose, one line per message
    (r"rabbitmq-witness", "rabbitmq-witness"),
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


@lru_cache(maxsize=4096)  # asked per journald line; the names repeat
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


# Folders the distributions keep service logs in (``/var/log/<name>/``,
# ``/var/log/kolla/<name>/``, TripleO's ``/var/log/containers/``): a folder
# holding one of them is a host's log folder, not a folder of hosts.
LOG_FOLDERS = frozenset({
    "nova", "neutron", "cinder", "glance", "keystone", "placement", "ceph", "libvirt",
    "qemu", "mysql", "mariadb", "rabbitmq", "openvswitch", "ovn", "haproxy", "httpd",
    "apache2", "kolla", "containers", "journal", "swift", "heat", "horizon", "octavia",
})


def is_log_folder(name: str) -> bool:
    """Whether a folder name is one distributions give a service's logs."""
    return name.lower() in LOG_FOLDERS
