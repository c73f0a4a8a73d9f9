"""testinfra runs these checks on every lab host of the inventory:

    pytest tests/infra --hosts="ansible://lab_hosts" --ansible-inventory=inventory/local --force-ansible

Both OpenStack flavors (`bootlab_openstack_flavor`: distro packages or DevStack) are checked;
a check that only applies to one says so when it skips.
"""
import json
import os

import pytest

# The OpenStack CLI as the lab's admin on a controller, per flavor: root's clouds.yaml
# (written by the distro roles), or DevStack's own venv and /etc/openstack/clouds.yaml.
OPENSTACK_CLI = {
    "distro": "openstack --os-cloud bootlab-admin",
    "devstack": "/opt/stack/data/venv/bin/openstack --os-cloud devstack-admin",
}


def groups_of(host):
    return set(host.backend.get_variables().get("group_names", []))


def flavor_of(host):
    return host.backend.get_variables().get("bootlab_openstack_flavor", "distro")


@pytest.fixture
def groups(host):
    return groups_of(host)


@pytest.fixture
def flavor(host):
    return flavor_of(host)


@pytest.fixture
def openstack(host):
    """Run an OpenStack CLI command on a controller as the lab's admin, as JSON."""
    if "controller" not in groups_of(host):
        pytest.skip("OpenStack API checks run on controllers")

    def run(*args):
        cmd = host.run(f"timeout 90 {OPENSTACK_CLI[flavor_of(host)]} " + " ".join(args) + " -f json")
        assert cmd.rc == 0, f"openstack {' '.join(args)} failed: {cmd.stderr.strip()[-500:]}"
        return json.loads(cmd.stdout)

    return run


def bound(host, name, default):
    """A health bound: the host's inventory variable `bootlab_health_<name>`, else the
    environment's BOOTLAB_HEALTH_<NAME>, else the default."""
    value = host.backend.get_variables().get(f"bootlab_health_{name}")
    if value is None:
        value = os.environ.get(f"BOOTLAB_HEALTH_{name.upper()}", default)
    return type(default)(value)
