"""The lab's time (role common): the controller serves time to the lab's management network
and follows common_chrony_servers, every other lab host follows the controller; a one-host
lab's chrony.conf is what it was before (no source, serves no one). Rendered on this machine
from the role's template, defaults and derived vars, for inventories of one and three hosts."""
import json
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent

ONE_HOST_BEFORE = """\
# Managed by bootlab (common role)
driftfile /var/lib/chrony/chrony.drift
makestep 1 3
rtcsync
logdir /var/log/chrony
log tracking measurements statistics
"""


def inventory(folder, hosts, controller):
    """A YAML inventory: the hosts (name -> address) as lab hosts on this machine."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    data = {"all": {"children": {
        "lab_hosts": {"hosts": {name: {"ansible_host": address, **local} for name, address in hosts.items()}},
        "controller": {"hosts": {controller: None}},
        "compute": {"hosts": {name: None for name in hosts if name != controller}},
    }}}
    path = folder / "hosts.yml"
    path.write_text(json.dumps(data))
    return path


def render(tmp_path, hosts, controller, *extra, seed=None):
    out = tmp_path / "out"
    out.mkdir(parents=True)
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    if seed is not None:
        env["PYTHONHASHSEED"] = str(seed)
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory(tmp_path, hosts, controller)),
         "tests/playbooks/render_chrony.yml", "-e", f"chrony_render_dir={out}", *extra],
        capture_output=True, text=True, cwd=ROOT, env=env, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return {name: (out / f"{name}.conf").read_text() for name in hosts}, proc.stdout


def directives(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_one_host_lab_unchanged(tmp_path):
    confs, _ = render(tmp_path, {"bootlab1": "127.0.0.1"}, "bootlab1")
    assert confs["bootlab1"] == ONE_HOST_BEFORE


def test_controller_serves_its_network_and_the_others_follow_it(tmp_path):
    hosts = {"ctl": "127.0.0.1", "cmp": "127.0.0.2", "osd": "127.0.0.3"}
    confs, _ = render(tmp_path, hosts, "ctl")
    ctl = directives(confs["ctl"])
    assert not [line for line in ctl if line.startswith("server ")]  # no upstream by default
    assert "allow 127.0.0.0/8" in ctl  # the network of lo, which holds its ansible_host
    assert "local stratum 10" in ctl
    for follower in ("cmp", "osd"):
        lines = directives(confs[follower])
        assert [line for line in lines if line.startswith("server ")] == ["server 127.0.0.1 iburst"]
        assert not [line for line in lines if line.startswith(("allow", "local"))]


def test_controller_follows_the_servers_given(tmp_path):
    hosts = {"ctl": "127.0.0.1", "cmp": "127.0.0.2"}
    extra = ("-e", json.dumps({"common_chrony_servers": ["ntp1.example.org", "192.0.2.7"],
                               "common_chrony_allow": ["10.233.2.0/24"]}))
    confs, _ = render(tmp_path, hosts, "ctl", *extra)
    ctl = directives(confs["ctl"])
    assert [line for line in ctl if re.match(r"server |allow ", line)] == [
        "server ntp1.example.org iburst", "server 192.0.2.7 iburst", "allow 10.233.2.0/24"]
    assert [line for line in directives(confs["cmp"]) if line.startswith("server ")] == [
        "server 127.0.0.1 iburst"]


def test_followers_can_follow_the_servers_instead(tmp_path):
    hosts = {"ctl": "127.0.0.1", "cmp": "127.0.0.2"}
    extra = ("-e", json.dumps({"common_chrony_servers": ["192.0.2.7"],
                               "common_chrony_follow_controller": False}))
    confs, _ = render(tmp_path, hosts, "ctl", *extra)
    for name in hosts:
        lines = directives(confs[name])
        assert [line for line in lines if line.startswith("server ")] == ["server 192.0.2.7 iburst"]
        assert not [line for line in lines if line.startswith(("allow", "local"))]


def test_the_controllers_conf_is_the_same_whatever_the_hash_seed(tmp_path):
    """Its comment names the followers: taken with 'difference' (a set), their order moved
    with Python's hash seed, and a second deploy of the multi-node lab changed chrony.conf
    (2026-11-30). In inventory order now, whatever the seed."""
    hosts = {"ctl": "127.0.0.1", "cmp": "127.0.0.2", "osd": "127.0.0.3", "gw": "127.0.0.4"}
    seen = set()
    for seed in range(6):
        confs, _ = render(tmp_path / str(seed), hosts, "ctl", seed=seed)
        seen.add(confs["ctl"])
    assert len(seen) == 1
    assert "# The lab's time server: cmp, osd, gw follow this host." in seen.pop()
