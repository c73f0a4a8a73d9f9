"""``bootprobe analyze``: the result of a log folder alone, away from the cloud and the lab
(a folder ``bootprobe collect`` wrote, a ``bootprobe run``'s logs, a var/log tree or a
sosreport copied off a deployment)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from probes.analyze import analyze
from probes.boots import read_boots
from probes.catalog import load_catalog
from probes.errors import ConfigError, ProbeError
from probes.records import BootInput, Result


def analyze_folder(logdir: Path, app_version: str, instances: Sequence[str] = (),
                   since: datetime | None = None, until: datetime | None = None,
                   clock_offsets: bool = True) -> Result:
    """The result of the boots in ``logdir``: those of ``instances`` (server ids) when
    given, else those of its boots.json, else every boot nova-compute started within
    ``since``/``until``; its outcome and exit code are those of its boots.

    Raises ConfigError when ``logdir`` is not a folder, ProbeError (exit 1) when it holds
    no boot.
    """
    if not logdir.is_dir():
        raise ConfigError(f"{logdir} is not a folder",
                          "pass the folder holding the logs (any layout: bootprobe collect's, "
                          "a var/log tree, a sosreport, a journald export)")
    if instances:
        boots: list[BootInput] | None = [BootInput(index=i, server_id=u)
                                         for i, u in enumerate(instances)]
    else:
        boots = read_boots(logdir) or None  # None: every boot nova-compute started
    result = analyze(logdir, boots, load_catalog(), since, until, clock_offsets)
    if not result["boots"]:
        raise ProbeError(f"no boot found in {logdir}",
                         "pass --instance UUID, or widen --since/--until")
    failed = [b for b in result["boots"] if b["outcome"] != "ok"]
    result.update({"tool_version": app_version, "outcome": "boot-failed" if failed else "ok",
                   "exit_code": 1 if failed else 0,
                   "options": {"logdir": str(logdir), "clock_offsets": clock_offsets}})
    return result
