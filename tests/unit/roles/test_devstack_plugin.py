"""The lab's DevStack plugin (roles/devstack/files/bootlab-devstack): the os-ken
patch is applied once, to the handler it knows, and the plugin is valid bash."""
import os
import subprocess
import sys

from tests.support import ROOT

PLUGIN = ROOT / "roles/devstack/files/bootlab-devstack/devstack"

# The shape of os-ken's OfctlService._switch_features_handler (4.1.2, 4.2.1).
HANDLER = '''import numbers


class OfctlService:
    def _switch_features_handler(self, ev):
        datapath = ev.msg.datapath
        id = datapath.id
        assert isinstance(id, numbers.Integral)
        old_info = self._switches.get(id, None)
'''


def run_patch(site):
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, str(PLUGIN / "os-ken-switch-features.py")], env=env,
                          capture_output=True, text=True, check=True)


def fake_os_ken(tmp_path, text):
    pkg = tmp_path / "os_ken/app/ofctl"
    pkg.mkdir(parents=True)
    for d in (tmp_path / "os_ken", tmp_path / "os_ken/app", pkg):
        (d / "__init__.py").write_text("")
    (pkg / "service.py").write_text(text)
    return pkg / "service.py"


def test_patch_keys_the_handler_on_the_message_and_is_idempotent(tmp_path):
    service = fake_os_ken(tmp_path, HANDLER)
    assert "patched" in run_patch(tmp_path).stdout
    text = service.read_text()
    assert "id = ev.msg.datapath_id" in text and "id = datapath.id\n" not in text
    assert "already patched" in run_patch(tmp_path).stdout
    assert service.read_text() == text


def test_patch_leaves_an_unknown_handler_alone(tmp_path):
    other = HANDLER.replace("id = datapath.id", "id = datapath.id or 0")
    service = fake_os_ken(tmp_path, other)
    assert "left alone" in run_patch(tmp_path).stdout
    assert service.read_text() == other


def test_patch_without_os_ken(tmp_path):
    assert "not installed" in run_patch(tmp_path).stdout


def test_plugin_is_valid_bash():
    subprocess.run(["bash", "-n", str(PLUGIN / "plugin.sh")], check=True)
