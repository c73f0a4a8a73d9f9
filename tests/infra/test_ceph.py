"""Single-node Ceph as its operators describe it: healthy, pools and users
there, the RADOS Gateway answering Swift and S3, keyrings private, and its clients
(compute, volume hosts) holding the keys their services read."""
import json

import pytest

# Warnings a healthy single-node lab may show, and why.
EXPLAINED_WARNINGS = {
    # The lab host's root file system is shared with everything else on the
    # machine; mon_data_avail_warn is set to 5 %, so this means it is nearly full.
    "MON_DISK_LOW": "the host's disk is nearly full",
    # After a restart the single OSD's PGs peer again for a few seconds.
    "PG_AVAILABILITY": "placement groups still peering after a restart",
}


@pytest.fixture
def ceph(host, groups):
    if "ceph" not in groups:
        pytest.skip("not a ceph host")

    def run(*args):
        out = host.check_output("timeout 60 ceph " + " ".join(args) + " --format json")
        return json.loads(out)

    return run


def test_health_ok_or_explained(ceph):
    health = ceph("health", "detail")
    unexplained = {code: check["summary"]["message"] for code, check in health.get("checks", {}).items()
                   if code not in EXPLAINED_WARNINGS}
    assert health["status"] in ("HEALTH_OK", "HEALTH_WARN"), health
    assert not unexplained, f"unexplained health checks: {unexplained}"


def test_daemons_in_the_maps(ceph):
    osd = ceph("osd", "stat")
    assert osd["num_osds"] >= 1 and osd["num_up_osds"] == osd["num_osds"] and osd["num_in_osds"] == osd["num_osds"]
    mons = ceph("mon", "dump")["mons"]
    assert [a["type"] for a in mons[0]["public_addrs"]["addrvec"]] == ["v2", "v1"], "msgr2 not enabled"
    assert ceph("mgr", "stat")["available"] is True


@pytest.mark.parametrize("pool", ["volumes", "vms", "images"])
def test_rbd_pools(ceph, pool):
    pools = {p["pool_name"]: p for p in ceph("osd", "pool", "ls", "detail")}
    assert pool in pools
    assert "rbd" in pools[pool]["application_metadata"]
    assert pools[pool]["size"] == 1


@pytest.mark.parametrize("user,pool_cap", [
    ("client.cinder", "profile rbd pool=volumes"),
    ("client.nova", "profile rbd pool=vms"),
    ("client.glance", "profile rbd pool=images"),
    ("client.bootprobe", None),
])
def test_cephx_users(ceph, user, pool_cap):
    (entity,) = ceph("auth", "get", user)
    if pool_cap:
        assert pool_cap in entity["caps"]["osd"]
    else:
        assert entity["caps"] == {"mgr": "allow r", "mon": "allow r"}, "the probe's user must be read-only"


# The OpenStack users' keyrings, as each client host holds them: {group: {user: unix group}}.
# A compute host without cinder-volume holds client.cinder for the volumes Cinder hands over.
CLIENT_KEYRINGS = {"compute": {"client.nova": "nova", "client.cinder": "nova"},
                   "storage": {"client.cinder": "cinder"}}
# DevStack's services all run as the stack user: Nova's disks and Cinder's volumes use
# client.cinder, Glance (on RBD) client.glance.
DEVSTACK_KEYRINGS = {"client.cinder": "stack", "client.glance": "stack"}
NOVA_COMPUTE_CONF = {"distro": "/etc/nova/nova-compute.conf", "devstack": "/etc/nova/nova-cpu.conf"}


def test_keyring_permissions(host, groups, flavor):
    if not groups & {"ceph", "compute", "storage"}:
        pytest.skip("not a Ceph host or client")
    if "compute" in groups and "rbd" not in host.file(NOVA_COMPUTE_CONF[flavor]).content_string:
        pytest.skip("Nova does not use Ceph in this lab")
    readers = {}
    for group in ("compute", "storage"):
        if group in groups:
            readers.update(CLIENT_KEYRINGS[group] if flavor == "distro" else DEVSTACK_KEYRINGS)
    for name, group in readers.items():
        keyring = host.file(f"/etc/ceph/ceph.{name}.keyring")
        assert keyring.mode == 0o640, name
        assert keyring.group == group, name
    if "ceph" in groups:
        admin = host.file("/etc/ceph/ceph.client.admin.keyring")
        assert admin.mode == 0o600 and admin.user == "root"
        # The ones no service of this host reads stay private.
        for name in {"client.glance", "client.bootprobe", "client.nova", "client.cinder"} - set(readers):
            keyring = host.file(f"/etc/ceph/ceph.{name}.keyring")
            assert keyring.mode == 0o600 and keyring.user == "root", name
    else:
        assert not host.file("/etc/ceph/ceph.client.admin.keyring").exists, "the admin key left the Ceph hosts"


