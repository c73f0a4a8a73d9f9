"""Parse what the bootlab probe guest prints on its serial console.

The probe guest (a busybox initramfs the lab uploads) prints marker lines on
ttyS0 while the kernel may still be logging to the same console, so markers
arrive interleaved with kernel messages, with ``\\r\\n`` line endings, and
sometimes with kernel text glued in front of them on the same line::

    BOOTLAB-LEASE ip=<ip> mask=<mask> router=<router|none> server=<dhcp server id> staticroutes=<value|none>
    BOOTLAB-LEASE-FAILED             (instead, when DHCP gave no lease)
    BOOTLAB-METADATA-BEGIN
    <body of meta_data.json, one or more lines>
    BOOTLAB-METADATA-END
    BOOTLAB-METADATA-FAILED          (instead of the block above)
    BOOTLAB-READY

:func:`parse_console` is a pure function of the console text: it never
raises on bad input and never touches the network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GuestConsole", "parse_console"]

_MARKER = re.compile(
    r"BOOTLAB-(?P<kind>LEASE-FAILED|LEASE|METADATA-BEGIN|METADATA-END|METADATA-FAILED|READY)"
    r"(?![\w-])"
)
# ESC [ ... final byte, and the other C0 controls a serial console can carry
# (NUL padding, bell, backspace), except tab.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A kernel message as printk writes it to the console: "[    3.141592] text".
# It runs to the end of the line, and may start in the middle of a line that
# user space was writing (printk does not know where the tty cursor is).
_PRINTK = re.compile(r"\[\s*\d+\.\d{6}\]\s.*$")
# "key=" at the start of the field list or after whitespace.
_LEASE_KEY = re.compile(r"(?:^|(?<=\s))([a-z][a-z0-9_]*)=")
_NONE_VALUES = {"", "none"}


@dataclass(frozen=True)
class GuestConsole:
    """What the probe guest reported on its console so far.

    ``lease`` maps the fields of the first complete ``BOOTLAB-LEASE`` line
    (ip, mask, router, server, staticroutes, and any field a newer guest
    adds) to their values, ``None`` where the guest printed ``none``.
    ``metadata`` is the first metadata block that parsed as a JSON object;
    ``metadata_error`` says why no block did, when a block was closed but
    its body was not a JSON object.  ``metadata_started`` is true once a
    ``BOOTLAB-METADATA-BEGIN`` was seen, even if its block never closed.
    """

    lease: Mapping[str, str | None] | None = None
    lease_line: str | None = None
    lease_failed: bool = False
    metadata: Mapping[str, Any] | None = None
    metadata_started: bool = False
    metadata_failed: bool = False
    metadata_error: str | None = None
    ready: bool = False

    @property
    def metadata_settled(self) -> bool:
        """True once the guest's metadata attempt has an outcome."""
        return (
            self.metadata is not None
            or self.metadata_failed
            or self.metadata_error is not None
        )

    @property
    def finished(self) -> bool:
        """True once waiting for more console output cannot change the verdict."""
        return self.ready or self.metadata_settled


def parse_console(text: str) -> GuestConsole:
    """Parse console output of the probe guest into a :class:`GuestConsole`.

    Only complete lines count: a last line without its line ending may still
    be being written (the console was read mid-line), so it is ignored.
    """
    reader = _Reader()
    for line in _complete_lines(text):
        reader.feed(line)
    return reader.result()


@dataclass
class _Reader:
    """The state of one parse; local to a call of :func:`parse_console`."""

    lease: dict[str, str | None] | None = None
    lease_line: str | None = None
    lease_failed: bool = False
    metadata: dict[str, Any] | None = None
    metadata_started: bool = False
    metadata_failed: bool = False
    errors: list[str] = field(default_factory=list)
    ready: bool = False
    body: list[str] | None = None  # pieces of the metadata block being read

    def feed(self, line: str) -> None:
        pos = 0
        while True:
            match = _MARKER.search(line, pos)
            if self.body is not None:
                if match is None:
                    self.body.append(line[pos:])
                    return
                self.body.append(line[pos : match.start()])
                if match.group("kind") == "METADATA-END":
                    self._close_block()
                    pos = match.end()
                    continue
                # Another marker before METADATA-END: the block was cut short
                # (the guest gave up or rebooted); handle the marker normally.
                self.errors.append("metadata block interrupted by " + match.group(0))
                self.body = None
            if match is None:
                return
            kind = match.group("kind")
            pos = match.end()
            if kind == "LEASE":  # its fields run to the end of the line
                fields = _parse_lease(line[pos:])
                if self.lease is None and fields.get("ip"):
                    self.lease = fields
                    self.lease_line = line[match.start() :].strip()
                return
            if kind == "LEASE-FAILED":
                self.lease_failed = True
            elif kind == "METADATA-BEGIN":
                self.metadata_started = True
                self.body = []
            elif kind == "METADATA-FAILED":
                self.metadata_failed = True
            elif kind == "READY":
                self.ready = True
            # A METADATA-END with no open block is noise: nothing to close.

    def _close_block(self) -> None:
        assert self.body is not None
        parsed, error = _parse_metadata(self.body)
        self.body = None
        if self.metadata is None and parsed is not None:
            self.metadata = parsed
        elif error is not None:
            self.errors.append(error)

    def result(self) -> GuestConsole:
        return GuestConsole(
            lease=self.lease,
            lease_line=self.lease_line,
            lease_failed=self.lease_failed,
            metadata=self.metadata,
            metadata_started=self.metadata_started,
            metadata_failed=self.metadata_failed,
            metadata_error=(
                self.errors[-1] if self.metadata is None and self.errors else None
            ),
            ready=self.ready,
        )


def _complete_lines(text: str) -> list[str]:
    """Split console text into cleaned, complete lines.

    ``\\r\\n``, ``\\n`` and a lone ``\\r`` all end a line; escape sequences,
    control characters and kernel messages (whole or glued to the end of a
    user-space line) are dropped.
    """
    if not isinstance(text, str):
        return []
    cleaned = text.replace("\r\n", "\n").replace("\r", "\n")
    *complete, _tail = cleaned.split("\n")
    return [_PRINTK.sub("", _CONTROL.sub("", _ANSI.sub("", line))) for line in complete]


def _parse_lease(fields_text: str) -> dict[str, str | None]:
    """``ip=10.0.0.5 mask=255.255.255.0 router=none ...`` -> dict.

    A value runs up to the next ``key=``, so values with spaces (udhcpc's
    ``staticroutes`` is ``"dest/len gw dest/len gw"``) survive.
    """
    keys = list(_LEASE_KEY.finditer(fields_text))
    fields: dict[str, str | None] = {}
    for this, following in zip(keys, keys[1:] + [None], strict=False):  # no keys: no fields
        end = following.start() if following is not None else len(fields_text)
        value = fields_text[this.end() : end].strip()
        fields.setdefault(this.group(1), None if value in _NONE_VALUES else value)
    return fields


def _parse_metadata(body: list[str]) -> tuple[dict[str, Any] | None, str | None]:
    # Line breaks inside valid JSON are only ever whitespace between tokens,
    # so joining without them also mends a line the console split.
    text = "".join(body).strip()
    if not text:
        return None, "metadata block is empty"
    try:
        value = json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError
        return None, f"metadata block is not valid JSON: {exc}"
    except RecursionError:
        return None, "metadata block is nested too deeply to be meta_data.json"
    if not isinstance(value, dict):
        return None, f"metadata block is JSON {type(value).__name__}, not an object"
    return value, None
