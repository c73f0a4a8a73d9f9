"""The DevStack flavor, as far as it can be tested without a git server or
stack.sh: the local.conf it renders (stable/2026.1, ML2/OVS with the DHCP and
metadata agents, the lab's Ceph, nothing downloaded, the evidence the stage
catalog needs switched on), and the playbooks parse with the flavor selected."""
import os
import pathlib
import re
import stat
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


def ansible(cmd, *args, env=None):
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", **(env or {})}
    return subprocess.run([str(BIN / cmd), *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          check=False, timeout=300)


def parse_local_conf(text):
    """local.conf as DevStack reads it: localrc KEY=VALUE lines (and other lines
    such as enable_plugin), and {file: {section: {option: value}}} of post-config."""
    localrc, other, post = {}, [], {}
    group = section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        meta = re.fullmatch(r"\[\[(\S+)\|(\S+)\]\]", line)
        if meta:
            group = (meta.group(1), meta.group(2))
            section = None
            if group[0] == "post-config":
                assert group[1] not in post, f"{group[1]} appears twice"
                post[group[1]] = {}
            continue
        assert group is not None, f"line outside a meta section: {line}"
        if group[0] == "local":
            key, sep, value = line.partition("=")
            if sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key):
                assert key not in localrc, f"{key} set twice"
                localrc[key] = value
            else:
                other.append(line)
        else:
            head = re.fullmatch(r"\[(\S+)\]", line)
            if head:
                section = head.group(1)
                post[group[1]].setdefault(section, {})
                continue
            option, sep, value = line.partition("=")
            assert sep and section, f"bad post-config line: {line}"
            post[group[1]][section][option.strip()] = value.strip()
    return localrc, other, post


def render(tmp_path, *extra):
    dest = tmp_path / "local.conf"
    state = tmp_path / "state"
    proc = ansible("ansible-playbook", "tests/playbooks/render_devstack.yml",
                   "-e", f"devstack_localconf_dest={dest}", "-e", f"bootlab_state_dir={state}", *extra)
    assert proc.returncode == 0, proc.stdout[-3000:]
    password = (state / "secrets/admin").read_text().split()[0]
    assert password not in proc.stdout + proc.stderr
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    text = dest.read_text()
    return text, password, parse_local_conf(text)


def test_local_conf_current_devstack_offline_ready(tmp_path):
    text, password, (rc, other, post) = render(tmp_path)
    assert rc["ADMIN_PASSWORD"] == password
    assert rc["HOST_IP"] == "10.233.1.2"
    # Sources: the branch, every git tree from GIT_BASE, no image download.
    assert rc["TARGET_BRANCH"] == "stable/2026.1"
    assert rc["GIT_BASE"] == "git://10.233.1.1"
    assert rc["DOWNLOAD_DEFAULT_IMAGES"] == "False"
    assert rc["IMAGE_URLS"] == ""
    # Services: spelled out; nothing that downloads or that the lab does not run.
    services = rc["ENABLED_SERVICES"].split(",")
    for needed in ("key", "mysql", "rabbit", "g-api", "placement-api", "n-api", "n-api-meta", "n-sch",
                   "n-cond", "n-cpu", "q-svc", "q-agt", "q-dhcp", "q-meta", "c-api", "c-sch", "c-vol"):
        assert needed in services
    for absent in ("etcd3", "horizon", "tempest", "n-novnc", "dstat", "ovn-controller", "ovn-northd",
                   "q-ovn-agent", "q-l3", "swift", "s-proxy"):
        assert absent not in services
    assert not rc["ENABLED_SERVICES"].startswith("+")
    # ML2/OVS with the userspace datapath (the render says netdev: no kernel module).
    assert rc["Q_AGENT"] == "openvswitch"
    assert rc["Q_ML2_PLUGIN_MECHANISM_DRIVERS"] == "openvswitch"
    assert rc["Q_ML2_TENANT_NETWORK_TYPE"] == "vxlan"
    assert rc["OVS_DATAPATH_TYPE"] == "netdev"
    assert rc["ENABLE_ISOLATED_METADATA"] == "True"
    assert rc["NEUTRON_CREATE_INITIAL_NETWORKS"] == "False"
    assert "linuxbridge" not in text
    assert rc["LIBVIRT_TYPE"] == "qemu"
    assert rc["ENABLE_KSM"] == "False"
    assert "enable_plugin bootlab-devstack file:///opt/stack/bootlab-devstack" in other
    # Ceph: the lab's cluster; Nova and Cinder on RBD, Glance on the gateway's Swift API.
    assert rc["CINDER_ENABLED_BACKENDS"] == "ceph:ceph"
    assert rc["CINDER_CEPH_USER"] == "cinder"
    libvirt = post["$NOVA_CPU_CONF"]["libvirt"]
    assert libvirt["images_type"] == "rbd"
    assert libvirt["rbd_secret_uuid"] == rc["CINDER_CEPH_UUID"]
    store = post["$GLANCE_API_CONF"]["glance_store"]
    assert store["default_store"] == "swift"
    assert "swift" in store["stores"].split(",")
    # glance_store 5.4 takes Keystone auth only: Glance's service user, and the gateway's URL.
    rgw = post["$GLANCE_SWIFT_STORE_CONF"][store["default_swift_reference"]]
    assert rgw["auth_address"] == "http://10.233.1.2/identity/v3"
    assert rgw["auth_version"] == "3"
    assert rgw["user"] == "service:glance" and rgw["key"] == password == rc["SERVICE_PASSWORD"]
    assert rgw["user_domain_id"] == rgw["project_domain_id"] == "default"
    assert re.fullmatch(r"http://[\d.]+:8080/swift/v1", store["swift_store_endpoint"])
    assert "python-swiftclient" in rc["LIBS_FROM_GIT"].split(",")
    assert "devstack-plugin-ceph" not in text  # see docs/labs.md: the plugin fetches cephadm
    # Evidence the stage catalog needs.
    assert rc["ENABLE_DEBUG_LOG_LEVEL"] == "True"
    assert rc["DEBUG_LIBVIRT"] == "False"  # libvirtd.conf gets the distro flavor's filters instead
    # nova_cell1.conf: the cell conductor nova-compute calls reads no other file.
    for conf in ("$NOVA_CONF", "$NOVA_CONF_DIR/nova_cell1.conf", "$NEUTRON_CONF", "$CINDER_CONF", "$GLANCE_API_CONF"):
        levels = post[conf]["DEFAULT"]["default_log_levels"].split(",")
        assert "oslo.messaging=DEBUG" in levels and "oslo_messaging=DEBUG" in levels
    assert post["$Q_DHCP_CONF_FILE"]["DEFAULT"]["dnsmasq_base_log_dir"] == "/var/log/neutron/dnsmasq"


