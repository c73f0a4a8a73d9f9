#!/usr/bin/python3
"""bootlab's RabbitMQ witness: one line per message the broker's firehose reports.

RabbitMQ's firehose (``rabbitmqctl trace_on -p VHOST``) copies every message published
in the virtual host, and every message delivered from one of its queues, to the topic
exchange ``amq.rabbitmq.trace``: routing key ``publish.<exchange>`` or
``deliver.<queue>``, headers ``exchange_name``, ``routing_keys``, ``properties``,
``node``, ``routed_queues`` (publish) / ``redelivered`` (deliver), ``vhost``,
``connection``, ``channel``, ``user``, and the message's whole body
(https://www.rabbitmq.com/firehose.html, deps/rabbit/src/rabbit_trace.erl).

This daemon binds its own exclusive, auto-deleted queue to that exchange and writes,
for each copy, ONE line of JSON (https://jsonlines.org/) to its log file holding only:

  time               when this witness received the broker's copy (ISO 8601, UTC,
                     microseconds): the firehose stamps none of its own
  act                publish | deliver
  exchange           the exchange the message was published to ("" is the default exchange)
  routing_keys       its routing keys (the key, plus CC / BCC)
  queues             publish: the queues the broker routed it to; deliver: the queue it
                     was delivered from
and, read in memory from an oslo.messaging message (its ``oslo.message`` envelope):
  msg_id, unique_id, reply_q, method, request_id, global_request_id
                     ``_msg_id``, ``_unique_id``, ``_reply_q``, ``method``,
                     ``_context_request_id``, ``_context_global_request_id``
  reply              true: an RPC reply (``_msg_id`` and a ``result`` / ``ending``, no
                     ``_reply_q``); then ``ending`` and ``failure`` (booleans)

A field the message has no value for is left out.  Nothing else of a message is
kept: no payload, no arguments, no ``_context_auth_token`` or any other context field,
no user, connection or node names.  Values that are not plain identifiers are dropped.

    rabbitmq-witness --config /etc/rabbitmq/rabbitmq-witness.conf

The configuration (INI, section ``[witness]``): host, vhost, user, password, queue,
log, max_length (the queue's x-max-length: a stalled witness costs the broker at most
that many messages; the oldest are dropped).  The log is reopened when it was rotated.
It exits non-zero when the broker goes away (systemd starts it again).
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import signal
import sys
from datetime import datetime, timezone
from typing import Any

TRACE_EXCHANGE = "amq.rabbitmq.trace"
# What an id, a queue's or a method's name may be to be written down.
_NAME = re.compile(r"^[\w.:@-]{1,255}$")
_REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_IDS = (  # (field written, the oslo.messaging message's key, what its value must match)
    ("msg_id", "_msg_id", _NAME), ("unique_id", "_unique_id", _NAME),
    ("reply_q", "_reply_q", _NAME), ("method", "method", _NAME),
    ("request_id", "_context_request_id", _REQUEST_ID),
    ("global_request_id", "_context_global_request_id", _REQUEST_ID),
)
REOPEN_CHECK_S = 1.0


class Stop(Exception):
    """SIGTERM / SIGINT: close the connection (its queue goes with it) and exit."""


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _names(values: Any) -> list[str]:
    return [name for value in (values or ()) if (name := _text(value)) is not None]


def oslo_message(body: bytes | str) -> dict[str, Any]:
    """The oslo.messaging message a body carries (its 'oslo.message' envelope, or the body
    itself when it is a message without one), parsed in memory; {} for any other body."""
    try:
        outer = json.loads(body)
        inner = outer.get("oslo.message") if isinstance(outer, dict) else None
        message = json.loads(inner) if isinstance(inner, str) else outer
    except (ValueError, TypeError):
        return {}
    return message if isinstance(message, dict) else {}


def envelope_ids(message: dict[str, Any]) -> dict[str, Any]:
    """The ids of an oslo.messaging message, and whether it is a reply: nothing else."""
    found: dict[str, Any] = {}
    for name, key, shape in _IDS:
        value = message.get(key)
        if isinstance(value, str) and shape.match(value):
            found[name] = value
    if "_msg_id" in message and "_reply_q" not in message and (
            "result" in message or "ending" in message):
        found["reply"] = True
        found["ending"] = bool(message.get("ending"))
        found["failure"] = message.get("failure") is not None
    return found


def witness_line(trace_key: str, headers: dict[str, Any], body: bytes | str,
                 at: datetime) -> dict[str, Any] | None:
    """The line written for one firehose copy (None: not a copy the firehose makes)."""
    act, _, name = trace_key.partition(".")
    if act not in ("publish", "deliver"):
        return None
    queues = _names(headers.get("routed_queues")) if act == "publish" else [name]
    line: dict[str, Any] = {
        "time": at.isoformat(timespec="microseconds"), "act": act,
        "exchange": _text(headers.get("exchange_name")) or (name if act == "publish" else ""),
        "routing_keys": _names(headers.get("routing_keys")), "queues": queues,
    }
    line.update(envelope_ids(oslo_message(body)))
    return line


class LineLog:
    """The witness's log file, appended to line by line and reopened once rotated away."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.handle = self._open()
        self.checked = 0.0

    def _open(self) -> Any:
        return open(self.path, "a", buffering=1, encoding="utf-8")

    def write(self, line: dict[str, Any], now: float) -> None:
        if now - self.checked >= REOPEN_CHECK_S:
            self.checked = now
            self._reopen_if_rotated()
        self.handle.write(json.dumps(line, separators=(", ", ": ")) + "\n")

    def _reopen_if_rotated(self) -> None:
        try:
            same = os.stat(self.path).st_ino == os.fstat(self.handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            self.handle.close()
            self.handle = self._open()


def read_config(path: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path):
        raise SystemExit(f"rabbitmq-witness: cannot read {path}")
    return parser["witness"]


def consume(config: configparser.SectionProxy, log: LineLog) -> None:
    import amqp  # (Debian's python3-amqp; the functions above need none)

    connection = amqp.Connection(
        host=config.get("host", "127.0.0.1:5672"), userid=config["user"],
        password=config["password"], virtual_host=config.get("vhost", "/"), heartbeat=30,
        client_properties={"connection_name": "bootlab rabbitmq-witness"})
    connection.connect()
    try:
        channel = connection.channel()
        queue = config.get("queue", "bootlab.witness")
        channel.queue_declare(queue=queue, exclusive=True, auto_delete=True, arguments={
            "x-max-length": config.getint("max_length", 100000)})
        channel.queue_bind(queue=queue, exchange=TRACE_EXCHANGE, routing_key="#")

        def on_message(message: Any) -> None:
            at = datetime.now(timezone.utc)
            line = witness_line(message.delivery_info.get("routing_key", ""),
                                message.headers or {}, message.body, at)
            if line is not None:
                log.write(line, at.timestamp())

        channel.basic_consume(queue=queue, no_ack=True, callback=on_message)
        print(f"rabbitmq-witness: reading {TRACE_EXCHANGE} of vhost {config.get('vhost', '/')} "
              f"through queue {queue} into {log.path}", file=sys.stderr, flush=True)
        while True:
            try:
                connection.drain_events(timeout=1)
            except TimeoutError:
                pass
            connection.heartbeat_tick()
    finally:
        try:
            connection.close()
        except (OSError, amqp.exceptions.AMQPError):
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="/etc/rabbitmq/rabbitmq-witness.conf")
    args = parser.parse_args(argv)
    config = read_config(args.config)

    import amqp

    def stop(signum: int, frame: Any) -> None:
        raise Stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log = LineLog(config.get("log", "/var/log/rabbitmq/rabbitmq-witness.log"))
    try:
        consume(config, log)
    except Stop:
        return 0
    except (OSError, amqp.exceptions.AMQPError) as exc:
        print(f"rabbitmq-witness: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
