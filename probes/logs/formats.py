"""Recognise one log line by the format its writer uses, never by its path.

Each format is a small class with ``parse(text, state) -> Parsed | None``.
A format is picked per file by sniffing its first lines (:func:`sniff`), so
a lab that keeps nova's log under another name, or ships it through
journald, is read the same way.  Formats, after the real writers:

* ``oslo``: oslo.log's default ``logging_context_format_string``
  ``%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s
  [%(global_request_id)s %(request_id)s %(user_identity)s] %(instance)s%(message)s``
  and its ``logging_default_format_string`` (``[-]`` context).  Journald's
  form (DevStack's ``setup_systemd_logging``) drops asctime and pid, colours
  the line and ends DEBUG lines with ``{{(pid=N) funcName pathname:lineno}}``;
  :class:`OsloMessage` parses that (colours and that suffix are dropped from
  the message, in files too).
* ``ceph``: ``2026-11-26T09:40:01.123+0000 7f12ab34c640 10 mon.a@0(leader) ...``
  (pacific onwards; the thread id and the debug level follow the stamp).
* ``syslog``: ``Nov 26 09:40:01 dnsmasq-dhcp[123]: ...`` as dnsmasq writes its
  ``--log-facility`` file (no year: it is taken from the collection time).
* ``libvirt``: ``2026-11-26 09:40:01.123+0000: 1234: info : ...``; QEMU's domain
  log uses the same stamp for libvirt's own lines and none for QEMU's.
* ``mariadb``: the general query log file
  ``261126  9:40:01\\t   42 Query\\tSELECT ...``; the stamp is only printed when
  it changes, so later lines inherit it (second resolution).
* ``rabbitmq``: ``2026-11-26 09:40:01.123456+00:00 [info] <0.1.0> ...``.
* ``rabbitmq-witness``: the JSON lines of bootlab's RabbitMQ witness (the broker's firehose:
  one line per message published or delivered, with its exchange, routing key, queues and
  oslo.messaging ids; :class:`RabbitWitness`).
* ``osprofiler``: a boot's OSProfiler trace as ``bootprobe run --profile`` saves it, one
  span a line (:class:`OSProfilerTrace`).
* ``journal``: ``journalctl -o json`` export (one JSON object per line, one
  host or several: each entry names its ``_HOSTNAME``), or the text of
  ``journalctl -o short-iso-precise`` / ``-o short-precise`` (the latter is
  how DevStack's CI exports each unit, ``screen-<unit>.txt``).

Parsing never raises: a line that fits no known shape is ``None`` and the
reader counts it as malformed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

UTC = timezone.utc
ANSI = re.compile(r"\x1b\[[0-9;]*m")

_LEVELS = "TRACE|DEBUG|INFO|AUDIT|WARNING|WARN|ERROR|CRITICAL"
_REQ = r"req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
REQUEST_ID = re.compile(_REQ)
INSTANCE = re.compile(rf"\[instance: ({_UUID})\] ")


@dataclass
class Parsed:
    """What a format understood of one line; the reader adds host and source."""

    at: datetime | None  # None: inherits the previous line's time (continuation)
    message: str
    level: str | None = None
    logger: str | None = None
    request_id: str | None = None
    global_request_id: str | None = None
    instance: str | None = None
    unit: str | None = None  # journald: the syslog identifier the line came from (a syslog tag)
    systemd_unit: str | None = None  # journald: the unit, when the identifier names no service
    host: str | None = None  # journald: the host that logged the line (_HOSTNAME)
    continuation: bool = False
    resolution_s: float = 0.001  # how coarse the stamp is (1.0 for whole seconds)


# A format's ``quick(text, state)`` answers what ``parse`` would, for the lines most of a
# log is made of, without making a Parsed: a stamped line carrying no request id,
# instance, unit or host as its (time, level, message, logger); CONTINUED for the next
# line of a multi-line record; None for any other line (then ask ``parse``).
Quick = tuple[datetime, str | None, str, str | None]


class _Continued:
    def __repr__(self) -> str:
        return "CONTINUED"


CONTINUED = _Continued()
Skim = Quick | _Continued  # what quick answers for a line it reads (None: ask parse)


@dataclass
class ParseState:
    """What a format carries from one line to the next within one file."""

    year: int = 1970
    last_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


_ISO_FORMATS = frozenset({
    "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z",
})


def _utc(text: str, fmt: str) -> datetime | None:
    """Parse a stamp as UTC (naive stamps are taken as UTC).

    ISO-shaped stamps go through the C ``fromisoformat`` (strptime is ten
    times slower and was most of the analysis time)."""
    try:
        if fmt in _ISO_FORMATS:
            stamp = datetime.fromisoformat(text)
        else:
            stamp = datetime.strptime(text, fmt)
    except ValueError:
        return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_CTIME = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) (\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})")


def ctime_utc(text: str) -> datetime | None:
    """``_utc(text, "%a %b %d %H:%M:%S %Y")`` (uwsgi's request stamps, as C's ctime writes
    them), by slicing when the names are the C locale's as written so: strptime was most of
    the cost of a uwsgi line.  Any other text, and a date that does not exist, go to strptime."""
    match = _CTIME.fullmatch(text)
    if match is not None and match.group(1) in _MONTHS:
        month, day, hour, minute, second, year = match.groups()
        try:
            return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute),
                            int(second), tzinfo=UTC)
        except ValueError:
            pass
    return _utc(text, "%a %b %d %H:%M:%S %Y")


_OSLO_CONTEXT = re.compile(r"\[(?P<ctx>[^\]]*)\] ")
# logging_debug_format_suffix as DevStack sets it: " {{(pid=N) funcName pathname:lineno}}"
_DEBUG_SUFFIX = re.compile(r" ?\{\{(?:\(pid=\d+\) )?\S+ \S+:\d+\}\}\s*$")


def split_oslo_message(rest: str) -> tuple[str | None, str | None, str | None, str]:
    """(global request id, request id, instance, message) of an oslo line's tail.

    The context is ``[global local user project domain ...]`` where a missing
    global id is ``None`` (Zed onwards), or ``[req-local user project ...]``
    (older), or ``[-]`` outside a request.
    """
    global_id = local_id = None
    match = _OSLO_CONTEXT.match(rest)
    if match:
        ids = REQUEST_ID.findall(match.group("ctx"))
        if len(ids) >= 2:
            global_id, local_id = ids[0], ids[1]
        elif len(ids) == 1:
            local_id = ids[0]
        rest = rest[match.end():]
    instance = None
    inst = INSTANCE.match(rest)
    if inst:
        instance = inst.group(1)
        rest = rest[inst.end():]
    if rest.endswith("}}"):
        rest = cut_debug_suffix(rest)
    return global_id, local_id, instance, rest


def cut_debug_suffix(rest: str) -> str:
    """``_DEBUG_SUFFIX.sub("", rest)``, the pattern tried only where a match can start (a
    "{{" or the space before one), leftmost first as the search does: searching from every
    position was most of the cost of an oslo line's tail (DevStack ends DEBUG lines so)."""
    at = rest.find("{{")
    while at >= 0:
        for start in ((at - 1, at) if at and rest[at - 1] == " " else (at,)):
            match = _DEBUG_SUFFIX.match(rest, start)
            if match:  # it reaches the end: no second match follows it
                return rest[:start] + rest[match.end():]
        at = rest.find("{{", at + 1)
    return rest


