"""The ``bootprobe`` command: a thin argparse layer over the probes library.

Its options and help texts are :mod:`probes.arguments`; each command here calls the
library (:func:`probes.run.run_boots`, :func:`probes.offline.analyze_folder`, the views
:mod:`probes.views` registers by name, ...) and prints what it returns.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from probes import arguments
from probes.progress import Steps
from probes.records import Outcome, SmokeOptions


def version() -> str:
    try:
        return metadata.version("bootlab-probes")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    """The command line's parser (:mod:`probes.arguments`)."""
    return arguments.build_parser(env, version())


# --- the commands: each calls the library and prints ----------------------------------------

def _smoke(args: argparse.Namespace) -> int:
    # Imported here so that `bootprobe --help` stays fast.
    from probes.report import render_smoke, smoke_to_json
    from probes.smoke import run_smoke

    options = SmokeOptions(
        cloud=args.os_cloud,
        image=args.image,
        flavor=args.flavor,
        network=args.network,
        name_prefix=args.name_prefix,
        timeout_s=args.timeout,
        keep=args.keep,
        volume_size_gb=args.volume_size,
    )
    result = run_smoke(options, app_version=version())
    failed_early = (
        result.outcome in (Outcome.CONFIG_ERROR, Outcome.UNREACHABLE)
        and result.server_name is None
    )
    if args.json:
        print(smoke_to_json(result))
    elif not failed_early:
        print(render_smoke(result))
    if failed_early or (args.json and result.outcome is not Outcome.OK):
        print(
            f"bootprobe smoke: {result.outcome.value}: {result.message}",
            file=sys.stderr,
        )
        if result.hint:
            print(f"next: {result.hint}", file=sys.stderr)
    return result.outcome.exit_code


