"""Bad input fails at the start with a sentence naming what is wrong, and
changes nothing. These run the real playbooks against throw-away inventories;
no lab is needed and no traffic leaves this machine (127.0.0.1 only)."""

import yaml

from tests.support.playbooks import FAKE_HOSTKEY, ROOT, flat, inventory, run  # noqa: F401


def test_unknown_provider_is_named(tmp_path):
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1", "lab_host_provider": "vmware"})
    proc = run(inv)
    assert proc.returncode != 0
    out = flat(proc.stdout)
    assert "lab_host_provider must be one of: existing, nspawn, libvirt, got: vmware" in out
    # validation ran before anything: no key was generated
    assert not (tmp_path / "state/ssh/id_ed25519").exists()


def test_missing_state_dir_is_named(tmp_path):
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1", "lab_host_provider": "existing"})
    text = yaml.safe_load(inv.read_text())
    del text["all"]["vars"]["bootlab_state_dir"]
    inv.write_text(yaml.safe_dump(text))
    proc = run(inv)
    assert proc.returncode != 0
    assert "missing required arguments: bootlab_state_dir" in flat(proc.stdout)


def test_wrong_type_is_named(tmp_path):
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1", "lab_host_provider": "existing",
                               "lab_host_connect_timeout": "soon"})
    proc = run(inv)
    assert proc.returncode != 0
    assert "lab_host_connect_timeout" in flat(proc.stdout)
    assert "cannot be converted to an int" in flat(proc.stdout)


def test_unknown_host_key_is_refused(tmp_path):
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1", "ansible_port": 9, "lab_host_provider": "existing"})
    proc = run(inv)
    assert proc.returncode != 0
    assert "The SSH host key of ghost (127.0.0.1) is not in" in flat(proc.stdout)


def test_unreachable_host_is_named_with_reason(tmp_path):
    inv = inventory(tmp_path, {"ansible_host": "127.0.0.1", "ansible_port": 9, "lab_host_provider": "existing",
                               "lab_host_connect_timeout": 5})
    ssh_dir = tmp_path / "state/ssh"
    ssh_dir.mkdir(parents=True)
    (ssh_dir / "known_hosts").write_text(f"[127.0.0.1]:9 {FAKE_HOSTKEY}\n")
    proc = run(inv)
    assert proc.returncode != 0
    out = flat(proc.stdout)
    assert "Lab host ghost (127.0.0.1, provider existing) is unreachable over SSH after 5 s" in out
    assert "port 9: Connection refused" in out
