#!/usr/bin/env python3
"""Inject (and revert) a real slowdown into a lab host: a delay in front of a TCP service.

    scripts/slowdown.py inject --host bootlab1 --port 8775 --delay 2    # nova-api-metadata
    scripts/slowdown.py revert --host bootlab1
    scripts/slowdown.py status --host bootlab1

On the lab host, a small proxy (a transient systemd unit `bootlab-slowdown`, running as
`nobody`) accepts each connection, waits --delay seconds, then relays it to the service;
an nftables rule (table `ip bootlab_slowdown`; an iptables chain of that name where
there is no `nft`) redirects the host's own new connections to
ADDRESS:PORT to the proxy, except the proxy's own. Nothing of the lab is reconfigured or
restarted: `revert` deletes the table and stops the unit. Used by the nightly's end-to-end
test (tests/nightly) to prove the gate catches a slowdown and names its stage.

The host is reached over SSH with the probe's hosts file (the lab's key, host keys verified).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

import labssh  # scripts/ is on sys.path when a script runs

UNIT = "bootlab-slowdown"
TABLE = "bootlab_slowdown"
PROXY_PORT = 18775

PROXY = r'''
import asyncio, sys
listen_port, host, port, delay = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])

async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()

async def handle(client_reader, client_writer):
    await asyncio.sleep(delay)
    try:
        server_reader, server_writer = await asyncio.open_connection(host, port)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()

asyncio.run(main())
'''


def ssh_command(hosts_file: Path, name: str) -> list[str]:
    return labssh.ssh_command(hosts_file, name, "slowdown")


def address_of(hosts_file: Path, name: str) -> str:
    data = yaml.safe_load(hosts_file.read_text())
    return next(str(h["address"]) for h in data["hosts"] if h["name"] == name)


def remote(ssh: list[str], script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*ssh, "bash", "-s"], input=script, capture_output=True, text=True, timeout=120,
                          check=False)
    if check and proc.returncode != 0:
        raise SystemExit(f"slowdown: the lab host said (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


def inject_script(address: str, port: int, delay: float) -> str:
    rule = (f"table ip {TABLE} {{\n  chain output {{\n    type nat hook output priority -100;\n"
            f"    ip daddr {address} tcp dport {port} meta skuid != 65534 redirect to :{PROXY_PORT}\n  }}\n}}")
    return f"""set -e
mkdir -p /run/{UNIT}
cat > /run/{UNIT}/proxy.py <<'PROXY'
{PROXY}
PROXY
chmod 0644 /run/{UNIT}/proxy.py
systemctl stop {UNIT}.service 2>/dev/null || true
systemctl reset-failed {UNIT}.service 2>/dev/null || true
systemd-run --quiet --unit={UNIT} --uid=65534 --gid=65534 --property=Restart=no \\
    /usr/bin/python3 /run/{UNIT}/proxy.py {PROXY_PORT} {shlex.quote(address)} {port} {delay}
for i in $(seq 50); do ss -ltn | grep -q '127.0.0.1:{PROXY_PORT} ' && break; sleep 0.1; done
ss -ltn | grep -q '127.0.0.1:{PROXY_PORT} ' || {{ journalctl -u {UNIT} -n 20 --no-pager; exit 1; }}
if command -v nft >/dev/null; then
nft delete table ip {TABLE} 2>/dev/null || true
nft -f - <<'NFT'
{rule}
NFT
else
iptables -t nat -N {TABLE} 2>/dev/null || iptables -t nat -F {TABLE}
iptables -t nat -A {TABLE} -p tcp -d {address} --dport {port} -m owner ! --uid-owner 65534 \
    -j REDIRECT --to-ports {PROXY_PORT}
iptables -t nat -C OUTPUT -j {TABLE} 2>/dev/null || iptables -t nat -I OUTPUT 1 -j {TABLE}
fi
echo "delaying new connections to {address}:{port} by {delay} s"
"""


REVERT = f"""if command -v nft >/dev/null; then
  nft delete table ip {TABLE} 2>/dev/null && echo "rule deleted" || echo "no rule"
else
  iptables -t nat -D OUTPUT -j {TABLE} 2>/dev/null && echo "rule deleted" || echo "no rule"
  iptables -t nat -F {TABLE} 2>/dev/null; iptables -t nat -X {TABLE} 2>/dev/null || true
fi
systemctl stop {UNIT}.service 2>/dev/null && echo "proxy stopped" || echo "no proxy"
systemctl reset-failed {UNIT}.service 2>/dev/null || true
rm -rf /run/{UNIT}
"""

STATUS = f"""if command -v nft >/dev/null; then nft list table ip {TABLE} 2>/dev/null || echo "no rule"
else iptables -t nat -S {TABLE} 2>/dev/null | grep REDIRECT || echo "no rule"; fi
systemctl is-active {UNIT}.service || true
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("inject", "revert", "status"))
    parser.add_argument("--hosts", type=Path,
                        default=Path.home() / ".local/state/bootlab/local/bootprobe-hosts.yml",
                        help="the probe's hosts file (default: %(default)s)")
    parser.add_argument("--host", default="bootlab1", help="lab host (default: %(default)s)")
    parser.add_argument("--address", default=None, help="service address (default: the host's address)")
    parser.add_argument("--port", type=int, default=8775, help="service port (default: %(default)s, "
                        "nova-api-metadata)")
    parser.add_argument("--delay", type=float, default=2.0, help="seconds per connection (default: %(default)s)")
    args = parser.parse_args(argv)
    ssh = ssh_command(args.hosts, args.host)
    if args.action == "inject":
        address = args.address or address_of(args.hosts, args.host)
        print(remote(ssh, inject_script(address, args.port, args.delay)).stdout, end="")
    elif args.action == "revert":
        print(remote(ssh, REVERT, check=False).stdout, end="")
    else:
        print(remote(ssh, STATUS, check=False).stdout, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