class Oslo:
    """oslo.log file lines (nova, neutron, cinder, glance, keystone, placement)."""

    name = "oslo"
    _LINE = re.compile(
        r"^(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)"
        rf"(?P<tz>Z|[+-]\d{{2}}:?\d{{2}})? (?P<pid>\d+) (?P<level>{_LEVELS}) "
        r"(?P<logger>\S+) (?P<rest>.*)$"
    )

    # uwsgi's request log, interleaved in the same file when a service runs under uwsgi
    _UWSGI = re.compile(
        r"^\[pid: \d+\|app: [-\d]+\|req: [-\d]+/\d+\] \S+ \(\S*\) \{[^}]*\} "
        r"\[(?P<ts>\w{3} \w{3} +\d+ \d{2}:\d{2}:\d{2} \d{4})\] (?P<rest>.*)$"
    )

    def parse(self, text: str, state: ParseState) -> Parsed | None:
        match = self._LINE.match(text)
        if not match:
            return self._other(text, state)
        stamp = match.group("ts").replace("T", " ")
        fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in stamp else "%Y-%m-%d %H:%M:%S"
        tz = match.group("tz")
        if tz and tz != "Z":
            stamp, fmt = stamp + tz.replace(":", ""), fmt + "%z"
        at = _utc(stamp, fmt)
        if at is None:
            return None
        global_id, local_id, instance, message = split_oslo_message(match.group("rest"))
        return Parsed(at, message, match.group("level"), match.group("logger"),
                      local_id, global_id, instance)

    def quick(self, text: str, state: ParseState) -> Quick | _Continued | None:
        """:meth:`parse`'s answer for a line outside any request (``[-]``, no instance, no
        debug suffix), else None (then ask :meth:`parse`)."""
        match = self._LINE.match(text)
        if match is None:
            if state.last_at is not None and not text[:1].isdigit() and not text.startswith("[pid: "):
                return CONTINUED  # as _other: not a uwsgi line (those start so)
            return None
        ts, tz, _, level, logger, rest = match.groups()
        if not rest.startswith("[-] "):
            return None
        message = rest[4:]
        if message.startswith("[instance: ") or message.endswith("}}"):
            return None
        try:
            if tz is None or tz == "Z":
                return datetime.fromisoformat(ts.replace("T", " ")).replace(tzinfo=UTC), level, message, logger
            if "." in ts:
                return (datetime.fromisoformat(ts.replace("T", " ") + tz.replace(":", "")).astimezone(UTC),
                        level, message, logger)
        except ValueError:
            return None
        return None

    def _other(self, text: str, state: ParseState) -> Parsed | None:
        """A uwsgi request line, or the next line of a multi-line message."""
        uwsgi = self._UWSGI.match(text)
        if uwsgi:
            at = ctime_utc(" ".join(uwsgi.group("ts").split()))
            if at is not None:
                return Parsed(at, uwsgi.group("rest"), logger="uwsgi", resolution_s=1.0)
        if state.last_at is not None and not text[:1].isdigit():
            return Parsed(None, text, continuation=True)  # e.g. the guest XML nova logs
        return None


