"""Tie log records to boots and find each stage's start and end.

Two steps, both on plain records (no I/O):

1. :class:`Classifier` streams records once.  It keeps only what the catalog
   can use: records that match an event rule (with the rule's named groups
   as fields) and, for every request id, the first and last line of that
   request per service (:class:`RequestSpan`).  Memory grows with the number
   of matches and requests in the window, not with the size of the logs.
2. :func:`resolve_boot` takes one boot's keys (what the client knows: server
   id, request ids, image, ports, volumes), widens them with what the logs
   say (local request ids under the boot's global request id, RPC message
   ids the boot's requests sent, gateway requests that served its image),
   then evaluates every stage's selectors.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from probes.catalog import (
    Catalog,
    EventRule,
    Fidelity,
    SegmentSpec,
    Selector,
    Setting,
    StageSpec,
    WidenRule,
)
from probes.literals import required_literals
from probes.logs.reader import LogRecord


@dataclass(frozen=True, slots=True)
class Event:
    rule: str
    record: LogRecord
    fields: dict[str, str]


@dataclass
class RequestSpan:
    """The lines of one request id in one service (the first MAX_SPAN_LINES of them).

    A span of a service no selector reads line by line may keep the latest of those lines
    only (:class:`Classifier`'s ``lines_of``): ``times`` holds it (the last one of the
    latest stamp) and ``counted`` how many lines it stands for."""

    service: str
    request_id: str
    global_request_id: str | None
    first: LogRecord
    times: list[LogRecord] = field(default_factory=list)
    counted: int = 0  # a span keeping its latest line only: its lines (up to MAX_SPAN_LINES)

MAX_SPAN_LINES = 2000

# Lines a service writes when a new request begins.  Keystone under uwsgi logs
# the next request's first lines under the previous request id (keystonemiddleware's
# process_request runs before the new context is set): a request's span ends there
# when no client answer bounds it.
#   keystonemiddleware/auth_token/__init__.py BaseAuthProtocol.process_request
#   keystone/server/flask/request_processing/req_logging.py log_request_info
_REQUEST_START = re.compile(r"^(?:Authenticating user token|REQUEST_METHOD: `)")


class Classifier:
    """Streams records; keeps events and request spans.

    ``lines_of``: the services whose request spans keep their lines (None: every service);
    the spans of the others keep their first and their latest line only (memory), what a
    failed boot's last lines read of them when no client time bounds these.  It applies to
    the spans :meth:`absorb` takes in (a file's classifier keeps every line)."""

    def __init__(self, catalog: Catalog, lines_of: frozenset[str] | None = None) -> None:
        self.catalog = catalog
        self.lines_of = lines_of
        self.events: dict[str, list[Event]] = defaultdict(list)
        self.spans: dict[tuple[str, str], RequestSpan] = {}
        self.records = 0
        self.services: set[str] = set()  # services with at least one line in the window
        self.present: set[str] = set()  # services with a log anywhere in the folder (set by the reader's caller)
        self.incomplete = False  # a host was unreachable or a log missing at collection (set likewise)
        self.silent: set[str] = set()  # services with a log on a host but no line in the window
        self.levels: dict[str, set[str]] = defaultdict(set)  # the levels each service logged at
        self.errors: list[LogRecord] = []
        self._rules_by_service: dict[str, list[EventRule]] = defaultdict(list)
        self._any_service: list[EventRule] = []
        for rule in catalog.events.values():
            if rule.services:
                for service in rule.services:
                    self._rules_by_service[service].append(rule)
            else:
                self._any_service.append(rule)
        self._needles: dict[str, tuple[str, ...] | None] = {}
        self._rules: dict[str, list[tuple[tuple[str, ...] | None, EventRule]]] = {}

    def feed_all(self, records: Iterable[LogRecord]) -> None:
        for record in records:
            self.feed(record)

    def wants(self, service: str, message: str, request_id: str | None, level: str | None,
              instance: str | None) -> bool:
        """Whether a line could change anything but the counts: it may match an event rule
        of its service (it holds a literal every match of one needs), it carries a request id
        (request spans), or it is an error naming an instance.  A line this rejects goes to
        :meth:`tally` instead of :meth:`feed`, before any regular expression or record is made."""
        if request_id is not None or (instance is not None and level in ("ERROR", "CRITICAL")):
            return True
        needles = self.needles(service)
        if needles is None:
            return True
        for needle in needles:
            if needle in message:
                return True
        return False

    def _rules_of(self, service: str) -> list[tuple[tuple[str, ...] | None, EventRule]]:
        """The rules a line of this service is tried against, in the catalog's order (the
        service's own, then those of any service), each with its literals."""
        try:
            return self._rules[service]
        except KeyError:
            rules = self._rules[service] = [
                (required_literals(rule.pattern), rule)
                for rule in (*self._rules_by_service.get(service, ()), *self._any_service)]
            return rules

    def needles(self, service: str) -> tuple[str, ...] | None:
        """The literals one of which a line of this service must hold for any of its rules
        to match (None: some rule has no such literal, every line must be tried)."""
        try:
            return self._needles[service]
        except KeyError:
            needles = self._needles[service] = self._needles_of(service)
            return needles

    def _needles_of(self, service: str) -> tuple[str, ...] | None:
        needles: list[str] = []
        for rule in (*self._rules_by_service.get(service, ()), *self._any_service):
            found = required_literals(rule.pattern)
            if found is None:
                return None
            needles.extend(found)
        # A needle holding another is covered by it: a line with the longer has the shorter.
        return tuple(sorted({n for n in needles if not any(o != n and o in n for o in needles)},
                            key=needles.index))

    def tally(self, service: str, level: str | None, count: int = 1) -> None:
        """Count records :meth:`wants` rejected, as :meth:`feed` would have."""
        self.records += count
        self.services.add(service)
        if level:
            self.levels[service].add(level)

    def __getstate__(self) -> dict[str, Any]:
        """What crosses to another process (a worker's share, for :meth:`absorb`): what was
        seen, without the catalog and rule tables it was seen with."""
        state = self.__dict__.copy()
        for name in ("catalog", "_rules_by_service", "_any_service", "_needles", "_rules"):
            state.pop(name, None)
        return state

    def absorb(self, later: Classifier) -> None:
        """Add what another classifier saw of the records that came after this one's:
        the same as if this one had been fed them (events and errors in order, each request
        span's first line, id and first MAX_SPAN_LINES lines as one stream gives them)."""
        self.records += later.records
        self.services |= later.services
        for service, levels in later.levels.items():
            self.levels[service] |= levels
        for name, events in later.events.items():
            self.events[name].extend(events)
        self.errors.extend(later.errors)
        for key, span in later.spans.items():
            mine = self.spans.get(key)
            if self.lines_of is not None and span.service not in self.lines_of:
                self._absorb_latest(key, mine, span)
                continue
            if mine is None:
                self.spans[key] = span
                continue
            room = MAX_SPAN_LINES - len(mine.times)
            if room > 0:
                mine.times.extend(span.times[:room])
            if span.first.at < mine.first.at:
                mine.first = span.first
            if mine.global_request_id is None:
                mine.global_request_id = span.global_request_id

    def _absorb_latest(self, key: tuple[str, str], mine: RequestSpan | None,
                       span: RequestSpan) -> None:
        """:meth:`absorb` for a span that keeps its latest line only: the same first line,
        id, and latest of the first MAX_SPAN_LINES lines as the whole span would have."""
        if mine is None:
            self.spans[key] = RequestSpan(span.service, span.request_id, span.global_request_id,
                                          span.first, [latest(span.times)], len(span.times))
            return
        room = MAX_SPAN_LINES - mine.counted
        if room > 0:
            taken = span.times[:room]
            mine.times = [latest([*mine.times, *taken])]
            mine.counted += len(taken)
        if span.first.at < mine.first.at:
            mine.first = span.first
        if mine.global_request_id is None:
            mine.global_request_id = span.global_request_id

    def feed(self, record: LogRecord) -> None:
        self.records += 1
        service = record.service
        self.services.add(service)
        if record.level:
            self.levels[service].add(record.level)
        message = record.message
        for needles, rule in self._rules_of(service):
            if needles is not None:
                for needle in needles:
                    if needle in message:
                        break
                else:
                    continue  # the line holds no literal the rule needs: it cannot match
            self._match(rule, record, message)
        if record.request_id:
            self._span(record)
        if record.level in ("ERROR", "CRITICAL") and (record.instance or record.request_id):
            self.errors.append(record)

    def _match(self, rule: EventRule, record: LogRecord, message: str) -> None:
        if rule.logger is not None and not (record.logger and rule.logger.search(record.logger)):
            return
        if rule.line is not None and not rule.line.search(record.line):
            return
        found = rule.pattern.search(message)
        if not found:
            return
        fields = _fields(found)
        if rule.each is None:
            self.events[rule.name].append(Event(rule.name, record, fields))
            return
        for item in rule.each.finditer(message, found.start()):
            self.events[rule.name].append(Event(rule.name, record, {**fields, **_fields(item)}))

    def _span(self, record: LogRecord) -> None:
        assert record.request_id is not None
        key = (record.service, record.request_id)
        span = self.spans.get(key)
        if span is None:
            self.spans[key] = RequestSpan(
                record.service, record.request_id, record.global_request_id, record,
                times=[record],
            )
            return
        if len(span.times) < MAX_SPAN_LINES:
            span.times.append(record)
        if record.at < span.first.at:
            span.first = record
        if span.global_request_id is None:
            span.global_request_id = record.global_request_id


def latest(records: list[LogRecord]) -> LogRecord:
    """The record of the latest stamp, the last one of several (as ``>=`` keeps it)."""
    found = records[0]
    for record in records:
        if record.at >= found.at:
            found = record
    return found


def request_services(catalog: Catalog) -> frozenset[str]:
    """The services whose request spans a stage's selector reads line by line."""
    found: set[str] = set()
    for spec in catalog.stages:
        for selector in (spec.start, spec.end, spec.absent, *spec.also):
            while selector is not None:
                if selector.request:
                    found.add(selector.request)
                selector = selector.otherwise
    return frozenset(found)


def _fields(match: re.Match[str]) -> dict[str, str]:
    """A match's named groups that took part.  Their values (ids: of instances, ports,
    requests, RPC messages) repeat over a boot's events: each is kept once (memory)."""
    return {name: sys.intern(value) for name, value in match.groupdict().items() if value is not None}


@dataclass
class ClientTimes:
    """What the client measured for one boot (probe clock)."""

    auth_sent: datetime | None = None
    auth_received: datetime | None = None
    create_sent: datetime | None = None
    create_received: datetime | None = None
    active_sent: datetime | None = None
    active_received: datetime | None = None
    metadata_seen: datetime | None = None
    auth_request_id: str | None = None
    create_request_id: str | None = None
    active_request_id: str | None = None

    def get(self, name: str) -> datetime | None:
        return getattr(self, name.replace(".", "_"), None)


@dataclass
class BootKeys:
    """Everything that ties a log line to one boot."""

    server_id: str | None = None
    global_request_id: str | None = None
    request_ids: set[str] = field(default_factory=set)
    image_id: str | None = None
    volume_ids: set[str] = field(default_factory=set)
    port_ids: set[str] = field(default_factory=set)
    macs: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)
    rpc_ids: set[str] = field(default_factory=set)
    rgw_reqs: set[str] = field(default_factory=set)
    trace_ids: set[str] = field(default_factory=set)  # OSProfiler base ids of the boot's traces
    window: tuple[datetime, datetime] | None = None
    client_times: ClientTimes | None = None
    auth_request_id: str | None = None
    create_request_id: str | None = None
    active_request_id: str | None = None

    @property
    def taps(self) -> set[str]:
        """Linux device names of the ports (``tap`` + the first 11 chars of the id)."""
        return {f"tap{port[:11]}" for port in self.port_ids}

    def to_dict(self) -> dict[str, object]:
        return {
            "server_id": self.server_id,
            "global_request_id": self.global_request_id,
            "request_ids": sorted(self.request_ids),
            "image_id": self.image_id,
            "volume_ids": sorted(self.volume_ids),
            "port_ids": sorted(self.port_ids),
            "macs": sorted(self.macs),
            "ips": sorted(self.ips),
            "rpc_ids": sorted(self.rpc_ids),
            "rgw_requests": sorted(self.rgw_reqs),
            # only a profiled boot has one (a boot without: its keys as before there were traces)
            **({"trace_ids": sorted(self.trace_ids)} if self.trace_ids else {}),
        }


