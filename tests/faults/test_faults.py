"""The fault suite (`make e2e-faults`, not in `make test`): `bootprobe run` on the lab while
something goes wrong. Each case: the documented exit code, a report naming the failed or
unobserved stage and why, nothing left behind (servers, volumes, ports, floating IPs and
the run's images counted before and after), no lab secret in any output; every fault is
undone by its fixture, also when the case fails.

Exit codes (bootprobe run --help): 0 ok, 1 a boot failed (the report names the stage),
4 a host's logs could not be collected in full, 130 interrupted (Ctrl-C).
"""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
from conftest import HOST, ROOT, assert_no_secret, compute_up, lab_ready, on_host, result_of, wait_until

BOOT = ("--count", "1", "--volume-size", "1")


def checked(run, tmp_path, lab_secrets, code):
    """The run's exit code is ``code``, it wrote its result, no traceback, no secret."""
    got = run.finish()
    print(f"bootprobe ran {run.seconds:.0f} s, exit {got}")
    assert got == code, f"exit {got}, not {code}: {run.err[-4000:]}\n{run.out[-4000:]}"
    assert "Traceback" not in run.err, run.err[-4000:]
    result = result_of(tmp_path)
    assert result["exit_code"] == code and result["outcome"]
    assert_no_secret({"stdout": run.out, "stderr": run.err,
                      "result.json": (tmp_path / "run" / "result.json").read_text()}, lab_secrets)
    print(f"{result['outcome']}: {result.get('message')}")
    return result


def observed(boot) -> list[int]:
    return [s["number"] for s in boot["stages"] if s["status"] != "unobserved"]


def assert_stages_say_why(boot) -> None:
    for stage in boot["stages"]:
        assert stage["status"] != "unobserved" or stage["reason"], stage


def servers_of_runs(admin, status=None):
    return [s for s in admin.compute.servers(all_projects=True, name="^bootprobe-run-")
            if status is None or s.status == status]


# --- collection -----------------------------------------------------------------------------

def test_a_host_lost_during_collection_is_named_and_the_run_exits_4(
        leaks, relayed_hosts, probe, tmp_path, lab_secrets, lab_healthy):
    hosts, relay = relayed_hosts
    run = probe(*BOOT, hosts=hosts)
    run.wait_for_line("collecting the logs")
    run.wait_for("the collection's SSH connection", lambda: relay.connections >= 2, 60, 0.05)
    time.sleep(0.5)  # into the copying
    relay.cut()
    result = checked(run, tmp_path, lab_secrets, 4)
    (host,) = result["hosts"]
    assert not host["reachable"] or host["error"], host
    assert HOST in result["message"] and "could not be collected" in result["message"]
    assert f"host {HOST}" in run.out and ("NOT COLLECTED" in run.out or "COLLECTED IN PART" in run.out)
    (boot,) = result["boots"]
    assert boot["outcome"] == "ok"  # the boot itself passed: the client saw its metadata
    assert_stages_say_why(boot)
    leaks.check()


def test_a_log_rotated_inside_the_boot_window_is_read_from_its_rotated_copy(
        leaks, hosts_file, probe, admin, tmp_path, lab_secrets, lab_healthy):
    nova = on_host(hosts_file, "grep -l '/var/log/nova' /etc/logrotate.d/* | head -1").stdout.strip()
    assert nova, "no logrotate configuration names /var/log/nova"
    # As the daily run rotates nova's logs: logrotate.conf's defaults (rotate 4), then nova's
    # stanza (Debian's nova-common: copytruncate, compress, delaycompress). Its file alone
    # keeps no copy (rotate 0): the probe then says the lines were lost (exit 4).
    conf = "/tmp/bootlab-fault-logrotate.conf"
    on_host(hosts_file, f"printf 'rotate 4\\ninclude {nova}\\n' > {conf}")
    run = probe(*BOOT)
    try:
        run.wait_for("the server building", lambda: servers_of_runs(admin, "BUILD"), 300, 0.3)
        on_host(hosts_file, f"logrotate -f -s /tmp/bootlab-fault-logrotate.status {conf}")
    finally:
        on_host(hosts_file, f"rm -f {conf} /tmp/bootlab-fault-logrotate.status", check=False)
    result = checked(run, tmp_path, lab_secrets, 0)
    (host,) = result["hosts"]
    assert not host["damaged"] and not host["missing"], host
    files = {f["path"]: f for f in json_host(tmp_path)["files"]}
    rotated = [f for f in files.values() if "rotated during the run" in (f.get("note") or "")]
    assert rotated, sorted(files)
    print("rotated:", [(f["path"], f["note"], f["kept_lines"]) for f in rotated])
    assert sum(f["kept_lines"] for f in rotated) > 0
    (boot,) = result["boots"]
    assert len(observed(boot)) >= 50, [(s["number"], s["reason"]) for s in boot["stages"]]
    assert boot["stages"][12]["status"] != "unobserved"  # 13: nova-compute takes the build
    assert_stages_say_why(boot)
    leaks.check()


