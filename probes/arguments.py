"""What ``bootprobe`` and each of its commands take on the command line, with
their help texts (:mod:`probes.cli` runs the commands)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from probes.views import formats

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
  bootprobe run --profile --fresh-image   (OSProfiler spans as evidence)
  bootprobe report runs/nightly/result.json --format html -o waterfall.html
"""

# What `run` and `analyze` print at the end; `report` renders every format of probes.views.
PRINTED_FORMATS = ("table", "json")



def build_parser(env: Mapping[str, str], version: str) -> argparse.ArgumentParser:
    """The parser of the command line; ``args.command`` names the command given."""
    parser = argparse.ArgumentParser(
        prog="bootprobe",
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    state_dir = Path(env.get("BOOTLAB_STATE_DIR", Path.home() / ".local/state/bootlab/local"))
    hosts_default = state_dir / "bootprobe-hosts.yml"
    _add_smoke(commands, env)
    _add_stages(commands)
    _add_run(commands, env, hosts_default)
    _add_collect(commands, hosts_default)
    _add_analyze(commands)
    _add_report(commands)
    _add_compare(commands)
    _add_baseline(commands)
    _add_trend(commands)
    _add_cluster(commands, state_dir / "ceph")
    return parser


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


def _add_smoke(commands: Any, env: Mapping[str, str]) -> None:
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


def _add_stages(commands: Any) -> None:
    stages = commands.add_parser(
        "stages", help="print the stage catalog (how each of the 58 stages is observed)",
        description="Print the stage catalog: for each stage of the boot sequence, how its "
        "start and end are recognised, in which logs, its correlation keys and its fidelity.")
    stages.add_argument("--format", choices=("table", "json"), default="table")


def _add_run(commands: Any, env: Mapping[str, str], hosts_default: Path) -> None:
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
    run.add_argument("--profile", action="store_true",
                     help="trace each boot with OSProfiler (its requests signed with the lab's "
                     "HMAC key), read its trace back from the lab's trace store (the hosts file's "
                     "profiler section) into the run folder: its wsgi, rpc and db spans become "
                     "evidence (docs/evidence.md)")
    run.add_argument("--output", type=Path, default=None,
                     help="run folder (default: bootprobe-runs/<UTC time>)")
    run.add_argument("--format", choices=PRINTED_FORMATS, default="table",
                     help="what to print at the end (default: %(default)s)")


def _add_collect(commands: Any, hosts_default: Path) -> None:
    collect = commands.add_parser(
        "collect", help="pull the lab hosts' logs for a time window over SSH",
        description="Copy every lab host's log files (their last --max-mb) and journald for "
        "the window into OUTPUT/<host>/, with each host's clock offset in host.json.")
    collect.add_argument("--hosts", type=Path, default=hosts_default)
    collect.add_argument("--since", required=True, help="ISO time (UTC unless an offset is given)")
    collect.add_argument("--until", default=None, help="ISO time (default: now)")
    collect.add_argument("--max-mb", type=int, default=256, help="per file (default: %(default)s)")
    collect.add_argument("--output", type=Path, required=True)


def _add_analyze(commands: Any) -> None:
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
    analyze.add_argument("--format", choices=PRINTED_FORMATS, default="table")
    analyze.add_argument(
        "--no-clock-offsets", dest="clock_offsets", action="store_false",
        help="read each host's lines on its own clock: the offsets host.json measured at "
        "collection are not subtracted (the header says so); to see what they change")


def _add_report(commands: Any) -> None:
    report = commands.add_parser("report", help="render a result file",
                                 description="Render RESULT (result.json) as a terminal table, "
                                 "JSON, CSV, a self-contained HTML waterfall, Chrome/Perfetto "
                                 "trace events, or OpenTelemetry traces (OTLP JSON).")
    report.add_argument("result", type=Path)
    report.add_argument("--format", choices=formats(), default="table")
    report.add_argument("-o", "--output", type=Path, default=None, help="file (default: stdout)")
    report.add_argument("--otlp-endpoint", metavar="URL", default=None,
                        help="also send each boot as an OpenTelemetry trace over OTLP/HTTP "
                        "(e.g. http://collector:4318/v1/traces); exit 3 when it does not take them")
    report.add_argument("--otlp-timeout", metavar="SECONDS", type=float, default=10.0,
                        help="how long to wait for the OTLP endpoint (default: 10)")


def _add_compare(commands: Any) -> None:
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


def _add_baseline(commands: Any) -> None:
    baseline = commands.add_parser(
        "baseline", help="pool the boots of several result files into one baseline",
        description="Write one result file holding the boots of every RESULT (nights, or "
        "nightly folders holding result.json), its summary computed again over all of them: "
        "compared against, its spread is the night-to-night noise.")
    baseline.add_argument("results", type=Path, nargs="+", metavar="RESULT")
    baseline.add_argument("-o", "--output", type=Path, required=True)


def _add_trend(commands: Any) -> None:
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


def _add_cluster(commands: Any, ceph_dir: Path) -> None:
    cluster = commands.add_parser(
        "cluster",
        help="read the Ceph cluster map and health (python3-rados)",
        description="Connect to the lab's Ceph monitors with python3-rados as a read-only "
        "user and print the monitor map, the OSD map epoch and the health checks.",
        epilog="exit codes: 0 read, 2 bindings, ceph.conf or keyring missing, 3 monitors unreachable",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cluster.add_argument("--conf", type=Path, default=ceph_dir / "ceph.conf",
                         help="ceph.conf (default: %(default)s, written by the ceph role)")
    cluster.add_argument("--keyring", type=Path, default=ceph_dir / "ceph.client.bootprobe.keyring",
                         help="keyring of --name (default: %(default)s)")
    cluster.add_argument("--name", default="client.bootprobe", help="cephx user (default: %(default)s)")
    cluster.add_argument("--json", action="store_true", help="print the snapshot as JSON")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value