# Which event fields a 'by' key compares, and with which boot key.
_FIELD_KEYS = {
    "port": ("port_id", "port_ids"),
    "mac": ("mac", "macs"),
    "ip": ("ip", "ips"),
    "volume": ("volume_id", "volume_ids"),
    "rpc": ("msg_id", "rpc_ids"),
    "rgw": ("rgw_req", "rgw_reqs"),
    "trace": ("base_id", "trace_ids"),
}


def ties(event: Event, by: tuple[str, ...], keys: BootKeys) -> bool:
    """Does the event belong to this boot by any of the named keys?"""
    record, fields = event.record, event.fields
    for name in by:
        if name == "instance" and keys.server_id and (
            record.instance == keys.server_id or fields.get("instance") == keys.server_id
        ):
            return True
        if name == "request" and (
            (keys.global_request_id and record.global_request_id == keys.global_request_id)
            or (record.request_id is not None and record.request_id in keys.request_ids)
        ):
            return True
        if name == "image" and keys.image_id and fields.get("image_id") == keys.image_id:
            return True
        if name == "tap" and fields.get("tap") in keys.taps:
            return True
        if name in ("auth", "create", "active") and record.request_id and (
            record.request_id == getattr(keys, f"{name}_request_id")
        ):
            return True
        if name == "window" and keys.window and keys.window[0] <= record.at <= keys.window[1]:
            return True
        if name in _FIELD_KEYS:
            field_name, key_name = _FIELD_KEYS[name]
            value = fields.get(field_name)
            if value is not None and value.lower() in getattr(keys, key_name):
                return True
            if name == "rpc" and fields.get("unique_id") in keys.rpc_ids:
                return True
    return False