class OsloMessage:
    """The oslo.log line without its stamp, as DevStack's units write to journald:
    ``DEBUG nova.compute.manager [None req-... admin admin] [instance: ...] text``."""

    name = "oslo-message"
    _LINE = re.compile(rf"^(?:\S+ )?(?P<level>{_LEVELS}) (?P<logger>[\w.]+) (?P<rest>.*)$")

    def parse_message(self, at: datetime, text: str) -> Parsed | None:
        match = self._LINE.match(text)
        if not match:
            return None
        global_id, local_id, instance, message = split_oslo_message(match.group("rest"))
        return Parsed(at, message, match.group("level"), match.group("logger"),
                      local_id, global_id, instance)


class Ceph:
    """Ceph daemon logs (mon, mgr, osd, radosgw), pacific onwards."""

    name = "ceph"
    _LINE = re.compile(
        r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+)(?P<tz>[+-]\d{4}) "
        r"(?P<thread>[0-9a-f]+) +(?P<prio>-?\d+) (?P<rest>.*)$"
    )

    def parse(self, text: str, state: ParseState) -> Parsed | None:
        match = self._LINE.match(text)
        if not match:
            if state.last_at is not None and not text[:4].isdigit():
                return Parsed(None, text, continuation=True)  # a multi-line dump
            return None
        at = _utc(match.group("ts") + match.group("tz"), "%Y-%m-%dT%H:%M:%S.%f%z")
        if at is None:
            return None
        return Parsed(at, match.group("rest"), level=match.group("prio"))

    def quick(self, text: str, state: ParseState) -> Quick | _Continued | None:
        """:meth:`parse`'s answer for a stamped line or a continued one (None: ask :meth:`parse`)."""
        match = self._LINE.match(text)
        if match is None:
            return CONTINUED if state.last_at is not None and not text[:4].isdigit() else None
        ts, tz, _, prio, rest = match.groups()
        try:
            return datetime.fromisoformat(ts + tz).astimezone(UTC), prio, rest, None
        except ValueError:
            return None


