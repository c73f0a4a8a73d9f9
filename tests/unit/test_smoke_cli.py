"""``bootprobe smoke`` end to end: the real CLI and the real openstacksdk.

The cloud is either absent (a clouds.yaml without it, a closed port) or the
loopback fake in fakecloud.py, which speaks the OpenStack APIs over HTTP.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from fakecloud import (
    ACTIVE,
    ADMIN_PASS,
    BUILD,
    ERROR,
    SPAWNING,
    TOKEN,
    FakeCloud,
    Scenario,
    guest_console,
)
from probes.cli import main

REPO = Path(__file__).resolve().parents[2]
SECRETS = (TOKEN, ADMIN_PASS, "probe-SECRET-pw", "wrong-SECRET-pw")


@pytest.fixture(autouse=True)
def clean_os_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("OS_"):
            monkeypatch.delenv(name)


def run_cli(monkeypatch, capsys, clouds_yaml: Path, *args: str):
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml))
    code = main(["smoke", "--os-cloud", "fake", *args])
    out, err = capsys.readouterr()
    for secret in SECRETS:
        assert secret not in out + err
    return code, out, err


def fast(**kwargs) -> Scenario:
    """A scenario whose server is ACTIVE and done at the first look."""
    kwargs.setdefault("states", [ACTIVE])
    kwargs.setdefault("consoles", [guest_console])
    return Scenario(**kwargs)


# -- exit 2: configuration -----------------------------------------------------


def test_exit_2_when_the_cloud_is_not_in_clouds_yaml(tmp_path):
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n"
        "  bootlab-admin:\n"
        "    auth:\n"
        "      auth_url: http://127.0.0.1:9/v3\n"
        "      username: admin\n"
        "      password: probe-SECRET-pw\n"
        "      project_name: admin\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    proc = subprocess.run(
        [sys.executable, "-m", "probes", "smoke", "--os-cloud", "nosuch"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "cloud 'nosuch' is not in " + str(clouds) in proc.stderr
    assert "clouds there: bootlab-admin" in proc.stderr
    assert "next: pass --os-cloud" in proc.stderr
    assert "probe-SECRET-pw" not in proc.stdout + proc.stderr
    assert proc.stdout == ""


def test_exit_2_names_the_missing_image_and_creates_nothing(
    tmp_path, monkeypatch, capsys
):
    with FakeCloud(fast(images={})) as cloud:
        code, out, err = run_cli(monkeypatch, capsys, cloud.clouds_yaml(tmp_path))
    assert code == 2
    assert "image 'bootlab-guest' not found in cloud 'fake'" in err
    assert "openstack --os-cloud fake image list" in err
    assert cloud.calls("POST", "/compute/v2.1/servers") == []


def test_exit_2_for_a_flavor_named_on_the_command_line(tmp_path, monkeypatch, capsys):
    with FakeCloud(fast()) as cloud:
        code, _, err = run_cli(
            monkeypatch, capsys, cloud.clouds_yaml(tmp_path), "--flavor", "m1.huge"
        )
    assert code == 2
    assert "flavor 'm1.huge' not found" in err


# -- exit 3: the cloud cannot be reached ----------------------------------------


def test_exit_3_when_keystone_refuses_the_connection(tmp_path, monkeypatch, capsys):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  fake:\n    auth:\n"
        f"      auth_url: http://127.0.0.1:{port}/v3\n"
        "      username: probe\n      password: probe-SECRET-pw\n"
        "      project_name: probe\n      user_domain_name: Default\n"
        "      project_domain_name: Default\n"
    )
    code, out, err = run_cli(monkeypatch, capsys, clouds)
    assert code == 3
    assert f"could not reach Keystone at http://127.0.0.1:{port}/v3" in err
    assert "Connection refused" in err


def test_exit_3_when_authentication_fails(tmp_path, monkeypatch, capsys):
    with FakeCloud(fast()) as cloud:
        clouds = cloud.clouds_yaml(tmp_path, password="wrong-SECRET-pw")
        code, _, err = run_cli(monkeypatch, capsys, clouds)
    assert code == 3
    assert "authentication failed" in err
    assert "HTTP 401, request id req-" in err
    assert cloud.calls("POST", "/compute") == []


# -- exit 0: a good boot ------------------------------------------------------------


def test_exit_0_records_timings_states_and_request_ids(tmp_path, monkeypatch, capsys):
    scenario = Scenario(states=[BUILD, SPAWNING, ACTIVE], consoles=[guest_console])
    with FakeCloud(scenario) as cloud:
        code, out, _ = run_cli(
            monkeypatch, capsys, cloud.clouds_yaml(tmp_path), "--json"
        )
    result = json.loads(out)
    assert code == 0
    assert result["outcome"] == "ok" and result["exit_code"] == 0

    (server_id,) = cloud.servers
    assert result["server_id"] == server_id
    assert result["metadata_uuid"] == server_id and result["metadata_matches"]
    assert result["console"]["lease"]["ip"] == "10.20.0.57"

    # Each state change once, in order, stamped in UTC with microseconds.
    states = [(c["status"], c["task_state"]) for c in result["status_changes"]]
    assert states == [("BUILD", "scheduling"), ("BUILD", "spawning"), ("ACTIVE", None)]
    stamps = [datetime.fromisoformat(c["at"]) for c in result["status_changes"]]
    assert stamps == sorted(stamps)
    assert all(s.tzinfo == timezone.utc for s in stamps)
    assert all(
        len(c["at"]) == len("2026-11-26T07:01:02.123456+00:00")
        for c in result["status_changes"]
    )

    # The request id of Nova's answer to the create call is kept.
    create = [h for h in result["http"] if h["action"] == "create"]
    assert [h["method"] for h in create] == ["POST"]
    assert create[0]["request_id"] in cloud.request_ids
    assert (
        create[0]["request_id"]
        == cloud.request_ids[
            cloud.seen.index(cloud.calls("POST", "/compute/v2.1/servers")[0])
        ]
    )
    # Every SDK call carried the run's global request id.
    for seen in cloud.calls("GET", "/compute/v2.1/servers/"):
        assert seen.headers["x-openstack-request-id"] == result["global_request_id"]

    actions = [a["name"] for a in result["actions"]]
    assert actions == ["auth", "resolve", "create", "wait_active", "console", "delete"]
    assert all(a["ok"] for a in result["actions"])
    # Deleted, and confirmed gone.
    assert result["deleted"] is True
    assert cloud.servers[server_id]["deleted"]


def test_exit_0_human_summary(tmp_path, monkeypatch, capsys):
    with FakeCloud(fast()) as cloud:
        code, out, err = run_cli(monkeypatch, capsys, cloud.clouds_yaml(tmp_path))
    (server_id,) = cloud.servers
    assert code == 0
    assert out.startswith("bootprobe smoke: OK")
    assert f"{server_id}  bootprobe-smoke-" in out and "(deleted)" in out
    assert "lease        BOOTLAB-LEASE ip=10.20.0.57" in out
    assert f"metadata     uuid {server_id}: matches the server id" in out
    assert "create_server call" in out and "create -> ACTIVE" in out
    assert err == ""


# -- exit 1: the boot fails -----------------------------------------------------------


def test_exit_1_at_active_prints_the_fault_and_deletes(tmp_path, monkeypatch, capsys):
    fault = {
        "code": 500,
        "message": "No valid host was found. ",
        "created": "2026-11-26T07:01:05Z",
    }
    with FakeCloud(fast(states=[BUILD, ERROR], fault=fault)) as cloud:
        code, out, _ = run_cli(monkeypatch, capsys, cloud.clouds_yaml(tmp_path))
    (server,) = cloud.servers.values()
    assert code == 1
    assert (
        "FAILED at stage active: server went to ERROR: No valid host was found." in out
    )
    assert server["deleted"]


def test_exit_1_at_create_when_nova_refuses(tmp_path, monkeypatch, capsys):
    refusal = (
        403,
        {
            "forbidden": {
                "code": 403,
                "message": "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances",
            }
        },
    )
    with FakeCloud(fast(create_error=refusal)) as cloud:
        code, out, _ = run_cli(
            monkeypatch, capsys, cloud.clouds_yaml(tmp_path), "--json"
        )
    result = json.loads(out)
    assert code == 1
    assert result["failed_stage"] == "create"
    assert "HTTP 403, request id req-" in result["message"]
    assert "Quota exceeded" in result["message"]
    assert cloud.calls("DELETE", "/compute") == []


def test_exit_1_at_active_on_timeout(tmp_path, monkeypatch, capsys):
    with FakeCloud(fast(states=[BUILD])) as cloud:
        code, out, _ = run_cli(
            monkeypatch,
            capsys,
            cloud.clouds_yaml(tmp_path),
            "--timeout",
            "1.5",
            "--json",
        )
    result = json.loads(out)
    assert code == 1
    assert result["failed_stage"] == "active"
    assert "still BUILD" in result["message"]
    assert result["deleted"]


def test_exit_1_at_lease_when_dhcp_failed(tmp_path, monkeypatch, capsys):
    console = lambda sid: guest_console(sid, lease=False)  # noqa: E731
    with FakeCloud(fast(consoles=[console])) as cloud:
        code, out, _ = run_cli(monkeypatch, capsys, cloud.clouds_yaml(tmp_path))
    assert code == 1
    assert "FAILED at stage lease: the guest's DHCP client got no lease" in out
    assert all(s["deleted"] for s in cloud.servers.values())


def test_exit_1_at_metadata_when_the_uuid_is_another_servers(
    tmp_path, monkeypatch, capsys
):
    other = "00000000-1111-2222-3333-444444444444"
    with FakeCloud(fast(consoles=[lambda sid: guest_console(other)])) as cloud:
        code, out, _ = run_cli(monkeypatch, capsys, cloud.clouds_yaml(tmp_path))
    (server_id,) = cloud.servers
    assert code == 1
    assert (
        f"FAILED at stage metadata: meta_data.json has {other}, not this server's id {server_id}"
        in out
    )


def test_exit_1_at_metadata_when_the_guest_could_not_fetch_it(
    tmp_path, monkeypatch, capsys
):
    console = lambda sid: guest_console(sid, metadata=False)  # noqa: E731
    with FakeCloud(fast(consoles=[console])) as cloud:
        code, out, _ = run_cli(monkeypatch, capsys, cloud.clouds_yaml(tmp_path))
    assert code == 1
    assert "FAILED at stage metadata: the guest could not fetch meta_data.json" in out


def test_keep_leaves_the_server_and_says_how_to_delete_it(
    tmp_path, monkeypatch, capsys
):
    with FakeCloud(fast()) as cloud:
        code, out, _ = run_cli(
            monkeypatch, capsys, cloud.clouds_yaml(tmp_path), "--keep"
        )
    (server_id,) = cloud.servers
    assert code == 0
    assert cloud.calls("DELETE", "/compute") == []
    assert f"openstack --os-cloud fake server delete {server_id}" in out


def test_ctrl_c_while_booting_still_deletes_the_server(tmp_path):
    with FakeCloud(fast(states=[BUILD])) as cloud:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["OS_CLIENT_CONFIG_FILE"] = str(cloud.clouds_yaml(tmp_path))
        proc = subprocess.Popen(
            [sys.executable, "-m", "probes", "smoke", "--os-cloud", "fake"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not cloud.calls("GET", "/compute/v2.1/servers/"):
                assert time.monotonic() < deadline, "the server was never polled"
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    (server,) = cloud.servers.values()
    assert proc.returncode == 130, err
    assert server["deleted"]
    assert out.startswith("bootprobe smoke: interrupted")
    assert "(deleted)" in out
