"""A throw-away OpenSSH server for the tests that go through a real SSH connection.

``Sshd(folder)`` starts Debian's ``/usr/sbin/sshd`` (package openssh-server) in the
foreground on 127.0.0.1 and a free port, with a host key and a client key generated in
``folder``, the client's public key as the only authorized key, and SFTP by the server's
own ``internal-sftp``.  ``known_hosts`` (in ``folder``) holds the server's key as
``[127.0.0.1]:PORT``, so a client verifying host keys (paramiko's RejectPolicy) accepts it
and no other.  The server runs as the user running the tests (root here: sshd drops to the
user who logs in).  Stop it with ``stop()`` or use it as a context manager.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

import pytest

SSHD = Path("/usr/sbin/sshd")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def keygen(path: Path) -> Path:
    """An ed25519 key pair at ``path`` (and ``path``.pub), no passphrase."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bootlab-test", "-f", str(path)],
                   check=True, capture_output=True)
    return path


class Sshd:
    """One sshd on 127.0.0.1 for the tests of one module (see the module's docstring)."""

    def __init__(self, folder: Path) -> None:
        if not SSHD.is_file() or shutil.which("ssh-keygen") is None:
            pytest.fail(f"{SSHD} or ssh-keygen is missing: install openssh-server "
                        "(scripts/install-deps.sh does)")
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.host_key = keygen(folder / "host_ed25519")
        self.client_key = keygen(folder / "client_ed25519")
        (folder / "authorized_keys").write_text((folder / "client_ed25519.pub").read_text())
        self.port = free_port()
        self.user = getpass.getuser()
        config = folder / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile {folder / 'sshd.pid'}\n"
            "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n"
            "Subsystem sftp internal-sftp\nLogLevel ERROR\n")
        self.known_hosts = folder / "known_hosts"
        key_type, key = (folder / "host_ed25519.pub").read_text().split()[:2]
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {key_type} {key}\n")
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
        self.log = folder / "sshd.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)],
                                            stdout=subprocess.DEVNULL, stderr=log)
        self._wait()

    def _wait(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    if conn.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"sshd did not answer on port {self.port} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
