"""Talk to the cloud through openstacksdk: connect, authenticate, boot, clean up.

Nothing here parses guest output: :func:`poll_console` hands each console
snapshot to a caller-supplied function that decides when to stop.

Request ids.  openstacksdk resources (``Server`` and friends) do not keep
the HTTP response they were built from, and ``Server`` declares no header
attribute for ``x-openstack-request-id``, so ``conn.compute.create_server``
and ``conn.compute.get_server`` give no request id back.  What openstacksdk
does allow, and this module uses:

* the keystoneauth session under the connection (``conn.session``) wraps a
  ``requests.Session`` (``conn.session.session``); a ``response`` hook on it
  (:meth:`probes.trace.Trace.on_response`) sees every HTTP exchange,
  Keystone's token request included, with its response headers;
* ``conn.set_global_request_id()`` sends one ``X-OpenStack-Request-ID`` of
  our choosing with every SDK request, which the services log as the
  global request id (the first id in an oslo.log context);
* ``openstack.exceptions.HttpException.request_id`` on errors.

(The raw alternative, ``conn.compute.post("/servers", json=...)``, returns
the ``requests.Response`` but bypasses the Server resource.)
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import openstack
import openstack.config
import openstack.config.loader
import openstack.exceptions as sdk_exc
from keystoneauth1 import exceptions as ks_exc

from probes.errors import BootFailed, CloudUnreachable, ConfigError
from probes.records import Stage, StatusChange
from probes.trace import Trace

Connection = openstack.connection.Connection


@dataclass(frozen=True)
class BootSpec:
    """The ids a server is created from, resolved from names."""

    image_id: str
    flavor_id: str
    network_id: str


# Set when the run is interrupted.  Ctrl-C reaches the main thread only: a boot waiting in
# another thread (``bootprobe run --concurrency``) stops at its next poll as Ctrl-C would
# stop it, then deletes its server.
RUN_STOPPED = threading.Event()


def pause(seconds: float) -> None:
    """Wait between two polls of a boot; raise KeyboardInterrupt once the run is stopped."""
    if RUN_STOPPED.wait(seconds):
        raise KeyboardInterrupt


def new_global_request_id() -> str:
    """A request id in the form oslo.middleware accepts from a client."""
    return f"req-{uuid.uuid4()}"


def connect(
    cloud: str, trace: Trace, app_version: str, api_timeout: float | None = None
) -> Connection:
    """Open a connection to the named cloud of clouds.yaml.

    clouds.yaml is looked up the usual way: ``OS_CLIENT_CONFIG_FILE``, then
    ``./clouds.yaml``, ``~/.config/openstack/`` and ``/etc/openstack/``.
    ``api_timeout`` bounds each HTTP request.  No request is made yet.
    """
    overrides: dict[str, Any] = {} if api_timeout is None else {"api_timeout": api_timeout}
    try:
        conn = openstack.connect(
            cloud=cloud, app_name="bootprobe", app_version=app_version, **overrides
        )
    except sdk_exc.ConfigException as exc:
        raise _cloud_not_configured(cloud) from exc
    except ks_exc.ClientException as exc:
        raise ConfigError(
            f"cloud '{cloud}' cannot be used: {exc}",
            hint=f"fix the '{cloud}' entry in {config_file() or 'clouds.yaml'}",
        ) from exc
    conn.session.session.hooks["response"].append(trace.on_response)
    return conn


def config_file() -> str | None:
    """The clouds.yaml that openstacksdk reads, if any."""
    return openstack.config.OpenStackConfig().config_filename


def _cloud_not_configured(cloud: str) -> ConfigError:
    config = openstack.config.OpenStackConfig()
    override = os.environ.get("OS_CLIENT_CONFIG_FILE")
    if override and not os.path.exists(override):
        return ConfigError(
            f"cloud '{cloud}' is not configured: OS_CLIENT_CONFIG_FILE names "
            f"{override}, which does not exist",
            hint="point OS_CLIENT_CONFIG_FILE at the clouds.yaml the lab "
            "playbooks wrote",
        )
    if config.config_filename is None:
        searched = dict.fromkeys(openstack.config.loader.CONFIG_FILES)
        return ConfigError(
            f"cloud '{cloud}' is not configured: no clouds.yaml found "
            f"(looked for {', '.join(searched)})",
            hint="point OS_CLIENT_CONFIG_FILE at the clouds.yaml the lab "
            "playbooks wrote",
        )
    known = sorted(name for name in config.get_cloud_names() if name != "envvars")
    return ConfigError(
        f"cloud '{cloud}' is not in {config.config_filename} "
        f"(clouds there: {', '.join(known) or 'none'})",
        hint="pass --os-cloud with one of those names, set OS_CLOUD, or point "
        "OS_CLIENT_CONFIG_FILE at the clouds.yaml that defines it",
    )


def authenticate(conn: Connection, cloud: str, trace: Trace) -> str | None:
    """Get a token (timed as action ``auth``); return the project id.

    The token itself is never returned, stored or printed.
    """
    auth_url = str(conn.config.get_auth_args().get("auth_url") or "Keystone")
    with trace.action("auth"):
        try:
            conn.session.get_token()
        except ks_exc.Unauthorized as exc:
            raise CloudUnreachable(
                f"authentication failed: {auth_url} refused the credentials of "
                f"cloud '{cloud}' (HTTP 401{_ks_request_id(exc)})",
                hint="check username, password, project and domain names in "
                "clouds.yaml; the lab playbooks write the ones they created",
            ) from exc
        except (ks_exc.ConnectionError, ks_exc.DiscoveryFailure) as exc:
            raise CloudUnreachable(
                f"could not reach Keystone at {auth_url}: {_reason(exc)}",
                hint="is the lab host up and keystone running? "
                "check auth_url in clouds.yaml",
            ) from exc
        except ks_exc.HttpError as exc:
            raise CloudUnreachable(
                f"Keystone at {auth_url} answered HTTP {exc.http_status} to the "
                f"token request{_ks_request_id(exc)}: {exc.message}",
                hint="look in keystone's log on the lab host for that request id",
            ) from exc
        except Exception as exc:  # keystoneauth raises a bare Exception for a
            # missing password; MissingRequiredOptions & co. land here too.
            raise ConfigError(
                f"cloud '{cloud}' cannot authenticate: {exc}",
                hint=f"complete the auth section of '{cloud}' in "
                f"{config_file() or 'clouds.yaml'}",
            ) from exc
    return conn.session.get_project_id()


def resolve(
    conn: Connection, cloud: str, image: str, flavor: str, network: str, trace: Trace
) -> BootSpec:
    """Find the image, flavor and network by name or id (action ``resolve``)."""
    with trace.action("resolve"), _translated("looking up image, flavor and network"):
        found_image = _find_one(conn.image.find_image, "image", image, cloud)
        if found_image.status != "active":
            raise ConfigError(
                f"image '{image}' ({found_image.id}) is {found_image.status}, "
                "not active",
                hint="wait for its upload to finish, or re-run the lab playbook "
                "that uploads the guest image",
            )
        found_flavor = _find_one(conn.compute.find_flavor, "flavor", flavor, cloud)
        found_network = _find_one(conn.network.find_network, "network", network, cloud)
    return BootSpec(found_image.id, found_flavor.id, found_network.id)


def _find_one(find: Callable[..., Any], kind: str, name: str, cloud: str) -> Any:
    try:
        return find(name, ignore_missing=False)
    except sdk_exc.NotFoundException as exc:
        raise ConfigError(
            f"{kind} '{name}' not found in cloud '{cloud}'",
            hint=f"the lab playbooks create the bootlab {kind}; see what exists "
            f"with `openstack --os-cloud {cloud} {kind} list` and pass --{kind} "
            "NAME_OR_ID",
        ) from exc
    except sdk_exc.DuplicateResource as exc:
        raise ConfigError(
            f"more than one {kind} is named '{name}' in cloud '{cloud}'",
            hint=f"pass the {kind}'s id with --{kind} "
            f"(openstack --os-cloud {cloud} {kind} list)",
        ) from exc


def block_devices(spec: BootSpec, volume_size_gb: int) -> list[dict[str, Any]]:
    """Block device mapping: the image as local root disk, plus a blank Cinder
    volume of ``volume_size_gb`` attached at boot (deleted with the server)."""
    if volume_size_gb <= 0:
        return []
    return [
        {"boot_index": 0, "uuid": spec.image_id, "source_type": "image",
         "destination_type": "local", "delete_on_termination": True},
        {"boot_index": -1, "source_type": "blank", "destination_type": "volume",
         "volume_size": volume_size_gb, "delete_on_termination": True},
    ]


def create_server(
    conn: Connection, name: str, spec: BootSpec, trace: Trace, volume_size_gb: int = 0
) -> str:
    """Ask Nova for the server (action ``create``); return its id.

    The Server object is dropped at once: it carries the admin password.
    """
    extra: dict[str, Any] = {}
    if volume_size_gb > 0:
        extra["block_device_mapping"] = block_devices(spec, volume_size_gb)
    with trace.action("create"), _translated("creating the server", Stage.CREATE):
        server = conn.compute.create_server(
            name=name,
            image_id=spec.image_id,
            flavor_id=spec.flavor_id,
            networks=[{"uuid": spec.network_id}],
            **extra,
        )
        return str(server.id)


def find_server_id(conn: Connection, name: str) -> str | None:
    """The id of the server with exactly this name, if Nova has one."""
    try:
        return str(conn.compute.find_server(name, ignore_missing=False).id)
    except sdk_exc.NotFoundException:
        return None


def wait_active(
    conn: Connection,
    server_id: str,
    deadline: float,
    interval: float,
    changes: list[StatusChange],
    trace: Trace,
) -> None:
    """Poll the server until ACTIVE (action ``wait_active``).

    Every change of (status, task_state, vm_state, power_state) is appended
    to ``changes`` with the time of the poll that saw it.  ``deadline`` is a
    ``time.monotonic()`` value.
    """
    last: tuple[Any, ...] | None = None
    with trace.action("wait_active"), _translated("polling the server", Stage.ACTIVE):
        while True:
            try:
                server = conn.compute.get_server(server_id)
            except sdk_exc.NotFoundException as exc:
                raise BootFailed(
                    Stage.ACTIVE,
                    f"server {server_id} disappeared while booting",
                    hint="someone or something deleted it; look for its id in "
                    "nova-api's log",
                ) from exc
            seen_at = trace.clock()
            state = (
                server.status,
                server.task_state,
                server.vm_state,
                server.power_state,
            )
            if state != last:
                changes.append(StatusChange(seen_at, *state))
                last = state
            if server.status == "ACTIVE":
                return
            if server.status == "ERROR":
                raise ServerError(server.fault)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BootFailed(
                    Stage.ACTIVE,
                    f"server still {server.status} (task {server.task_state}) "
                    "when the timeout ran out",
                    hint="raise --timeout, or look at nova-compute's log for "
                    f"instance {server_id}",
                )
            pause(min(interval, remaining))


class ServerError(BootFailed):
    """The server went to ERROR; ``fault`` is Nova's fault record, if any."""

    def __init__(self, fault: dict[str, Any] | None) -> None:
        message = (fault or {}).get("message") or "no fault message"
        super().__init__(
            Stage.ACTIVE,
            f"server went to ERROR: {message}",
            hint="nova-conductor's and nova-compute's logs on the lab host tell "
            "why; `openstack server show` has the fault",
        )
        self.fault = fault