# The fields TiedEvents._lookups asks the index for: as they are, and lowered (_FIELD_KEYS).
_EQUAL_FIELDS = frozenset({"image_id", "tap", "unique_id"})
_LOWER_FIELDS = frozenset(field_name for field_name, _ in _FIELD_KEYS.values())


class EventIndex:
    """The classifier's events of each rule, indexed by the values :func:`ties` compares, so
    that a boot's events are looked up instead of every event being tried against its keys
    (a folder of many hosts holds many boots' events). Built once the logs are read."""

    def __init__(self, classifier: Classifier) -> None:
        self._events = classifier.events
        self._tables: dict[str, dict[str, dict[str, list[int]]]] = {}

    def events(self, rule: str) -> list[Event]:
        return self._events.get(rule, [])

    def rules(self) -> list[str]:
        """The rules that have events, in the classifier's order."""
        return list(self._events)

    def table(self, rule: str) -> dict[str, dict[str, list[int]]]:
        """Positions of the rule's events by kind of value: 'instance' (the record's or the
        field's), 'record_instance', 'global', 'request', and the fields :class:`TiedEvents`
        looks up, as is ('=name': _EQUAL_FIELDS) and lowered ('~name': _LOWER_FIELDS)."""
        try:
            return self._tables[rule]
        except KeyError:
            pass
        table: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for position, event in enumerate(self._events.get(rule, ())):
            record = event.record
            if record.instance is not None:
                table["record_instance"][record.instance].append(position)
            for value in {v for v in (record.instance, event.fields.get("instance")) if v is not None}:
                table["instance"][value].append(position)
            if record.global_request_id is not None:
                table["global"][record.global_request_id].append(position)
            if record.request_id is not None:
                table["request"][record.request_id].append(position)
            for name, value in event.fields.items():
                if name in _EQUAL_FIELDS:
                    table[f"={name}"][value].append(position)
                if name in _LOWER_FIELDS:
                    table[f"~{name}"][value.lower()].append(position)
        self._tables[rule] = table
        return table


