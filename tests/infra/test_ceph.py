"""Single-node Ceph as its operators describe it: healthy, pools and users
there, the RADOS Gateway answering Swift and S3, keyrings private."""
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


def test_keyring_permissions(host, groups):
    if "ceph" not in groups:
        pytest.skip("not a ceph host")
    admin = host.file("/etc/ceph/ceph.client.admin.keyring")
    assert admin.mode == 0o600 and admin.user == "root"
    for name, group in (("client.cinder", "cinder"), ("client.nova", "nova")):
        keyring = host.file(f"/etc/ceph/ceph.{name}.keyring")
        assert keyring.mode == 0o640, name
        assert keyring.group == group, name
    for name in ("client.glance", "client.bootprobe"):
        assert host.file(f"/etc/ceph/ceph.{name}.keyring").mode == 0o600, name


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
    listing = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' -H 'X-Auth-Token: {token}' {headers['x-storage-url']}")
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
