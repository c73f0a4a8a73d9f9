"""The stage catalog: the 58 stages of the boot sequence as data.

``probes/data/stages.yaml`` holds, for every stage of
``docs/boot-sequence.md``: its number, actor, target and action, its
fidelity in the reference configuration, and how its start and end are
found.  It also holds the *events*: named patterns over the services' real
log message templates, each tied to the services that write it.  Code reads
this file; no stage has a hand-written function.

A stage's ``start`` and ``end`` are *selectors*::

    {event: rpc_cast_sent, by: [request], where: {topic: conductor}, pick: first, after: 4.start}
    {client: create.sent}                      # a time the client measured
    {request: keystone, edge: first}           # first line of the boot's request in a service

``by`` names the boot keys that tie a record to this boot (``instance``,
``request`` = the boot's global or local request ids, ``port``, ``mac``,
``ip``, ``image``, ``volume``, ``rpc`` = message ids the boot sent,
``rgw`` = the gateway requests that served the boot's image, ``trace`` = the
boot's OSProfiler traces, by their base id, ``window`` = anything inside the boot's
window on the named services).

The boot keys beyond those the client knows are learnt from the logs by the
*widen* rules (:class:`WidenRule`, applied in order by
``probes.correlate.widen_keys``)::

    {learn: {port: port_id, mac: mac}, from: [compute_nw_info, dhcp_reload], by: [instance]}
    {learn: {mac: mac}, unless: mac, from: [{event: l2_port_updated, by: [tap]}]}
    {learn: {request: request_id}, from: spans, by: [request]}

each event (or request span, or the boot's own keys) of ``from`` tied to the
boot by ``by`` (and matching ``where``) gives the named fields as keys of the
named kinds.

``data/catalog.schema.json`` (JSON Schema 2020-12) is the file's shape:
:func:`parse_catalog` validates against it, then checks what a schema cannot
(the events, settings and stages entries name exist; stage numbers in order;
regular expressions compile; a widen rule's fields are its events' fields).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import jsonschema

SCHEMA: dict[str, Any] = json.loads(
    resources.files("probes").joinpath("data/catalog.schema.json").read_text())
STAGE_COUNT: int = SCHEMA["properties"]["stages"]["allOf"][0]["minItems"]
BY_KEYS: frozenset[str] = frozenset(SCHEMA["$defs"]["byKey"]["enum"])
CLIENT_TIMES: frozenset[str] = frozenset(SCHEMA["$defs"]["clientTime"]["enum"])
LEARN_KEYS: frozenset[str] = frozenset(SCHEMA["$defs"]["keyKind"]["enum"])
# The fields of a widen rule's sources that are not events: a request span, the boot itself.
SPAN_FIELDS = frozenset({"request_id", "global_request_id"})
BOOT_FIELDS = frozenset({"server_id", "global_request_id", "image_id"})


class Fidelity(enum.Enum):
    DIRECT = "direct"  # the evidence marks exactly this stage
    PROXY = "proxy"  # a nearby event stands for it (the catalog says which and why)
    UNOBSERVABLE = "unobservable"  # in this configuration, with the reason


class CatalogError(ValueError):
    """stages.yaml is not what the code expects."""


@dataclass(frozen=True)
class EventRule:
    """A message template of one or more services, as a regular expression.

    Named groups become the event's fields (``port_id``, ``msg_id`` ...)."""

    name: str
    services: tuple[str, ...]
    pattern: re.Pattern[str]
    logger: re.Pattern[str] | None
    source: str
    line: re.Pattern[str] | None = None  # also required of the whole raw line
    # A line that lists several items (neutron's batched "Sending events: [...]"): one
    # event per match of ``each`` in the message, its fields over the ``pattern``'s.
    each: re.Pattern[str] | None = None


