"""The ``bootprobe`` command: a thin argparse layer over the probes library."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any
from importlib import metadata
from pathlib import Path

from probes.records import Outcome, SmokeOptions

DESCRIPTION = """\
Measure how instances boot on a bootlab OpenStack cloud.

The cloud is picked by name from clouds.yaml, found the way every OpenStack
client finds it: $OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml.
"""

EXIT_CODES = """\
exit codes:
  0    the instance went ACTIVE and its guest fetched meta_data.json whose
       uuid is the server's id
  1    the boot failed or timed out; the message names the stage:
       create, active, lease or metadata
  2    usage or configuration error: unknown cloud name, image, flavor or
       network not found
  3    the cloud could not be reached: connection refused, authentication
       failed
  130  interrupted (the server is deleted first, unless --keep)
"""

SMOKE_DESCRIPTION = """\
Boot one instance and prove the lab works end to end.

Gets a token, looks up the image, flavor and network, creates a server and
polls it until ACTIVE, then reads its console log until the probe guest has
printed its DHCP lease (BOOTLAB-LEASE) and the meta_data.json it fetched
from the metadata service (BOOTLAB-METADATA-BEGIN ... END).  Passes when
that metadata's uuid is the server's id.

Each step is timed, every state the server passes through is recorded with
a UTC timestamp, and every API call keeps its request id.  All calls also
carry one global request id (X-OpenStack-Request-ID) that the services
write into their logs.

The server is deleted at the end, also when the boot fails or on Ctrl-C,
unless --keep is given.  No token or password is ever printed.
"""

SMOKE_EPILOG = EXIT_CODES + """
examples:
  bootprobe smoke
  bootprobe smoke --os-cloud mylab --timeout 600 --json > smoke.json
  OS_CLIENT_CONFIG_FILE=./lab/clouds.yaml bootprobe smoke --keep
"""


def version() -> str:
    try:
        return metadata.version("bootlab-probes")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bootprobe",
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    smoke = commands.add_parser(
        "smoke",
        help="boot one instance and check its DHCP lease and metadata",
        description=SMOKE_DESCRIPTION,
        epilog=SMOKE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_boot_arguments(smoke, env, volume_size_gb=0)
    smoke.add_argument(
        "--name-prefix",
        metavar="PREFIX",
        default="bootprobe-smoke",
        help="the server is named PREFIX-<UTC time>-<random> " "(default: %(default)s)",
    )
    smoke.add_argument(
        "--keep",
        action="store_true",
        help="leave the server running afterwards, to look at it",
    )
    smoke.add_argument(
        "--json",
        action="store_true",
        help="print the whole result as JSON on stdout (timings, server "
        "states, request ids, parsed and raw console) instead of a summary",
    )
    smoke.set_defaults(handler=_smoke)
    state_dir = Path(env.get("BOOTLAB_STATE_DIR", Path.home() / ".local/state/bootlab/local"))
    _add_report_commands(commands, env, state_dir)

    default_ceph_dir = Path(env.get("BOOTLAB_STATE_DIR", Path.home() / ".local/state/bootlab/local")) / "ceph"
    cluster = commands.add_parser(
        "cluster",
        help="read the Ceph cluster map and health (python3-rados)",
        description="Connect to the lab's Ceph monitors with python3-rados as a read-only "
        "user and print the monitor map, the OSD map epoch and the health checks.",
        epilog="exit codes: 0 read, 2 bindings, ceph.conf or keyring missing, 3 monitors unreachable",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cluster.add_argument("--conf", type=Path, default=default_ceph_dir / "ceph.conf",
                         help="ceph.conf (default: %(default)s, written by the ceph role)")
    cluster.add_argument("--keyring", type=Path, default=default_ceph_dir / "ceph.client.bootprobe.keyring",
                         help="keyring of --name (default: %(default)s)")
    cluster.add_argument("--name", default="client.bootprobe", help="cephx user (default: %(default)s)")
    cluster.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    cluster.set_defaults(handler=_cluster)
    return parser


RUN_DESCRIPTION = """\
Boot instances and measure the 58 stages of each boot from the lab's logs.