@pytest.fixture
def compute_on_ceph(host, groups, flavor):
    if "compute" not in groups:
        pytest.skip("not a compute host")
    if "rbd" not in host.file(NOVA_COMPUTE_CONF[flavor]).content_string:
        pytest.skip("Nova does not use Ceph in this lab")


# The Ceph users Nova's disks and Cinder's volumes are attached as, per flavor (DevStack
# attaches both as client.cinder).
COMPUTE_CEPH_USERS = {"distro": ("nova", "cinder"), "devstack": ("cinder",)}


def test_libvirt_holds_the_cephx_secrets(host, compute_on_ceph, flavor):
    secrets = host.check_output("timeout 30 virsh secret-list")
    for user in COMPUTE_CEPH_USERS[flavor]:
        assert f"client.{user} secret" in secrets, f"libvirt has no secret of client.{user}"
        uuid = next(line.split()[0] for line in secrets.splitlines() if f"client.{user} secret" in line)
        # The value is checked for presence only: never printed.
        assert host.run(f"timeout 30 virsh secret-get-value {uuid} >/dev/null").rc == 0, f"client.{user}: no value"


def test_compute_reads_rbd_as_nova(host, compute_on_ceph, flavor):
    """librbd on the compute host reaches the monitor and the OSD (across hosts in a
    multi-node lab) with the key Nova's disks use (client.nova; DevStack's client.cinder)."""
    user = COMPUTE_CEPH_USERS[flavor][0]
    out = host.run(f"timeout 60 rbd --id {user} ls vms")
    assert out.rc == 0, f"rbd --id {user} ls vms: {out.stderr[-300:]}"


def _rgw_url(host):
    return f"http://{host.backend.get_variables()['ansible_host']}:8080"


def test_rgw_answers_swift(host, groups):
    if "ceph" not in groups:
        pytest.skip("not a ceph host")
    # The key stays on the lab host: read from radosgw-admin, sent as a header from a file.
    cmd = host.run(
        "set -e; umask 077; f=$(mktemp); "
        "radosgw-admin user info --uid=glance | jq -r '\"X-Auth-Key: \" + .swift_keys[0].secret_key' > $f; "
        f"curl -s -D - -o /dev/null -H 'X-Auth-User: glance:swift' -H @$f {_rgw_url(host)}/auth/1.0; rm -f $f")
    assert cmd.rc == 0, cmd.stderr
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in cmd.stdout.splitlines()[1:] if ":" in line)}
    assert cmd.stdout.split()[1] in ("200", "204"), cmd.stdout
    assert headers["x-storage-url"].endswith("/swift/v1")
    token = headers["x-auth-token"]
    storage_url = headers["x-storage-url"]
    listing = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' -H 'X-Auth-Token: {token}' {storage_url}")
    assert listing.stdout in ("200", "204")


def test_rgw_answers_s3(host, groups):
    if "ceph" not in groups:
        pytest.skip("not a ceph host")
    body = host.check_output(f"curl -s {_rgw_url(host)}/")
    assert "ListAllMyBucketsResult" in body and "http://s3.amazonaws.com/doc/2006-03-01/" in body


def test_ceph_evidence_on(host, groups):
    if "ceph" not in groups:
        pytest.skip("not a ceph host")
    conf = host.file("/etc/ceph/ceph.conf").content_string
    for option in ("debug_ms = 1", "debug_rgw = 2", "debug_osd = 10", "debug_mon = 10"):
        assert option in conf
    name = host.backend.get_variables()["inventory_hostname"]
    assert host.file(f"/var/log/ceph/ceph-client.rgw.{name}.log").exists