# The evidence sources a selector can read, best first (docs/evidence.md): the broker's own
# record of each message, the profiler's spans, the services' log lines, the client's clock.
WITNESSES = ("broker", "profiler", "logs", "client")
OPTIONAL_WITNESSES = frozenset({"broker", "profiler"})


@dataclass(frozen=True)
class Selector:
    event: str | None = None
    client: str | None = None
    request: str | None = None  # service whose lines of the boot's requests are meant
    by: tuple[str, ...] = ()
    where: tuple[tuple[str, re.Pattern[str]], ...] = ()
    pick: str = "first"
    after: str | None = None  # "N.start" / "N.end": not before that point
    before: str | None = None  # not after that point
    edge: str = "first"
    same: tuple[str, ...] = ()  # fields equal to those of the event found for 'of'
    of: str | None = None  # "N.start" / "N.end"; default: this stage's start
    time: str | None = None  # a field holding the event's own time (haproxy's accept date)
    otherwise: Selector | None = None  # tried when this one finds nothing (YAML: a list)
    within: float | None = None  # seconds: at most this far from the 'before'/'after' point
    began: str | None = None  # a field holding the request's duration: the event's time less it
    point: str | None = None  # "N.start" / "<segment>.end": that time and line, as found
    # The evidence source read (docs/evidence.md): WITNESSES, best first; a broker's or a
    # profiler's selector is one a cloud may not have, so falling back from it is no stand-in.
    witness: str = "logs"
    fidelity: str | None = None  # "direct" / "proxy" where it differs from the stage's

    @property
    def optional(self) -> bool:
        """Read from a source a cloud may not run (the broker's witness, the profiler)."""
        return self.witness in OPTIONAL_WITNESSES

    def without_optional(self) -> Selector:
        """The chain less its broker's and profiler's selectors (itself when it has none, or
        nothing else): what a missing stage's reason names, so that a cloud running neither
        is told what it was told before they existed."""
        rest = self.otherwise.without_optional() if self.otherwise is not None else None
        if self.optional and rest is not None:
            return rest
        if rest is self.otherwise:
            return self
        return dataclasses.replace(self, otherwise=rest)

    def describe(self) -> str:
        if self.otherwise is not None:
            single = dataclasses.replace(self, otherwise=None)
            return f"{single.describe()}, else {self.otherwise.describe()}"
        if self.client:
            return f"client {self.client}"
        if self.request:
            return f"{self.edge} line of the boot's request in {self.request}"
        if self.point:
            return f"{self.point} as found"
        parts = self._event_parts()
        if self.optional:
            parts.append(f"[{self.witness}]")
        return " ".join(parts)

    def _event_parts(self) -> list[str]:
        parts = [f"{self.pick} '{self.event}'"]
        if self.by:
            parts.append(f"by {'/'.join(self.by)}")
        if self.where:
            parts.append(" ".join(f"{k}~{p.pattern}" for k, p in self.where))
        if self.same:
            parts.append(f"same {'/'.join(self.same)} as {self.of or 'its start'}")
        if self.after:
            parts.append(f"after {self.after}")
        if self.before:
            parts.append(f"before {self.before}")
        if self.within is not None:
            parts.append(f"within {self.within:g} s")
        if self.began:
            parts.append(f"(its request's start: the line's time less its {self.began})")
        return parts


@dataclass(frozen=True)
class Setting:
    """A log setting some stages' direct evidence depends on.

    It is on in a cloud when any line it makes visible was seen: an event of
    ``events``, or a line at ``level`` from any service.  It is only judged on
    clouds that run one of ``services`` (no Ceph: no Ceph debug level to miss).
    """

    name: str
    what: str  # the setting, as an operator would change it
    services: tuple[str, ...]
    events: tuple[str, ...] = ()
    level: str | None = None
    witness: tuple[str, ...] = ()  # events showing the service had lines of that kind to log