def poll_console(
    conn: Connection,
    server_id: str,
    deadline: float,
    interval: float,
    on_output: Callable[[str, datetime], bool],
    trace: Trace,
) -> str:
    """Fetch the console log until ``on_output`` returns True or time runs out.

    ``on_output(text, fetched_at)`` sees every snapshot.  Returns the last
    console text read (action ``console``).  A failed read (Nova answers 409
    or 404 while the log does not exist yet) is retried until the deadline.
    """
    text = ""
    with trace.action("console"), _translated("reading the console log", Stage.LEASE):
        while True:
            try:
                output = conn.compute.get_server_console_output(server_id)
                text = str(output.get("output") or "")
            except sdk_exc.HttpException:
                pass  # retried below; the exchange is in the trace
            if on_output(text, trace.clock()):
                return text
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return text
            pause(min(interval, remaining))


def delete_server(
    conn: Connection, server_id: str, wait_s: float, interval: float, trace: Trace
) -> bool:
    """Delete the server and wait for it to be gone (action ``delete``).

    Returns False if it still exists after ``wait_s`` seconds.
    """
    deadline = time.monotonic() + wait_s
    with trace.action("delete"):
        conn.compute.delete_server(server_id, ignore_missing=True)
        while True:
            try:
                server = conn.compute.get_server(server_id)
            except sdk_exc.NotFoundException:
                return True
            if server.status == "DELETED":
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(interval, remaining))


