"""The lab as its operators describe it: units running, APIs listening, every
compute service and network agent up, the probe's image, flavor and network there."""
import pytest

# Units per inventory group, distro flavor (Debian's packages).
UNITS = {
    "controller": [
        "mariadb", "rabbitmq-server", "memcached", "keystone", "glance-api", "placement-api",
        "nova-api", "nova-api-metadata", "nova-scheduler", "nova-conductor",
        "neutron-api", "neutron-rpc-server", "cinder-api", "cinder-scheduler",
    ],
    "network": ["neutron-linuxbridge-agent", "neutron-dhcp-agent", "neutron-metadata-agent"],
    "compute": ["nova-compute", "libvirtd", "neutron-linuxbridge-agent"],
    "storage": ["cinder-volume"],
    "ceph": ["ceph-mon@{host}", "ceph-mgr@{host}", "ceph-radosgw@rgw.{host}"],
    "lab_hosts": ["chrony", "ssh", "systemd-journald"],
}

# DevStack's units (devstack@<service>), and the system services it installs; "a|b" is
# either (names differ between DevStack releases).
DEVSTACK_UNITS = {
    "controller": [
        "mariadb|mysql", "rabbitmq-server", "apache2", "devstack@keystone", "devstack@g-api",
        "devstack@placement-api", "devstack@n-api", "devstack@n-api-meta", "devstack@n-sch",
        "devstack@n-super-cond|devstack@n-cond", "devstack@q-svc|devstack@neutron-api",
        "devstack@c-api", "devstack@c-sch",
    ],
    "network": ["devstack@q-dhcp", "devstack@q-meta", "devstack@q-agt"],
    "compute": ["devstack@n-cpu", "libvirtd", "openvswitch-switch"],
    "storage": ["devstack@c-vol"],
}
FLAVOR_UNITS = {"distro": UNITS, "devstack": {**DEVSTACK_UNITS, "ceph": UNITS["ceph"],
                                              "lab_hosts": UNITS["lab_hosts"]}}

PORTS = {
    "controller": {3306: "MariaDB", 5672: "RabbitMQ", 11211: "memcached", 5000: "Keystone",
                   9292: "Glance", 8778: "Placement", 8774: "Nova API", 8775: "Nova metadata API",
                   9696: "Neutron API", 8776: "Cinder API"},
    "ceph": {3300: "Ceph monitor (msgr2)", 6789: "Ceph monitor (msgr1)", 8080: "RADOS Gateway"},
}


@pytest.mark.parametrize("flavor_name,group,unit", [
    (f, g, u) for f, table in FLAVOR_UNITS.items() for g, units in table.items() for u in units])
def test_unit_running(host, groups, flavor, flavor_name, group, unit):
    if flavor != flavor_name:
        pytest.skip(f"a {flavor_name} flavor unit; this host runs {flavor}")
    if group not in groups:
        pytest.skip(f"not a {group} host")
    names = unit.format(host=host.backend.get_variables()["inventory_hostname"]).split("|")
    running = [n for n in names if host.service(n).is_running]
    assert running, f"{unit} is not running on {host.backend.get_hostname()}"
    if flavor == "distro":
        assert host.service(running[0]).is_enabled, f"{running[0]} is not enabled"


@pytest.mark.parametrize("group,port,what", [(g, p, w) for g, ports in PORTS.items() for p, w in ports.items()])
def test_port_listening(host, groups, flavor, group, port, what):
    if group == "controller" and flavor != "distro":
        pytest.skip("DevStack serves its APIs behind Apache (test_health checks the catalog's endpoints)")
    if group not in groups:
        pytest.skip(f"not a {group} host")
    address = host.backend.get_variables()["ansible_host"]
    listening = any(host.socket(f"tcp://{where}:{port}").is_listening for where in (address, "0.0.0.0", ":::"))
    assert listening, f"{what} is not listening on {address}:{port}"


def test_compute_services_up(openstack):
    services = openstack("compute service list")
    assert {s["Binary"] for s in services} >= {"nova-scheduler", "nova-conductor", "nova-compute"}
    down = [f"{s['Binary']}@{s['Host']}" for s in services if s["State"] != "up" or s["Status"] != "enabled"]
    assert not down, f"compute services not up/enabled: {down}"


# The L2 agent per flavor: the distro lab (Zed) keeps Linux bridge, DevStack runs ML2/OVS.
L2_AGENT = {"distro": "neutron-linuxbridge-agent", "devstack": "neutron-openvswitch-agent"}


def test_network_agents_alive(openstack, flavor):
    agents = openstack("network agent list")
    assert {a["Binary"] for a in agents} >= {L2_AGENT[flavor], "neutron-dhcp-agent", "neutron-metadata-agent"}
    dead = [f"{a['Binary']}@{a['Host']}" for a in agents if not a["Alive"] or not a["State"]]
    assert not dead, f"network agents not alive: {dead}"


def test_volume_services_up(openstack):
    services = openstack("volume service list")
    assert {s["Binary"] for s in services} >= {"cinder-scheduler", "cinder-volume"}
    down = [f"{s['Binary']}@{s['Host']}" for s in services if s["State"] != "up"]
    assert not down, f"volume services down: {down}"


def test_probe_image(openstack):
    image = openstack("image show bootlab-guest")
    assert image["status"] == "active"
    props = image["properties"]
    for key in ("kernel_id", "ramdisk_id"):
        ref = openstack(f"image show {props[key]}")
        assert ref["status"] == "active", f"{key} image is {ref['status']}"


def test_probe_flavor(openstack):
    flavor = openstack("flavor show bootlab.tiny")
    assert flavor["ram"] >= 128 and flavor["vcpus"] >= 1


def test_probe_network(openstack):
    network = openstack("network show bootlab-net")
    assert network["status"] == "ACTIVE"
    subnets = openstack("subnet list --network bootlab-net")
    assert subnets, "bootlab-net has no subnet"
    subnet = openstack(f"subnet show {subnets[0]['ID']}")
    assert subnet["enable_dhcp"] is True
    assert subnet["gateway_ip"] is None, "the probe subnet relies on isolated metadata (no gateway)"
