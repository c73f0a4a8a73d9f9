"""``bootprobe report --format otlp`` and ``--otlp-endpoint``: a recorded cold boot and a lab
boot as OpenTelemetry traces, read back with the official opentelemetry-proto message
classes, every span checked against the result; the same message received over OTLP/HTTP by
a receiver on loopback; an endpoint nobody listens on is exit 3."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from google.protobuf.json_format import MessageToDict, Parse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from probes import cli
from probes.analyze import analyze
from probes.boots import read_boots
from probes.catalog import load_catalog
from probes.views.otlp import render_otlp, send_otlp
from tests.support import FIXTURES

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def result():
    folder = FIXTURES / "boot-cold-20261126"
    return analyze(folder, read_boots(folder), load_catalog())


def _parsed(text: str) -> ExportTraceServiceRequest:
    """The OTLP JSON file as the proto message (its hex ids as protobuf JSON's base64)."""
    def base64_ids(node):
        if isinstance(node, dict):
            return {k: (base64.b64encode(bytes.fromhex(v)).decode()
                        if k in ("traceId", "spanId", "parentSpanId") else base64_ids(v))
                    for k, v in node.items()}
        return [base64_ids(i) for i in node] if isinstance(node, list) else node
    return Parse(json.dumps(base64_ids(json.loads(text))), ExportTraceServiceRequest())


def _spans(message: ExportTraceServiceRequest):
    for resource_spans in message.resource_spans:
        attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield attributes, span


def _nanos(iso: str) -> int:
    return (datetime.fromisoformat(iso) - EPOCH) // timedelta(microseconds=1) * 1000


def test_every_observed_stage_and_segment_is_a_span_under_the_boot(result):
    spans = list(_spans(_parsed(render_otlp(result))))
    boot = result["boots"][0]
    observed = [s for s in boot["stages"] if s["start"] and s["end"]]
    segments = [s for s in boot["accounting"]["segments"] if s["kind"] != "stage"]
    assert len(spans) == 1 + len(observed) + len(segments)
    roots = [span for _, span in spans if not span.parent_span_id]
    assert [r.name for r in roots] == ["boot 0"]
    root = roots[0]
    assert all(span.parent_span_id == root.span_id and span.trace_id == root.trace_id
               for _, span in spans if span is not root)
    by_name = {span.name: (resource, span) for resource, span in spans}
    for stage in observed:
        resource, span = by_name[f"{stage['number']:02d} {stage['action']}"]
        assert span.start_time_unix_nano == _nanos(stage["start"])
        assert span.end_time_unix_nano == _nanos(stage["end"])
        assert [e.name for e in span.events] == [e["role"] for e in stage["evidence"]]
        assert resource["service.name"] == stage["evidence"][-1]["source"].split()[0]
    for segment in segments:
        resource, span = by_name[segment["name"]]
        attributes = {a.key: a.value for a in span.attributes}
        assert attributes["bootlab.kind"].string_value == segment["kind"]
        assert attributes["bootlab.critical_s"].double_value == segment["critical_s"]
        assert span.end_time_unix_nano - span.start_time_unix_nano == _nanos(
            segment["end"]) - _nanos(segment["start"])
        assert resource["service.name"] == (segment["service"] or "unexplained")
    root_attributes = {a.key: a.value for a in root.attributes}
    assert list(root_attributes["bootlab.critical_path"].array_value.values)[0].string_value == \
        boot["accounting"]["critical_path"][0]


def test_the_endpoint_receives_the_message_the_file_holds(result):
    received: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        count = send_otlp(result, f"http://127.0.0.1:{server.server_port}/v1/traces")
    finally:
        server.shutdown()
    message = ExportTraceServiceRequest.FromString(received[0])
    assert count == sum(1 for _ in _spans(message))
    assert MessageToDict(message) == MessageToDict(_parsed(render_otlp(result)))


def test_an_endpoint_nobody_listens_on_is_exit_3(tmp_path, result, capsys):
    path = tmp_path / "result.json"
    path.write_text(json.dumps(result))
    code = cli.main(["report", str(path), "--format", "json", "-o", str(tmp_path / "out.json"),
                     "--otlp-endpoint", "http://127.0.0.1:9/v1/traces", "--otlp-timeout", "1"])
    assert code == 3
    assert "did not take the" in capsys.readouterr().err
