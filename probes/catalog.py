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
``rgw`` = the gateway requests that served the boot's image, ``window`` =
anything inside the boot's window on the named services).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

STAGE_COUNT = 58
BY_KEYS = frozenset(
    {"instance", "request", "port", "mac", "ip", "image", "volume", "rpc", "rgw", "window", "tap",
     "auth", "create", "active"}
)
CLIENT_TIMES = frozenset(
    {
        "auth.sent", "auth.received", "create.sent", "create.received",
        "active.sent", "active.received", "metadata.seen",
    }
)


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
    otherwise: "Selector | None" = None  # tried when this one finds nothing (YAML: a list)
    within: float | None = None  # seconds: at most this far from the 'before'/'after' point
    began: str | None = None  # a field holding the request's duration: the event's time less it

    def describe(self) -> str:
        if self.otherwise is not None:
            single = dataclasses.replace(self, otherwise=None)
            return f"{single.describe()}, else {self.otherwise.describe()}"
        if self.client:
            return f"client {self.client}"
        if self.request:
            return f"{self.edge} line of the boot's request in {self.request}"
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
        return " ".join(parts)


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
class Catalog:
    stages: tuple[StageSpec, ...]
    events: dict[str, EventRule] = field(default_factory=dict)
    settings: dict[str, Setting] = field(default_factory=dict)

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
    if data is None:
        return None
    if isinstance(data, list) and data:
        first = _selector(data[0], where, events)
        rest = _selector(data[1:], where, events) if len(data) > 1 else None
        assert first is not None
        return dataclasses.replace(first, otherwise=rest)
    if not isinstance(data, dict):
        raise CatalogError(f"{where}: a selector is a mapping, got {data!r}")
    by = tuple(data.get("by") or ())
    unknown = set(by) - BY_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown 'by' keys {sorted(unknown)}")
    if "event" in data and data["event"] not in events:
        raise CatalogError(f"{where}: unknown event {data['event']!r}")
    if "client" in data and data["client"] not in CLIENT_TIMES:
        raise CatalogError(f"{where}: unknown client time {data['client']!r}")
    if sum(k in data for k in ("event", "client", "request")) != 1:
        raise CatalogError(f"{where}: a selector has exactly one of event, client, request")
    filters = tuple((str(k), re.compile(str(v))) for k, v in (data.get("where") or {}).items())
    return Selector(
        event=data.get("event"), client=data.get("client"), request=data.get("request"),
        by=by, where=filters, pick=str(data.get("pick", "first")),
        after=data.get("after"), before=data.get("before"), edge=str(data.get("edge", "first")),
        same=tuple(data.get("same") or ()), of=data.get("of"), time=data.get("time"),
        within=float(data["within"]) if data.get("within") is not None else None,
        began=data.get("began"),
    )


def _event(name: str, data: dict[str, Any]) -> EventRule:
    try:
        pattern = re.compile(data["match"])
        logger = re.compile(data["logger"]) if data.get("logger") else None
    except (KeyError, re.error) as exc:
        raise CatalogError(f"event {name}: {exc}") from exc
    services = data.get("services") or []
    try:
        line = re.compile(data["line"]) if data.get("line") else None
        each = re.compile(data["each"]) if data.get("each") else None
    except re.error as exc:
        raise CatalogError(f"event {name}: {exc}") from exc
    return EventRule(name, tuple(services), pattern, logger, str(data.get("source", "")), line, each)


REQUIRES = frozenset({"volume"})


def _setting(name: str, data: dict[str, Any], events: dict[str, EventRule]) -> Setting:
    seen = data.get("seen") or {}
    unknown = (set(seen.get("events") or ()) | set(data.get("witness") or ())) - set(events)
    if unknown:
        raise CatalogError(f"setting {name}: unknown events {sorted(unknown)}")
    if not data.get("what") or not data.get("services") or not (seen.get("events") or seen.get("level")):
        raise CatalogError(f"setting {name}: needs 'what', 'services' and 'seen' (events or level)")
    level = seen.get("level")
    return Setting(name, str(data["what"]), tuple(data["services"]),
                   tuple(seen.get("events") or ()), str(level) if level is not None else None,
                   tuple(data.get("witness") or ()))