def _stages(args: argparse.Namespace) -> int:
    import json

    from probes.catalog import catalog_to_dict, load_catalog

    data = catalog_to_dict(load_catalog())
    if args.format == "json":
        print(json.dumps(data, indent=2))
        return 0
    for stage in data["stages"]:
        print(f"{stage['number']:>2} {stage['actor']} -> {stage['target']}: {stage['action']}"
              f"  [{stage['fidelity']}]")
        for edge in ("start", "end"):
            if stage[edge]:
                print(f"     {edge}: {stage[edge]['describe']}")
        for key in ("why", "unobservable", "absent_reason"):
            if stage.get(key):
                print(f"     {key}: {stage[key]}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from probes.run import RunOutcome, RunRequest, run_boots

    request = RunRequest(
        cloud=args.os_cloud, image=args.image, flavor=args.flavor, network=args.network,
        hosts_file=args.hosts, timeout_s=args.timeout, volume_size_gb=args.volume_size,
        count=args.count, concurrency=args.concurrency, fresh_image=args.fresh_image,
        output=args.output, profile=args.profile)

    def show(outcome: RunOutcome) -> None:  # before the run's image copy is deleted
        if outcome.result is None:
            _fail(outcome.message or "", outcome.exit_code, outcome.hint)
            return
        _print_result(outcome.result, args.format)
        _progress(f"result: {outcome.path}")

    return run_boots(request, version(), _progress, show).exit_code


def _collect(args: argparse.Namespace) -> int:
    from probes import collect as collect_mod
    from probes.errors import ConfigError
    from probes.records import utc_now

    try:
        hosts = collect_mod.load_hosts(args.hosts)
    except ConfigError as exc:
        return _fail(exc.message, 2, exc.hint)
    results = collect_mod.collect(hosts, args.output, _when(args.since),
                                  _when(args.until) or utc_now(), None, args.max_mb << 20)
    for host in results:
        state = "ok" if host.reachable and not host.error else host.error
        kept = sum(f.get("kept_lines", 0) for f in host.files)
        print(f"{host.name}: {state}; {len(host.files)} files ({kept} lines in the window), "
              f"journal {host.journal_lines} lines, clock offset {host.clock_offset_s}")
    return 0 if all(h.reachable and not h.error for h in results) else 4


def _analyze(args: argparse.Namespace) -> int:
    import json

    from probes.errors import ProbeError
    from probes.offline import analyze_folder

    try:
        result = analyze_folder(args.logdir, version(), args.instance, _when(args.since),
                                _when(args.until), args.clock_offsets)
    except ProbeError as exc:
        return _fail(exc.message, exc.outcome.exit_code, exc.hint)
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    _print_result(result, args.format)
    return int(result["exit_code"])


def _report(args: argparse.Namespace) -> int:
    from probes.views import render

    result = _load_result(args.result)
    if result is None:
        return _fail(f"{args.result} is not a bootprobe result (schema bootlab.run/1)", 2)
    text = render(args.format, result)
    if args.output:
        args.output.write_text(text)
    else:
        print(text, end="")
    if args.otlp_endpoint:
        return _send_otlp(result, args.otlp_endpoint, args.otlp_timeout)
    return 0


def _send_otlp(result: dict[str, Any], endpoint: str, timeout_s: float) -> int:
    from probes.views.otlp import CollectorUnreachable, send_otlp

    try:
        count = send_otlp(result, endpoint, timeout_s)
    except CollectorUnreachable as exc:
        return _fail(f"{exc}", 3)
    print(f"bootprobe: sent {count} spans to {endpoint}", file=sys.stderr)
    return 0


def _compare(args: argparse.Namespace) -> int:
    import json

    from probes.compare import Margins, compare, deltas_to_dict, render_compare
    from probes.junit import render_junit, stage_titles

    base, new = _load_json(args.base), _load_json(args.new)
    metric = f"{args.metric}_s"
    margins = Margins(relative=args.threshold, absolute_s=args.floor, spread=args.spread)
    deltas = compare(base, new, metric, margins=margins, fail_lost=args.fail_unobserved)
    print(render_compare(deltas, metric, args.threshold, margins))
    if args.junit:
        args.junit.write_text(render_junit(deltas, metric, margins, stage_titles(new, base),
                                           timestamp=new.get("started_at"),
                                           properties={"base": args.base, "new": args.new}))
    if args.json:
        args.json.write_text(json.dumps(deltas_to_dict(deltas, metric, margins), indent=2) + "\n")
    return 1 if any(d.regressed for d in deltas) else 0


def _baseline(args: argparse.Namespace) -> int:
    import json

    from probes.compare import merge_results

    results = []
    for path in args.results:
        result = _load_result(path / "result.json" if path.is_dir() else path)
        if result is None:
            return _fail(f"{path} is not a bootprobe result (schema bootlab.run/1)", 2)
        results.append(result)
    merged = merge_results(results)
    args.output.write_text(json.dumps(merged, indent=2) + "\n")
    print(f"{args.output}: {len(merged['boots'])} boots of {len(results)} result(s)")
    return 0


def _trend(args: argparse.Namespace) -> int:
    from probes.compare import Margins
    from probes.trend import find_moves, load_nights, render_trend_csv, titles_of
    from probes.views.trend_html import render_trend_html

    try:
        nights = load_nights(args.nights)
    except ValueError as exc:
        return _fail(str(exc), 2, "pass nightly folders (holding result.json) or result files")
    metric = f"{args.metric}_s"
    margins = Margins(relative=args.threshold, absolute_s=args.floor, spread=args.spread)
    moves = find_moves(nights, metric, margins, args.window)
    if args.html:
        args.html.write_text(render_trend_html(nights, moves, titles_of(nights), metric))
    text = render_trend_csv(nights, moves)
    if args.csv:
        args.csv.write_text(text)
    elif not args.html:
        print(text, end="")
    for move in moves:
        what = "end to end" if move.number == 0 else f"stage {move.number}"
        print(f"{what} moved {move.direction} on {move.label}: {move.before_s:.3f} s -> "
              f"{move.after_s:.3f} s (allowed {move.allowed_s:.3f} s)", file=sys.stderr)
    return 0


def _cluster(args: argparse.Namespace) -> int:
    import json

    from probes.cluster import read_cluster, render_cluster
    from probes.errors import ProbeError

    try:
        state = read_cluster(args.conf, args.keyring, args.name)
    except ProbeError as exc:
        print(f"bootprobe cluster: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"next: {exc.hint}", file=sys.stderr)
        return exc.outcome.exit_code
    print(json.dumps(state.to_dict(), indent=2) if args.json else render_cluster(state))
    return 0


# --- reading the command line's files, printing -----------------------------------------------

def _load_json(path: Path) -> Any:
    import json

    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise SystemExit(_fail(f"cannot read {path}: {exc.strerror}", 2)) from exc
    except ValueError as exc:
        raise SystemExit(_fail(f"{path} is not JSON: {exc}", 2)) from exc


def _load_result(path: Path) -> dict[str, Any] | None:
    """The result file at ``path``; None when it is JSON of something else."""
    result = _load_json(path)
    if not isinstance(result, dict) or result.get("schema") != "bootlab.run/1":
        return None
    return result


def _fail(message: str, code: int, hint: str | None = None) -> int:
    print(f"bootprobe: {message}", file=sys.stderr)
    if hint:
        print(f"next: {hint}", file=sys.stderr)
    return code


def _when(text: str | None) -> Any:
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise SystemExit(_fail(f"not an ISO time: {text!r}", 2)) from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _print_result(result: Mapping[str, Any], fmt: str) -> None:
    import json

    from probes.views.table import render_table

    print(json.dumps(result, indent=2) if fmt == "json" else render_table(result), end="")


_progress = Steps()

Handler = Callable[[argparse.Namespace], int]
HANDLERS: dict[str, Handler] = {
    "smoke": _smoke, "stages": _stages, "run": _run, "collect": _collect, "analyze": _analyze,
    "report": _report, "compare": _compare, "baseline": _baseline, "trend": _trend,
    "cluster": _cluster,
}


def main(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> int:
    """Entry point of the ``bootprobe`` console script; returns the exit code."""
    parser = build_parser(os.environ if env is None else env)
    args = parser.parse_args(argv)
    # keystoneauth and openstacksdk warn on stderr about things this tool
    # reports itself, in its own words; keep only their errors.
    logging.basicConfig(level=logging.ERROR, format="bootprobe: %(name)s: %(message)s")
    try:
        return int(HANDLERS[args.command](args))
    except KeyboardInterrupt:
        # Boots clean up after themselves (and `run` sweeps its servers); a Ctrl-C
        # in collection or analysis leaves only local files behind.
        return _fail("interrupted (Ctrl-C)", 130)
    except BrokenPipeError:  # `bootprobe stages | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