class Syslog:
    """Classic syslog stamps without a year (dnsmasq's --log-facility file)."""

    name = "syslog"
    _LINE = re.compile(
        r"^(?P<ts>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}) (?:(?P<host>[\w.-]+) )?"
        r"(?P<tag>[\w.@/-]+)(?:\[(?P<pid>\d+)\])?: (?P<rest>.*)$"
    )

    def parse(self, text: str, state: ParseState) -> Parsed | None:
        match = self._LINE.match(text)
        if not match:
            return None
        at = _utc(f"{state.year} {match.group('ts')}", "%Y %b %d %H:%M:%S")
        if at is None:
            return None
        # A log that crosses New Year: a stamp far in the future is last year's.
        if state.last_at is not None and at - state.last_at > timedelta(days=180):
            at = at.replace(year=at.year - 1)
        return Parsed(at, match.group("rest"), unit=match.group("tag"), resolution_s=1.0)


class Libvirt:
    """libvirtd's log and QEMU's per-domain log (libvirt stamps; QEMU's own lines
    carry none and inherit the previous stamp)."""

    name = "libvirt"
    _LINE = re.compile(
        r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3})(?P<tz>[+-]\d{4}): "
        r"(?:(?P<tid>\d+): (?P<level>\w+) : )?(?P<rest>.*)$"
    )

    def parse(self, text: str, state: ParseState) -> Parsed | None:
        match = self._LINE.match(text)
        if not match:
            if state.last_at is not None and text.strip():
                return Parsed(None, text, continuation=True)
            return None
        at = _utc(match.group("ts") + match.group("tz"), "%Y-%m-%d %H:%M:%S.%f%z")
        if at is None:
            return None
        return Parsed(at, match.group("rest"), level=match.group("level"))

    def quick(self, text: str, state: ParseState) -> Quick | _Continued | None:
        """:meth:`parse`'s answer for a stamped line or a continued one (None: ask :meth:`parse`)."""
        match = self._LINE.match(text)
        if match is None:
            return CONTINUED if state.last_at is not None and text.strip() else None
        ts, tz, _, level, rest = match.groups()
        try:
            return datetime.fromisoformat(ts + tz).astimezone(UTC), level, rest, None
        except ValueError:
            return None


def _mariadb_stamp(ts: str) -> datetime | None:
    """``YYMMDD HH:MM:SS`` (the hour space-padded) as UTC, by slicing: what
    ``strptime(ts, "%y%m%d %H:%M:%S")`` gives (2-digit years 69-99 are the 1900s)."""
    try:
        year = int(ts[0:2])
        return datetime(year + (1900 if year >= 69 else 2000), int(ts[2:4]), int(ts[4:6]),
                        int(ts[7:9]), int(ts[10:12]), int(ts[13:15]), tzinfo=UTC)
    except ValueError:
        return None


