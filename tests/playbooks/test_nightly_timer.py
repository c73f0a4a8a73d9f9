"""The nightly timer role renders a oneshot service running scripts/nightly.py and a timer
(off by default, argument specs checked), idempotently; systemd-analyze accepts the units."""
import os
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


def playbook(*extra, folder):
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "playbooks/nightly_timer.yml",
         "-e", f"nightly_timer_unit_dir={folder}", "-e", "nightly_timer_manage_systemd=false",
         "-e", f"ansible_python_interpreter={sys.executable}", *extra],
        capture_output=True, text=True, cwd=ROOT, env=env, check=False, timeout=300)


def changed(output):
    return sum(int(n) for n in re.findall(r"changed=(\d+)", output))


def test_units_rendered_idempotent_and_valid(tmp_path):
    args = ("-e", '{"nightly_timer_args": ["--count", "6", "--converge", "check"]}')
    first = playbook(*args, folder=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:]
    service = (tmp_path / "bootlab-nightly.service").read_text()
    timer = (tmp_path / "bootlab-nightly.timer").read_text()
    assert f"ExecStart={ROOT}/.venv/bin/python {ROOT}/scripts/nightly.py -i {ROOT}/inventory/local " \
           f"--output {ROOT}/nightly --count 6 --converge check\n" in service
    assert "Type=oneshot" in service and f"WorkingDirectory={ROOT}\n" in service
    assert "OnCalendar=*-*-* 02:30:00 UTC" in timer and "Persistent=true" in timer
    again = playbook(*args, folder=tmp_path)
    assert again.returncode == 0 and changed(again.stdout) == 0, again.stdout[-3000:]
    analyze = shutil.which("systemd-analyze")
    if analyze:
        proc = subprocess.run([analyze, "verify", str(tmp_path / "bootlab-nightly.timer"),
                               str(tmp_path / "bootlab-nightly.service")], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_bad_variables_fail_at_the_start(tmp_path):
    proc = playbook("-e", "nightly_timer_enabled=maybe", folder=tmp_path)
    assert proc.returncode != 0
    assert "nightly_timer_enabled" in proc.stdout
    assert not (tmp_path / "bootlab-nightly.service").exists()
    missing = playbook("-e", f"nightly_timer_checkout={tmp_path}", folder=tmp_path)
    assert missing.returncode != 0 and "run `make deps`" in missing.stdout