@dataclass(frozen=True)
class StageSpec:
    number: int
    actor: str
    target: str
    action: str
    fidelity: Fidelity
    start: Selector | None
    end: Selector | None
    keys: tuple[str, ...]
    why: str | None = None  # for proxy: what stands for the stage and why
    unobservable: str | None = None  # for unobservable: the reason
    would_need: str | None = None  # what would make it observable
    sources: tuple[str, ...] = ()  # services whose logs are read
    devstack_units: tuple[str, ...] = ()
    also: tuple[Selector, ...] = ()  # supporting evidence, times unchanged
    absent: Selector | None = None  # an event that explains a missing stage
    absent_reason: str | None = None
    needs: tuple[str, ...] = ()  # settings the first-choice evidence depends on
    requires: str | None = None  # 'volume': only a boot with a volume has this stage


@dataclass(frozen=True)
class KeySource:
    """What a widen rule reads: the events of an event rule, the request spans, or the
    boot's own keys (``kind``: event, spans, boot)."""

    kind: str
    event: str | None = None
    by: tuple[str, ...] = ()  # the keys that tie an event (a span) to the boot


@dataclass(frozen=True)
class WidenRule:
    """How a boot's keys grow from what the logs tie to it (stages.yaml ``widen``):
    each tied event of ``sources`` (matching ``where``) gives the value of each field
    of ``learn`` it has as a key of that kind; skipped when the boot has an ``unless``
    key already."""

    learn: tuple[tuple[str, str], ...]  # (key kind, field)
    sources: tuple[KeySource, ...]
    where: tuple[tuple[str, re.Pattern[str]], ...] = ()
    unless: str | None = None


class SegmentKind(enum.Enum):
    WORK = "work"  # a service doing something for the boot
    WAIT = "wait"  # a service (or the client, or the guest) waiting for something named


@dataclass(frozen=True)
class SegmentSpec:
    """Named work or waiting between the stages (stages.yaml's ``segments``): the lines that
    show its start and end, and which service on which host does it."""

    name: str
    kind: SegmentKind
    service: str  # the service the segment is reported under (the guest: 'guest')
    what: str  # one sentence: what happens then
    start: Selector
    end: Selector
    waits_for: str | None = None  # a wait: what it waits for
    requires: str | None = None  # 'volume': only a boot with a volume has it
    absent: str | None = None  # what stands in when its lines are not there


@dataclass(frozen=True)
class Catalog:
    stages: tuple[StageSpec, ...]
    events: dict[str, EventRule] = field(default_factory=dict)
    settings: dict[str, Setting] = field(default_factory=dict)
    widen: tuple[WidenRule, ...] = ()
    segments: tuple[SegmentSpec, ...] = ()

    def stage(self, number: int) -> StageSpec:
        return self.stages[number - 1]


_DEVSTACK_UNITS = {
    "keystone": "devstack@keystone", "nova-api": "devstack@n-api",
    "nova-scheduler": "devstack@n-sch", "nova-conductor": "devstack@n-cond-cell1",
    "nova-compute": "devstack@n-cpu", "nova-api-metadata": "devstack@n-api-meta",
    "glance-api": "devstack@g-api", "neutron-server": "devstack@q-svc",
    "neutron-dhcp-agent": "devstack@q-dhcp", "neutron-l2-agent": "devstack@q-agt",
    "neutron-metadata-agent": "devstack@q-meta", "cinder-api": "devstack@c-api",
    "cinder-volume": "devstack@c-vol", "placement": "devstack@placement-api",
}