launch: COUNT boots (CONCURRENCY at a time) with the probe image, flavor and
network and a blank volume attached at boot, each timed by the client
(token, create call, the poll that saw ACTIVE, the guest's metadata fetch)
and deleted afterwards, also after a failure or Ctrl-C.
collect: the log files of every lab host of the hosts file over SSH (from
their size before the boots; only the lines of the run's window are kept),
journald for the window, and each host's clock offset; every line written is
scrubbed of passwords, tokens and signatures.
analyze: every stage's start, end, duration and evidence lines, per boot,
and p50/p95/max per stage across boots.

The run folder keeps boots.json, logs/<host>/ and result.json; render
result.json again with `bootprobe report`.
"""

RUN_EPILOG = """\
exit codes:
  0    every boot passed and every host's logs were read
  1    a boot failed or timed out: the report names the stage where it stopped,
       why, and the last line the lab logged for it
  2    usage or configuration error
  3    the cloud could not be reached
  4    boots passed, but a lab host's logs could not be collected in full (host
       lost, a damaged gzip: each named), or a server could not be deleted
  130  interrupted (Ctrl-C): the run's servers, their blank volumes and ports are
       deleted first; the result says interrupted, and before which stage

examples:
  bootprobe run --count 3
  bootprobe run --count 10 --concurrency 2 --output runs/nightly
  bootprobe report runs/nightly/result.json --format html -o waterfall.html
"""


def _add_boot_arguments(
    parser: argparse.ArgumentParser, env: Mapping[str, str], volume_size_gb: int
) -> None:
    """What a boot is made of: the options `smoke` and `run` share."""
    default_cloud = env.get("OS_CLOUD") or "bootlab"
    parser.add_argument(
        "--os-cloud", metavar="NAME", default=default_cloud,
        help=f"cloud name in clouds.yaml (default: $OS_CLOUD, else bootlab; now {default_cloud})",
    )
    parser.add_argument("--image", metavar="NAME_OR_ID", default="bootlab-guest",
                        help="image of the probe guest (default: %(default)s)")
    parser.add_argument("--flavor", metavar="NAME_OR_ID", default="bootlab.tiny",
                        help="flavor to boot (default: %(default)s)")
    parser.add_argument("--network", metavar="NAME_OR_ID", default="bootlab-net",
                        help="network to attach the server to (default: %(default)s)")
    parser.add_argument(
        "--timeout", metavar="SECONDS", type=_positive_seconds, default=300.0,
        help="time allowed per boot from the create call until the guest has printed its "
        "metadata; deleting the server afterwards is not counted (default: %(default)g)",
    )
    parser.add_argument(
        "--volume-size", metavar="GB", type=int, default=volume_size_gb,
        help="also attach a blank Cinder volume of this size at boot, created and deleted "
        "with the server; 0 for none (default: %(default)s)",
    )


def _add_report_commands(commands: Any, env: Mapping[str, str], state_dir: Path) -> None:
    hosts_default = state_dir / "bootprobe-hosts.yml"
    stages = commands.add_parser(
        "stages", help="print the stage catalog (how each of the 58 stages is observed)",
        description="Print the stage catalog: for each stage of the boot sequence, how its "
        "start and end are recognised, in which logs, its correlation keys and its fidelity.")
    stages.add_argument("--format", choices=("table", "json"), default="table")
    stages.set_defaults(handler=_stages)

    run = commands.add_parser("run", help="launch + collect + analyze + report",
                              description=RUN_DESCRIPTION, epilog=RUN_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_boot_arguments(run, env, volume_size_gb=1)
    run.add_argument("--count", type=int, default=1, help="boots (default: %(default)s)")
    run.add_argument("--concurrency", type=int, default=1,
                     help="boots at the same time (default: %(default)s)")
    run.add_argument("--fresh-image", action="store_true",
                     help="boot from a new copy of --image (deleted afterwards), so that the "
                     "first boot downloads it: Nova caches images per compute host, and a "
                     "cached image skips stages 19-25")
    run.add_argument("--hosts", type=Path, default=hosts_default,
                     help="hosts file of the lab (default: %(default)s, written by the playbooks)")
    run.add_argument("--output", type=Path, default=None,
                     help="run folder (default: bootprobe-runs/<UTC time>)")
    run.add_argument("--format", choices=("table", "json"), default="table",
                     help="what to print at the end (default: %(default)s)")
    run.set_defaults(handler=_run)

    collect = commands.add_parser(
        "collect", help="pull the lab hosts' logs for a time window over SSH",
        description="Copy every lab host's log files (their last --max-mb) and journald for "
        "the window into OUTPUT/<host>/, with each host's clock offset in host.json.")
    collect.add_argument("--hosts", type=Path, default=hosts_default)
    collect.add_argument("--since", required=True, help="ISO time (UTC unless an offset is given)")
    collect.add_argument("--until", default=None, help="ISO time (default: now)")
    collect.add_argument("--max-mb", type=int, default=256, help="per file (default: %(default)s)")
    collect.add_argument("--output", type=Path, required=True)
    collect.set_defaults(handler=_collect)

    analyze = commands.add_parser(
        "analyze", help="analyse a log folder (collected, or copied off a lab)",
        description="Find the boots in LOGDIR and measure their stages. LOGDIR is laid out "
        "any way a deployment keeps its logs: a folder per host (bootprobe collect), hosts' "
        "var/log trees or sosreports, one host's files (Debian/Ubuntu, RDO, kolla, TripleO "
        "names; rotated and gzipped files), journald exports (also DevStack's). Boots come "
        "from LOGDIR/boots.json when `bootprobe run` wrote one, else from --instance, else "
        "every instance nova built or failed to place within --since/--until, followed by "
        "its request ids (the client's global id, or nova's own id of the create call). "
        "The report names the log settings it found off and the files it could not "
        "attribute to a service.")
    analyze.add_argument("logdir", type=Path)
    analyze.add_argument("--instance", action="append", default=[], metavar="UUID")
    analyze.add_argument("--since", default=None)
    analyze.add_argument("--until", default=None)
    analyze.add_argument("--output", type=Path, default=None, help="write result.json here")
    analyze.add_argument("--format", choices=("table", "json"), default="table")
    analyze.add_argument(
        "--no-clock-offsets", dest="clock_offsets", action="store_false",
        help="read each host's lines on its own clock: the offsets host.json measured at "
        "collection are not subtracted (the header says so); to see what they change")
    analyze.set_defaults(handler=_analyze)

    report = commands.add_parser("report", help="render a result file",
                                 description="Render RESULT (result.json) as a terminal table, "
                                 "JSON, CSV, a self-contained HTML waterfall, or Chrome/Perfetto "
                                 "trace events.")
    report.add_argument("result", type=Path)
    report.add_argument("--format", choices=("table", "json", "csv", "html", "trace"),
                        default="table")
    report.add_argument("-o", "--output", type=Path, default=None, help="file (default: stdout)")
    report.set_defaults(handler=_report)

    compare = commands.add_parser(
        "compare", help="compare two result files; exit 1 on a regression",
        description="Compare per-stage percentiles of NEW against BASE. A stage regresses when "
        "it grew by more than --threshold (relative) and --floor (absolute).")
    compare.add_argument("base", type=Path)
    compare.add_argument("new", type=Path)
    compare.add_argument("--metric", choices=("p50", "p95", "max"), default="p95")
    compare.add_argument("--threshold", type=float, default=0.20)
    compare.add_argument("--floor", type=float, default=0.050, help="seconds (default: %(default)s)")
    compare.add_argument("--spread", type=float, default=1.0, metavar="K",
                         help="a stage may also grow by K times BASE's spread for it (p95 - p5 "
                         "of its boots' durations; max - min under 20 boots); 0 to ignore the "
                         "spread (default: %(default)s)")
    compare.add_argument("--fail-unobserved", action="store_true",
                         help="a stage BASE observed that NEW observed in no boot is a regression "
                         "(its evidence is gone)")
    compare.add_argument("--junit", type=Path, default=None, metavar="FILE",
                         help="also write JUnit XML: one test case per stage, failing on a "
                         "regression")
    compare.add_argument("--json", type=Path, default=None, metavar="FILE",
                         help="also write the comparison as JSON")
    compare.set_defaults(handler=_compare)

    baseline = commands.add_parser(
        "baseline", help="pool the boots of several result files into one baseline",
        description="Write one result file holding the boots of every RESULT (nights, or "
        "nightly folders holding result.json), its summary computed again over all of them: "
        "compared against, its spread is the night-to-night noise.")
    baseline.add_argument("results", type=Path, nargs="+", metavar="RESULT")
    baseline.add_argument("-o", "--output", type=Path, required=True)
    baseline.set_defaults(handler=_baseline)

    trend = commands.add_parser(
        "trend", help="each stage's p50/p95 over nights (HTML chart, CSV), and when it moved",
        description="Read NIGHTS (nightly folders holding result.json, or result files), order "
        "them by run time, and render each stage's p50 and p95 over them. A stage moved on the "
        "night its --metric left what the nights since its last move explain (the rule of "
        "`compare`: --threshold, --floor, --spread over the pooled boots of up to --window "
        "nights before).",
        epilog="exit codes: 0 written (whether or not a stage moved), 2 a night unreadable\n\n"
        "examples:\n  bootprobe trend nightly/2026-* --html trend.html --csv trend.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    trend.add_argument("nights", type=Path, nargs="+", metavar="NIGHT")
    trend.add_argument("--html", type=Path, default=None, metavar="FILE", help="the HTML chart")
    trend.add_argument("--csv", type=Path, default=None, metavar="FILE",
                       help="the CSV (default: stdout when no --html)")
    trend.add_argument("--metric", choices=("p50", "p95"), default="p50",
                       help="what a move is judged on (default: %(default)s)")
    trend.add_argument("--threshold", type=float, default=0.20,
                       help="relative margin (default: %(default)s)")
    trend.add_argument("--floor", type=float, default=0.100,
                       help="absolute margin in seconds, the nightly's (default: %(default)s)")
    trend.add_argument("--spread", type=float, default=1.0, metavar="K",
                       help="times the spread of the nights before (default: %(default)s)")
    trend.add_argument("--window", type=int, default=5, help="nights before (default: %(default)s)")
    trend.set_defaults(handler=_trend)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value


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


def _load_json(path: Path) -> Any:
    import json

    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise SystemExit(_fail(f"cannot read {path}: {exc.strerror}", 2))
    except ValueError as exc:
        raise SystemExit(_fail(f"{path} is not JSON: {exc}", 2))


def _fail(message: str, code: int, hint: str | None = None) -> int:
    print(f"bootprobe: {message}", file=sys.stderr)
    if hint:
        print(f"next: {hint}", file=sys.stderr)
    return code


def _when(text: str | None) -> Any:
    from datetime import datetime, timezone

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(_fail(f"not an ISO time: {text!r}", 2))
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _print_result(result: dict[str, Any], fmt: str) -> None:
    import json

    from probes.views.table import render_table

    print(json.dumps(result, indent=2) if fmt == "json" else render_table(result), end="")


class _Steps:
    """Progress on stderr: a spinner with the running step on a terminal, plain
    time-stamped lines otherwise (CI logs)."""

    def __init__(self) -> None:
        import time

        self._clock = time.monotonic
        self._started = self._clock()
        self._rich: Any = None

    @property
    def _console(self) -> Any:
        if self._rich is None:  # imported on first use: `bootprobe --help` stays fast
            from rich.console import Console

            self._rich = Console(stderr=True, highlight=False)
        return self._rich

    def __call__(self, text: str) -> None:
        line = f"bootprobe [{self._clock() - self._started:6.1f} s] {text}"
        if self._console.is_terminal:
            self._console.print(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def step(self, text: str) -> Any:
        """A context for a long step: spinner on a terminal, a line otherwise."""
        from contextlib import nullcontext

        self(text)
        if self._console.is_terminal:
            return self._console.status(text)
        return nullcontext()


_progress = _Steps()


def _run(args: argparse.Namespace) -> int:
    from probes import collect as collect_mod
    from probes.errors import ConfigError
    from probes.records import utc_now
    from probes.run import delete_image, fresh_image, run_prefix

    if args.count < 1 or args.concurrency < 1:
        return _fail("--count and --concurrency must be at least 1", 2)
    try:
        hosts = collect_mod.load_hosts(args.hosts)
    except ConfigError as exc:
        return _fail(exc.message, 2, exc.hint)
    started = utc_now()
    folder = args.output or Path("bootprobe-runs") / f"{started:%Y%m%dT%H%M%SZ}"
    folder.mkdir(parents=True, exist_ok=True)
    prefix = run_prefix("bootprobe-run")
    image = args.image
    fresh_id = None
    if args.fresh_image:
        try:
            fresh_id = image = fresh_image(args.os_cloud, args.image, f"{prefix}-image", version())
        except Exception as exc:  # noqa: BLE001 - openstacksdk and keystoneauth errors alike
            return _fail(f"could not upload a fresh copy of image '{args.image}': {exc}", 2)
        _progress(f"uploaded a fresh copy of {args.image}: {fresh_id}")
    try:
        return _run_with(args, hosts, folder, prefix, image, started)
    finally:
        if fresh_id is not None:
            delete_image(args.os_cloud, fresh_id, version())


def _run_with(args: argparse.Namespace, hosts: Any, folder: Path, prefix: str, image: str,
              started: Any) -> int:
    import json

    from probes import collect as collect_mod
    from probes.analyze import analyze, unanalysed, write_boots
    from probes.catalog import load_catalog
    from probes.records import utc_now
    from probes.run import (RunOptions, boot_input, boots_window, launch_boots, needs_sweep,
                            run_outcome, sweep)

    options = RunOptions(
        smoke=SmokeOptions(cloud=args.os_cloud, image=image, flavor=args.flavor,
                           network=args.network, name_prefix=prefix, timeout_s=args.timeout,
                           volume_size_gb=args.volume_size),
        count=args.count, concurrency=args.concurrency)
    results: list[Any] = []
    interrupted = False
    marks = None
    try:
        _progress(f"marking the log files of {len(hosts)} host(s)")
        marks = collect_mod.mark(hosts)
        with _progress.step(f"launching {args.count} boot(s), {args.concurrency} at a time"):
            results, interrupted = launch_boots(options, version(), _progress)
    except KeyboardInterrupt:  # before the first boot began: nothing made, nothing to read
        interrupted = True
    stacks = None
    if any(_stuck_building(r) for r in results):
        # A boot that never got ACTIVE: where nova-compute's build thread is (the stack of its
        # Guru Meditation report), asked before the sweep while the build is still there.
        with _progress.step("a boot never got ACTIVE: asking nova-compute for its stack"):
            stacks = collect_mod.process_stacks(hosts)
    swept = None
    if interrupted or any(needs_sweep(r) for r in results):
        # After Ctrl-C, a boot that timed out or a delete that did not finish: whatever the
        # run's servers left (the servers, their blank volumes, their ports) is deleted.
        import signal

        # Bounded (a minute at most): a second Ctrl-C must not leave the run's servers behind.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            with _progress.step("sweeping what the run's servers left (Ctrl-C waits for it)"):
                swept = sweep(args.os_cloud, prefix, version(),
                              [r.server_id for r in results if r.server_id])
        finally:
            signal.signal(signal.SIGINT, previous)
        _progress(("interrupted; " if interrupted else "") + swept.summary())
    early = [r for r in results if r.server_name is None and r.outcome.exit_code in (2, 3)]
    if early and len(early) == len(results):
        first = early[0]
        return _fail(f"{first.outcome.value}: {first.message}", first.outcome.exit_code, first.hint)
    boots = [boot_input(i, r) for i, r in enumerate(results)]
    logs = folder / "logs"
    logs.mkdir(exist_ok=True)
    write_boots(logs, boots)
    step = "collection"
    try:
        if interrupted and not results:
            raise KeyboardInterrupt  # no boot began: nothing to collect or analyse
        if results:
            since, until = boots_window(results)
            with _progress.step(f"collecting the logs of {len(hosts)} host(s)"):
                collect_mod.collect(hosts, logs, since, until, marks)
        step = "analysis"
        with _progress.step("analysing"):
            result = analyze(logs, boots, load_catalog())
    except KeyboardInterrupt:
        # Ctrl-C in collection or analysis: the boots are over (their servers deleted), so
        # the result says what the client saw, every stage unanalysed, and where the logs are.
        if not results:
            step = "launch"
            why = "the run was interrupted (Ctrl-C) before its first boot began"
        else:
            why = (f"the run was interrupted (Ctrl-C) during log {step}: not analysed "
                   f"(`bootprobe analyze {logs}` analyses what was collected)")
        result = unanalysed(boots, load_catalog(), why)
        result["interrupted_during"] = step
        interrupted = True
    outcome, code, message = run_outcome(result["boots"], results, interrupted, result["hosts"],
                                         swept)
    result.update({"tool_version": version(), "started_at": started.isoformat(),
                   "ended_at": utc_now().isoformat(), "outcome": outcome, "exit_code": code,
                   "message": message,
                   "options": {"cloud": args.os_cloud, "image": args.image, "flavor": args.flavor,
                               "network": args.network, "volume_size_gb": args.volume_size,
                               "count": args.count, "concurrency": args.concurrency,
                               "fresh_image": bool(args.fresh_image),
                               "hosts_file": str(args.hosts)}})
    if stacks is not None:
        from dataclasses import asdict

        result["stacks"] = [asdict(stack) for stack in stacks]
    if swept is not None:
        result["swept"] = {"servers": swept.servers, "volumes": swept.volumes,
                           "ports": swept.ports, "left": swept.left}
    (folder / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    _print_result(result, args.format)
    _progress(f"result: {folder / 'result.json'}")
    return code


def _stuck_building(result: Any) -> bool:
    """A boot the client gave up on while its server was still building."""
    from probes.records import Stage

    return (result.outcome is Outcome.BOOT_FAILED and result.failed_stage is Stage.ACTIVE
            and bool(result.status_changes) and result.status_changes[-1].status == "BUILD")


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

    from probes.analyze import BootInput, analyze, read_boots
    from probes.catalog import load_catalog

    if not args.logdir.is_dir():
        return _fail(f"{args.logdir} is not a folder", 2,
                     "pass the folder holding the logs (any layout: bootprobe collect's, "
                     "a var/log tree, a sosreport, a journald export)")
    since, until = _when(args.since), _when(args.until)
    if args.instance:
        boots = [BootInput(index=i, server_id=u) for i, u in enumerate(args.instance)]
    else:
        boots = read_boots(args.logdir) or None  # None: every boot nova-compute started
    result = analyze(args.logdir, boots, load_catalog(), since, until, args.clock_offsets)
    if not result["boots"]:
        return _fail(f"no boot found in {args.logdir}", 1,
                     "pass --instance UUID, or widen --since/--until")
    failed = [b for b in result["boots"] if b["outcome"] != "ok"]
    result.update({"tool_version": version(), "outcome": "boot-failed" if failed else "ok",
                   "exit_code": 1 if failed else 0,
                   "options": {"logdir": str(args.logdir), "clock_offsets": args.clock_offsets}})
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    _print_result(result, args.format)
    return int(result["exit_code"])


def _report(args: argparse.Namespace) -> int:
    import json

    result = _load_json(args.result)
    if not isinstance(result, dict) or result.get("schema") != "bootlab.run/1":
        return _fail(f"{args.result} is not a bootprobe result (schema bootlab.run/1)", 2)
    if args.format == "json":
        text = json.dumps(result, indent=2) + "\n"
    elif args.format == "csv":
        from probes.views.csv import render_csv
        text = render_csv(result)
    elif args.format == "html":
        from probes.views.html import render_html
        text = render_html(result)
    elif args.format == "trace":
        from probes.views.trace import render_trace
        text = render_trace(result)
    else:
        from probes.views.table import render_table
        text = render_table(result)
    if args.output:
        args.output.write_text(text)
    else:
        print(text, end="")
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
        result = _load_json(path / "result.json" if path.is_dir() else path)
        if not isinstance(result, dict) or result.get("schema") != "bootlab.run/1":
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
        return int(args.handler(args))
    except KeyboardInterrupt:
        # Boots clean up after themselves (and `run` sweeps its servers); a Ctrl-C
        # in collection or analysis leaves only local files behind.
        return _fail("interrupted (Ctrl-C)", 130)
    except BrokenPipeError:  # `bootprobe stages | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
