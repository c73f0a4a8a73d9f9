"""bootprobe smoke on the real lab when things go wrong: a boot Nova cannot
place, a missing image, a wrong password, Ctrl-C during the boot. Every case
ends with the right exit code and no server left behind."""
import subprocess
import uuid

import openstack
import pytest
import yaml
from conftest import ROOT, VENV_BIN, run_then_ctrl_c


def smoke(lab_env, *args, timeout=600):
    return subprocess.run([str(VENV_BIN / "bootprobe"), "smoke", *args], capture_output=True, text=True,
                          cwd=ROOT, env=lab_env, check=False, timeout=timeout)


@pytest.fixture(scope="module")
def admin(clouds_yaml):
    config = openstack.config.OpenStackConfig(config_files=[clouds_yaml])
    return openstack.connection.Connection(config=config.get_one(cloud="bootlab-admin"))


def servers_named(admin, prefix):
    # the API filters by name (a regular expression): a cheap query, polled often
    return [s for s in admin.compute.servers(all_projects=True, name=f"^{prefix}")
            if s.name.startswith(prefix)]


@pytest.fixture
def prefix():
    return f"e2e-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def huge_flavor(admin):
    # 40 GiB: fits the default quota (50 GiB), not the host
    flavor = admin.compute.create_flavor(name=f"bootlab-e2e-huge-{uuid.uuid4().hex[:6]}", ram=40 * 1024,
                                         vcpus=1, disk=1)
    yield flavor
    admin.compute.delete_flavor(flavor, ignore_missing=True)


def test_unplaceable_boot_exits_1_naming_the_fault(lab_env, admin, huge_flavor, prefix):
    proc = smoke(lab_env, "--os-cloud", "bootlab", "--flavor", huge_flavor.name, "--name-prefix", prefix)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert "No valid host" in out
    assert not servers_named(admin, prefix), "the failed server was left behind"


def test_missing_image_exits_2(lab_env, admin, prefix):
    proc = smoke(lab_env, "--os-cloud", "bootlab", "--image", "no-such-image", "--name-prefix", prefix)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no-such-image" in proc.stderr
    assert not servers_named(admin, prefix)


def test_wrong_password_exits_3(lab_env, clouds_yaml, tmp_path):
    clouds = yaml.safe_load(open(clouds_yaml))
    clouds["clouds"]["bootlab"]["auth"]["password"] = "not-the-password"
    wrong = tmp_path / "clouds.yaml"
    wrong.write_text(yaml.safe_dump(clouds))
    wrong.chmod(0o600)
    proc = smoke({**lab_env, "OS_CLIENT_CONFIG_FILE": str(wrong)}, "--os-cloud", "bootlab", timeout=120)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "not-the-password" not in proc.stdout + proc.stderr


def test_ctrl_c_during_boot_deletes_the_server(lab_env, admin, prefix):
    code, out, err = run_then_ctrl_c(
        [str(VENV_BIN / "bootprobe"), "smoke", "--os-cloud", "bootlab", "--name-prefix", prefix],
        lab_env, lambda: servers_named(admin, prefix), "the server")
    assert code == 130, out + err
    assert "(deleted)" in out
    assert not servers_named(admin, prefix)


def test_keep_leaves_the_server(lab_env, admin, prefix):
    proc = smoke(lab_env, "--os-cloud", "bootlab", "--name-prefix", prefix, "--keep")
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        (server,) = servers_named(admin, prefix)
        assert server.status == "ACTIVE"
        assert f"server delete {server.id}" in proc.stdout
    finally:
        for server in servers_named(admin, prefix):
            admin.compute.delete_server(server)
            admin.compute.wait_for_delete(server, wait=120)