class MariaDBGeneral:
    """MariaDB/MySQL general query log file (``general_log_file``)."""

    name = "mariadb"
    service = "mariadb"  # only MariaDB and MySQL write it
    _STAMPED = re.compile(
        r"^(?P<ts>\d{6} [ \d]\d:\d{2}:\d{2})\s+(?P<thread>\d+) (?P<cmd>[A-Z][\w ]*?)\t(?P<rest>.*)$"
    )
    _PLAIN = re.compile(r"^\t\t\s*(?P<thread>\d+) (?P<cmd>[A-Z][\w ]*?)\t(?P<rest>.*)$")
    # MySQL 5.7+ writes ISO stamps with microseconds instead.
    _ISO = re.compile(
        r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z)\s+(?P<thread>\d+) "
        r"(?P<cmd>[A-Z][\w ]*?)\t(?P<rest>.*)$"
    )

    def parse(self, text: str, state: ParseState) -> Parsed | None:
        match = self._ISO.match(text)
        if match:
            at = _utc(match.group("ts"), "%Y-%m-%dT%H:%M:%S.%fZ")
        elif (match := self._STAMPED.match(text)) is not None:
            at = _mariadb_stamp(match.group("ts"))
        elif (match := self._PLAIN.match(text)) is not None:
            if state.last_at is None:  # before the file's first stamp: a query of unknown time
                return Parsed(None, f"{match.group('thread')} {match.group('cmd')}\t{match.group('rest')}")
            at = state.last_at
        else:
            if state.last_at is not None and not text.startswith(("/", "Tcp port", "Time ")):
                return Parsed(None, text, continuation=True)  # a multi-line query
            return None
        if at is None:
            return None
        return Parsed(at, f"{match.group('thread')} {match.group('cmd')}\t{match.group('rest')}",
                      logger=match.group("cmd"),
                      resolution_s=0.000001 if match.re is self._ISO else 1.0)

    def quick(self, text: str, state: ParseState) -> Quick | _Continued | None:
        """:meth:`parse`'s answer for a query line under the last stamp, or the next line of
        a multi-line query (None: ask :meth:`parse`)."""
        if state.last_at is None or text[:1].isdigit():
            return None
        if not text.startswith("\t\t"):
            return None if text.startswith(("/", "Tcp port", "Time ")) else CONTINUED
        match = self._PLAIN.match(text)
        if match is None:
            return CONTINUED
        thread, cmd, rest = match.groups()
        return state.last_at, None, f"{thread} {cmd}\t{rest}", cmd


class RabbitMQ:
    """RabbitMQ 3.9+ log lines."""

    name = "rabbitmq"
    service = "rabbitmq"  # only RabbitMQ writes it
    _LINE = re.compile(
        r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+)(?P<tz>[+-]\d{2}:\d{2}) "
        r"\[(?P<level>\w+)\] (?P<rest>.*)$"
    )

    def parse(self, text: str, state: ParseState) -> Parsed | None:
        match = self._LINE.match(text)
        if not match:
            return None
        at = _utc(match.group("ts") + match.group("tz").replace(":", ""), "%Y-%m-%d %H:%M:%S.%f%z")
        if at is None:
            return None
        return Parsed(at, match.group("rest"), level=match.group("level"))

    def quick(self, text: str, state: ParseState) -> Quick | None:
        """:meth:`parse`'s answer for a stamped line (None: ask :meth:`parse`)."""
        match = self._LINE.match(text)
        if match is None:
            return None
        ts, tz, level, rest = match.groups()
        try:
            return datetime.fromisoformat(ts + tz.replace(":", "")).astimezone(UTC), level, rest, None
        except ValueError:
            return None


class RabbitWitness:
    """bootlab's RabbitMQ witness (roles/rabbitmq/files/rabbitmq-witness.py): JSON lines, one
    per message RabbitMQ's firehose copied, ``{"time": ISO 8601 with microseconds, "act":
    "publish" | "deliver", "exchange", "routing_keys": [...], "queues": [...]}`` and the
    oslo.messaging ids it carried (``msg_id``, ``unique_id``, ``reply_q``, ``method``,
    ``request_id``, ``global_request_id``; ``reply``, ``ending``, ``failure`` for a reply),
    each left out when the message had none.  The time is the witness's receipt of the
    broker's copy (the firehose stamps none).  The message the catalog's rules read is
    written from the line (:func:`witness_message`); its request ids are the line's."""

    name = "rabbitmq-witness"
    service = "rabbitmq-witness"  # only the witness writes it
    _ACTS = frozenset({"publish", "deliver"})

    def parse(self, text: str, state: ParseState) -> Parsed | None:
        if not text.startswith('{"time": "'):
            return None
        try:
            entry = _json_object(text)
        except (ValueError, TypeError):
            return None
        if not isinstance(entry, dict) or entry.get("act") not in self._ACTS:
            return None
        stamp = entry.get("time")
        at = _utc(stamp, "%Y-%m-%dT%H:%M:%S.%f%z") if isinstance(stamp, str) else None
        if at is None:
            return None
        return Parsed(at, witness_message(entry), request_id=_request_id(entry.get("request_id")),
                      global_request_id=_request_id(entry.get("global_request_id")),
                      unit=self.service, resolution_s=0.000001)


