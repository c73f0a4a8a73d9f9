"""Read the Ceph cluster map and health with Debian's python3-rados.

Collecting only: one connection as a read-only cephx user (client.bootprobe,
mon 'allow r'), three monitor commands, a typed snapshot. Nothing here parses
logs or touches OpenStack.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from probes.errors import CloudUnreachable, ConfigError

BINDINGS_HINT = (
    "install Debian's python3-rados (apt-get install python3-rados) and run bootprobe "
    "from a virtualenv made with --system-site-packages from /usr/bin/python3 "
    "(`make deps` does both)"
)


@dataclass(frozen=True)
class MonitorInfo:
    name: str
    addresses: list[str]


@dataclass(frozen=True)
class ClusterState:
    """What the monitors said at ``collected_at`` (UTC)."""

    collected_at: datetime
    fsid: str
    mon_epoch: int
    monitors: list[MonitorInfo]
    osd_epoch: int
    num_osds: int
    num_up_osds: int
    num_in_osds: int
    health: str
    checks: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "collected_at": self.collected_at.isoformat(timespec="microseconds"),
            "fsid": self.fsid,
            "mon_epoch": self.mon_epoch,
            "monitors": [{"name": m.name, "addresses": m.addresses} for m in self.monitors],
            "osd_epoch": self.osd_epoch,
            "num_osds": self.num_osds,
            "num_up_osds": self.num_up_osds,
            "num_in_osds": self.num_in_osds,
            "health": self.health,
            "checks": self.checks,
        }


def import_rados() -> Any:
    """The rados module, or a ConfigError that says how to get it."""
    try:
        import rados  # Debian's python3-rados; not on PyPI
    except ImportError as exc:
        raise ConfigError(
            f"the Ceph bindings (python3-rados) are not importable by {sys.executable}",
            hint=BINDINGS_HINT,
        ) from exc
    return rados


def read_cluster(conffile: Path, keyring: Path, name: str = "client.bootprobe",
                 timeout_s: int = 10) -> ClusterState:
    """Connect, read mon map, OSD map summary and health, disconnect."""
    for path, what in ((conffile, "ceph.conf"), (keyring, "keyring")):
        if not Path(path).is_file():
            raise ConfigError(f"{what} not found at {path}",
                              hint="deploy the lab with Ceph (make deploy) or pass --conf/--keyring")
    rados = import_rados()
    cluster = rados.Rados(conffile=str(conffile), name=name,
                          conf={"keyring": str(keyring), "client_mount_timeout": str(timeout_s),
                                "rados_mon_op_timeout": str(timeout_s)})
    try:
        cluster.connect(timeout=timeout_s)
    except rados.Error as exc:
        raise CloudUnreachable(f"could not reach the Ceph monitors as {name}: {exc}",
                               hint=f"check mon_host in {conffile} and that the lab host is up") from exc
    try:
        collected_at = datetime.now(timezone.utc)
        mon = _mon_command(cluster, "mon dump")
        osd = _mon_command(cluster, "osd stat")
        health = _mon_command(cluster, "health")
    finally:
        cluster.shutdown()
    return cluster_state(collected_at, mon, osd, health)


def _mon_command(cluster: Any, prefix: str) -> dict[str, Any]:
    ret, out, err = cluster.mon_command(json.dumps({"prefix": prefix, "format": "json"}), b"")
    if ret != 0:
        raise CloudUnreachable(f"ceph {prefix} failed ({ret}): {err}")
    return json.loads(out)


def cluster_state(collected_at: datetime, mon: dict[str, Any], osd: dict[str, Any],
                  health: dict[str, Any]) -> ClusterState:
    """A ClusterState from the JSON of `mon dump`, `osd stat` and `health`."""
    osdmap = osd.get("osdmap", osd)  # `osd stat` nests it in some releases
    monitors = [
        MonitorInfo(m["name"], [a["addr"] for a in m.get("public_addrs", {}).get("addrvec", [])]
                    or [m.get("addr", "")])
        for m in mon.get("mons", [])
    ]
    return ClusterState(
        collected_at=collected_at,
        fsid=mon["fsid"],
        mon_epoch=int(mon["epoch"]),
        monitors=monitors,
        osd_epoch=int(osdmap["epoch"]),
        num_osds=int(osdmap["num_osds"]),
        num_up_osds=int(osdmap["num_up_osds"]),
        num_in_osds=int(osdmap["num_in_osds"]),
        health=health["status"],
        checks={code: check["summary"]["message"] for code, check in health.get("checks", {}).items()},
    )


def render_cluster(state: ClusterState) -> str:
    lines = [
        f"ceph cluster {state.fsid}: {state.health}",
        f"  collected   {state.collected_at.isoformat(timespec='microseconds')}",
        f"  monmap      epoch {state.mon_epoch}: "
        + ", ".join(f"{m.name} {' '.join(m.addresses)}" for m in state.monitors),
        f"  osdmap      epoch {state.osd_epoch}: {state.num_osds} osds, "
        f"{state.num_up_osds} up, {state.num_in_osds} in",
    ]
    lines += [f"  {code:<11} {message}" for code, message in state.checks.items()]
    return "\n".join(lines)