@contextmanager
def _translated(doing: str, stage: Stage | None = None) -> Iterator[None]:
    """Turn SDK and keystoneauth errors into errors that say what to do."""
    try:
        yield
    except ks_exc.ConnectionError as exc:
        raise CloudUnreachable(
            f"lost the cloud while {doing}: {_reason(exc)}",
            hint="is the service's API running on the lab host?",
        ) from exc
    except (ks_exc.EndpointNotFound, sdk_exc.EndpointNotFound) as exc:
        raise ConfigError(
            f"the cloud's catalog lacks a service needed for {doing}: {exc}",
            hint="check `openstack catalog list`; the lab registers keystone, "
            "glance, nova, neutron and placement",
        ) from exc
    except sdk_exc.HttpException as exc:
        detail = f"HTTP {exc.status_code}{_request_id(exc.request_id)}: {exc.details or exc.message}"
        if exc.status_code == 401:
            raise CloudUnreachable(
                f"the cloud refused our token while {doing} ({detail})",
                hint="check the clock of this machine and of the lab host",
            ) from exc
        if stage is not None:
            raise BootFailed(
                stage,
                f"{doing} failed: {detail}",
                hint="look for the request id in the service's log on the lab host",
            ) from exc
        if exc.status_code is not None and exc.status_code >= 500:
            raise CloudUnreachable(f"{doing} failed: {detail}") from exc
        raise ConfigError(f"{doing} failed: {detail}") from exc


def _reason(exc: BaseException) -> str:
    """The useful tail of a connection error, e.g. '[Errno 111] Connection refused'."""
    match = re.search(r"\[Errno -?\d+\][^'\")]*", str(exc))
    return match.group(0).strip() if match else str(exc)


def _request_id(request_id: str | None) -> str:
    return f", request id {request_id}" if request_id else ""


def _ks_request_id(exc: ks_exc.HttpError) -> str:
    return _request_id(exc.request_id)