_WITNESS_IDS = ("msg_id", "unique_id", "reply_q", "method")
_PLAIN_NAME = re.compile(r"[^\s']*")


def _request_id(value: object) -> str | None:
    return value if isinstance(value, str) and REQUEST_ID.fullmatch(value) else None


def _witness_names(value: object) -> str:
    """A list of names (routing keys, queues) as the message writes them: comma-separated."""
    names = value if isinstance(value, list) else []
    return ",".join(n for n in names if isinstance(n, str) and _PLAIN_NAME.fullmatch(n))


def witness_kind(entry: dict[str, Any]) -> str:
    """What an oslo.messaging message the witness saw is: reply, call (it names a reply
    queue), cast (a unique id only), or message (none of its ids: not oslo.messaging's)."""
    if entry.get("reply") is True:
        return "reply"
    if entry.get("msg_id") and entry.get("reply_q"):
        return "call"
    return "cast" if entry.get("unique_id") else "message"


def witness_message(entry: dict[str, Any]) -> str:
    """A witness line as the catalog's rules read it, in this order (parts the line lacks
    left out): ``publish call exchange 'nova' routing_key 'conductor' queues 'conductor'
    msg_id M unique_id U reply_q R method NAME`` (deliver: ``queue 'conductor'``), a reply
    ending with ``ending true|false failure true|false``."""
    act = entry["act"]
    exchange = entry.get("exchange")
    parts = [act, witness_kind(entry),
             f"exchange '{exchange if isinstance(exchange, str) and _PLAIN_NAME.fullmatch(exchange) else ''}'",
             f"routing_key '{_witness_names(entry.get('routing_keys')).split(',')[0]}'",
             f"{'queues' if act == 'publish' else 'queue'} '{_witness_names(entry.get('queues'))}'"]
    for name in _WITNESS_IDS:
        value = entry.get(name)
        if isinstance(value, str) and value and _PLAIN_NAME.fullmatch(value):
            parts.append(f"{name} {value}")
    if entry.get("reply") is True:
        parts.append(f"ending {'true' if entry.get('ending') else 'false'} "
                     f"failure {'true' if entry.get('failure') else 'false'}")
    return " ".join(parts)


_OSLO_MESSAGE = OsloMessage()