class TiedEvents:
    """One boot's events of each rule by each 'by': what filtering every event with
    :func:`ties` gives, in the same order, from the index (the boot's keys do not change
    while its stages are resolved)."""

    def __init__(self, index: EventIndex, keys: BootKeys) -> None:
        self.index, self.keys = index, keys
        self._found: dict[tuple[str, tuple[str, ...]], list[Event]] = {}

    def events(self, rule: str, by: tuple[str, ...]) -> list[Event]:
        try:
            return self._found[rule, by]
        except KeyError:
            pass
        events = self.index.events(rule)
        if "window" in by:  # a range, not a value: every event is tried
            found = [event for event in events if ties(event, by, self.keys)]
        else:
            table = self.index.table(rule)
            positions: set[int] = set()
            for name in by:
                for kind, value in self._lookups(name):
                    positions.update(table.get(kind, {}).get(value, ()))
            found = [events[position] for position in sorted(positions)]
        self._found[rule, by] = found
        return found

    def _lookups(self, name: str) -> list[tuple[str, str]]:
        """The (kind, value) pairs of the index an event tied by ``name`` is found under."""
        keys = self.keys
        if name == "instance":
            return [("instance", keys.server_id)] if keys.server_id else []
        if name == "request":
            found = [("global", keys.global_request_id)] if keys.global_request_id else []
            return found + [("request", request_id) for request_id in keys.request_ids]
        if name == "image":
            return [("=image_id", keys.image_id)] if keys.image_id else []
        if name == "tap":
            return [("=tap", tap) for tap in keys.taps]
        if name in ("auth", "create", "active"):
            request_id = getattr(keys, f"{name}_request_id")
            return [("request", request_id)] if request_id else []
        if name in _FIELD_KEYS:
            field_name, key_name = _FIELD_KEYS[name]
            found = [(f"~{field_name}", value) for value in getattr(keys, key_name)]
            if name == "rpc":
                found += [("=unique_id", value) for value in keys.rpc_ids]
            return found
        return []


# What a widen rule's key kinds are in BootKeys: the attribute, and whether a value is
# lowered first (as the client's ports, MACs and volumes are).  An attribute holding a set
# gathers every value; one holding a single value keeps the first found.
_LEARNT: dict[str, tuple[str, bool]] = {
    "request": ("request_ids", False), "image": ("image_id", False),
    "port": ("port_ids", True), "mac": ("macs", True), "ip": ("ips", False),
    "volume": ("volume_ids", True), "rpc": ("rpc_ids", False), "rgw": ("rgw_reqs", False),
    "trace": ("trace_ids", True),
}


def widen_keys(classifier: Classifier, keys: BootKeys,
               rules: Iterable[WidenRule] | None = None) -> None:
    """Learn the boot's other keys from what the logs tie to it: the catalog's widen
    rules (``rules``: those instead), in order, each with the keys the earlier ones
    learnt (stages.yaml ``widen``)."""
    for rule in classifier.catalog.widen if rules is None else rules:
        if rule.unless is not None and _has_key(keys, rule.unless):
            continue  # judged once, before the rule runs
        for fields in _tied_fields(rule, classifier, keys):
            _learn(rule, fields, keys)
            if _filled(rule, keys):
                break


