#!/usr/bin/env python3
"""Cut a committed test fixture out of a `bootprobe run` folder.

    scripts/make-fixture.py RUN_FOLDER OUT_FOLDER [--boot N] [--secrets DIR]
    scripts/make-fixture.py RUN_FOLDER OUT_FOLDER --since ISO --until ISO

Keeps, for one boot, every log line stamped within [auth sent - 2 s,
metadata seen + 2 s] (continuation lines go with the line before), in
every file of every host, each gzipped; copies host.json and the boot's
entry of boots.json.  A folder without boots.json (a boot made by another
client, e.g. scripts/cli-boot.py) is cut to --since/--until and gets no
boots.json: it is analysed from its logs alone.  Every line is scrubbed (probes.scrub), and the
result is checked against the lab's generated secrets (the files of
--secrets, default ~/.local/state/bootlab/local/secrets): a fixture holding
one of them is refused.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from probes.boots import BOOTS_FILE, read_boots, write_boots  # noqa: E402
from probes.logs.formats import ANSI, ParseState, sniff  # noqa: E402
from probes.logs.reader import HOST_FILE, _head, _open, _year_of, host_folders, log_files  # noqa: E402
from probes.records import BootInput  # noqa: E402
from probes.scrub import scrub  # noqa: E402

SLACK = timedelta(seconds=2)


def lab_secrets(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return [p.read_text().strip() for p in folder.iterdir() if p.is_file() and len(p.read_text().strip()) >= 8]


def cut_file(src: Path, dst: Path, since, until, offset: float) -> int:
    fmt = sniff(_head(src), _year_of(src))
    if fmt is None:
        return 0
    state = ParseState(year=_year_of(src))
    kept = 0
    keep_continuation = False
    shift = timedelta(seconds=offset)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with _open(src) as handle, gzip.open(dst.with_name(dst.name + ".gz"), "wt") as out:
        for text in handle:
            text = text.rstrip("\r\n")
            parsed = fmt.parse(ANSI.sub("", text), state)
            if parsed is None:
                keep_continuation = False
                continue
            if parsed.continuation:
                if keep_continuation:
                    out.write(scrub(text) + "\n")
                continue
            if parsed.at is None:
                continue
            state.last_at = parsed.at
            keep_continuation = since <= parsed.at - shift <= until
            if keep_continuation:
                out.write(scrub(text) + "\n")
                kept += 1
    return kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--boot", type=int, default=0)
    parser.add_argument("--since", type=datetime.fromisoformat, default=None)
    parser.add_argument("--until", type=datetime.fromisoformat, default=None)
    parser.add_argument("--secrets", type=Path, default=Path.home() / ".local/state/bootlab/local/secrets")
    args = parser.parse_args()
    logs = args.run / "logs"
    if args.since and args.until:
        since, until, boot = args.since, args.until, None
    else:
        boot = next((b for b in read_boots(logs) or [] if b.index == args.boot), None)
        window = _boot_window(boot)
        if boot is None or window is None:
            print(f"no boot {args.boot} with client times in {logs / BOOTS_FILE}, and no --since/--until",
                  file=sys.stderr)
            return 2
        since, until = window
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    if boot is not None:
        boot.index = 0
        write_boots(args.out, [boot])
    for folder in host_folders(logs):
        cut_host(folder, args.out / folder.name, since, until)
    holder = secret_holder(args.out, lab_secrets(args.secrets))
    if holder is not None:
        print(f"{holder} holds a lab secret: refused", file=sys.stderr)
        shutil.rmtree(args.out)
        return 1
    print(f"fixture written to {args.out} (window {since.isoformat()} .. {until.isoformat()})")
    return 0


def _boot_window(boot: BootInput | None) -> tuple[datetime, datetime] | None:
    """[auth sent, metadata seen (else ACTIVE, else the boot's end)] widened by SLACK; None
    when the client's times do not say."""
    if boot is None or boot.client.auth_sent is None:
        return None
    until = boot.client.metadata_seen or boot.client.active_received or boot.ended_at
    if until is None:
        return None
    return boot.client.auth_sent - SLACK, until + SLACK


def cut_host(folder: Path, out: Path, since: datetime, until: datetime) -> None:
    """One host's folder cut to the window (its host.json copied), files left empty dropped."""
    host_json = json.loads((folder / HOST_FILE).read_text()) if (folder / HOST_FILE).exists() else {}
    offset = float(host_json.get("clock_offset_s") or 0.0)
    out.mkdir()
    if host_json:
        (out / HOST_FILE).write_text(json.dumps(host_json, indent=2) + "\n")
    for path in log_files(folder):
        rel = path.relative_to(folder)
        kept = cut_file(path, out / rel, since, until, offset)
        target = out / (str(rel) + ".gz")
        if kept == 0 and target.exists():
            target.unlink()


def secret_holder(out: Path, secrets: list[str]) -> Path | None:
    """The first file under ``out`` that holds one of the secrets, if any."""
    for path in out.rglob("*"):
        if path.is_file():
            text = gzip.open(path, "rt").read() if path.suffix == ".gz" else path.read_text()
            if any(secret in text for secret in secrets):
                return path
    return None


if __name__ == "__main__":
    sys.exit(main())