def test_a_log_rotated_without_a_copy_is_said_lost_and_the_run_exits_4(
        leaks, hosts_file, probe, admin, tmp_path, lab_secrets, lab_healthy):
    """nova-common's stanza alone (no `rotate` of logrotate.conf: rotate 0) truncates the
    logs and keeps no copy: the probe says which lines were lost, not that all went well."""
    nova = on_host(hosts_file, "grep -l '/var/log/nova' /etc/logrotate.d/* | head -1").stdout.strip()
    run = probe(*BOOT)
    run.wait_for("the server building", lambda: servers_of_runs(admin, "BUILD"), 300, 0.3)
    on_host(hosts_file, f"logrotate -f -s /tmp/bootlab-fault-logrotate.status {nova}; "
            "rm -f /tmp/bootlab-fault-logrotate.status")
    result = checked(run, tmp_path, lab_secrets, 4)
    (host,) = result["hosts"]
    lost = {d["path"] for d in host["damaged"] if "no rotated copy" in d["why"]}
    assert "/var/log/nova/nova-compute.log" in lost, host["damaged"]
    assert "/var/log/nova/nova-compute.log" in result["message"]
    (boot,) = result["boots"]
    assert boot["outcome"] == "ok"
    assert_stages_say_why(boot)
    leaks.check()


def json_host(tmp_path):
    import json

    return json.loads(next((tmp_path / "run" / "logs").glob("*/host.json")).read_text())


@pytest.fixture
def damaged_gzips(hosts_file):
    """Two rotated nova logs written now that gzip cannot read to their end: one cut short
    (truncated), one with its middle overwritten (malformed). Their lines are nova's own
    (the oldest of nova-conductor.log); removed afterwards."""
    folder = "/var/log/nova"
    paths = {"truncated": f"{folder}/bootlab-fault-truncated.log.1.gz",
             "malformed": f"{folder}/bootlab-fault-malformed.log.1.gz"}
    make = (f"set -e; head -n 20000 {folder}/nova-conductor.log | gzip -c > /tmp/bootlab-fault.gz; "
            "size=$(stat -c %s /tmp/bootlab-fault.gz); "
            f"head -c $((size / 2)) /tmp/bootlab-fault.gz > {paths['truncated']}; "
            f"cp /tmp/bootlab-fault.gz {paths['malformed']}; "
            f"dd if=/dev/zero of={paths['malformed']} bs=1 count=64 seek=$((size / 2)) conv=notrunc "
            "status=none; rm -f /tmp/bootlab-fault.gz")
    try:
        on_host(hosts_file, make)
        yield paths
    finally:
        on_host(hosts_file, "rm -f " + " ".join(paths.values()), check=False)


def test_a_truncated_and_a_malformed_gzip_are_named_with_what_gzip_says(
        leaks, damaged_gzips, probe, tmp_path, lab_secrets, lab_healthy):
    run = probe(*BOOT)
    result = checked(run, tmp_path, lab_secrets, 4)
    (host,) = result["hosts"]
    damaged = {d["path"]: d["why"] for d in host["damaged"]}
    assert set(damaged) == set(damaged_gzips.values()), damaged
    assert "unexpected end of file" in damaged[damaged_gzips["truncated"]]
    for path in damaged_gzips.values():
        assert path in result["message"] and path in run.out
    (boot,) = result["boots"]
    assert boot["outcome"] == "ok" and len(observed(boot)) >= 50
    leaks.check()


# --- the clock ------------------------------------------------------------------------------

@pytest.fixture
def host_2s_ahead(hosts_file, lab_env, admin):
    def clockskew(*args):
        return subprocess.run([sys.executable, str(ROOT / "scripts/clockskew.py"), *args, "--hosts",
                               str(hosts_file), "--host", HOST], capture_output=True, text=True, cwd=ROOT,
                              env=lab_env, check=False, timeout=1800)

    try:
        proc = clockskew("skew", "--seconds", "2")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield
    finally:
        back = clockskew("revert")
        assert back.returncode == 0, back.stdout + back.stderr
        wait_until("the cloud back after the revert", lambda: lab_ready(admin), 300, 5)


