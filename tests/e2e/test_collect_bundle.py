"""bootprobe collect on the real lab, as a new user runs it: the bundle keeps to the
window it was asked for and holds none of the lab's secrets (it is what gets
attached to a bug report)."""
import gzip
import hashlib
import hmac
import json
import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import ROOT, VENV_BIN, labvar

from probes.collect import SLACK
from probes.logs.formats import line_stamper
from probes.logs.reader import HOST_FILE

UTC = timezone.utc


@pytest.fixture(scope="module")
def state_dir():
    return Path(labvar("bootlab_state_dir"))


@pytest.fixture(scope="module")
def secrets(state_dir):
    """Every value of the secrets folder, the Ceph keys the probe is given, and what
    MariaDB stores of each password (its native hash works as well as the password)."""
    values = [p.read_text().strip() for p in (state_dir / "secrets").iterdir() if p.is_file()]
    values = [v for v in values if len(v) >= 8]
    for keyring in (state_dir / "ceph").glob("*.keyring"):
        values += re.findall(r"key\s*=\s*(\S+)", keyring.read_text())
    native = ["*" + hashlib.sha1(hashlib.sha1(v.encode()).digest()).hexdigest().upper() for v in values]
    return values + native


@pytest.fixture(scope="module")
def bundle(lab_env, tmp_path_factory):
    since = datetime.now(UTC) - timedelta(minutes=10)
    out = tmp_path_factory.mktemp("bundle")
    proc = subprocess.run(
        [str(VENV_BIN / "bootprobe"), "collect", "--hosts", labvar("bootlab_probe_hosts_file"),
         "--since", since.isoformat(), "--output", str(out)],
        capture_output=True, text=True, cwd=ROOT, env=lab_env, check=False, timeout=900)
    return proc, out, since, datetime.now(UTC)


def texts(folder: Path):
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
            yield path, data.decode("utf-8", "replace")


def test_collect_succeeds_and_keeps_lines(bundle):
    proc, out, _, _ = bundle
    assert proc.returncode == 0, proc.stderr + proc.stdout
    hosts = [json.loads(p.read_text()) for p in out.glob(f"*/{HOST_FILE}")]
    assert hosts and all(h["reachable"] and not h["error"] for h in hosts)
    assert sum(f.get("kept_lines", 0) for h in hosts for f in h["files"]) > 0


def test_no_lab_secret_is_anywhere_in_the_bundle(bundle, secrets, state_dir):
    proc, out, _, _ = bundle
    assert len(secrets) >= 16
    metadata_secret = (state_dir / "secrets" / "metadata-proxy").read_text().strip().encode()
    seen = {"stdout": proc.stdout, "stderr": proc.stderr, **{str(p): t for p, t in texts(out)}}
    for name, text in seen.items():
        found = [i for i, secret in enumerate(secrets) if secret in text]
        assert not found, f"{name} holds lab secret(s) number {found} of the list"
        # the instance-id signatures the metadata path carries: HMAC(metadata secret, instance id)
        for instance in set(re.findall(r"'X-Instance-Id': '([0-9a-f-]{36})'", text)):
            signature = hmac.new(metadata_secret, instance.encode(), hashlib.sha256).hexdigest()
            assert signature not in text, f"{name} holds the signature of instance {instance}"


def test_no_collected_line_is_stamped_outside_the_window(bundle):
    _, out, since, until = bundle
    checked = 0
    for host in [p.parent for p in out.glob(f"*/{HOST_FILE}")]:
        offset = timedelta(seconds=json.loads((host / HOST_FILE).read_text())["clock_offset_s"] or 0)
        start, end = since + offset - SLACK, until + offset + SLACK
        for path, text in texts(host):
            if path.name == HOST_FILE:
                continue
            lines = text.splitlines()
            stamp = line_stamper([line for line in lines[:60] if line.strip()], until.year)
            assert stamp is not None, f"{path}: no known format, yet copied"
            per_line = [stamp(line) for line in lines]
            assert per_line[0] is not None, f"{path}: its first line has no stamp of its own"
            stamps = [at for at in per_line if at is not None]
            early = [at for at in stamps if at < start]
            late = [at for at in stamps if at > end]
            assert not early, f"{path}: {len(early)} lines stamped before since - slack, first {early[0]}"
            assert not late, f"{path}: {len(late)} lines stamped after until + slack, first {late[0]}"
            checked += len(stamps)
    assert checked > 0