DISTRO_LOGS = {
    "keystone": "/var/log/keystone/keystone.log", "nova-api": "/var/log/nova/nova-api.log",
    "nova-scheduler": "/var/log/nova/nova-scheduler.log",
    "nova-conductor": "/var/log/nova/nova-conductor.log",
    "nova-compute": "/var/log/nova/nova-compute.log",
    "nova-api-metadata": "/var/log/nova/nova-api-metadata.log",
    "glance-api": "/var/log/glance/glance-api.log",
    "neutron-server": "/var/log/neutron/neutron-{api,rpc-server,server}.log",
    "neutron-dhcp-agent": "/var/log/neutron/neutron-dhcp-agent.log",
    "neutron-l2-agent": "/var/log/neutron/neutron-linuxbridge-agent.log",
    "neutron-metadata-agent": "/var/log/neutron/neutron-metadata-agent.log",
    "dnsmasq": "/var/log/neutron/dnsmasq/<network>/dhcp_dns_log",
    "metadata-proxy": "journald haproxy-metadata-proxy-<network>",
    "cinder-api": "/var/log/cinder/cinder-api.log", "cinder-volume": "/var/log/cinder/cinder-volume.log",
    "ceph-mon": "/var/log/ceph/ceph-mon.<id>.log", "ceph-osd": "/var/log/ceph/ceph-osd.<id>.log",
    "ceph-rgw": "/var/log/ceph/ceph-client.rgw.<id>.log", "libvirt": "/var/log/libvirt/libvirtd.log",
    "mariadb": "/var/log/mysql/query.log (general log)",
}


def _selector(data: Any, where: str, events: dict[str, EventRule]) -> Selector | None:
    """A selector, or a list of them (each tried when the ones before found nothing)."""
    if data is None:
        return None
    if not isinstance(data, list):
        return _one_selector(data, where, events)
    chain = [_one_selector(item, f"{where}[{index}]", events) for index, item in enumerate(data)]
    found: Selector | None = None
    for one in reversed(chain):
        found = dataclasses.replace(one, otherwise=found)
    return found


def _one_selector(data: dict[str, Any], where: str, events: dict[str, EventRule]) -> Selector:
    if "event" in data and data["event"] not in events:
        raise CatalogError(f"{where}: unknown event {data['event']!r}")
    return Selector(
        event=data.get("event"), client=data.get("client"), request=data.get("request"),
        by=tuple(data.get("by") or ()), where=_patterns(data, where),
        pick=str(data.get("pick", "first")),
        after=data.get("after"), before=data.get("before"), edge=str(data.get("edge", "first")),
        same=tuple(data.get("same") or ()), of=data.get("of"), time=data.get("time"),
        within=float(data["within"]) if data.get("within") is not None else None,
        began=data.get("began"), point=data.get("point"),
        witness=str(data.get("witness") or ("client" if data.get("client") else "logs")),
        fidelity=data.get("fidelity"),
    )