def test_a_host_2s_ahead_is_measured_applied_and_named(
        leaks, host_2s_ahead, probe, tmp_path, lab_secrets):
    run = probe(*BOOT)
    result = checked(run, tmp_path, lab_secrets, 0)
    (host,) = result["hosts"]
    assert host["clock_offset_s"] == pytest.approx(2.0, abs=0.1) and host["clock_offset_applied"]
    assert f"clock offsets applied: {HOST} +{host['clock_offset_s']:.3f} s" in run.out
    (boot,) = result["boots"]
    assert len(observed(boot)) >= 50
    negative = [s["number"] for s in boot["stages"] if (s["duration_s"] or 0) < 0]
    assert negative == [], negative
    leaks.check()


# --- services stopped -----------------------------------------------------------------------

def test_nova_compute_stopped_gives_novalidhost_at_its_stage(
        leaks, stop_service, admin, probe, tmp_path, lab_secrets):
    stop_service("nova-compute")
    # The scheduler places on a host it has heard from within service_down_time (60 s).
    wait_until("nova-compute reported down", lambda: not compute_up(admin), 240, 5)
    run = probe(*BOOT)
    result = checked(run, tmp_path, lab_secrets, 1)
    (boot,) = result["boots"]
    assert boot["outcome"] == "boot-failed" and 9 <= boot["failed_stage"] <= 14, boot["failed_stage"]
    assert "NoValidHost" in boot["error"]["line"] or "No valid host" in boot["error"]["line"]
    assert f"stopped at stage {boot['failed_stage']}" in result["message"]
    assert_stages_say_why(boot)
    leaks.check()


def test_dhcp_agent_stopped_fails_at_a_dhcp_stage(
        leaks, stop_service, admin, probe, tmp_path, lab_secrets):
    stop_service("neutron-dhcp-agent")
    run = probe(*BOOT, "--timeout", "150")
    result = checked(run, tmp_path, lab_secrets, 1)
    (boot,) = result["boots"]
    stage = boot["stages"][boot["failed_stage"] - 1]
    print(f"stopped at stage {stage['number']} ({stage['actor']} -> {stage['target']}): {stage['reason']}")
    # 27 ends on the DHCP agent's reload for the port: a stopped agent never logs it
    assert boot["outcome"] == "boot-failed" and 27 <= boot["failed_stage"] <= 33, boot["failed_stage"]
    assert "neutron-dhcp-agent" in stage["reason"] or "lease" in boot["message"]
    assert boot["message"] and stage["reason"]
    assert f"stopped at stage {boot['failed_stage']}" in result["message"]
    stop_service_undo_then_check(leaks)


def stop_service_undo_then_check(leaks):
    """A server whose build waits on a stopped agent is deleted once its compute host runs
    the delete: the leak check waits for it (the finalizer starts the agent afterwards, and
    the suite's teardown checks again)."""
    left = leaks.left(30)
    if left:
        print(f"still there while the fault lasts (the fixture's teardown checks again): {left}")


def test_a_boot_that_never_gets_active_names_its_stage_and_last_line(
        leaks, stop_service, admin, probe, tmp_path, lab_secrets, hosts_file):
    """The spawn hang's shape (nova waits for the port): the L2 agent is stopped, so the
    port never goes up and nova-compute waits in spawn for network-vif-plugged."""
    stop_service("neutron-linuxbridge-agent")
    run = probe(*BOOT, "--timeout", "60")
    result = checked(run, tmp_path, lab_secrets, 1)
    (boot,) = result["boots"]
    assert boot["outcome"] == "boot-failed" and boot["failed_stage"], boot
    assert "when the timeout ran out" in boot["message"], boot["message"]
    assert boot["last_line"] and boot["last_line"]["host"] == HOST, boot.get("last_lines")
    stage = boot["stages"][boot["failed_stage"] - 1]
    print(f"stopped at stage {stage['number']}: {stage['reason']}")
    assert "last line before the client stopped" in stage["reason"]
    assert "last line seen for it" in run.out and "last line seen for it" in result["message"]
    # nova-compute's stack, asked while the build was stuck (its Guru Meditation report)
    (stack,) = result["stacks"]
    assert stack["threads"] or stack["error"], stack
    for thread in stack["threads"]:
        print("\n".join(thread))
    assert f"stack of nova-compute.service on {HOST}" in run.out
    # the whole report as journald has it, for the unit tests' fixture
    (tmp_path / "gmr.txt").write_text(on_host(
        hosts_file, "journalctl -u nova-compute.service --since -10min -o cat --no-pager "
        "| sed -n '/Guru Meditation/,$p' | tail -n 3000").stdout)
    stop_service_undo_then_check(leaks)


# --- RabbitMQ -------------------------------------------------------------------------------

@pytest.fixture
def rabbit_restart(hosts_file, admin, lab_healthy):
    """``rabbit_restart()`` restarts RabbitMQ; the finalizer waits for it and for every
    service to report again."""
    def restart():
        on_host(hosts_file, "systemctl restart rabbitmq-server")

    yield restart
    on_host(hosts_file, "systemctl is-active rabbitmq-server || systemctl start rabbitmq-server")
    wait_until("every service reporting after RabbitMQ's restart", lambda: lab_ready(admin), 300, 5)