def _json_object(text: str) -> Any:
    """``json.loads``, through orjson (several times faster) when it takes the text: it
    refuses what json takes beyond strict JSON (NaN, lone surrogates, huge integers), and
    json then reads it as before."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class JournalJSON:
    """``journalctl -o json``: one object per line; the message may itself be an
    oslo line without its stamp (DevStack) or a whole oslo line."""

    name = "journal-json"

    def parse(self, text: str, state: ParseState) -> Parsed | None:
        if not text.startswith("{"):
            return None
        try:
            entry = _json_object(text)
            micros = int(entry["__REALTIME_TIMESTAMP"])
        except (ValueError, KeyError, TypeError):
            return None
        message = entry.get("MESSAGE")
        # journalctl writes a message holding control characters (DevStack's colour
        # escapes) or invalid UTF-8 as an array of bytes; other exporters keep
        # the escapes inside the string.
        if isinstance(message, list):
            try:
                message = bytes(message).decode("utf-8", "replace")
            except (TypeError, ValueError):
                return None
        if not isinstance(message, str):
            return None
        at = datetime.fromtimestamp(micros / 1_000_000, UTC)
        # The identifier first: haproxy runs inside neutron-dhcp-agent.service's cgroup.
        identifier, unit = _text(entry.get("SYSLOG_IDENTIFIER")), _text(entry.get("_SYSTEMD_UNIT"))
        # The reader strips colours from the raw line; these only appear once decoded.
        if "\x1b" in message:
            message = ANSI.sub("", message)
        parsed = journal_message(at, message, identifier or unit)
        parsed.systemd_unit = unit
        parsed.host = _text(entry.get("_HOSTNAME"))
        return parsed


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class JournalText:
    """``journalctl -o short-iso-precise`` (with ``--utc`` or an offset), and
    ``-o short-precise`` (no year: it is taken from the file, as for syslog)."""

    name = "journal-text"
    _ISO = re.compile(
        r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?P<tz>[+-]\d{2}:?\d{2}|Z) "
        r"(?P<host>\S+) (?P<tag>[^\s\[:]+)(?:\[\d+\])?: (?P<rest>.*)$"
    )
    _SHORT = re.compile(
        r"^(?P<ts>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}\.\d{6}) "
        r"(?P<host>\S+) (?P<tag>[^\s\[:]+)(?:\[\d+\])?: (?P<rest>.*)$"
    )

    def parse(self, text: str, state: ParseState) -> Parsed | None:
        match = self._ISO.match(text)
        if match:
            at = self._iso(match)
        elif (match := self._SHORT.match(text)) is not None:
            at = _utc(f"{state.year} {match.group('ts')}", "%Y %b %d %H:%M:%S.%f")
            if at is not None and state.last_at is not None and at - state.last_at > timedelta(days=180):
                at = at.replace(year=at.year - 1)  # a log that crosses New Year
        else:
            return None
        if at is None:
            return None
        parsed = journal_message(at, match.group("rest"), match.group("tag"))
        parsed.host = match.group("host")
        if "." not in match.group("ts"):
            parsed.resolution_s = 1.0
        return parsed

    @staticmethod
    def _iso(match: re.Match[str]) -> datetime | None:
        tz = match.group("tz")
        tz = "+0000" if tz == "Z" else tz.replace(":", "")
        stamp = match.group("ts")
        return _utc(stamp + tz, "%Y-%m-%dT%H:%M:%S.%f%z" if "." in stamp else "%Y-%m-%dT%H:%M:%S%z")


_OSLO = Oslo()


def journal_message(at: datetime, message: str, unit: str | None) -> Parsed:
    """A journald entry: an oslo line inside keeps its ids; its own stamp, if any, wins,
    except a uwsgi request line's: that is the request's start to the second, while
    journald stamped the line when uwsgi wrote it, at the request's end."""
    # Only a line led by a digit (its stamp) or a uwsgi request line can be a whole oslo
    # line (DevStack's units log without the stamp): the others skip that try.
    inner = (_OSLO.parse(message, ParseState())
             if message[:1].isdigit() or message.startswith("[pid: ") else None)
    if inner is not None and inner.logger == "uwsgi":
        inner.at, inner.resolution_s = at, 0.000001
    if inner is None:
        inner = _OSLO_MESSAGE.parse_message(at, message)
    if inner is None:
        return Parsed(at, message, unit=unit)
    inner.unit = unit
    return inner


class OSProfilerTrace:
    """A boot's OSProfiler trace as ``bootprobe run --profile`` saves it (probes/profiler.py):
    one span a line, stamped at its end (UTC, microseconds), then the host, the project and
    the service that ran it, its name, its duration, its ids and what it did::

        2026-12-08T03:40:01.123456Z osprofiler bootlab1 nova osapi_compute db 0.000512 base B
        span S parent P in nova-osapi_compute/wsgi: INSERT INTO ...      (one line)

    The line's service is told by its project and service (``unit``: ``nova-osapi_compute``,
    ``keystone-public``, ``neutron-neutron-dhcp-agent`` ...)."""

    name = "osprofiler"
    _LINE = re.compile(
        r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})Z osprofiler (?P<host>\S+) "
        r"(?P<project>\S+) (?P<service>\S+) (?P<rest>\S+ \d+\.\d{6} base \S+ span \S+ parent \S+ in \S+.*)$"
    )

    def parse(self, text: str, state: ParseState) -> Parsed | None:
        match = self._LINE.match(text)
        if match is None:
            return None
        try:
            at = datetime.fromisoformat(match.group("ts")).replace(tzinfo=UTC)
        except ValueError:
            return None
        return Parsed(at, match.group("rest"), unit=f"{match.group('project')}-{match.group('service')}",
                      host=match.group("host"), resolution_s=0.000001)