def _patterns(data: dict[str, Any], where: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """A 'where': each field with the regular expression its value must match."""
    try:
        return tuple((str(k), re.compile(str(v))) for k, v in (data.get("where") or {}).items())
    except re.error as exc:
        raise CatalogError(f"{where} where: {exc}") from exc


def _event(name: str, data: dict[str, Any]) -> EventRule:
    try:
        pattern = re.compile(data["match"])
        logger = re.compile(data["logger"]) if data.get("logger") else None
        line = re.compile(data["line"]) if data.get("line") else None
        each = re.compile(data["each"]) if data.get("each") else None
    except re.error as exc:
        raise CatalogError(f"event {name}: {exc}") from exc
    return EventRule(name, tuple(data.get("services") or ()), pattern, logger,
                     str(data.get("source", "")), line, each)


def _setting(name: str, data: dict[str, Any], events: dict[str, EventRule]) -> Setting:
    seen = data["seen"]
    unknown = (set(seen.get("events") or ()) | set(data.get("witness") or ())) - set(events)
    if unknown:
        raise CatalogError(f"setting {name}: unknown events {sorted(unknown)}")
    level = seen.get("level")
    return Setting(name, str(data["what"]), tuple(data["services"]),
                   tuple(seen.get("events") or ()), str(level) if level is not None else None,
                   tuple(data.get("witness") or ()))


def _stage(index: int, entry: dict[str, Any], events: dict[str, EventRule],
           settings: dict[str, Setting]) -> StageSpec:
    where = f"stage {entry['number']}"
    if entry["number"] != index:
        raise CatalogError(f"{where}: stages must be numbered 1..{STAGE_COUNT} in order")
    needs = tuple(entry.get("needs") or ())
    if set(needs) - set(settings):
        raise CatalogError(f"{where}: unknown settings in 'needs': {sorted(set(needs) - set(settings))}")
    services = tuple(entry.get("sources") or ())
    absent = entry.get("absent") or {}
    return StageSpec(
        number=index, actor=entry["actor"], target=entry["target"], action=entry["action"],
        fidelity=Fidelity(entry["fidelity"]),
        start=_selector(entry.get("start"), f"{where} start", events),
        end=_selector(entry.get("end"), f"{where} end", events),
        keys=tuple(entry.get("keys") or ()), why=entry.get("why"),
        unobservable=entry.get("unobservable"), would_need=entry.get("would_need"),
        sources=services,
        devstack_units=tuple(_DEVSTACK_UNITS[s] for s in services if s in _DEVSTACK_UNITS),
        also=tuple(sel for i, raw in enumerate(entry.get("also") or [])
                   if (sel := _selector(raw, f"{where} also[{i}]", events)) is not None),
        absent=_selector({k: v for k, v in absent.items() if k != "reason"} or None,
                         f"{where} absent", events),
        absent_reason=absent.get("reason"), needs=needs, requires=entry.get("requires"),
    )


def _widen(index: int, data: dict[str, Any], events: dict[str, EventRule]) -> WidenRule:
    where = f"widen[{index}]"
    by = tuple(data.get("by") or ())
    raw = data["from"]
    if isinstance(raw, str):  # 'boot' or 'spans'
        sources: tuple[KeySource, ...] = (KeySource(raw, by=by),)
    else:
        sources = tuple(_key_source(item, by, f"{where} from[{i}]", events)
                        for i, item in enumerate(raw))
    rule = WidenRule(tuple((str(kind), str(name)) for kind, name in data["learn"].items()),
                     sources, _patterns(data, where), data.get("unless"))
    _check_fields(rule, where, events)
    return rule


def _key_source(item: str | dict[str, Any], by: tuple[str, ...], where: str,
                events: dict[str, EventRule]) -> KeySource:
    name = item if isinstance(item, str) else item["event"]
    if name not in events:
        raise CatalogError(f"{where}: unknown event {name!r}")
    return KeySource("event", name, by if isinstance(item, str) else tuple(item["by"]))


def _source_fields(source: KeySource, events: dict[str, EventRule]) -> frozenset[str]:
    """The fields a widen rule's source gives: an event rule's named groups."""
    if source.kind == "spans":
        return SPAN_FIELDS
    if source.kind == "boot":
        return BOOT_FIELDS
    rule = events[source.event or ""]
    return frozenset(rule.pattern.groupindex) | frozenset(rule.each.groupindex if rule.each else ())


def _check_fields(rule: WidenRule, where: str, events: dict[str, EventRule]) -> None:
    """Every field a rule reads is one of its sources', and every event it reads gives one."""
    given = [_source_fields(source, events) for source in rule.sources]
    for name in (*(name for _, name in rule.learn), *(name for name, _ in rule.where)):
        if not any(name in fields for fields in given):
            raise CatalogError(f"{where}: none of its sources has a field {name!r}")
    learnt = {name for _, name in rule.learn}
    for source, fields in zip(rule.sources, given, strict=True):
        if not learnt & fields:
            raise CatalogError(f"{where}: {source.event or source.kind} has none of the "
                               f"fields it learns ({', '.join(sorted(learnt))})")


def _segment(index: int, data: dict[str, Any], events: dict[str, EventRule]) -> SegmentSpec:
    where = f"segments[{index}] ({data['name']})"
    kind = SegmentKind(data["kind"])
    if kind is SegmentKind.WAIT and not data.get("waits_for"):
        raise CatalogError(f"{where}: a wait names what it waits for ('waits_for')")
    start = _selector(data["start"], f"{where} start", events)
    end = _selector(data["end"], f"{where} end", events)
    assert start is not None and end is not None  # (required by the schema)
    return SegmentSpec(str(data["name"]), kind, str(data["service"]), str(data["what"]),
                       start, end, data.get("waits_for"), data.get("requires"),
                       data.get("absent"))


def _points(selector: Selector | None) -> Iterator[str]:
    while selector is not None:
        yield from (p for p in (selector.after, selector.before, selector.of, selector.point) if p)
        selector = selector.otherwise


def _check_points(segments: tuple[SegmentSpec, ...]) -> None:
    """Every point a segment names is a stage's or an earlier segment's start or end."""
    known: set[str] = set()
    for index, spec in enumerate(segments):
        for ref in (*_points(spec.start), *_points(spec.end)):
            name, _, edge = ref.rpartition(".")
            if edge not in ("start", "end") or not (
                (name.isdigit() and 1 <= int(name) <= STAGE_COUNT) or name in known
                or (name == spec.name and ref in _points(spec.end))
            ):
                raise CatalogError(f"segments[{index}] ({spec.name}): {ref!r} is neither a stage's "
                                   "nor an earlier segment's start or end")
        if spec.name in known:
            raise CatalogError(f"segments[{index}]: a second segment named {spec.name!r}")
        known.add(spec.name)


def parse_catalog(data: Any, *, valid: bool = False) -> Catalog:
    """The catalog in ``data`` (stages.yaml as read), checked (:class:`CatalogError`);
    ``valid``: ``data`` is known to match the schema already (:func:`load_catalog`)."""
    if not valid:
        validate(data)
    events = {name: _event(name, spec) for name, spec in data["events"].items()}
    settings = {name: _setting(name, spec, events)
                for name, spec in (data.get("settings") or {}).items()}
    widen = tuple(_widen(index, rule, events) for index, rule in enumerate(data.get("widen") or []))
    stages = tuple(_stage(index, entry, events, settings)
                   for index, entry in enumerate(data["stages"], start=1))
    segments = tuple(_segment(index, spec, events)
                     for index, spec in enumerate(data.get("segments") or []))
    _check_points(segments)
    return Catalog(stages, events, settings, widen, segments)


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    import jsonschema  # (a tenth of a second: imported when a catalog is first validated)

    return jsonschema.Draft202012Validator(_inlined(SCHEMA, SCHEMA["$defs"]))


def _inlined(node: Any, defs: dict[str, Any], within: frozenset[str] = frozenset()) -> Any:
    """The schema with each local ``$ref`` replaced by the definition it names (jsonschema
    looks a ``$ref`` up each time it is used: a third of the time validating took), but
    for one inside the definition it names."""
    if isinstance(node, list):
        return [_inlined(item, defs, within) for item in node]
    if not isinstance(node, dict):
        return node
    name = str(node.get("$ref", "")).removeprefix("#/$defs/")
    if len(node) == 1 and name in defs and name not in within:
        return _inlined(defs[name], defs, within | {name})
    return {key: _inlined(value, defs, within) for key, value in node.items()}


def validate(data: Any) -> None:
    """Check ``data`` against the catalog's schema: :class:`CatalogError` names the entry of
    the first of the errors nearest the top of the file, with the schema's reason for it
    (``x-message``) or jsonschema's."""
    error = min(_validator().iter_errors(data), key=lambda e: len(e.absolute_path), default=None)
    if error is None:
        return
    reason = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    value = error.instance
    if reason is not None:
        reason = reason.format(value=value, count=len(value) if hasattr(value, "__len__") else "?")
    where = entry_name(list(error.absolute_path), data)
    raise CatalogError(f"{where}: {reason or error.message}")


def entry_name(path: Sequence[str | int], data: Any) -> str:
    """A place in stages.yaml as the catalog's errors name it: 'stage 7 start[1] by[0]',
    'event ks_path', 'setting debug', 'widen[3] from[0]'."""
    if not path:
        return "the catalog"
    head, rest = _entry_head(path, data)
    return " ".join([head, *_path_parts(rest)])


def _entry_head(path: Sequence[str | int], data: Any) -> tuple[str, Sequence[str | int]]:
    section = path[0]
    if len(path) < 2:
        return str(section), ()
    item = path[1]
    if section == "stages" and isinstance(item, int):
        entry = data["stages"][item]
        number = entry.get("number") if isinstance(entry, dict) else None
        return (f"stage {number}" if isinstance(number, int) else f"stages[{item}]"), path[2:]
    named = {"events": "event", "settings": "setting"}.get(str(section))
    if named is not None:
        return f"{named} {item}", path[2:]
    return f"{section}[{item}]" if isinstance(item, int) else f"{section} {item}", path[2:]


def _path_parts(path: Sequence[str | int]) -> Iterator[str]:
    """'start', 1, 'by', 0 -> 'start[1]', 'by[0]'."""
    part = ""
    for step in path:
        if isinstance(step, int):
            part += f"[{step}]"
            continue
        if part:
            yield part
        part = str(step)
    if part:
        yield part


def load_catalog() -> Catalog:
    """The catalog shipped with the package.  The tests validate the shipped stages.yaml
    against the schema (test_catalog); here it is parsed as valid, which saves every CLI run
    the tenth of a second jsonschema's import and a validation take.  Should an edit have
    broken its shape, it is parsed again with the schema, whose error names the entry."""
    text = resources.files("probes").joinpath("data/stages.yaml").read_text()
    # libyaml's parser when PyYAML has it (several times faster: the CLI loads this on every run)
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    try:
        return parse_catalog(data, valid=True)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        return parse_catalog(data)


def catalog_to_dict(catalog: Catalog) -> dict[str, Any]:
    """What ``bootprobe stages --format json`` prints."""

    def sel(selector: Selector | None) -> dict[str, Any] | None:
        if selector is None:
            return None
        out: dict[str, Any] = {"describe": selector.describe()}
        for key in ("event", "client", "request", "after", "point"):
            if getattr(selector, key):
                out[key] = getattr(selector, key)
        if selector.by:
            out["by"] = list(selector.by)
        if selector.where:
            out["where"] = {k: p.pattern for k, p in selector.where}
        if selector.event:
            rule = catalog.events[selector.event]
            out["services"] = list(rule.services)
            out["pattern"] = rule.pattern.pattern
            if rule.each is not None:
                out["each"] = rule.each.pattern
            out["template_source"] = rule.source
        return out

    return {
        "schema": "bootlab.stages/1",
        "stages": [
            {
                "number": s.number, "actor": s.actor, "target": s.target, "action": s.action,
                "fidelity": s.fidelity.value, "keys": list(s.keys),
                "start": sel(s.start), "end": sel(s.end), "why": s.why,
                "unobservable": s.unobservable, "would_need": s.would_need,
                "sources": {"distro": [DISTRO_LOGS.get(x, x) for x in s.sources],
                            "devstack": [f"journald {u}.service" for u in s.devstack_units]
                            or [DISTRO_LOGS.get(x, x) for x in s.sources]},
                "absent_reason": s.absent_reason,
                "needs": [{"setting": n, "what": catalog.settings[n].what} for n in s.needs],
                "requires": s.requires,
            }
            for s in catalog.stages
        ],
        "segments": [
            {"name": g.name, "kind": g.kind.value, "service": g.service, "what": g.what,
             "waits_for": g.waits_for, "requires": g.requires, "absent": g.absent,
             "start": sel(g.start), "end": sel(g.end)}
            for g in catalog.segments
        ],
    }
