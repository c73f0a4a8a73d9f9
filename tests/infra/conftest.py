"""testinfra runs these checks on every lab host of the inventory:

    pytest tests/infra --hosts="ansible://lab_hosts" --ansible-inventory=inventory/local --force-ansible
"""
import json

import pytest


def groups_of(host):
    return set(host.backend.get_variables().get("group_names", []))


@pytest.fixture
def groups(host):
    return groups_of(host)


@pytest.fixture
def openstack(host):
    """Run an OpenStack CLI command on a controller as the lab's admin, as JSON."""
    if "controller" not in groups_of(host):
        pytest.skip("OpenStack API checks run on controllers")

    def run(*args):
        cmd = host.run("timeout 90 openstack --os-cloud bootlab-admin " + " ".join(args) + " -f json")
        assert cmd.rc == 0, f"openstack {' '.join(args)} failed: {cmd.stderr.strip()[-500:]}"
        return json.loads(cmd.stdout)

    return run
