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


def changed_tasks(output: str) -> list[str]:
    """Each task or handler that reported 'changed', with what ansible printed for it
    (its diff with --diff; no_log tasks show none)."""
    blocks = re.split(r"\n(?=(?:TASK|RUNNING HANDLER) \[)", output)
    return [block.strip() for block in blocks if re.search(r"^changed: \[", block, re.M)]


def masked(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def test_second_deploy_changes_nothing(lab_env):
    env = {**lab_env, "ANSIBLE_DISPLAY_OK_HOSTS": "false", "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "false"}
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", INVENTORY, "playbooks/site.yml",
                           "--diff"], capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    secrets = lab_secrets()
    for secret in secrets:
        assert secret not in proc.stdout, "a lab secret appeared in the playbook output"
    assert proc.returncode == 0, masked(proc.stdout[-4000:], secrets)
    recap = {m["host"]: int(m["changed"]) for m in RECAP.finditer(proc.stdout)}
    assert recap, proc.stdout[-2000:]
    changed = {host: n for host, n in recap.items() if n}
    # Only changed (and failed) tasks are displayed: name every one, with its diff.
    tasks = "\n\n".join(changed_tasks(proc.stdout))
    assert not changed, f"second run changed {changed}; the changed tasks:\n{masked(tasks, secrets)}"


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
