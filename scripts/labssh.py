"""The ssh command line of one lab host, from bootprobe's hosts file (its key and
known_hosts, host keys verified): shared by the scripts that act on a lab host."""
from __future__ import annotations

from pathlib import Path

import yaml


def ssh_command(hosts_file: Path, name: str, tool: str) -> list[str]:
    data = yaml.safe_load(hosts_file.read_text())
    for host in data["hosts"]:
        if host["name"] == name:
            command = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
                       "-p", str(host.get("port", 22))]
            if host.get("key_file"):
                command += ["-i", host["key_file"]]
            if host.get("known_hosts"):
                command += ["-o", f"UserKnownHostsFile={host['known_hosts']}"]
            return [*command, f"{host.get('user', 'root')}@{host['address']}"]
    raise SystemExit(f"{tool}: {name} is not in {hosts_file}")