Format = (Oslo | Ceph | Syslog | Libvirt | MariaDBGeneral | RabbitMQ | RabbitWitness | JournalJSON
          | JournalText | OSProfilerTrace)
FORMATS: tuple[Format, ...] = (
    JournalJSON(), RabbitWitness(), Oslo(), Ceph(), Libvirt(), RabbitMQ(), JournalText(), MariaDBGeneral(),
    Syslog(), OSProfilerTrace(),
)


def sniff(lines: list[str], year: int) -> Format | None:
    """The format that parses most of these first lines, if any parses one."""
    best, best_hits = None, 0
    for fmt in FORMATS:
        state = ParseState(year=year)
        hits = 0
        for line in lines:
            parsed = fmt.parse(line, state)
            if parsed is not None and not parsed.continuation:
                hits += 1
                state.last_at = parsed.at
        if hits > best_hits:
            best, best_hits = fmt, hits
            if hits == len(lines):  # every line: no later format can parse more
                break
    return best


class LeadingStamp:
    """Any line that starts with an ISO 8601 date and time (Ceph's cluster and audit
    logs, MariaDB's error log, ...), for collection's window when no format above
    fits a file; the reader does not use it (it says nothing of the line)."""

    name = "leading-stamp"
    _STAMP = re.compile(
        r"^(?P<day>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?)"
        r"(?P<tz>Z|[+-]\d{2}:?\d{2})?(?=\s|$)"
    )

    def parse(self, text: str, state: ParseState) -> Parsed | None:
        match = self._STAMP.match(text)
        if not match:
            if state.last_at is not None:
                return Parsed(None, text, continuation=True)
            return None
        time_ = match.group("time").replace(",", ".")
        if "." in time_:  # fromisoformat takes at most six digits of a second
            whole, fraction = time_.split(".")
            time_ = f"{whole}.{fraction[:6].ljust(6, '0')}"
        try:
            at = datetime.fromisoformat(f"{match.group('day')} {time_}{match.group('tz') or ''}")
        except ValueError:
            return None
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        return Parsed(at, text[match.end():].lstrip())


class LineStamp:
    """The time each raw line of one file, in order, is stamped with: None for a
    line that carries no time of its own (a continuation, an unreadable line).
    The format's state is kept as the reader keeps it."""

    def __init__(self, fmt: Format | LeadingStamp, year: int) -> None:
        self.format = fmt
        self._state = ParseState(year=year)

    def __call__(self, text: str) -> datetime | None:
        text = text.rstrip("\r\n")[:65536]
        if "\x1b" in text:
            text = ANSI.sub("", text)
        parsed = self.format.parse(text, self._state)
        if parsed is None or parsed.continuation or parsed.at is None:
            return None
        self._state.last_at = parsed.at
        return parsed.at


def line_stamper(head: list[str], year: int) -> LineStamp | None:
    """A :class:`LineStamp` for a file whose first lines are ``head`` (its format
    sniffed as the reader does; failing that, a stamp leading most of them), or
    None when nothing says their time.  For collection's time window, which must
    not parse more than this."""
    fmt = sniff(head, year)
    if fmt is not None:
        return LineStamp(fmt, year)
    leading = LeadingStamp()
    stamped = sum(1 for line in head if leading.parse(line, ParseState()) is not None)
    return LineStamp(leading, year) if head and stamped * 2 >= len(head) else None
