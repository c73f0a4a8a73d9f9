"""A ``bootlab.run/1`` result as OpenTelemetry traces: ``bootprobe report --format otlp``
writes OTLP JSON (an ``ExportTraceServiceRequest``), ``--otlp-endpoint URL`` sends the same
spans over OTLP/HTTP with the OpenTelemetry exporter.

Each boot is one trace: a root span for the boot (its accounting's window, or its first and
last stage), and under it a span per observed stage and per named segment of work or
waiting or unexplained stretch (docs/accounting.md). A span's resource is where its
evidence came from (``service.name``, ``host.name``: the exporter groups spans by it, as a
tracing backend shows services); its evidence lines are span events at their own times;
its attributes carry the stage's number, fidelity and status or the segment's kind, what
it waits for, and its seconds on the critical path.

Trace and span ids are derived from the boot (server id and start) and the span's name, so
the same result gives the same trace. The spans are built once
(:func:`boot_spans`, OpenTelemetry SDK ``ReadableSpan``) and encoded by the exporter's own
encoder for the file, so the file and what the endpoint receives are the same message.
OTLP JSON writes trace and span ids as hex strings (the OTLP specification), not as
protobuf JSON's base64.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from probes.views import accounted_stages, parse_time

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SCOPE = "bootprobe"
PREFIX = "bootlab"  # attribute namespace


class CollectorUnreachable(RuntimeError):
    """The OTLP/HTTP endpoint did not take the spans."""


def render_otlp(result: Mapping[str, Any]) -> str:
    """The OTLP JSON text of every boot of the result."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    message = MessageToDict(encode_spans(result_spans(result)), use_integers_for_enums=True)
    return json.dumps(_hex_ids(message), indent=1) + "\n"


def send_otlp(result: Mapping[str, Any], endpoint: str, timeout_s: float = 10.0) -> int:
    """Send the result's spans to an OTLP/HTTP endpoint (``.../v1/traces``); the span count."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    spans = result_spans(result)
    exporter = OTLPSpanExporter(endpoint=endpoint, timeout=timeout_s)
    try:
        outcome = exporter.export(spans)
    finally:
        exporter.shutdown()
    if outcome is not SpanExportResult.SUCCESS:
        raise CollectorUnreachable(f"the OTLP endpoint {endpoint} did not take the {len(spans)} "
                                   "spans (is a collector listening there? see the log above)")
    return len(spans)


def result_spans(result: Mapping[str, Any]) -> list[ReadableSpan]:
    return [span for boot in result.get("boots") or [] for span in boot_spans(boot)]


def boot_spans(boot: Mapping[str, Any]) -> list[ReadableSpan]:
    """The boot's root span and a span per observed stage and segment (none: nothing seen)."""
    pieces = list(_pieces(boot))
    if not pieces:
        return []
    accounting = boot.get("accounting") or {}
    start = parse_time(accounting.get("start")) or min(p[1] for p in pieces)
    end = parse_time(accounting.get("end")) or max(p[2] for p in pieces)
    trace_id = _id(f"{boot.get('server_id')}|{boot.get('started_at')}|{boot.get('index')}", 16)
    root = _span(trace_id, f"boot {boot.get('index')}", None, start, end,
                 ("bootprobe", "client"), _boot_attributes(boot), (), _boot_status(boot))
    children = [_span(trace_id, name, root.context, s, e, where, attributes, evidence, None)
                for name, s, e, where, attributes, evidence in pieces]
    return [root, *children]


Piece = tuple[str, datetime, datetime, tuple[str, str], dict[str, Any], Sequence[Mapping[str, Any]]]


