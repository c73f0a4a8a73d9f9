"""What the fault suite (tests/faults) found, checked without a lab on recorded boots:
damaged gzip logs named with the file, rotated copies found, the last line of a failed
boot, results of runs interrupted during collection or analysis, the run's exit codes."""

from __future__ import annotations

import _thread
import gzip
import json
import shutil
import signal
import subprocess
import threading
from datetime import datetime, timedelta
from pathlib import Path

from probes import launch
from probes.analyze import analyze, unanalysed
from probes.boots import read_boots
from probes.catalog import load_catalog
from probes.collect import BUILD_FRAMES, FileMark, _copy_file, gmr_threads, gzip_damage, host_window, rotated_copy
from probes.records import SmokeOptions
from probes.run import RunOptions, Swept, _in_parallel, run_outcome
from probes.views.table import render_table
from tests.support import FIXTURES

OK = FIXTURES / "boot-ok-20261126"
NOVALIDHOST = FIXTURES / "boot-novalidhost-20261126"


class LocalClient:
    """Runs collection's remote commands on this machine."""

    def exec_command(self, command: str, timeout: float = 0):
        proc = subprocess.Popen(command, shell=True, stdout=subprocess.PIPE)
        return None, proc.stdout, None


def cut(src: Path, dst: Path, keep: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def window_of(logdir: Path):
    boot = read_boots(logdir)[0]
    return host_window(boot.client.auth_sent, boot.client.metadata_seen + timedelta(seconds=20), 0.0)


def test_a_truncated_gzip_is_named_with_what_gzip_says_and_its_lines_before_kept(tmp_path):
    src = OK / "bootlab1/var/log/nova/nova-compute.log.gz"
    truncated = cut(src, tmp_path / "remote" / "nova-compute.log.1.gz")
    assert gzip_damage(LocalClient(), str(src)) is None
    mark = FileMark(str(truncated), truncated.stat().st_size, 1, src.stat().st_mtime)
    entry = _copy_file(LocalClient(), mark, 0, tmp_path / "out", window_of(OK))
    assert "unexpected end of file" in entry["error"], entry
    assert entry["kept_lines"] > 0  # what came before the cut is kept


def test_a_gzip_overwritten_in_its_middle_is_named(tmp_path):
    src = OK / "bootlab1/var/log/nova/nova-conductor.log.gz"
    data = bytearray(src.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    malformed = tmp_path / "nova-conductor.log.1.gz"
    malformed.write_bytes(bytes(data))
    said = gzip_damage(LocalClient(), str(malformed))
    assert said and ("invalid" in said or "crc" in said.lower() or "format" in said), said
    plain = tmp_path / "not-gzip.log.1.gz"  # a plain file named .gz
    plain.write_bytes(gzip.decompress(src.read_bytes())[:4096])
    assert "not in gzip format" in gzip_damage(LocalClient(), str(plain))


def test_a_truncated_gzip_in_a_log_folder_is_read_up_to_the_cut_and_named(tmp_path):
    folder = tmp_path / "logs"
    shutil.copytree(OK, folder)
    compute = folder / "bootlab1/var/log/nova/nova-compute.log.gz"
    cut(OK / "bootlab1/var/log/nova/nova-compute.log.gz", compute, 0.6)
    result = analyze(folder, read_boots(folder), load_catalog())
    (source,) = [s for s in result["hosts"][0]["sources"] if s["path"].endswith("nova-compute.log.gz")]
    assert source["note"].startswith("read stopped: ") and "truncated gzip" in source["note"]
    text = render_table(result)
    assert "log files read in part:" in text and "var/log/nova/nova-compute.log.gz: read stopped" in text


def mark(path: str, inode: int, mtime: float = 100.0) -> FileMark:
    return FileMark(path, 10, inode, mtime)


def test_the_rotated_copy_of_a_log_is_found_however_logrotate_made_it():
    log = "/var/log/nova/nova-compute.log"
    old = mark(log, 7)
    # renamed (create): the copy has the old inode, whatever its name
    assert rotated_copy(old, [mark(log, 9), mark(f"{log}-20261130", 7)]).path == f"{log}-20261130"
    # copytruncate + delaycompress (Debian's nova-common): a new .1 beside the truncated file
    assert rotated_copy(old, [mark(log, 7), mark(f"{log}.1", 11, 200), mark(f"{log}.2.gz", 12, 50)]).path == f"{log}.1"
    # compress at once: .1.gz
    assert rotated_copy(old, [mark(log, 7), mark(f"{log}.1.gz", 13, 200)]).path == f"{log}.1.gz"
    assert rotated_copy(old, [mark(log, 7), mark("/var/log/nova/nova-api.log.1", 14)]) is None


def test_a_failed_boot_names_its_stage_and_the_last_line_seen_for_it():
    result = analyze(NOVALIDHOST, read_boots(NOVALIDHOST), load_catalog())
    (boot,) = result["boots"]
    assert boot["outcome"] == "boot-failed" and boot["failed_stage"]
    last = boot["last_line"]
    assert last and last["host"] == "bootlab1" and last["source"].split()[0] not in ("nova-api", "keystone")
    assert boot["last_lines"][0] == last and len({e["source"] for e in boot["last_lines"]}) == len(boot["last_lines"])
    stage = boot["stages"][boot["failed_stage"] - 1]
    assert "the boot's last line before the client stopped: bootlab1" in stage["reason"]
    assert "last line seen for it: bootlab1" in render_table(result)
    outcome, code, message = run_outcome(result["boots"], [], False, result["hosts"])
    assert (outcome, code) == ("boot-failed", 1)
    assert f"stopped at stage {boot['failed_stage']}" in message and "last line seen for it" in message


def test_a_passed_boot_has_no_last_line():
    (boot,) = analyze(OK, read_boots(OK), load_catalog())["boots"]
    assert boot["last_line"] is None and boot["last_lines"] == []


def test_a_run_interrupted_during_collection_reports_every_stage_unanalysed_and_why():
    boots = read_boots(OK)
    result = unanalysed(boots, load_catalog(), "the run was interrupted (Ctrl-C) during log collection")
    (boot,) = result["boots"]
    assert [s["number"] for s in boot["stages"]] == list(range(1, 59))
    assert all(s["status"] == "unobserved" and "during log collection" in s["reason"] for s in boot["stages"])
    assert boot["outcome"] == "ok" and boot["failed_stage"] is None
    outcome, code, message = run_outcome(result["boots"], [], True, result["hosts"])
    assert (outcome, code) == ("interrupted", 130) and "no server had been asked for" in message
    json.dumps(result)
    render_table(result)


def test_damaged_logs_exit_4_naming_each_file_and_what_the_sweep_could_not_delete():
    hosts = [{"name": "bootlab1", "reachable": True, "error": None,
              "damaged": [{"path": "/var/log/nova/x.log.1.gz", "why": "gzip: unexpected end of file"}]}]
    boots = [{"index": 0, "outcome": "ok"}]
    outcome, code, message = run_outcome(boots, [], False, hosts)
    assert (outcome, code) == ("incomplete", 4)
    assert "/var/log/nova/x.log.1.gz: gzip: unexpected end of file" in message
    hosts[0]["damaged"] = []
    assert run_outcome(boots, [], False, hosts)[:2] == ("ok", 0)
    swept = Swept(left=["server 1234 (still deleting after 60 s: its compute host has not run the delete)"])
    outcome, code, message = run_outcome(boots, [], False, hosts, swept)
    assert (outcome, code) == ("incomplete", 4) and "NOT deleted: server 1234" in message


def test_a_boot_the_client_saw_fail_names_the_clients_stage_when_the_logs_lack_nothing(tmp_path):
    """The recorded boot whose logs hold every stage, as if its guest had got no lease:
    the stage is the client's (30, the DHCP allocation), never none."""
    folder = tmp_path / "logs"
    shutil.copytree(OK, folder)
    boots = json.loads((folder / "boots.json").read_text())
    boots[0].update(outcome="boot-failed", client_stage="lease",
                    message="the guest's DHCP client got no lease (BOOTLAB-LEASE-FAILED)")
    (folder / "boots.json").write_text(json.dumps(boots))
    (boot,) = analyze(folder, read_boots(folder), load_catalog())["boots"]
    assert boot["failed_stage"] == 30
    assert boot["stages"][29]["reason"].startswith("the client saw the boot fail here: the guest's DHCP")


DHCP_STOPPED = FIXTURES / "boot-dhcp-agent-stopped-20261130"


def test_a_stopped_dhcp_agent_is_silent_not_absent_and_its_stage_is_the_failed_one():
    """Recorded with the DHCP agent stopped (tests/faults): the guest got no lease. Its log is
    on the host, last written before the boot: the agent runs in this cloud, it said nothing."""
    result = analyze(DHCP_STOPPED, read_boots(DHCP_STOPPED), load_catalog())
    (boot,) = result["boots"]
    assert boot["outcome"] == "boot-failed" and boot["failed_stage"] == 27
    reason = boot["stages"][26]["reason"]
    assert reason.startswith("neutron-dhcp-agent logged no line during the boot")
    assert "the boot's last line before the client stopped: bootlab1" in reason
    for stage in boot["stages"]:
        assert "this cloud runs no neutron-dhcp-agent" not in (stage["reason"] or "")
    assert all(boot["stages"][n - 1]["reason"] == "not reached: the boot failed at stage 27" for n in (29, 30, 31, 32))
    assert boot["stages"][33]["status"] == "measured"  # 34: the L2 agent still did its part


NEVER_ACTIVE = FIXTURES / "boot-never-active-l2-agent-stopped-20261130"
GMR = FIXTURES / "gmr-nova-compute-build-waiting-20261130.txt"


def test_a_boot_that_never_got_active_names_the_silent_agent_and_nova_computes_last_line():
    """Recorded with the L2 agent stopped (tests/faults): nova-compute waited in spawn for
    network-vif-plugged until the client's 60 s ran out."""
    (boot,) = analyze(NEVER_ACTIVE, read_boots(NEVER_ACTIVE), load_catalog())["boots"]
    assert boot["outcome"] == "boot-failed" and boot["failed_stage"] == 28
    assert boot["message"] == "server still BUILD (task spawning) when the timeout ran out"
    assert boot["stages"][27]["reason"].startswith("neutron-l2-agent logged no line during the boot")
    compute = [e for e in boot["last_lines"] if e["source"].startswith("nova-compute ")]
    assert compute and "VM Started (Lifecycle Event)" in compute[0]["line"]


def test_the_teardown_after_the_client_gave_up_is_not_build_evidence():
    """That boot's delete carries its global request id, and Nova's teardown repeats the
    build's RPC shapes: nova-compute's CALL to the conductor 0.2 s after the client's
    delete had been taken for stages 45-47, which the build never reached."""
    (given,) = read_boots(NEVER_ACTIVE)
    (boot,) = analyze(NEVER_ACTIVE, [given], load_catalog())["boots"]
    for stage in boot["stages"]:
        for evidence in stage["evidence"]:
            if evidence["host"] != "client":
                assert datetime.fromisoformat(evidence["at"]) <= given.stopped_at, (stage["number"], evidence)
    for number in (45, 46, 47):
        assert boot["stages"][number - 1]["status"] == "unobserved"
        assert boot["stages"][number - 1]["reason"] == "not reached: the boot failed at stage 28"
    # From the logs alone, the delete is nova-api's DELETE of the server (its access line).
    (alone,) = analyze(NEVER_ACTIVE, None, load_catalog())["boots"]
    late = [(s["number"], e["at"]) for s in alone["stages"] for e in s["evidence"]
            if datetime.fromisoformat(e["at"]) > given.stopped_at]
    assert not late
    assert [alone["stages"][n - 1]["status"] for n in (45, 46, 47)] == ["unobserved"] * 3


def test_the_build_thread_is_found_in_nova_computes_guru_meditation_report():
    """The report nova-compute wrote on SIGUSR2 while that build waited (its journal, recorded)."""
    (thread,) = gmr_threads(GMR.read_text(), BUILD_FRAMES)
    assert thread[0] == "Green Threads: Green Thread"
    frames = [line for line in thread if not line.startswith(" ")]
    assert any(f.endswith(" in _build_and_run_instance") for f in frames)
    assert any(f.endswith(" in _create_guest_with_network") for f in frames)
    assert frames[-3].endswith(" in wait") and "eventlet/event.py" in frames[-2]
    assert gmr_threads("no report here", BUILD_FRAMES) == []


def test_the_report_shows_log_lines_whole_their_request_ids_too():
    """rich took a line's '[req-... default default]' for a style tag and dropped it."""
    text = render_table(analyze(NEVER_ACTIVE, read_boots(NEVER_ACTIVE), load_catalog()))
    (line,) = [t for t in text.splitlines() if t.startswith("last line seen for it: ")]
    assert "[req-" in line or "[None req-" in line


def test_ctrl_c_stops_parallel_boots_under_way_and_starts_no_other():
    """Ctrl-C reaches the main thread only: with --concurrency the boots of the other
    threads stop at their next poll (then delete their server, as run_smoke's cleanup
    does), the boots not begun never begin, and the results of those under way are kept.
    Before, the executor ran every queued boot to its end after Ctrl-C."""
    began, stopped = [], []

    def boot(index):
        began.append(index)
        try:
            while True:
                launch.pause(0.05)
        except KeyboardInterrupt:
            stopped.append(index)
            return f"boot {index} interrupted, server deleted"

    results = [None] * 6
    options = RunOptions(SmokeOptions("c", "i", "f", "n", "p", 60.0), count=6, concurrency=2)
    # Python leaves SIGINT alone when it starts with it ignored (a background job of a
    # non-interactive shell, as CI may run it): interrupt_main() would then do nothing.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    try:
        timer.start()
        assert _in_parallel(boot, options, results) is True
    finally:
        timer.cancel()
        launch.RUN_STOPPED.set()  # whatever happened, no boot thread is left polling
        signal.signal(signal.SIGINT, previous)
    launch.RUN_STOPPED.clear()
    assert sorted(began) == sorted(stopped) == [0, 1]
    assert results == ["boot 0 interrupted, server deleted", "boot 1 interrupted, server deleted",
                       None, None, None, None]
    assert not launch.RUN_STOPPED.is_set()
