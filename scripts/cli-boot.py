#!/usr/bin/env python3
"""Boot one instance the way a user would, with the plain `openstack` CLI, then
collect the lab's logs and analyse them from the logs alone (no client record).

    scripts/cli-boot.py OUT_FOLDER [-i inventory/local] [--cold] [--volume-size 1]

On the controller (over SSH with the lab's key and verified host key) it runs
`openstack server create --wait` with the lab's cloud `bootlab` (no request id
set by the client, as the CLI does), waits for the probe guest's metadata on
the console, and deletes the server (and with --cold the image copy it booted).
On this machine it then runs `bootprobe collect --since/--until` and
`bootprobe analyze` of that folder.  OUT_FOLDER gets `boot.json` (server id,
window), `logs/` and `result.json`.  Exit 0 when the boot reached its metadata.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# Runs on the controller: root's clouds.yaml there has the lab's clouds.
REMOTE = r"""
set -euo pipefail
export OS_CLOUD=bootlab
name={name}; image={image}; cold={cold}; size={size}
log() {{ echo "$(date -u +%FT%T.%6NZ) $*"; }}
if [ "$cold" = 1 ]; then
  src=$(openstack image show -f value -c id "$image")
  props=$(openstack image show -f json -c properties "$image" | python3 -c '
import json,sys; p=json.load(sys.stdin)["properties"]
print(" ".join("--property %s=%s" % (k, p[k]) for k in ("kernel_id","ramdisk_id") if k in p))')
  fmt=$(openstack image show -f value -c disk_format "$image")
  cfmt=$(openstack image show -f value -c container_format "$image")
  openstack image save --file /tmp/$name.img "$src"
  image=$(openstack image create -f value -c id --disk-format "$fmt" --container-format "$cfmt" \
          $props --private --file /tmp/$name.img "$name-image")
  rm -f /tmp/$name.img
  log "IMAGE $image"
fi
bdm=()
if [ "$size" -gt 0 ]; then
  bdm=(--block-device "source_type=blank,destination_type=volume,volume_size=$size,delete_on_termination=true")
fi
log "CREATE"
openstack server create -f value -c id --image "$image" --flavor {flavor} --network {network} \
  "${{bdm[@]}}" --wait "$name" >/dev/null || log "CREATE-FAILED"
server=$(openstack server show -f value -c id "$name")
log "SERVER $server"
status=$(openstack server show -f value -c status "$name")
log "STATUS $status"
if [ "$status" = ACTIVE ]; then
  for i in $(seq 1 90); do
    if openstack console log show "$server" 2>/dev/null | grep -q BOOTLAB-READY; then log "METADATA"; break; fi
    sleep 2
  done
fi
"""

CLEANUP = r"""
export OS_CLOUD=bootlab
openstack server delete --wait {name} >/dev/null 2>&1 || true
for id in $(openstack image list -f value -c ID --name {name}-image); do openstack image delete "$id"; done
"""


def _ssh_args(hosts_file: Path) -> tuple[list[str], str]:
    import yaml

    host = yaml.safe_load(hosts_file.read_text())["hosts"][0]
    args = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={host['known_hosts']}", "-i", host["key_file"],
            "-p", str(host.get("port", 22))]
    return args, f"{host.get('user', 'root')}@{host['address']}"


def _labvar(inventory: str, name: str) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "scripts/labvar.py"), "-i", inventory, name],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.strip()


def _remote(ssh: list[str], target: str, script: str, timeout: float) -> str:
    proc = subprocess.run([*ssh, target, "bash -s"], input=script, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"on the controller: exit {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def _events(text: str) -> dict[str, tuple[datetime, str]]:
    events = {}
    for line in text.splitlines():
        stamp, _, rest = line.partition(" ")
        word, _, value = rest.partition(" ")
        try:
            events[word] = (datetime.fromisoformat(stamp.replace("Z", "+00:00")), value.strip())
        except ValueError:
            continue
    return events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("-i", "--inventory", default="inventory/local")
    parser.add_argument("--cold", action="store_true", help="boot a fresh copy of the image")
    parser.add_argument("--volume-size", type=int, default=1)
    parser.add_argument("--image", default="bootlab-guest")
    parser.add_argument("--flavor", default="bootlab.tiny")
    parser.add_argument("--network", default="bootlab-net")
    args = parser.parse_args()
    hosts_file = Path(_labvar(args.inventory, "bootlab_probe_hosts_file"))
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": _labvar(args.inventory, "bootlab_clouds_yaml")}
    ssh, target = _ssh_args(hosts_file)
    name = f"cli-boot-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    args.out.mkdir(parents=True, exist_ok=True)
    since = datetime.now(timezone.utc) - timedelta(seconds=5)
    script = REMOTE.format(name=shlex.quote(name), image=shlex.quote(args.image),
                           cold=int(args.cold), size=args.volume_size,
                           flavor=shlex.quote(args.flavor), network=shlex.quote(args.network))
    try:
        events = _events(_remote(ssh, target, script, timeout=600))
    finally:
        time.sleep(2)  # the last log lines of the boot reach their files
        until = datetime.now(timezone.utc)
        _remote(ssh, target, CLEANUP.format(name=shlex.quote(name)), timeout=300)
    server = events.get("SERVER", (None, None))[1]
    record = {"server_id": server, "name": name, "since": since.isoformat(),
              "until": until.isoformat(), "status": events.get("STATUS", (None, None))[1],
              "metadata_seen": "METADATA" in events, "cold": args.cold,
              "volume_size": args.volume_size}
    (args.out / "boot.json").write_text(json.dumps(record, indent=2) + "\n")
    logs = args.out / "logs"
    subprocess.run([str(BIN / "bootprobe"), "collect", "--hosts", str(hosts_file), "--since",
                    since.isoformat(), "--until", until.isoformat(), "--output", str(logs)],
                   check=False, env=env)
    subprocess.run([str(BIN / "bootprobe"), "analyze", str(logs), "--instance", str(server),
                    "--output", str(args.out / "result.json")], check=False, env=env)
    print(json.dumps(record))
    return 0 if record["metadata_seen"] else 1


if __name__ == "__main__":
    sys.exit(main())