def _pieces(boot: Mapping[str, Any]) -> Iterator[Piece]:
    """(name, start, end, (service, host), attributes, evidence) per observed stage and
    segment of the boot."""
    accounting = boot.get("accounting") or {}
    on_path = accounted_stages(boot)
    for stage in boot.get("stages") or []:
        start, end = parse_time(stage.get("start")), parse_time(stage.get("end"))
        if start is None or end is None:
            continue
        accounted = on_path.get(stage["number"], {})
        attributes = {f"{PREFIX}.kind": "stage", f"{PREFIX}.stage.number": stage["number"],
                      f"{PREFIX}.stage.actor": stage.get("actor") or "",
                      f"{PREFIX}.stage.target": stage.get("target") or "",
                      f"{PREFIX}.stage.fidelity": stage.get("fidelity") or "",
                      f"{PREFIX}.stage.status": stage.get("status") or ""}
        if accounted:
            attributes[f"{PREFIX}.critical_s"] = accounted["critical_s"]
        yield (f"{stage['number']:02d} {stage.get('action')}", start, end,
               _where(stage.get("evidence") or []), attributes, stage.get("evidence") or [])
    for segment in accounting.get("segments") or []:
        if segment["kind"] == "stage":
            continue
        attributes = {f"{PREFIX}.kind": segment["kind"],
                      f"{PREFIX}.critical_s": segment["critical_s"]}
        if segment.get("waits_for"):
            attributes[f"{PREFIX}.waits_for"] = segment["waits_for"]
        where = (segment.get("service") or "unexplained", segment.get("host") or "")
        start, end = parse_time(segment["start"]), parse_time(segment["end"])
        if start is not None and end is not None:
            yield segment["name"], start, end, where, attributes, segment.get("evidence") or []


def _where(evidence: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(service, host) of the stage's last evidence line (a client time: bootprobe, client)."""
    if not evidence:
        return "unknown", ""
    last = evidence[-1]
    service = str(last.get("source") or "").split(" ")[0] or "unknown"
    return service, str(last.get("host") or "")


def _boot_attributes(boot: Mapping[str, Any]) -> dict[str, Any]:
    accounting = boot.get("accounting") or {}
    attributes: dict[str, Any] = {f"{PREFIX}.kind": "boot", f"{PREFIX}.outcome": boot.get("outcome") or ""}
    for key in ("server_id", "server_name"):
        if boot.get(key):
            attributes[f"{PREFIX}.{key}"] = boot[key]
    for key in ("end_to_end_s", "attributed_s", "unexplained_s", "attributed_share"):
        if accounting.get(key) is not None:
            attributes[f"{PREFIX}.{key}"] = accounting[key]
    if accounting.get("critical_path"):
        attributes[f"{PREFIX}.critical_path"] = list(accounting["critical_path"])
    return attributes


def _boot_status(boot: Mapping[str, Any]) -> tuple[bool, str] | None:
    """(failed, description) of a boot that did not end ok."""
    if boot.get("outcome") in (None, "ok"):
        return None
    return True, str(boot.get("message") or boot.get("outcome"))


def _span(trace_id: int, name: str, parent: Any, start: datetime, end: datetime,
          where: tuple[str, str], attributes: Mapping[str, Any],
          evidence: Sequence[Mapping[str, Any]], status: tuple[bool, str] | None) -> ReadableSpan:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

    service, host = where
    context = SpanContext(trace_id, _id(f"{trace_id}|{name}|{start.isoformat()}", 8),
                          is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    events = [Event(str(e.get("role")), {"line": str(e.get("line") or ""),
                                        "host": str(e.get("host") or ""),
                                        "source": str(e.get("source") or "")},
                    timestamp=_nanos(parse_time(e.get("at")) or start)) for e in evidence]
    return ReadableSpan(
        name, context=context, parent=parent,
        resource=Resource({"service.name": service, **({"host.name": host} if host else {})}),
        attributes=dict(attributes), events=events,
        start_time=_nanos(start), end_time=_nanos(max(end, start)),
        instrumentation_scope=InstrumentationScope(SCOPE),
        status=Status(StatusCode.ERROR, status[1]) if status else Status(StatusCode.UNSET))


def _id(text: str, size: int) -> int:
    """A non-zero id of ``size`` bytes derived from the text."""
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:size], "big")
    return value or 1


def _nanos(moment: datetime) -> int:
    """Nanoseconds since the epoch (the result's microseconds, exactly)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _hex_ids(node: Any) -> Any:
    """protobuf JSON's base64 trace and span ids as OTLP JSON's hex strings."""
    import base64

    if isinstance(node, dict):
        return {k: (base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId")
                    and isinstance(v, str) else _hex_ids(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_hex_ids(item) for item in node]
    return node