def _has_key(keys: BootKeys, kind: str) -> bool:
    return bool(getattr(keys, _LEARNT[kind][0]))


def _filled(rule: WidenRule, keys: BootKeys) -> bool:
    """Whether every kind the rule learns holds one value and has it (nothing more to learn)."""
    return all(not isinstance(value, set) and value is not None
               for value in (getattr(keys, _LEARNT[kind][0]) for kind, _ in rule.learn))


def _tied_fields(rule: WidenRule, classifier: Classifier, keys: BootKeys) -> Iterator[dict[str, str]]:
    """The fields of each thing of the rule's sources tied to the boot, in order (lazily:
    each is tied with the keys learnt from those before it)."""
    for source in rule.sources:
        if source.kind == "boot":
            yield {name: value for name, value in (
                ("server_id", keys.server_id), ("global_request_id", keys.global_request_id),
                ("image_id", keys.image_id)) if value}
        elif source.kind == "spans":
            for span in classifier.spans.values():
                if _span_ties(span, source.by, keys):
                    fields = {"request_id": span.request_id,
                              **({"global_request_id": span.global_request_id}
                                 if span.global_request_id is not None else {})}
                    if _where(rule, fields):
                        yield fields
        else:
            for event in classifier.events.get(source.event or "", ()):
                if _where(rule, event.fields) and ties(event, source.by, keys):
                    yield event.fields


def _span_ties(span: RequestSpan, by: tuple[str, ...], keys: BootKeys) -> bool:
    """Does the request span belong to this boot ('request': its global request id is the
    boot's, or its id one of the boot's)?"""
    return "request" in by and bool(
        (keys.global_request_id and span.global_request_id == keys.global_request_id)
        or span.request_id in keys.request_ids)


def _where(rule: WidenRule, fields: dict[str, str]) -> bool:
    return all(pattern.search(fields.get(name, "")) for name, pattern in rule.where)


def _learn(rule: WidenRule, fields: dict[str, str], keys: BootKeys) -> None:
    for kind, name in rule.learn:
        value = fields.get(name)
        if value is None:
            continue
        attribute, lower = _LEARNT[kind]
        if lower:
            value = value.lower()
        current = getattr(keys, attribute)
        if isinstance(current, set):
            current.add(value)
        elif current is None:
            setattr(keys, attribute, value)


@dataclass
class Found:
    """A selector's answer: the time and the line that proves it."""

    at: datetime
    record: LogRecord | None  # None: a time the client measured
    note: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    witness: str = "logs"  # the source of the selector that found it (catalog.WITNESSES)
    fidelity: str | None = None  # that selector's own fidelity, where it has one


@dataclass
class StageFinding:
    spec: StageSpec
    start: Found | None
    end: Found | None
    missing: str | None = None  # why it is unobserved
    explained: bool = False  # missing for a known cause (the catalog's 'absent'), not a failure
    also: list[Found] = field(default_factory=list)


@dataclass
class SegmentFinding:
    """A segment's start and end for one boot, or why it has none."""

    spec: SegmentSpec
    start: Found | None
    end: Found | None
    missing: str | None = None


# Findings by stage number and, once resolved, by segment name (a point names either).
Points = Mapping[Any, "StageFinding | SegmentFinding"]


def _point(ref: str | None, findings: Points) -> Found | None:
    """The start or end found for "N.start" / "N.end" / "<segment>.end", if any."""
    if not ref:
        return None
    name, _, edge = ref.rpartition(".")
    finding = findings.get(int(name) if name.isdigit() else name)
    if finding is None:
        return None
    return finding.end if edge == "end" else finding.start


def _event_time(event: Event, selector: Selector) -> datetime:
    if selector.began and selector.began in event.fields:
        # an access line written at the request's end, with its duration
        try:
            return event.record.at - timedelta(seconds=float(event.fields[selector.began]))
        except ValueError:
            pass
    if selector.time and selector.time in event.fields:
        try:
            stamp = datetime.strptime(event.fields[selector.time], "%d/%b/%Y:%H:%M:%S.%f")
            return stamp.replace(tzinfo=event.record.at.tzinfo) - timedelta(
                seconds=event.record.shift_s)
        except ValueError:
            pass
    return event.record.at


def select(
    selector: Selector,
    classifier: Classifier,
    keys: BootKeys,
    findings: Points,
    own_start: Found | None = None,
    tied: TiedEvents | None = None,
) -> Found | None:
    """Evaluate one selector for one boot (None: nothing fits). ``tied``: the boot's
    events, looked up once for all its selectors (made here when not given)."""
    tied = tied or TiedEvents(EventIndex(classifier), keys)
    found = _select_one(selector, classifier, keys, findings, own_start, tied)
    if found is not None and not selector.point:  # (a point's answer keeps its own source)
        found.witness, found.fidelity = selector.witness, selector.fidelity
    if found is None and selector.otherwise is not None:
        found = select(selector.otherwise, classifier, keys, findings, own_start, tied)
        # past a broker's or profiler's selector (a source this cloud may not run), the
        # next one is the first choice of the logs, not a stand-in
        if found is not None and found.note is None and not selector.optional:
            stand = _stand_in(selector.otherwise, found)
            found.note = (
                f"no client record of {selector.client}: {stand} stands "
                "for it (the network transit to or from the client is not in the logs)"
                if selector.client else f"fallback: {stand}")
    return found


