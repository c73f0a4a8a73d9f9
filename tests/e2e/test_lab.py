"""The lab converges (a second deploy changes nothing) and boots an instance
that takes a DHCP lease and fetches its metadata."""
import json
import pathlib
import re
import subprocess

from conftest import INVENTORY, ROOT, VENV_BIN, labvar

RECAP = re.compile(r"^(?P<host>\S+)\s+: ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
                   r"failed=(?P<failed>\d+)", re.M)


def lab_secrets() -> list[str]:
    secrets_dir = pathlib.Path(labvar("bootlab_secrets_dir"))
    return [p.read_text().split()[0] for p in secrets_dir.iterdir() if p.is_file() and p.read_text().strip()]


def test_second_deploy_changes_nothing(lab_env):
    env = {**lab_env, "ANSIBLE_DISPLAY_OK_HOSTS": "false", "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "false"}
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", INVENTORY, "playbooks/site.yml"],
                          capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    recap = {m["host"]: int(m["changed"]) for m in RECAP.finditer(proc.stdout)}
    assert recap, proc.stdout[-2000:]
    changed = {host: n for host, n in recap.items() if n}
    # Only changed (and failed) tasks are displayed: the output names them.
    assert not changed, f"second run changed {changed}:\n{proc.stdout[-6000:]}"
    for secret in lab_secrets():
        assert secret not in proc.stdout, "a lab secret appeared in the playbook output"


def test_instance_boots_and_fetches_metadata(lab_env):
    proc = subprocess.run([str(VENV_BIN / "bootprobe"), "smoke", "--os-cloud", "bootlab", "--json"],
                          capture_output=True, text=True, cwd=ROOT, env=lab_env, check=False, timeout=900)
    assert proc.returncode == 0, f"bootprobe smoke exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    result = json.loads(proc.stdout)
    assert result["outcome"] == "ok"
    assert result["status_changes"][-1]["status"] == "ACTIVE"
    assert result["console"]["lease"]["ip"].startswith("10.234.0.")
    assert result["console"]["lease"]["staticroutes"].startswith("169.254.169.254/32 ")
    assert result["metadata_uuid"] == result["server_id"] and result["metadata_matches"]
    assert result["deleted"] is True
    for secret in lab_secrets():
        assert secret not in proc.stdout + proc.stderr, "a lab secret appeared in the probe's output"
