"""A lab host whose clock runs off the probe's: its measured offset puts its lines back on
the probe's time line, and the report says the offset it applied.

Real data, skewed: a recorded boot (``boot-cold-20261126``: the distro lab, one host;
``devstack-boot-cold-20261129``: DevStack) is copied and its host rewritten as if its clock
had run ``shift`` seconds ahead of the probe's (``tests/support/skew.py``): every stamp of every
log file and of the journald export, haproxy's accept date inside its message, and host.json's
measured offset, moved by ``shift`` together, as `bootprobe collect` would have recorded such a
host. The boot's client record (``boots.json``, on the probe's clock) is left as it was: the
client is the other clock here. A stamp of whole seconds (dnsmasq, MariaDB, uwsgi) is taken as
logged mid-second, so with a shift of 1.5 s it moves by 2 s (its stage by 0.5 s); with a whole
number of seconds every stamp moves exactly.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from probes.analyze import analyze
from probes.boots import read_boots
from probes.catalog import load_catalog
from probes.collect import Window, _journal, host_window
from probes.views.html import render_html
from probes.views.table import render_table
from tests.support import FIXTURES
from tests.support.skew import shift_host

COLD = FIXTURES / "boot-cold-20261126"
DEVSTACK = FIXTURES / "devstack-boot-cold-20261129"
WHOLE_SECOND_SOURCES = ("dnsmasq", "mariadb")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def skewed_copy(src: Path, dst: Path, shift: float) -> Path:
    shutil.copytree(src, dst)
    (host,) = [p for p in dst.iterdir() if p.is_dir()]
    shift_host(host, shift)
    return dst


def stages(result: dict) -> list[dict]:
    (boot,) = result["boots"]
    return boot["stages"]


def order(result: dict) -> list[int]:
    """The observed stages by start (then end, then number): the boot's sequence as shown."""
    seen = [s for s in stages(result) if s["start"]]
    return [s["number"] for s in sorted(seen, key=lambda s: (s["start"], s["end"], s["number"]))]


def coarse(stage: dict) -> bool:
    """The stage stands on a line stamped in whole seconds."""
    return any(e["source"].startswith(WHOLE_SECOND_SOURCES) or e["line"].startswith("[pid: ")
               for e in stage["evidence"])


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@pytest.mark.parametrize("fixture, shift", [(COLD, 1.5), (COLD, -3.0), (DEVSTACK, 1.5)],
                         ids=["distro+1.5s", "distro-3s", "devstack+1.5s"])
def test_with_its_offset_a_skewed_host_orders_as_recorded_and_without_it_not(
        catalog, tmp_path, fixture, shift):
    base = analyze(fixture, read_boots(fixture), catalog)
    skewed = skewed_copy(fixture, tmp_path / "skewed", shift)
    applied = analyze(skewed, read_boots(skewed), catalog)
    ignored = analyze(skewed, read_boots(skewed), catalog, clock_offsets=False)

    # The offset applied: every stage as in the unshifted recording (a stage standing on a
    # whole-second stamp within the half second the skew moved that stamp by).
    for want, got in zip(stages(base), stages(applied), strict=True):
        assert got["status"] == want["status"], got
        if want["start"] is None:
            continue
        slack = 0.5 + 1e-6 if coarse(want) and shift % 1 else 1e-6
        assert seconds(got["start"]) == pytest.approx(seconds(want["start"]), abs=slack), got["number"]
        assert seconds(got["end"]) == pytest.approx(seconds(want["end"]), abs=slack), got["number"]
        assert got["duration_s"] >= 0 and "clock offset" not in (got["reason"] or ""), got
    if shift % 1 == 0:
        assert order(applied) == order(base)
    else:  # only whole-second stages may trade places with their neighbours
        exact = {s["number"] for s in stages(base) if not coarse(s)}
        assert [n for n in order(applied) if n in exact] == [n for n in order(base) if n in exact]

    # Not applied: the host's lines sit `shift` seconds off the client's, the stages that
    # span both go negative (said as a clock offset) and the sequence is out of order.
    by_number = {s["number"]: s for s in stages(ignored)}
    for number in (1, 4, 55):  # client -> server: absorb the skew
        want = stages(base)[number - 1]["duration_s"]
        assert by_number[number]["duration_s"] == pytest.approx(want + shift, abs=2e-3)
    negative = [s for s in stages(ignored) if s["duration_s"] is not None and s["duration_s"] < 0]
    assert negative and all("clock offset" in s["reason"] for s in negative)
    assert (58 in {s["number"] for s in negative}) == (shift > 0)  # the client sees the console last
    assert order(ignored) != order(base)


def test_the_report_states_the_offsets_it_applied(catalog, tmp_path):
    skewed = skewed_copy(COLD, tmp_path / "skewed", 1.5)
    applied = analyze(skewed, read_boots(skewed), catalog)
    (host,) = applied["hosts"]
    assert host["clock_offset_s"] == pytest.approx(1.5 + 0.000178, abs=1e-6)
    assert host["clock_rtt_s"] == pytest.approx(0.000832, abs=1e-6) and host["clock_offset_applied"]
    said = "clock offsets applied: bootlab1 +1.500 s (\u00b10.4 ms)"
    assert said in render_table(applied).splitlines()
    assert f'<div class="clock">{said}</div>' in render_html(applied)

    ignored = analyze(skewed, read_boots(skewed), catalog, clock_offsets=False)
    assert ignored["hosts"][0]["clock_offset_applied"] is False
    text = render_table(ignored)
    assert "clock offsets NOT applied (each host's lines on its own clock): bootlab1 +1.500 s" in text
    assert "clock offsets applied" not in text and "(not applied)" in text
    json.dumps(ignored)  # the result file holds it


def test_an_offset_within_a_stamps_noise_is_not_stated(catalog):
    result = analyze(COLD, read_boots(COLD), catalog)  # the recording's own: +0.2 ms
    assert "clock offsets" not in render_table(result) and 'class="clock"' not in render_html(result)


class Recorder:
    """A host that answers every command with nothing, and keeps the commands."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def exec_command(self, command: str, timeout: float = 0):
        self.commands.append(command)
        return None, io.BytesIO(b""), None


def test_journald_is_exported_for_the_window_on_the_hosts_clock(tmp_path):
    """journalctl's --since/--until read the host's clock: a host 30 s ahead is asked for
    the window 30 s later (and the slack either side, as its files; --until a minute further,
    as entries of the window may follow a later one in journalctl's order)."""
    at = [datetime.fromtimestamp(t, timezone.utc) for t in (1000, 1010)]
    window: Window = host_window(at[0], at[1], 30.0)
    client = Recorder()
    assert _journal(client, window, tmp_path / "journal.json") == 0
    (command,) = client.commands
    assert "--since @1025 " in command and command.endswith("--until @1105")


@pytest.mark.parametrize("workers", [1, 2])
def test_no_clock_offsets_holds_for_hosts_only_journald_lines_name(tmp_path, workers):
    """A host folder holding a journald export alone (its hosts are the ones its lines
    name): with --no-clock-offsets those hosts said their offset was applied."""
    folder = tmp_path / "bootlab1"
    folder.mkdir()
    with gzip.open(FIXTURES / "boot-ok-20261126/bootlab1/journal.json.gz") as src:
        (folder / "journal.json").write_bytes(src.read())
    for applied in (True, False):
        hosts = analyze(folder, None, load_catalog(), clock_offsets=applied, workers=workers)["hosts"]
        assert hosts and [h["clock_offset_applied"] for h in hosts] == [applied] * len(hosts)