def _stand_in(chain: Selector, found: Found) -> str:
    """What stood in, as a note says it: the broker's or profiler's selector that found it,
    else the chain of the logs' selectors (as said before there were other witnesses)."""
    if found.witness == chain.witness and chain.optional:
        return replace(chain, otherwise=None).describe()
    return chain.without_optional().describe()


def _select_one(
    selector: Selector,
    classifier: Classifier,
    keys: BootKeys,
    findings: Points,
    own_start: Found | None,
    tied: TiedEvents,
) -> Found | None:
    if selector.client:
        at = keys.client_times.get(selector.client) if keys.client_times else None
        return Found(at, None) if at else None
    if selector.point:
        return _point(selector.point, findings)
    if selector.request and selector.by == ("request",):
        return _select_thread(selector, classifier, keys, findings)
    if selector.request:
        return _select_request(selector, classifier, keys)
    return _select_event(selector, classifier, keys, findings, own_start, tied)


def _select_event(
    selector: Selector,
    classifier: Classifier,
    keys: BootKeys,
    findings: Points,
    own_start: Found | None,
    tied: TiedEvents,
) -> Found | None:
    """The first or last event of the selector's that fits (None: the stages it is bound
    to are not found, its reference lacks a field it must share, or no event fits)."""
    after = _point(selector.after, findings)
    before = _point(selector.before, findings)
    if (selector.after and after is None) or (selector.before and before is None):
        return None
    reference = _point(selector.of, findings) if selector.of else own_start
    if selector.same and (reference is None or any(f not in reference.fields for f in selector.same)):
        return None
    events = (tied.events(selector.event or "", selector.by) if selector.by
              else classifier.events.get(selector.event or "", ()))
    candidates = _candidates(events, selector, keys, after, before, reference)
    if not candidates:
        return None
    at, chosen = (max if selector.pick == "last" else min)(candidates, key=lambda c: c[0])
    return Found(at, chosen.record, fields=dict(chosen.fields))


def _candidates(
    events: Iterable[Event], selector: Selector, keys: BootKeys, after: Found | None,
    before: Found | None, reference: Found | None,
) -> list[tuple[datetime, Event]]:
    """The events (with their times) that match the selector's fields, share the
    reference's, and fall between its bounds and in the boot's window."""
    candidates: list[tuple[datetime, Event]] = []
    where = selector.where
    same, shared = (selector.same, reference.fields) if reference is not None else ((), {})
    for event in events:  # (no generator made per event when the selector has no where, same)
        if where and any(not pattern.search(event.fields.get(name, "")) for name, pattern in where):
            continue
        if same and any(event.fields.get(name) != shared.get(name) for name in same):
            continue
        at = _event_time(event, selector)
        if _within_bounds(at, event, selector, after, before) and (
                not keys.window or keys.window[0] <= at <= keys.window[1]):
            candidates.append((at, event))
    return candidates


def _within_bounds(at: datetime, event: Event, selector: Selector, after: Found | None,
                   before: Found | None) -> bool:
    """After ``after`` (by more than the line's stamp resolution), not after ``before``,
    and within the selector's seconds of one of them when it says so."""
    slack = timedelta(seconds=event.record.resolution_s)
    if after is not None and at + slack <= after.at:
        return False
    if before is not None and at > before.at:
        return False
    return selector.within is None or any(
        point is not None and abs((at - point.at).total_seconds()) <= selector.within
        for point in (after, before)
    )


def _select_request(selector: Selector, classifier: Classifier, keys: BootKeys) -> Found | None:
    """First or last line, in one service, of the client's request named in 'by'."""
    which = selector.by[0] if selector.by else ""
    wanted = getattr(keys, f"{which}_request_id", None)
    span = classifier.spans.get((selector.request or "", wanted or ""))
    if span is None:
        return None
    if selector.edge == "first":
        return Found(span.first.at, span.first)
    # A service may log a few lines of its next request under the previous id
    # (keystone under uwsgi does): the request ends before the client got its answer.
    received = keys.client_times.get(f"{which}.received") if keys.client_times else None
    lines = span.times
    if received is not None:
        lines = [r for r in lines if r.at <= received + timedelta(seconds=0.1)] or lines
    else:
        lines = own_lines(span)
    record = max(lines, key=lambda r: r.at)
    return Found(record.at, record)


