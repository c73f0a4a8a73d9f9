#!/usr/bin/env python3
"""Build a large log bundle from real recorded boots only, for ``make bench``.

    .venv/bin/python bench/bundle.py OUT [--size-gb 1] [--source DIR ...]

Each source is a recorded log folder (``LOGDIR/<host>/`` as ``bootprobe collect``
writes it: the unit fixtures ``tests/fixtures/*`` and, when present, the lab's
collected folders ``/work/data/*/logs``).  The bundle is ``OUT/<host>-<source>-<copy>/``:
copies of each source host's folder under a distinct host name, round-robin over the
sources until the bundle holds ``--size-gb`` of logs, so it is many boots' windows
seen by many hosts.  Every line is a real recorded line, unchanged; gzipped files are
written plain (the bench measures parsing, not zlib).  OUT is rebuilt only when its
stamp (``OUT/.bundle.json``: size and sources) differs.  Never commit OUT.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests/fixtures"
LAB_DATA = Path("/work/data")
STAMP = ".bundle.json"


def default_sources() -> list[Path]:
    """Recorded log folders: the fixtures' boots and the lab's collected folders."""
    sources = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and any(p.glob("*/host.json")))
    if LAB_DATA.is_dir():
        sources += sorted(p / "logs" for p in LAB_DATA.iterdir() if (p / "logs").is_dir())
    return sources


def host_folders(source: Path) -> list[Path]:
    return sorted(p for p in source.iterdir() if p.is_dir() and (p / "host.json").is_file())


def _plain(src: Path, dst: Path) -> int:
    """Copy one file, gunzipped when it is gzip; the bytes written."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        dst = dst.with_name(dst.name.removesuffix(".gz"))
        with gzip.open(src, "rb") as fin, dst.open("wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
    else:
        shutil.copyfile(src, dst)
    return dst.stat().st_size


def template(source: Path, host: Path, cache: Path) -> tuple[Path, int]:
    """One plain copy of a source host (its logs gunzipped): the folder and its log bytes."""
    out = cache / f"{host.name}-{source.name if source.name != 'logs' else source.parent.name}"
    size = 0
    if out.exists():
        shutil.rmtree(out)
    for path in sorted(host.rglob("*")):
        if path.is_file():
            written = _plain(path, out / path.relative_to(host))
            size += written if path.name != "host.json" else 0
    return out, size


def _source_key(source: Path) -> str:
    """A source as the stamp names it: within the checkout, relative to it (a bundle built
    from one checkout is the same bundle for another)."""
    try:
        return str(source.resolve().relative_to(ROOT))
    except ValueError:
        return str(source)


def build(out: Path, size_bytes: int, sources: list[Path]) -> dict[str, Any]:
    stamp = {"size_bytes": size_bytes, "sources": [_source_key(s) for s in sources]}
    stamp_path = out / STAMP
    if stamp_path.is_file():
        try:
            done = json.loads(stamp_path.read_text())
        except ValueError:
            done = {}
        if {k: done.get(k) for k in stamp} == stamp:
            return done
    if out.exists():
        shutil.rmtree(out)
    cache = out / ".templates"
    cache.mkdir(parents=True)
    templates = [template(s, h, cache) for s in sources for h in host_folders(s)]
    templates = [(path, size) for path, size in templates if size]
    if not templates:
        raise SystemExit("bundle: no recorded host folder found in the sources")
    total, copies, index = 0, 0, 0
    while total < size_bytes:
        path, size = templates[index % len(templates)]
        shutil.copytree(path, out / f"{path.name}-{index // len(templates):03d}")
        total += size
        copies += 1
        index += 1
    shutil.rmtree(cache)
    done = {**stamp, "bytes": total, "host_copies": copies, "templates": len(templates)}
    stamp_path.write_text(json.dumps(done, indent=2) + "\n")
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--source", type=Path, action="append",
                        help="a recorded LOGDIR/<host>/ folder (default: the fixtures and /work/data/*/logs)")
    args = parser.parse_args()
    sources = args.source or default_sources()
    done = build(args.out, int(args.size_gb * 1e9), sources)
    print(f"bundle {args.out}: {int(done['bytes']) / 1e9:.2f} GB, {done['host_copies']} host folders "
          f"(copies of {done['templates']} recorded hosts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