def test_local_conf_services_default_log_levels(tmp_path):
    """An empty openstack_common_log_levels means each service's own defaults:
    no default_log_levels line at all (not an empty one)."""
    text, _, (rc, _, post) = render(tmp_path, "-e", '{"openstack_common_log_levels": []}',
                                    "-e", '{"openstack_common_debug": false}')
    assert "default_log_levels" not in text
    assert rc["ENABLE_DEBUG_LOG_LEVEL"] == "False"
    assert "$Q_DHCP_CONF_FILE" in post


def test_local_conf_ovn_and_no_ceph(tmp_path):
    _, _, (rc, _, post) = render(tmp_path, "-e", "devstack_neutron_agent=ovn",
                                 "-e", '{"devstack_ceph": false}', "-e", "devstack_image_store=file",
                                 "-e", "devstack_ovs_datapath_type_effective=system")
    services = rc["ENABLED_SERVICES"].split(",")
    assert rc["Q_AGENT"] == "ovn"
    assert {"ovn-controller", "ovn-northd", "q-ovn-agent"} <= set(services)
    assert not {"q-agt", "q-dhcp", "q-meta"} & set(services)
    assert rc["OVS_DATAPATH_TYPE"] == "system"
    assert "Q_USE_SECGROUP" not in rc
    assert rc["CINDER_ENABLED_BACKENDS"] == "lvm:lvmdriver-1"
    assert "$NOVA_CPU_CONF" not in post and "$GLANCE_SWIFT_STORE_CONF" not in post
    assert "LIBS_FROM_GIT" not in rc


def test_local_conf_post_config_hook(tmp_path):
    hook = '{"devstack_post_config": {"$NOVA_CONF": {"quota": {"instances": 50}}}}'
    _, _, (_, _, post) = render(tmp_path, "-e", hook)
    assert post["$NOVA_CONF"]["quota"]["instances"] == "50"
    assert "default_log_levels" in post["$NOVA_CONF"]["DEFAULT"]


@pytest.mark.parametrize("playbook", ["playbooks/site.yml", "playbooks/devstack_unstack.yml",
                                      "playbooks/devstack_clean.yml"])
def test_devstack_flavor_playbooks_parse(playbook):
    proc = ansible("ansible-playbook", "--syntax-check", "-i", "inventory/devstack", playbook)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_local_conf_glance_on_rbd(tmp_path):
    _, _, (rc, _, post) = render(tmp_path, "-e", "devstack_image_store=rbd")
    store = post["$GLANCE_API_CONF"]["glance_store"]
    assert store["default_store"] == "rbd" and "rbd" in store["stores"].split(",")
    assert store["rbd_store_pool"] == "images" and store["rbd_store_user"] == "glance"
    assert "$GLANCE_SWIFT_STORE_CONF" not in post and "LIBS_FROM_GIT" not in rc