def _select_thread(
    selector: Selector, classifier: Classifier, keys: BootKeys, findings: Points
) -> Found | None:
    """First or last line, in one service, of any request of the boot's thread
    (within 'after' / 'before' when given)."""
    after = _point(selector.after, findings)
    before = _point(selector.before, findings)
    if (selector.after and after is None) or (selector.before and before is None):
        return None
    lines = [
        record
        for (service, request_id), span in classifier.spans.items()
        if service == selector.request and (
            request_id in keys.request_ids
            or (keys.global_request_id and span.global_request_id == keys.global_request_id))
        for record in span.times
        if (after is None or record.at >= after.at) and (before is None or record.at <= before.at)
        and (keys.window is None or keys.window[0] <= record.at <= keys.window[1])
    ]
    if not lines:
        return None
    record = (min if selector.edge == "first" else max)(lines, key=lambda r: r.at)
    return Found(record.at, record)


def own_lines(span: RequestSpan) -> list[LogRecord]:
    """The span's lines up to the first line of a later request logged under its id."""
    ordered = sorted(span.times, key=lambda r: r.at)
    for index, record in enumerate(ordered[1:], start=1):
        if _REQUEST_START.match(record.message):
            return ordered[:index]
    return ordered


@dataclass(frozen=True)
class SettingState:
    """An evidence setting as the logs show it."""

    on: bool | None  # None: the cloud runs none of its services, or nothing needed it
    off_in: tuple[str, ...] = ()  # a per-service setting (a log level): where it is off


def setting_states(catalog: Catalog, classifier: Classifier) -> dict[str, SettingState]:
    """Each evidence setting: on, off (and where), or not applicable."""
    states: dict[str, SettingState] = {}
    known = classifier.present | classifier.services
    for name, setting in catalog.settings.items():
        if not any(service in known for service in setting.services):
            states[name] = SettingState(None)
        elif setting.level:  # judged per service: those that logged but never at that level
            off = tuple(service for service in setting.services if service in classifier.services
                        and setting.level not in classifier.levels.get(service, ()))
            states[name] = SettingState(not off, off)
        elif any(classifier.events.get(e) for e in setting.events):
            states[name] = SettingState(True)
        elif setting.witness and not any(classifier.events.get(e) for e in setting.witness):
            states[name] = SettingState(None)  # nothing in the window needed it: not judged
        else:
            states[name] = SettingState(False)
    return states


def _off(spec: StageSpec, catalog: Catalog, states: dict[str, SettingState]) -> list[Setting]:
    """The settings this stage's first choice needs that are off for its services."""
    off = []
    for name in spec.needs:
        state = states.get(name)
        if state is None or state.on is not False:
            continue
        if state.off_in and not set(state.off_in) & set(spec.sources):
            continue  # off elsewhere, on for this stage's services
        off.append(catalog.settings[name])
    return off


def _resolve_stage(
    spec: StageSpec, classifier: Classifier, keys: BootKeys, findings: Points,
    catalog: Catalog, states: dict[str, SettingState], tied: TiedEvents,
) -> StageFinding:
    if spec.fidelity is Fidelity.UNOBSERVABLE or spec.start is None or spec.end is None:
        return StageFinding(spec, None, None, spec.unobservable)
    start = select(spec.start, classifier, keys, findings, tied=tied)
    end = select(spec.end, classifier, keys, findings, own_start=start, tied=tied)
    off = _off(spec, catalog, states)
    also = [found for sel in spec.also
            if (found := select(sel, classifier, keys, findings, tied=tied))]
    if start is not None and end is not None:
        if off:  # a stand-in was used because the first choice is switched off here
            for found in (start, end):
                if found.note:
                    found.note += f" (the first-choice line needs {_whats(off)}: off in this cloud)"
        return StageFinding(spec, start, end, None, also=also)
    missing, explained = _why_missing(spec, classifier, keys, findings, start, end, off, tied)
    return StageFinding(spec, start, end, missing, also=also, explained=explained)


def _whats(settings: list[Setting]) -> str:
    return "; ".join(s.what for s in settings)


def sought(selector: Selector, classifier: Classifier) -> Selector:
    """A selector chain as a reason names what was looked for: without the selectors of a
    source a cloud may not run (the broker's witness, the profiler) whose services have no log
    in this one, so that a cloud without them reads as it did before they existed."""
    chain: list[Selector] = []
    link: Selector | None = selector
    while link is not None:
        if not (link.optional and not _source_seen(link, classifier)):
            chain.append(link)
        link = link.otherwise
    if not chain:
        return selector
    found: Selector | None = None
    for one in reversed(chain):
        found = dataclasses.replace(one, otherwise=found)
    assert found is not None
    return found


def _source_seen(selector: Selector, classifier: Classifier) -> bool:
    """Whether the cloud has a log of a service the selector's event is written by (True
    when it cannot tell: an event any service may write, a selector of no event)."""
    rule = classifier.catalog.events.get(selector.event or "")
    if rule is None or not rule.services:
        return True
    known = classifier.services | classifier.present
    return any(service in known for service in rule.services)


