#!/usr/bin/env python3
"""How much of each boot's time its accounting attributes, from result files.

    scripts/accounting-coverage.py RESULT.json ... [--min-share 0.9] [--max-hole 0.5]

One line per boot: the end-to-end time, the share attributed to stages and named segments,
the longest unexplained stretch (with the segment before it), and whether the critical path's
pieces add up to the end-to-end time. Exit 1 when a boot misses --min-share or has a hole
longer than --max-hole seconds (both off unless given).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _line(name: str, boot: dict) -> tuple[str, float, float]:
    acc = boot.get("accounting")
    if not acc:
        return f"{name} boot {boot['index']}: no accounting (no stage observed)", 1.0, 0.0
    holes = [s for s in acc["segments"] if s["kind"] == "unexplained"]
    worst = max(holes, key=lambda s: s["duration_s"], default=None)
    path_s = sum(s["critical_s"] for s in acc["segments"])
    adds_up = abs(path_s - acc["end_to_end_s"]) <= 0.01 * acc["end_to_end_s"] + 1e-6
    hole = (f"longest hole {worst['duration_s']:.2f} s ({worst['name']})" if worst
            else "no hole")
    return (f"{name} boot {boot['index']}: {acc['end_to_end_s']:.1f} s, "
            f"{acc['attributed_share'] * 100:.1f} % attributed, {hole}, "
            f"critical path {path_s:.2f} s{'' if adds_up else ' (does not add up)'}",
            acc["attributed_share"], worst["duration_s"] if worst else 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--min-share", type=float, default=0.0)
    parser.add_argument("--max-hole", type=float, default=float("inf"))
    args = parser.parse_args(argv)
    failed = 0
    for path in args.results:
        for boot in json.loads(path.read_text())["boots"]:
            text, share, hole = _line(path.name, boot)
            bad = share < args.min_share or hole > args.max_hole
            failed += bad
            print(("MISS " if bad else "") + text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
