"""The ``bootprobe`` command: a thin argparse layer over the probes library."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
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
    default_cloud = env.get("OS_CLOUD") or "bootlab"
    smoke.add_argument(
        "--os-cloud",
        metavar="NAME",
        default=default_cloud,
        help="cloud name in clouds.yaml (default: $OS_CLOUD, else bootlab; "
        f"now {default_cloud})",
    )
    smoke.add_argument(
        "--image",
        metavar="NAME_OR_ID",
        default="bootlab-guest",
        help="image of the probe guest (default: %(default)s)",
    )
    smoke.add_argument(
        "--flavor",
        metavar="NAME_OR_ID",
        default="bootlab.tiny",
        help="flavor to boot (default: %(default)s)",
    )
    smoke.add_argument(
        "--network",
        metavar="NAME_OR_ID",
        default="bootlab-net",
        help="network to attach the server to (default: %(default)s)",
    )
    smoke.add_argument(
        "--name-prefix",
        metavar="PREFIX",
        default="bootprobe-smoke",
        help="the server is named PREFIX-<UTC time>-<random> " "(default: %(default)s)",
    )
    smoke.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_positive_seconds,
        default=300.0,
        help="time allowed from the create call until the guest has printed "
        "its metadata; deleting the server afterwards is not counted "
        "(default: %(default)g)",
    )
    smoke.add_argument(
        "--volume-size",
        metavar="GB",
        type=int,
        default=0,
        help="also attach a blank Cinder volume of this size at boot, created "
        "and deleted with the server (default: none)",
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
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