def _why_missing(
    spec: StageSpec, classifier: Classifier, keys: BootKeys, findings: Points,
    start: Found | None, end: Found | None, off: list[Setting], tied: TiedEvents,
) -> tuple[str, bool]:
    """The reason a stage has no start or end, and whether it is a known cause."""
    assert spec.start is not None and spec.end is not None
    what = "; ".join(
        f"{edge}: no {sought(sel, classifier).describe()}"
        for edge, sel, got in (("start", spec.start, start), ("end", spec.end, end))
        if got is None
    )
    not_run = [name for name in spec.sources
               if name not in classifier.services and name not in classifier.present]
    unread = [name for name in spec.sources if name not in classifier.services]
    if not_run and not classifier.incomplete:
        return (f"this cloud runs no {', '.join(not_run)} (no log of it anywhere in the collected "
                f"files, and every host's logs were collected); {what}"), True
    if spec.requires == "volume" and not keys.volume_ids:
        return "this boot attached no volume (no volume id in the client's record or the logs)", True
    cause_seen = spec.absent is not None and select(spec.absent, classifier, keys, findings,
                                                    tied=tied)
    if spec.absent_reason and cause_seen:
        return spec.absent_reason, True
    if off:
        return (f"turned off in this cloud: {_whats(off)} (no line it makes visible anywhere in "
                f"the logs); turn it on to observe this stage; {what}"), True
    silent = [name for name in unread if name in classifier.silent]
    if silent:
        return (f"{', '.join(silent)} logged no line during the boot (its log is there, last "
                f"written before the window: stopped, stuck, or never asked?); {what}"), False
    if unread:
        return (f"no line of {', '.join(unread)} in the collected logs for this window "
                f"(host unreachable, log missing or rotated away?); {what}"), False
    if spec.absent_reason and spec.absent is None:
        return spec.absent_reason, True
    return what, False


def resolve_boot(
    catalog: Catalog, classifier: Classifier, keys: BootKeys,
    states: dict[str, SettingState] | None = None, index: EventIndex | None = None,
) -> list[StageFinding]:
    """Every stage's start and end for one boot, in stage order.

    Stages may refer to later ones (49 uses the Ceph client id found in 51),
    so the stages are resolved twice; the second pass sees the first's results.
    ``states``: the cloud's evidence settings, when the caller has them already
    (they are the same for every boot of a log folder); ``index``: the classifier's
    :class:`EventIndex`, likewise.
    """
    if states is None:
        states = setting_states(catalog, classifier)
    tied = TiedEvents(index or EventIndex(classifier), keys)
    findings: dict[int, StageFinding] = {}
    for _ in range(2):
        for spec in catalog.stages:
            findings[spec.number] = _resolve_stage(spec, classifier, keys, findings, catalog,
                                                   states, tied)
    return [findings[spec.number] for spec in catalog.stages]


def resolve_segments(
    catalog: Catalog, classifier: Classifier, keys: BootKeys, stages: list[StageFinding],
    index: EventIndex | None = None,
) -> list[SegmentFinding]:
    """Every segment's start and end for one boot, in catalog order (a segment may name the
    stages' points and those of the segments before it)."""
    tied = TiedEvents(index or EventIndex(classifier), keys)
    findings: dict[Any, StageFinding | SegmentFinding] = {f.spec.number: f for f in stages}
    found: list[SegmentFinding] = []
    for spec in catalog.segments:
        finding = _resolve_segment(spec, classifier, keys, findings, tied)
        findings[spec.name] = finding
        found.append(finding)
    return found


def _resolve_segment(
    spec: SegmentSpec, classifier: Classifier, keys: BootKeys,
    findings: dict[Any, StageFinding | SegmentFinding], tied: TiedEvents,
) -> SegmentFinding:
    if spec.requires == "volume" and not keys.volume_ids:
        return SegmentFinding(spec, None, None, "this boot attached no volume")
    start = select(spec.start, classifier, keys, findings, tied=tied)
    findings[spec.name] = SegmentFinding(spec, start, None)  # its end may name its start
    end = select(spec.end, classifier, keys, findings, own_start=start, tied=tied)
    if start is None or end is None:
        what = "; ".join(f"{edge}: no {sel.without_optional().describe()}" for edge, sel, got in
                         (("start", spec.start, start), ("end", spec.end, end)) if got is None)
        return SegmentFinding(spec, start, end, f"{spec.absent}; {what}" if spec.absent else what)
    if end.at < start.at:
        return SegmentFinding(spec, None, None, "its end line came before its start line")
    return SegmentFinding(spec, start, end)


def boot_window(client: ClientTimes, slack: timedelta) -> tuple[datetime, datetime] | None:
    start = client.auth_sent or client.create_sent
    end = client.metadata_seen or client.active_received
    if start is None or end is None:
        return None
    return (start - slack, end + slack)
