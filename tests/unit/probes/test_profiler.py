"""bootprobe run --profile's client side (probes/profiler.py) against osprofiler's own code:
keystoneauth1 signs a traced boot's requests, osprofiler's WSGI middleware (a real HTTP
server on this machine) checks the signature and traces the request, its SQL (osprofiler's
SQLAlchemy hooks) and a traced function; the report osprofiler's driver interface makes of
what its notifier got is reduced to what may reach disk, and read back by the log reader."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import webob
import webob.dec
from keystoneauth1 import session as ks_session
from osprofiler import notifier, profiler, web
from osprofiler import sqlalchemy as os_sqlalchemy
from osprofiler.drivers import base

from probes.logs.formats import FORMATS, OSProfilerTrace, ParseState, sniff
from probes.profiler import Secret, host_folder, spans_of, traced, what_of, write_trace

KEY = "test-hmac-key-0123456789"
PASSWORD = "admin-password-never-on-disk"
SQL_SECRET = "s3cret-sql-parameter"


class MemoryDriver(base.Driver):
    """osprofiler's driver interface, its notifications kept in memory: the Redis driver's
    notify (each notification with its project and service) and get_report (each one given
    to the base class's _append_results, then its _parse_results), without Redis."""

    def __init__(self) -> None:
        super().__init__("memory://", project="nova", service="osapi_compute", host="lab1")
        self.notifications: list[dict[str, Any]] = []

    def notify(self, info: dict[str, Any], **kwargs: Any) -> None:
        self.notifications.append({**info, "project": self.project, "service": self.service})

    def get_report(self, base_id: str) -> dict[str, Any]:
        for n in self.notifications:
            if n["base_id"] == base_id:
                self._append_results(n["trace_id"], n["parent_id"], n["name"], n["project"],
                                     n["service"], n["info"]["host"], n["timestamp"], n)
        return self._parse_results()


@profiler.trace("rpc")
def build_and_run_instance(instance: str, admin_password: str | None = None) -> None:
    """A traced call whose arguments hold a secret (Nova's build_and_run_instance has one)."""


@webob.dec.wsgify
def api(request: webob.Request) -> webob.Response:
    """A service's request: a statement run through osprofiler's SQLAlchemy hooks, a call."""
    statement = "SELECT instances.uuid FROM instances WHERE instances.uuid = %(uuid_1)s AND tag = 'literal-tag'"
    os_sqlalchemy._before_cursor_execute("db")(None, None, statement, {"uuid_1": SQL_SECRET}, None, False)
    os_sqlalchemy._after_cursor_execute()(None, None, statement, {"uuid_1": SQL_SECRET}, None, False)
    build_and_run_instance("instance", admin_password=PASSWORD)
    return webob.Response(json={"ok": True})


class Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def service() -> Iterator[tuple[str, MemoryDriver]]:
    """A WSGI service behind osprofiler's middleware on a local port, its spans to a driver."""
    driver = MemoryDriver()
    notifier.set(driver.notify)
    web.enable(KEY)
    server = make_server("127.0.0.1", 0, web.WsgiMiddleware(api), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", driver
    finally:
        server.shutdown()
        web.disable()
        notifier.set(notifier._noop_notifier)


def test_a_traced_boots_requests_carry_signed_trace_headers(service):
    url, driver = service
    with traced(Secret(KEY)) as base_id:
        ks_session.Session().get(f"{url}/v2.1/servers/abc?all_tenants=1&name={PASSWORD}",
                                 authenticated=False)
    assert base_id is not None and profiler.get() is None  # the thread's trace is cleaned
    spans = spans_of(driver.get_report(base_id))
    by_name = {span.name: span for span in spans}
    assert set(by_name) == {"wsgi", "db", "rpc"}
    assert all(span.base_id == base_id for span in spans)
    assert by_name["wsgi"].what == "GET /v2.1/servers/abc"  # the query string left out
    assert by_name["wsgi"].caller == "-" and by_name["db"].caller == "nova-osapi_compute/wsgi"
    assert by_name["db"].what == ("SELECT instances.uuid FROM instances WHERE instances.uuid = "
                                  "%(uuid_1)s AND tag = '?'")
    assert by_name["rpc"].what.endswith("build_and_run_instance")
    assert by_name["db"].started >= by_name["wsgi"].started and by_name["db"].finished <= by_name["wsgi"].finished
    text = "".join(span.line() for span in spans)
    for secret in (PASSWORD, SQL_SECRET, KEY, "literal-tag", "all_tenants"):
        assert secret not in text


def test_an_unsigned_request_is_not_traced(service):
    url, driver = service
    with traced(None) as base_id:
        ks_session.Session().get(f"{url}/v2.1/servers", authenticated=False)
    assert base_id is None and driver.notifications == []


def test_a_request_signed_with_another_key_is_not_traced(service):
    url, driver = service
    with traced(Secret("another-key")):
        ks_session.Session().get(f"{url}/v2.1/servers", authenticated=False)
    assert driver.notifications == []


def test_the_secret_is_never_shown():
    assert KEY not in repr(Secret(KEY)) and KEY not in str(Secret(KEY))


def test_the_trace_file_is_read_as_a_log(service, tmp_path):
    url, driver = service
    with traced(Secret(KEY)) as base_id:
        ks_session.Session().get(f"{url}/v2.1/servers/abc", authenticated=False)
    spans = spans_of(driver.get_report(base_id))
    here = socket.gethostname()  # osprofiler's span host: the traced process's
    [path] = write_trace(tmp_path, base_id, spans, [f"{here}.lab.example", "other"])
    assert path.relative_to(tmp_path).parts == (f"{here}.lab.example", f"osprofiler-trace-{base_id}.log")
    lines = path.read_text().splitlines()
    assert isinstance(sniff(lines, 2026), OSProfilerTrace)
    parsed = [OSProfilerTrace().parse(line, ParseState()) for line in lines]
    assert [p.at for p in parsed] == [s.finished for s in spans]  # stamped at each span's end
    assert {p.unit for p in parsed} == {"nova-osapi_compute"} and {p.host for p in parsed} == {here}
    elapsed = (spans[-1].finished - spans[-1].started).total_seconds()
    assert parsed[-1].message.startswith(f"wsgi {elapsed:.6f} base {base_id} ")
    # no other format reads a trace line
    others = [fmt for fmt in FORMATS if not isinstance(fmt, OSProfilerTrace)
              and any(fmt.parse(line, ParseState(year=2026)) for line in lines)]
    assert others == []


def test_a_span_without_its_end_is_left_out():
    start = {"name": "wsgi-start", "base_id": "b", "trace_id": "t", "parent_id": "b",
             "timestamp": "2026-12-08T03:39:49.054577", "info": {"host": "lab1", "request": {
                 "method": "GET", "path": "/v3"}}}
    report = {"children": [{"trace_id": "t", "parent_id": "b", "children": [], "info": {
        "name": "wsgi", "project": "keystone", "service": "public", "host": "lab1",
        "meta.raw_payload.wsgi-start": start}}]}
    assert spans_of(report) == []
    stop = {**start, "name": "wsgi-stop", "timestamp": "2026-12-08T03:39:49.356408", "info": {"host": "lab1"}}
    report["children"][0]["info"]["meta.raw_payload.wsgi-stop"] = stop
    [span] = spans_of(report)
    assert span.finished == datetime(2026, 12, 8, 3, 39, 49, 356408, tzinfo=UTC)
    assert span.line() == ("2026-12-08T03:39:49.356408Z osprofiler lab1 keystone public wsgi 0.301831 "
                           "base b span t parent b in -: GET /v3")


def test_what_keeps_no_argument_query_or_parameter():
    assert what_of("rpc", {"function": {"name": "m.f", "args": f"('{PASSWORD}',)", "kwargs": PASSWORD}}) == "m.f"
    assert what_of("db", {"db": {"statement": "UPDATE users SET name = 'x'\n WHERE id = %(id)s",
                                 "params": {"id": PASSWORD}}}) == "UPDATE users SET name = '?' WHERE id = %(id)s"
    assert what_of("wsgi", {"request": {"method": "POST", "path": "/v3/auth/tokens", "query": PASSWORD}}) \
        == "POST /v3/auth/tokens"
    assert what_of("neutron_api", {}) == "-"


@pytest.mark.parametrize(("span_host", "folder"), [
    ("bootlab1", "bootlab1"), ("bootlab1.lab.example", "bootlab1"), ("compute-9", "compute-9"),
    ("odd host/name", "odd_host_name"),
])
def test_spans_go_to_their_host_folder(span_host, folder):
    assert host_folder(span_host, ["bootlab1", "bootlab2"]) == folder
