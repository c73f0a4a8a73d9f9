"""A small fake OpenStack cloud on 127.0.0.1 for driving the real openstacksdk.

It speaks just enough Keystone v3, Glance v2, Nova v2.1 and Neutron v2.0 for
``bootprobe smoke``: version discovery, a password token with a catalog,
finding an image/flavor/network by name, creating, polling, reading the
console of and deleting a server.  Each response carries an
``x-openstack-request-id``; every request is logged for the test to check.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "gAAAAABfake-SECRET-TOKEN-must-never-be-printed"
ADMIN_PASS = "Zz9-SECRET-ADMIN-PASS"
PROJECT_ID = "3b7fd9c0e6e94a4c8d2f1a5b6c7d8e9f"
IMAGE_ID = "5a0f2c61-0d7e-4b9f-a1c3-2e6d9b8f7a10"
FLAVOR_ID = "b1"
NETWORK_ID = "0e2d7b5c-8f41-4a6e-9d3b-7c1a5f2e8b90"

BUILD = ("BUILD", "scheduling", "building", 0)
SPAWNING = ("BUILD", "spawning", "building", 0)
ACTIVE = ("ACTIVE", None, "active", 1)
ERROR = ("ERROR", None, "error", 0)


def guest_console(uuid_: str, lease: bool = True, metadata: bool = True) -> str:
    """Console text of the probe guest: kernel lines, then its markers."""
    lines = [
        "[    0.000000] Linux version 6.1.0-27-amd64 (debian-kernel@lists.debian.org)",
        "[    4.969844] Run /init as init process",
        "",
    ]
    if not lease:
        lines += ["BOOTLAB-LEASE-FAILED", "BOOTLAB-METADATA-FAILED"]
    else:
        lines.append(
            "BOOTLAB-LEASE ip=10.20.0.57 mask=255.255.255.0 router=none "
            "server=10.20.0.2 staticroutes=169.254.169.254/32 10.20.0.2"
        )
        if metadata:
            body = {"uuid": uuid_, "name": "x", "launch_index": 0}
            lines += [
                "BOOTLAB-METADATA-BEGIN",
                json.dumps(body),
                "BOOTLAB-METADATA-END",
            ]
        else:
            lines.append("BOOTLAB-METADATA-FAILED")
    lines.append("BOOTLAB-READY")
    return "\r\n".join(lines) + "\r\n"


@dataclass
class Scenario:
    """What the fake cloud does; the defaults boot a healthy server."""

    password: str = "probe-SECRET-pw"
    images: dict[str, str] = field(default_factory=lambda: {"bootlab-guest": IMAGE_ID})
    flavors: dict[str, str] = field(default_factory=lambda: {"bootlab.tiny": FLAVOR_ID})
    networks: dict[str, str] = field(
        default_factory=lambda: {"bootlab-net": NETWORK_ID}
    )
    # One state per GET of the server; the last one repeats.
    states: list[tuple[str, str | None, str, int]] = field(
        default_factory=lambda: [BUILD, SPAWNING, ACTIVE]
    )
    fault: dict[str, Any] | None = None
    # (status, body) Nova answers the create request with, instead of 202.
    create_error: tuple[int, dict[str, Any]] | None = None
    # One console text per read, built by a function of the server id; the last repeats.
    consoles: list[Any] = field(default_factory=lambda: [lambda sid: "", guest_console])


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class FakeCloud:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.seen: list[Seen] = []
        self.servers: dict[str, dict[str, Any]] = {}
        self.request_ids: list[str] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeCloud:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def clouds_yaml(self, directory: Path, password: str | None = None) -> Path:
        path = directory / "clouds.yaml"
        path.write_text(
            "clouds:\n"
            "  fake:\n"
            "    auth:\n"
            f"      auth_url: {self.url}/identity/v3\n"
            "      username: probe\n"
            f"      password: {password or self.scenario.password}\n"
            "      project_name: probe\n"
            "      user_domain_name: Default\n"
            "      project_domain_name: Default\n"
            "    region_name: RegionOne\n"
            "    identity_api_version: 3\n"
        )
        return path

    def calls(self, method: str, prefix: str) -> list[Seen]:
        return [
            s for s in self.seen if s.method == method and s.path.startswith(prefix)
        ]

    # -- the HTTP side -------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                seen = Seen(
                    self.command,
                    parts.path.rstrip("/") or "/",
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with cloud._lock:
                    cloud.seen.append(seen)
                    status, payload, headers = cloud._route(seen)
                request_id = f"req-{uuid.uuid4()}"
                cloud.request_ids.append(request_id)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-openstack-request-id", request_id)
                if seen.path.startswith("/compute"):
                    self.send_header("x-compute-request-id", request_id)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

        return Handler

    def _route(self, req: Seen) -> tuple[int, Any, dict[str, str]]:
        p = req.path
        base = self.url
        if p == "/identity/v3" and req.method == "GET":
            return (
                200,
                {"version": _version("v3.14", f"{base}/identity/v3/", "stable")},
                {},
            )
        if p == "/identity/v3/auth/tokens" and req.method == "POST":
            return self._token(req)
        if req.headers.get("x-auth-token") != TOKEN:
            return (
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "The request you have made requires authentication.",
                    }
                },
                {},
            )
        if p == "/compute/v2.1" and req.method == "GET":
            doc = _version("v2.1", f"{base}/compute/v2.1/", "CURRENT")
            doc.update(version="2.93", min_version="2.1")
            return 200, {"version": doc}, {}
        if p in ("/image", "/network", "/compute"):
            return 300, {"versions": [_root_version(p, base)]}, {}
        if p.startswith("/image/v2/images"):
            return self._find(req, "images", self.scenario.images, _image)
        if p.startswith("/compute/v2.1/flavors"):
            return self._find(req, "flavors", self.scenario.flavors, _flavor)
        if p.startswith("/network/v2.0/networks"):
            return self._find(req, "networks", self.scenario.networks, _network)
        if p.startswith("/compute/v2.1/servers"):
            return self._servers(req)
        return (
            404,
            {"itemNotFound": {"code": 404, "message": f"no route {req.method} {p}"}},
            {},
        )

    def _token(self, req: Seen) -> tuple[int, Any, dict[str, str]]:
        password = req.body["auth"]["identity"]["password"]["user"]["password"]
        if password != self.scenario.password:
            return (
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "The request you have made requires authentication.",
                        "title": "Unauthorized",
                    }
                },
                {},
            )
        base = self.url
        catalog = [
            _service("identity", "keystone", f"{base}/identity"),
            _service("compute", "nova", f"{base}/compute/v2.1"),
            _service("image", "glance", f"{base}/image"),
            _service("network", "neutron", f"{base}/network"),
        ]
        domain = {"id": "default", "name": "Default"}
        token = {
            "methods": ["password"],
            "user": {
                "id": "u-probe",
                "name": "probe",
                "domain": domain,
                "password_expires_at": None,
            },
            "audit_ids": ["fake-audit"],
            "expires_at": "2099-01-01T00:00:00.000000Z",
            "issued_at": "2026-01-01T00:00:00.000000Z",
            "project": {"id": PROJECT_ID, "name": "probe", "domain": domain},
            "is_domain": False,
            "roles": [{"id": "r-member", "name": "member"}],
            "catalog": catalog,
        }
        return 201, {"token": token}, {"X-Subject-Token": TOKEN}

    def _find(
        self, req: Seen, plural: str, named: dict[str, str], render: Any
    ) -> tuple[int, Any, dict[str, str]]:
        tail = req.path.split(f"/{plural}", 1)[1].strip("/")
        if tail in ("", "detail"):
            wanted = req.query.get("name", [None])[0]
            items = [render(i, n) for n, i in named.items() if wanted in (None, n)]
            return 200, {plural: items}, {}
        for name, id_ in named.items():
            if tail == id_:
                return (
                    200,
                    (
                        render(id_, name)
                        if plural == "images"
                        else {plural[:-1]: render(id_, name)}
                    ),
                    {},
                )
        return 404, {"itemNotFound": {"code": 404, "message": f"{tail} not found"}}, {}

    def _servers(self, req: Seen) -> tuple[int, Any, dict[str, str]]:
        rest = req.path[len("/compute/v2.1/servers") :].strip("/").split("/")
        if rest == [""] and req.method == "POST":
            if self.scenario.create_error is not None:
                status, body = self.scenario.create_error
                return status, body, {}
            sid = str(uuid.uuid4())
            self.servers[sid] = {
                "name": req.body["server"]["name"],
                "gets": 0,
                "reads": 0,
                "deleted": False,
            }
            return (
                202,
                {
                    "server": {
                        "id": sid,
                        "links": [],
                        "OS-DCF:diskConfig": "MANUAL",
                        "security_groups": [{"name": "default"}],
                        "adminPass": ADMIN_PASS,
                    }
                },
                {},
            )
        if rest in ([""], ["detail"]) and req.method == "GET":
            wanted = req.query.get("name", [None])[0]
            items = [
                self._server_doc(s)
                for s, v in self.servers.items()
                if not v["deleted"] and wanted in (None, v["name"])
            ]
            return 200, {"servers": items}, {}
        sid = rest[0]
        server = self.servers.get(sid)
        if server is None or server["deleted"]:
            return (
                404,
                {
                    "itemNotFound": {
                        "code": 404,
                        "message": f"Instance {sid} could not be found.",
                    }
                },
                {},
            )
        if len(rest) == 1 and req.method == "GET":
            server["gets"] += 1
            return 200, {"server": self._server_doc(sid)}, {}
        if len(rest) == 1 and req.method == "DELETE":
            server["deleted"] = True
            return 204, None, {}
        if rest[1:] == ["action"] and "os-getConsoleOutput" in req.body:
            consoles = self.scenario.consoles
            make = consoles[min(server["reads"], len(consoles) - 1)]
            server["reads"] += 1
            return 200, {"output": make(sid)}, {}
        return (
            404,
            {"itemNotFound": {"code": 404, "message": "no such server route"}},
            {},
        )

    def _server_doc(self, sid: str) -> dict[str, Any]:
        server = self.servers[sid]
        states = self.scenario.states
        status, task, vm, power = states[
            min(max(server["gets"] - 1, 0), len(states) - 1)
        ]
        doc = {
            "id": sid,
            "name": server["name"],
            "status": status,
            "OS-EXT-STS:task_state": task,
            "OS-EXT-STS:vm_state": vm,
            "OS-EXT-STS:power_state": power,
            "tenant_id": PROJECT_ID,
            "links": [],
        }
        if status == "ERROR" and self.scenario.fault is not None:
            doc["fault"] = self.scenario.fault
        return doc


def _version(id_: str, href: str, status: str) -> dict[str, Any]:
    return {
        "id": id_,
        "status": status,
        "updated": "2022-09-01T00:00:00Z",
        "links": [{"rel": "self", "href": href}],
    }


def _root_version(path: str, base: str) -> dict[str, Any]:
    return {
        "/image": _version("v2.16", f"{base}/image/v2/", "CURRENT"),
        "/network": _version("v2.0", f"{base}/network/v2.0/", "CURRENT"),
        "/compute": dict(
            _version("v2.1", f"{base}/compute/v2.1/", "CURRENT"),
            version="2.93",
            min_version="2.1",
        ),
    }[path]


def _service(type_: str, name: str, url: str) -> dict[str, Any]:
    return {
        "type": type_,
        "name": name,
        "id": f"svc-{type_}",
        "endpoints": [
            {
                "id": f"ep-{type_}",
                "interface": "public",
                "region": "RegionOne",
                "region_id": "RegionOne",
                "url": url,
            }
        ],
    }


def _image(id_: str, name: str) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "status": "active",
        "visibility": "public",
        "disk_format": "raw",
        "container_format": "bare",
        "min_disk": 0,
        "min_ram": 0,
        "tags": [],
    }


def _flavor(id_: str, name: str) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "ram": 128,
        "vcpus": 1,
        "disk": 1,
        "OS-FLV-EXT-DATA:ephemeral": 0,
        "os-flavor-access:is_public": True,
        "links": [],
    }


def _network(id_: str, name: str) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "status": "ACTIVE",
        "admin_state_up": True,
        "shared": False,
        "subnets": [],
        "tenant_id": PROJECT_ID,
        "project_id": PROJECT_ID,
    }