def parse_catalog(data: dict[str, Any]) -> Catalog:
    events = {name: _event(name, spec) for name, spec in (data.get("events") or {}).items()}
    settings = {name: _setting(name, spec, events)
                for name, spec in (data.get("settings") or {}).items()}
    stages = []
    for index, entry in enumerate(data.get("stages") or [], start=1):
        where = f"stage {entry.get('number', '?')}"
        if entry.get("number") != index:
            raise CatalogError(f"{where}: stages must be numbered 1..58 in order")
        try:
            fidelity = Fidelity(entry["fidelity"])
        except (KeyError, ValueError) as exc:
            raise CatalogError(f"{where}: fidelity must be direct, proxy or unobservable") from exc
        start = _selector(entry.get("start"), f"{where} start", events)
        end = _selector(entry.get("end"), f"{where} end", events)
        if fidelity is Fidelity.UNOBSERVABLE and not entry.get("unobservable"):
            raise CatalogError(f"{where}: an unobservable stage says why ('unobservable:')")
        if fidelity is Fidelity.PROXY and not entry.get("why"):
            raise CatalogError(f"{where}: a proxy stage says what stands for it ('why:')")
        if fidelity is not Fidelity.UNOBSERVABLE and (start is None or end is None):
            raise CatalogError(f"{where}: an observable stage has a start and an end")
        services = tuple(entry.get("sources") or ())
        also = tuple(
            sel for i, raw in enumerate(entry.get("also") or [])
            if (sel := _selector(raw, f"{where} also[{i}]", events)) is not None
        )
        needs = tuple(entry.get("needs") or ())
        if set(needs) - set(settings):
            raise CatalogError(f"{where}: unknown settings in 'needs': {sorted(set(needs) - set(settings))}")
        if entry.get("requires") is not None and entry["requires"] not in REQUIRES:
            raise CatalogError(f"{where}: 'requires' is one of {sorted(REQUIRES)}")
        absent_data = entry.get("absent") or {}
        absent_event = {k: v for k, v in absent_data.items() if k != "reason"}
        absent = _selector(absent_event or None, f"{where} absent", events)
        stages.append(
            StageSpec(
                number=index, actor=entry["actor"], target=entry["target"],
                action=entry["action"], fidelity=fidelity, start=start, end=end,
                keys=tuple(entry.get("keys") or ()), why=entry.get("why"),
                unobservable=entry.get("unobservable"), would_need=entry.get("would_need"),
                sources=services,
                devstack_units=tuple(_DEVSTACK_UNITS[s] for s in services if s in _DEVSTACK_UNITS),
                also=also, absent=absent, absent_reason=absent_data.get("reason"),
                needs=needs, requires=entry.get("requires"),
            )
        )
    if len(stages) != STAGE_COUNT:
        raise CatalogError(f"the catalog has {len(stages)} stages, not {STAGE_COUNT}")
    return Catalog(tuple(stages), events, settings)


def load_catalog() -> Catalog:
    """The catalog shipped with the package."""
    text = resources.files("probes").joinpath("data/stages.yaml").read_text()
    # libyaml's parser when PyYAML has it (several times faster: the CLI loads this on every run)
    return parse_catalog(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


def catalog_to_dict(catalog: Catalog) -> dict[str, Any]:
    """What ``bootprobe stages --format json`` prints."""

    def sel(selector: Selector | None) -> dict[str, Any] | None:
        if selector is None:
            return None
        out: dict[str, Any] = {"describe": selector.describe()}
        for key in ("event", "client", "request", "after"):
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
    }
