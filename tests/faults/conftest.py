"""The fault suite's lab fixtures (`make e2e-faults`): the lab, its admin connection, the
resources counted before and after each case, bootprobe runs followed line by line (to act
at a moment of the run), and the faults themselves, each undone by its fixture's finalizer
even when the test fails.

Every bootprobe here is this tree's (``python -m probes`` from the tree, PYTHONPATH set).
"""
from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import openstack
import pytest
import yaml

import labssh  # scripts/ (pyproject.toml: pytest's pythonpath)
from tests.support import labtests
from tests.support.labtests import INVENTORY, ROOT, assert_no_secret, lab_environment, labvar  # noqa: F401

HOST = os.environ.get("BOOTLAB_FAULT_HOST", "bootlab1")  # the one-host lab: every service here

# The session fixture, for this folder's tests (a fixture parameter of that name is no redefinition).
clouds_yaml = labtests.clouds_yaml


@pytest.fixture(scope="session")
def lab_env(clouds_yaml):
    return {**lab_environment(clouds_yaml), "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="session")
def hosts_file() -> pathlib.Path:
    return pathlib.Path(labvar("bootlab_probe_hosts_file"))


@pytest.fixture(scope="session")
def admin(clouds_yaml):
    config = openstack.config.OpenStackConfig(config_files=[clouds_yaml])
    conn = openstack.connection.Connection(config=config.get_one(cloud="bootlab-admin"))
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def lab_secrets():
    folder = pathlib.Path(labvar("bootlab_state_dir")) / "secrets"
    return [p.read_text().strip() for p in folder.iterdir() if len(p.read_text().strip()) >= 8]


# --- the lab host -------------------------------------------------------------------------

def on_host(hosts_file: pathlib.Path, command: str, timeout: float = 300,
            check: bool = True) -> subprocess.CompletedProcess:
    """Run a shell command on the lab host (root, over SSH with the probe's key)."""
    proc = subprocess.run([*labssh.ssh_command(hosts_file, HOST, "faults"), command],
                          capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"on {HOST}: {command!r} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


def wait_until(what: str, condition: Callable[[], object], timeout: float, interval: float = 2.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        got = condition()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


def compute_up(admin) -> bool:
    services = [s for s in admin.compute.services() if s.binary == "nova-compute"]
    return bool(services) and all(s.state == "up" and s.status == "enabled" for s in services)


def agents_alive(admin) -> bool:
    agents = list(admin.network.agents())
    return bool(agents) and all(a.is_alive for a in agents)


def lab_ready(admin) -> bool:
    return compute_up(admin) and agents_alive(admin)


# --- what a run may leave behind ----------------------------------------------------------

@dataclass
class Inventory:
    """The lab's servers, volumes, ports, floating IPs and the run's images, by id."""

    items: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (kind, name/status)

    @classmethod
    def take(cls, admin) -> "Inventory":
        items: dict[str, tuple[str, str]] = {}
        for s in admin.compute.servers(all_projects=True):
            items[s.id] = ("server", f"{s.name} {s.status}")
        for v in admin.block_storage.volumes(all_projects=True):
            items[v.id] = ("volume", f"{v.name} {v.status}")
        for p in admin.network.ports():
            if p.device_owner != "network:dhcp":  # the DHCP agent's own port, re-made with it
                items[p.id] = ("port", f"{p.device_owner} {p.device_id} {p.status}")
        try:  # a lab without the L3 extension has no floating IPs to leak
            for ip in admin.network.ips():
                items[ip.id] = ("floating ip", f"{ip.floating_ip_address} {ip.status}")
        except openstack.exceptions.NotFoundException:
            pass
        for i in admin.image.images():
            if (i.name or "").startswith("bootprobe-run-"):
                items[i.id] = ("image", i.name)
        return cls(items)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for kind, _ in self.items.values():
            out[kind] = out.get(kind, 0) + 1
        return out

    def new_since(self, before: "Inventory") -> list[str]:
        return [f"{kind} {key} ({what})" for key, (kind, what) in self.items.items()
                if key not in before.items]


class Leaks:
    """The lab's resources counted before a case; ``check()`` after it."""

    def __init__(self, admin) -> None:
        self.admin = admin
        self.before = Inventory.take(admin)

    def left(self, settle_s: float = 120.0) -> list[str]:
        """What the case left, once deletions in progress had ``settle_s`` to finish."""
        deadline = time.monotonic() + settle_s
        while True:
            left = Inventory.take(self.admin).new_since(self.before)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(3)

    def check(self, settle_s: float = 120.0) -> dict[str, int]:
        left = self.left(settle_s)
        assert left == [], f"left behind: {left}"
        after = Inventory.take(self.admin).counts()
        print(f"counted before {self.before.counts()} after {after}")
        return after


@pytest.fixture
def leaks(admin):
    """Counts before the case; after it (its faults undone first: this fixture is set up
    before them) deletes whatever the case left, so the next case starts clean, and fails
    the case's teardown if anything was left."""
    counted = Leaks(admin)
    yield counted
    left = counted.left(180)
    for line in left:
        kind, key = line.split(" (")[0].rsplit(" ", 1)
        try:
            if kind == "server":
                admin.compute.delete_server(key, force=True)
            elif kind == "volume":
                admin.block_storage.delete_volume(key, force=True)
            elif kind == "port":
                admin.network.delete_port(key)
            elif kind == "floating ip":
                admin.network.delete_ip(key)
            elif kind == "image":
                admin.image.delete_image(key)
        except Exception as exc:  # noqa: BLE001 - say it, go on
            print(f"could not delete {line}: {exc}")
    assert left == [], f"the case left behind (deleted now by the suite): {left}"


# --- a bootprobe run, followed as it goes --------------------------------------------------

class Probe:
    """``bootprobe ARGS`` started as a terminal would (SIGINT at its default), its stderr
    (progress lines) followed line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "probes", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.err_lines: list[str] = []
        self.out = ""
        self._changed = threading.Condition()
        self._threads = [threading.Thread(target=self._read_err, daemon=True),
                         threading.Thread(target=self._read_out, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            with self._changed:
                self.err_lines.append(line)
                self._changed.notify_all()

    def _read_out(self) -> None:
        self.out = self.proc.stdout.read()

    @property
    def err(self) -> str:
        return "".join(self.err_lines)

    def wait_for_line(self, text: str, timeout: float = 600) -> float:
        """Wait until a progress line holds ``text``; the seconds since the start."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in line for line in self.err_lines):
                assert self.proc.poll() is None or self._threads[0].is_alive(), \
                    f"bootprobe ended before '{text}': {self.err[-3000:]}"
                left = deadline - time.monotonic()
                assert left > 0, f"no '{text}' within {timeout} s: {self.err[-3000:]}"
                self._changed.wait(min(left, 0.5))
        return time.monotonic() - self.started

    def wait_for(self, what: str, condition: Callable[[], object], timeout: float = 300,
                 interval: float = 0.3) -> float:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"bootprobe ended before {what}: {self.err[-3000:]}"
            assert time.monotonic() < deadline, f"{what} never happened: {self.err[-3000:]}"
            time.sleep(interval)
        return time.monotonic() - self.started

    def ctrl_c(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def finish(self, timeout: float = 900) -> int:
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        for thread in self._threads:
            thread.join(10)
        self.seconds = time.monotonic() - self.started
        return self.proc.returncode


@pytest.fixture
def probe(lab_env, hosts_file, tmp_path) -> Iterator[Callable[..., Probe]]:
    """Start ``bootprobe run`` with the lab's hosts file (unless given) into tmp_path/run."""
    started: list[Probe] = []

    def start(*args: str, hosts: pathlib.Path | None = None) -> Probe:
        run = Probe(["run", "--hosts", str(hosts or hosts_file), "--output", str(tmp_path / "run"),
                     *args], lab_env)
        started.append(run)
        return run

    yield start
    for run in started:  # a failed assertion mid-run: the run still deletes what it made
        if run.proc.poll() is None:
            run.ctrl_c()
            try:
                run.proc.wait(300)
            except subprocess.TimeoutExpired:
                run.proc.kill()


def result_of(tmp_path: pathlib.Path) -> dict:
    return json.loads((tmp_path / "run" / "result.json").read_text())


# --- faults (each undone by its finalizer) -------------------------------------------------

@pytest.fixture
def lab_healthy(admin):
    """The lab as a case must find it: every compute service up, every agent alive."""
    wait_until("nova-compute up and every neutron agent alive", lambda: lab_ready(admin), 300, 5)


@pytest.fixture
def stop_service(hosts_file, admin, lab_healthy):
    """``stop_service(unit)`` stops a lab service; the finalizer starts it again and waits
    until the cloud sees it (compute service up, agents alive)."""
    stopped: list[str] = []

    def stop(unit: str) -> None:
        stopped.append(unit)
        on_host(hosts_file, f"systemctl stop {unit}")

    yield stop
    for unit in stopped:
        on_host(hosts_file, f"systemctl reset-failed {unit} 2>/dev/null; systemctl start {unit}")
    if stopped:
        wait_until(f"{', '.join(stopped)} back", lambda: lab_ready(admin), 300, 5)


class SshRelay:
    """A TCP relay on 127.0.0.1 to the lab host's SSH port: the probe reaches the host
    through it until ``cut()``, which drops every open connection and refuses new ones
    (the host becomes unreachable in the middle of whatever the probe was doing)."""

    def __init__(self, address: str, port: int) -> None:
        self.target = (address, port)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._open: list[socket.socket] = []
        self._cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._cut.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                return
            upstream = socket.create_connection(self.target, timeout=10)
            upstream.settimeout(None)
            self.connections += 1
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self._cut.set()
        self.listener.close()
        for s in self._open:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


@pytest.fixture
def relayed_hosts(hosts_file, tmp_path):
    """(hosts file reaching the lab host through an SshRelay, the relay); its known_hosts
    names the relay's address with the host's own keys (host keys still verified)."""
    hosts = yaml.safe_load(hosts_file.read_text())
    (entry,) = [h for h in hosts["hosts"] if h["name"] == HOST]
    relay = SshRelay(entry["address"], int(entry.get("port", 22)))
    known = tmp_path / "known_hosts"
    lines = [line.split() for line in pathlib.Path(entry["known_hosts"]).read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    names = {entry["address"], f"[{entry['address']}]:{entry.get('port', 22)}"}
    keys = [line[1:3] for line in lines if names & set(line[0].split(","))] or [line[1:3] for line in lines]
    known.write_text("".join(f"[127.0.0.1]:{relay.port} {kind} {key}\n" for kind, key in keys))
    hosts["hosts"] = [{**entry, "address": "127.0.0.1", "port": relay.port, "known_hosts": str(known)}]
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(hosts))
    yield path, relay
    relay.cut()
