"""Nights made from the recorded lab run (tests/fixtures/run-lab-20261126.json, three
cold boots of the lab analysed from its logs): the same boots, their stages' durations
moved as a slowdown would move them, and the summary computed again."""
from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from probes.summary import summarize
from tests.support import FIXTURES

FIXTURE = FIXTURES / "run-lab-20261126.json"


def recorded() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def night(day: int, slow: dict[int, float] | None = None, jitter: float = 0.0) -> dict[str, Any]:
    """The recorded run as night ``day`` (2026-12-<day>), each stage of ``slow`` longer by
    that many seconds in every boot, every measured stage longer by ``jitter`` x its
    duration times the boot's index (a little noise)."""
    result = copy.deepcopy(recorded())
    result["started_at"] = (datetime(2026, 12, day, 2, 0) ).isoformat() + "+00:00"
    for boot in result["boots"]:
        added = 0.0
        for stage in boot["stages"]:
            if stage["duration_s"] is None:
                continue
            extra = (slow or {}).get(stage["number"], 0.0) + stage["duration_s"] * jitter * boot["index"]
            stage["duration_s"] = round(stage["duration_s"] + extra, 6)
            added += extra
        if boot.get("end_to_end_s") is not None:
            boot["end_to_end_s"] = round(boot["end_to_end_s"] + added, 6)
    result["summary"] = summarize(result["boots"])
    return result


def write_nights(folder: Path, nights: list[dict[str, Any]]) -> list[Path]:
    paths = []
    for result in nights:
        path = folder / f"{result['started_at'][:10]}"
        path.mkdir(parents=True)
        (path / "result.json").write_text(json.dumps(result))
        paths.append(path)
    return paths
