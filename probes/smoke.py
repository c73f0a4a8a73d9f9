"""``bootprobe smoke``: boot one instance and prove the lab works end to end.

The run: connect, get a token, resolve image/flavor/network, create the
server, wait for ACTIVE, read the console until the probe guest reports its
DHCP lease and the meta_data.json it fetched, then delete the server (always,
unless asked to keep it).  The verdict: the metadata's uuid must be the
server's id.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime

from probes import launch
from probes.errors import BootFailed, ProbeError
from probes.guest import parse_console
from probes.profiler import Secret, stop_tracing, traced
from probes.records import Outcome, SmokeOptions, SmokeResult, Stage
from probes.trace import Trace

# Bound every single API call: a hung service must not hang the probe.
API_TIMEOUT_S = 60.0


def server_name(prefix: str, at: datetime) -> str:
    """A unique, sortable server name: PREFIX-YYYYmmddTHHMMSSZ-xxxx."""
    return f"{prefix}-{at:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def run_smoke(options: SmokeOptions, app_version: str, hmac_key: Secret | None = None) -> SmokeResult:
    """Run the smoke test; every failure ends up in the returned result.

    A KeyboardInterrupt ends the run as ``Outcome.INTERRUPTED`` after the
    server has been deleted.  ``hmac_key``: the boot is traced with OSProfiler
    (:mod:`probes.profiler`) from its token request until the poll that saw it
    ACTIVE; its trace's base id is the result's ``trace_id``.
    """
    trace = Trace()
    request_id = launch.new_global_request_id()
    result = SmokeResult(options=options, started_at=trace.clock(), global_request_id=request_id)
    conn = None
    try:
        conn = launch.connect(
            options.cloud, trace, app_version, api_timeout=API_TIMEOUT_S
        )
        result.config_file = launch.config_file()
        conn.set_global_request_id(request_id)
        with traced(hmac_key) as base_id:
            result.trace_id = base_id
            _boot_and_watch(conn, options, result, trace)
    except ProbeError as exc:
        result.outcome = exc.outcome
        result.failed_stage = exc.stage if isinstance(exc, BootFailed) else None
        result.message = exc.message
        result.hint = exc.hint
        result.fault = getattr(exc, "fault", None)
    except KeyboardInterrupt:
        result.outcome = Outcome.INTERRUPTED
        result.message = "interrupted (Ctrl-C)"
    finally:
        if conn is not None:
            conn.close()
        result.actions = list(trace.actions)
        result.http = list(trace.http)
        result.ended_at = trace.clock()
    return result


def _boot_and_watch(
    conn: launch.Connection, options: SmokeOptions, result: SmokeResult, trace: Trace
) -> None:
    result.project_id = launch.authenticate(conn, options.cloud, trace)
    spec = launch.resolve(
        conn, options.cloud, options.image, options.flavor, options.network, trace
    )
    result.image_id = spec.image_id
    result.flavor_id = spec.flavor_id
    result.network_id = spec.network_id
    result.server_name = server_name(options.name_prefix, trace.clock())

    refused = False
    try:
        deadline = time.monotonic() + options.timeout_s
        try:
            result.server_id = launch.create_server(
                conn, result.server_name, spec, trace, options.volume_size_gb
            )
        except BootFailed:
            refused = True  # Nova said no: there is nothing to clean up
            raise
        launch.wait_active(
            conn,
            result.server_id,
            deadline,
            options.status_interval_s,
            result.status_changes,
            trace,
        )
        _untraced(result)  # the boot's trace ends with the poll that saw it ACTIVE
        _watch_console(conn, options, result, deadline, trace)
        _judge(result)
    finally:
        _untraced(result)  # nor is the server's delete the boot's
        if not refused:
            _clean_up(conn, options, result, trace)


def _untraced(result: SmokeResult) -> None:
    if result.trace_id is not None:
        stop_tracing()


def _watch_console(
    conn: launch.Connection,
    options: SmokeOptions,
    result: SmokeResult,
    deadline: float,
    trace: Trace,
) -> None:
    assert result.server_id is not None

    def on_output(text: str, fetched_at: datetime) -> bool:
        guest = parse_console(text)
        result.console_text = text
        result.console = guest
        if guest.lease is not None and result.lease_seen_at is None:
            result.lease_seen_at = fetched_at
        if guest.metadata is not None and result.metadata_seen_at is None:
            result.metadata_seen_at = fetched_at
        if guest.ready and result.ready_seen_at is None:
            result.ready_seen_at = fetched_at
        return guest.finished

    launch.poll_console(
        conn, result.server_id, deadline, options.console_interval_s, on_output, trace
    )


def _judge(result: SmokeResult) -> None:
    """Raise BootFailed naming the first stage the guest did not get past."""
    guest = result.console if result.console is not None else parse_console("")
    if guest.metadata is not None and result.metadata_matches:
        return
    if guest.lease is None:
        raise BootFailed(
            Stage.LEASE,
            (
                "the guest's DHCP client got no lease (BOOTLAB-LEASE-FAILED)"
                if guest.lease_failed
                else "the guest printed no BOOTLAB-LEASE line before the timeout"
            ),
            hint="check neutron-dhcp-agent and the network's dnsmasq log for the "
            "port's MAC; --json output has the whole console log",
        )
    if guest.metadata is not None:
        found = result.metadata_uuid or "no uuid"
        raise BootFailed(
            Stage.METADATA,
            f"meta_data.json has {found}, not this server's id {result.server_id}",
            hint="the metadata path served another instance's data: check "
            "neutron-metadata-agent and nova-api-metadata logs",
        )
    if guest.metadata_failed:
        message = "the guest could not fetch meta_data.json (BOOTLAB-METADATA-FAILED)"
    elif guest.metadata_error is not None:
        message = f"the guest's metadata output is unusable: {guest.metadata_error}"
    elif guest.metadata_started:
        message = "the guest's metadata block never ended before the timeout"
    else:
        message = "the guest printed no metadata before the timeout"
    raise BootFailed(
        Stage.METADATA,
        message,
        hint="follow 169.254.169.254: the haproxy in the network's qdhcp "
        "namespace, neutron-metadata-agent, then nova-api-metadata",
    )


def _clean_up(
    conn: launch.Connection, options: SmokeOptions, result: SmokeResult, trace: Trace
) -> None:
    """Delete the server unless --keep; never raise, record what went wrong."""
    try:
        if result.server_id is None and result.server_name is not None:
            # The create request may have reached Nova before we lost it.
            result.server_id = launch.find_server_id(conn, result.server_name)
        if result.server_id is None or options.keep:
            return
        result.deleted = launch.delete_server(
            conn,
            result.server_id,
            options.delete_wait_s,
            options.status_interval_s,
            trace,
        )
        if not result.deleted:
            result.cleanup_error = (
                f"server {result.server_id} still exists "
                f"{options.delete_wait_s:g} s after the delete request"
            )
    except KeyboardInterrupt:
        result.cleanup_error = "interrupted while deleting the server"
    except Exception as exc:  # cleanup must not mask the run's own verdict
        result.cleanup_error = f"could not delete the server: {exc}"
