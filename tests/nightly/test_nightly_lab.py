"""The nightly job against the deployed lab (make nightly-e2e, about 15 minutes):

1. a clean night (converge check, health checks, boots) writes every artifact and becomes
   the baseline;
2. with a 2 s delay injected in front of nova-api-metadata (scripts/slowdown.py: a proxy
   and an nftables redirect on the lab host, nothing reconfigured), the night fails with
   exit 1 and its JUnit XML fails stage 53 (the metadata proxy's call to nova-api-metadata);
3. the delay reverted, a night passes against the same baseline;
4. the trend of the three nights names stage 53's move up on night 2 and renders in
   headless Chromium.

The nights stay under nightly-e2e/<UTC time>/ to look at.
"""
import json
import os
import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
INVENTORY = os.environ.get("BOOTLAB_INVENTORY", "inventory/local")
COUNT = os.environ.get("NIGHTLY_E2E_COUNT", "6")
DELAY_S = 2.0
METADATA_STAGE = 53
ARTIFACTS = ["converge.log", "converge.junit.xml", "health.log", "health.junit.xml", "boots.log",
             "run/result.json", "run/logs/boots.json", "result.json", "report.html", "stages.junit.xml",
             "compare.txt", "compare.json", "summary.json"]


@pytest.fixture(scope="module")
def out():
    """A new folder of nights; NIGHTLY_E2E_OUT reuses one (to run test 4 alone on its nights)."""
    if os.environ.get("NIGHTLY_E2E_OUT"):
        return pathlib.Path(os.environ["NIGHTLY_E2E_OUT"])
    folder = ROOT / "nightly-e2e" / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder.mkdir(parents=True)
    return folder


def nightly(out, night, *extra):
    proc = subprocess.run([sys.executable, "scripts/nightly.py", "-i", INVENTORY, "--output", str(out),
                           "--night", night, "--count", COUNT, *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=4 * 3600, check=False)
    print(proc.stdout)
    summary = json.loads((out / night / "summary.json").read_text())
    return proc, {s["name"]: s for s in summary["steps"]}


def slowdown(action, *extra):
    hosts = subprocess.run([sys.executable, "scripts/labvar.py", "-i", INVENTORY, "bootlab_probe_hosts_file"],
                           capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()
    return subprocess.run([sys.executable, "scripts/slowdown.py", action, "--hosts", hosts, *extra],
                          capture_output=True, text=True, cwd=ROOT, check=True, timeout=300)


def failed_cases(junit):
    return [c.get("name") for c in ET.parse(junit).getroot().iter("testcase") if c.find("failure") is not None]


def test_1_clean_night_writes_every_artifact_and_becomes_the_baseline(out):
    proc, steps = nightly(out, "1-clean", "--converge", "apply")
    night = out / "1-clean"
    missing = [a for a in ARTIFACTS if not (night / a).is_file()]
    assert not missing, f"artifacts missing: {missing}"
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert steps["converge"]["status"] == "passed" and steps["health"]["status"] == "passed"
    assert steps["boots"]["facts"]["ok"] == int(COUNT) and steps["boots"]["facts"]["cold"] == 1
    assert (out / "baseline.json").is_file()
    cases = list(ET.parse(night / "stages.junit.xml").getroot().iter("testcase"))
    assert len(cases) == 59


def test_2_a_slowdown_fails_the_night_naming_its_stage(out):
    slowdown("inject", "--port", "8775", "--delay", str(DELAY_S))
    try:
        proc, steps = nightly(out, "2-slow-metadata", "--converge", "skip", "--skip-health")
    finally:
        slowdown("revert")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert METADATA_STAGE in steps["compare"]["facts"]["regressed"], steps["compare"]
    failed = failed_cases(out / "2-slow-metadata" / "stages.junit.xml")
    assert any(name.startswith(f"stage {METADATA_STAGE}:") for name in failed), failed
    compare = json.loads((out / "2-slow-metadata" / "compare.json").read_text())
    growth = next(s["growth_s"] for s in compare["stages"] if s["number"] == METADATA_STAGE)
    assert DELAY_S * 0.8 < growth < DELAY_S * 3, growth
    assert f"stage {METADATA_STAGE}" in proc.stdout


def test_3_reverted_the_night_passes(out):
    assert "no rule" in slowdown("status").stdout
    proc, steps = nightly(out, "3-clean", "--converge", "skip", "--skip-health")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert steps["compare"]["status"] == "passed", steps["compare"]


def test_4_trend_of_the_nights_names_the_move_and_renders(out, tmp_path, monkeypatch):
    from probes.views.trend_html import COLOURS
    from tests.support import screenshot as browser
    from tests.support.screenshot import colour_box, decode_png, rgb

    assert (out / "trend.html").is_file() and (out / "trend.csv").is_file()
    nights = sorted(p for p in out.iterdir() if (p / "result.json").is_file())
    assert len(nights) == 3
    proc = subprocess.run([sys.executable, "-m", "probes", "trend", *map(str, nights), "--html",
                           str(out / "trend-e2e.html"), "--csv", str(out / "trend-e2e.csv")],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"stage {METADATA_STAGE} moved up on 2-slow-metadata" in proc.stderr, proc.stderr
    png = tmp_path / "trend.png"
    monkeypatch.setattr(browser, "HEIGHT", 3200)  # the 59 charts and the moves' table
    browser.screenshot(out / "trend-e2e.html", png, tmp_path / "profile")
    image = decode_png(png.read_bytes())
    # Below the table of moves, stage 53's chart marks night 2 in red (moved up) and is framed
    # (red, or green when it moved back down on night 3).
    card_top = 300 + 25 * len(proc.stderr.splitlines())
    assert colour_box(image, rgb(COLOURS["up"]), top=card_top) is not None, "night 2's move up is not shown"
    frames = [colour_box(image, rgb(COLOURS[d]), top=card_top) for d in ("up", "down")]
    assert any(box and box[3] - box[1] >= 100 for box in frames), frames
    assert colour_box(image, rgb(COLOURS["p50"]), top=card_top) is not None
    (out / "trend-e2e.png").write_bytes(png.read_bytes())