def test_rabbitmq_restarted_during_a_boot(
        leaks, rabbit_restart, admin, probe, tmp_path, lab_secrets):
    run = probe(*BOOT, "--timeout", "180")
    run.wait_for("the server building", lambda: servers_of_runs(admin, "BUILD"), 300, 0.3)
    rabbit_restart()
    code = run.finish()
    assert code in (0, 1), run.err[-4000:]
    result = checked(run, tmp_path, lab_secrets, code)
    (boot,) = result["boots"]
    if code == 1:  # the boot did not survive the restart: where it stopped, and why
        stage = boot["stages"][boot["failed_stage"] - 1]
        print(f"stopped at stage {stage['number']}: {stage['reason']}")
        assert boot["message"] and stage["reason"] and boot["last_line"]
    else:
        assert len(observed(boot)) >= 45
    assert_stages_say_why(boot)
    leaks.left(180)
    leaks.check()


# --- Ctrl-C ---------------------------------------------------------------------------------

def _volume_made(admin, before):
    return [v for v in admin.block_storage.volumes(all_projects=True)
            if v.id not in before and (v.name or "").endswith("-blank-vol")]


MOMENTS = ("before-the-server", "during-build", "during-the-volume-attach", "during-collection",
           "during-analysis")


@pytest.mark.parametrize("moment", MOMENTS)
def test_ctrl_c_at_any_moment_exits_130_reports_interrupted_and_leaves_nothing(
        leaks, moment, admin, probe, tmp_path, lab_secrets, lab_healthy):
    volumes_before = {v.id for v in admin.block_storage.volumes(all_projects=True)}
    run = probe("--count", "2", "--volume-size", "1")
    if moment == "before-the-server":
        run.wait_for_line("launching")
    elif moment == "during-build":
        run.wait_for("the server building", lambda: servers_of_runs(admin, "BUILD"), 300, 0.2)
    elif moment == "during-the-volume-attach":
        run.wait_for("the boot's blank volume", lambda: _volume_made(admin, volumes_before), 300, 0.2)
    elif moment == "during-collection":
        run.wait_for_line("collecting the logs")
        time.sleep(0.5)
    else:
        run.wait_for_line("analysing")
    at = time.monotonic() - run.started
    run.ctrl_c()
    result = checked(run, tmp_path, lab_secrets, 130)
    print(f"Ctrl-C {at:.1f} s into the run ({moment}): {result['message']}")
    assert result["outcome"] == "interrupted" and "interrupted" in result["message"]
    assert not [b for b in result["boots"] if b["outcome"] == "boot-failed" or b["failed_stage"]]
    assert "failed at stage" not in run.out and "stopped at stage" not in run.out
    if moment in ("during-collection", "during-analysis"):
        assert result["interrupted_during"] in ("collection", "analysis")
        assert all(b["outcome"] == "ok" for b in result["boots"])  # the boots had ended
        assert all(s["reason"].startswith("the run was interrupted") for b in result["boots"]
                   for s in b["stages"])
    else:
        # the second boot never started (nor the first, when Ctrl-C came before it began)
        assert len(result["boots"]) == 1 or (moment == "before-the-server" and not result["boots"])
        for boot in result["boots"]:
            assert boot["outcome"] == "interrupted"
            if boot["interrupted_at"]:
                stage = boot["stages"][boot["interrupted_at"] - 1]
                assert "interrupted (Ctrl-C) before stage" in stage["reason"], stage
    assert not servers_of_runs(admin)
    leaks.check()


def test_ctrl_c_with_boots_in_parallel_stops_them_all_and_starts_no_other(
        leaks, admin, probe, tmp_path, lab_secrets, lab_healthy):
    """Ctrl-C reaches the main thread; the boots of the worker threads stop at their next
    poll. Before, the run went on with every queued boot, and Ctrl-C waited for them."""
    run = probe("--count", "4", "--concurrency", "2", "--volume-size", "1")
    run.wait_for("two servers building", lambda: len(servers_of_runs(admin)) >= 2, 300, 0.2)
    at = time.monotonic() - run.started
    run.ctrl_c()
    result = checked(run, tmp_path, lab_secrets, 130)
    print(f"Ctrl-C {at:.1f} s into the run, ended {run.seconds - at:.1f} s later: {result['message']}")
    assert result["outcome"] == "interrupted"
    assert len(result["boots"]) == 2 and all(b["outcome"] == "interrupted" for b in result["boots"])
    assert "failed at stage" not in run.out
    assert not servers_of_runs(admin)
    leaks.check()
