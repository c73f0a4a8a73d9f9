"""No committed fixture holds a secret: every file under tests/fixtures (gzipped or
not) is read line by line, and a line fails if the current scrub would still change it
(it holds a secret in a shape probes.scrub knows), or if it holds one of the secret shapes
below whatever scrub makes of it (the explicit shapes also catch what an older scrub left
half-masked, e.g. ``X-Auth-Token: ***}<sha256>``)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from probes.scrub import MASK, scrub
from tests.support import FIXTURES

FILES = sorted(p for p in FIXTURES.rglob("*") if p.is_file())

_Q = r"\\?[\"']?"  # a quote, an escaped one inside a JSON string, or none
_LITERAL = r"'((?:[^'\\]|\\.)*)'"  # a quoted SQL literal

# (shape, pattern): group 1, where there is one, is the value; it may be the mask and nothing else.
SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a 64-hex signature", re.compile(
        r"(?i)signature[\w-]*[\W_]{1,8}(?:\{sha256\})?([0-9a-f]{64})(?![0-9a-f])")),
    ("a token header's value", re.compile(
        rf"(?i)x-(?:auth|subject|service)-token{_Q}\s*[:=]\s*{_Q}([^\s\"',\\]+)")),
    ("a Fernet token", re.compile(r"(gAAAAA[\w-]{40,}={0,2})")),
    ("a Ceph key", re.compile(r"(AQ[A-Za-z0-9+/]{38}==)")),
    ("a password in an SQL function", re.compile(
        rf"(?i)\b(?:sha1|sha2|md5|password|old_password)\s*\(\s*{_LITERAL}")),
    ("an SQL IDENTIFIED BY", re.compile(
        r"(?i)\bidentified\s+(?:(?:with|via)\s+(?:'[^']*'|`[^`]*`|\w+)\s+)?"
        rf"(?:by|as|using)\s+(?:password\s+)?{_LITERAL}")),
    # (a user or none: osprofiler's redis://:password@host)
    ("a password in a URL", re.compile(r"\b[a-z][\w+.-]*://[^:/\s@\"'\\]*:([^@\s/\"'\\]+)@")),
)


def _masked(value: str) -> bool:
    """The mask, closed by nothing but the braces of the dict or JSON it ends."""
    return value.rstrip("}") == MASK


def leaks(line: str) -> list[str]:
    """What secret shapes the line holds: [] for a clean line."""
    found = []
    if scrub(line) != line:
        found.append("a secret the current scrub masks")
    for name, pattern in SHAPES:
        for match in pattern.finditer(line):
            value = match.group(1)
            if name in ("a 64-hex signature", "a Fernet token", "a Ceph key") or not _masked(value):
                found.append(f"{name} ({value[:4]}…)")
    return found


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return value.splitlines() or [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _lines(path: Path) -> list[tuple[str, str]]:
    """(where, line): every line of the file as written, and every line of every string of
    its JSON (a journald export line, a result file), so that no escape hides a secret."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    text = data.decode("utf-8", "surrogateescape")
    lines = [(f"line {n}", line.rstrip("\r")) for n, line in enumerate(text.split("\n"), 1)]
    documents = [("a JSON string", text)] if path.suffix == ".json" else \
        [(f"{where}, a JSON string", line) for where, line in lines if line.startswith("{")]
    for where, document in documents:
        try:
            lines.extend((where, s) for s in _strings(json.loads(document)))
        except ValueError:
            pass
    return lines


def test_every_fixture_is_walked():
    names = {p.relative_to(FIXTURES).parts[0] for p in FILES}
    assert {"boot-ok-20261126", "boot-cold-20261126", "boot-novalidhost-20261126",
            "boot-cli-cold-20261129", "run-lab-20261126.json"} <= names
    assert sum(p.suffix == ".gz" for p in FILES) > 100


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(FIXTURES)) for p in FILES])
def test_the_fixture_holds_no_secret(path):
    found = [f"{where}: {', '.join(what)}" for where, line in _lines(path) if (what := leaks(line))]
    assert not found, f"{path.relative_to(FIXTURES)} holds secrets:\n" + "\n".join(found[:20])


HEX = "0123456789abcdef" * 4  # a made-up 64-hex value


@pytest.mark.parametrize("line", [
    f"{{'X-Tenant-Id': 'c9ab', 'X-Instance-Id-Signature': '{HEX}'}} __call__",
    f"X-Instance-ID-Signature: {HEX}",
    f'-H "X-Auth-Token: ***}}{HEX}" -H "X-OpenStack-Nova-API-Version: 2.1"',  # an older scrub's
    f'-H "X-Auth-Token: {{SHA256}}{HEX}"',
    "X-Subject-Token: abcdef0123456789",
    '{"MESSAGE": "{\\"X-Service-Token\\": \\"abcdef0123456789\\"}"}',
    "token gAAAAABnXq7ZkP2mW9vL4tR8sN3bY6cH1dF5gJ0aXq7ZkP2mW9vL4tR8sN3bY6cH1dF5gJ0a",
    "key = AQDxq7ZkP2mW9vL4tR8sN3bY6cH1dF5gJ0aXq7Zk==",
    "\t\t    42 Query\tSELECT CONCAT('*', UCASE(SHA1(UNHEX(SHA1('Xq7ZkP2mW9vL4tR8')))))",
    "\t\t    42 Query\tSET PASSWORD FOR 'nova'@'%' = PASSWORD('Xq7ZkP2mW9vL4tR8')",
    "\t\t    42 Query\tCREATE USER 'nova'@'%' IDENTIFIED BY 'Xq7ZkP2mW9vL4tR8'",
    "connection = mysql+pymysql://nova:Xq7ZkP2mW9vL4tR8@10.233.0.2/nova",
])
def test_each_shape_is_found(line):
    assert leaks(line)


@pytest.mark.parametrize("line", [
    "{'X-Tenant-Id': 'c9ab', 'X-Instance-Id-Signature': '***'} __call__",
    '-H "X-Auth-Token: ***" -H "X-OpenStack-Nova-API-Version: 2.1"',
    "{'X-Auth-Token': '***', 'X-Trans-Id': 'tx0000'}",
    '{"MESSAGE": "{\\"X-Subject-Token\\": \\"***\\"}"}',
    "\t\t    42 Query\tSELECT CONCAT('*', UCASE(SHA1(UNHEX(SHA1('***')))))",
    "\t\t    42 Query\tCREATE USER 'nova'@'%' IDENTIFIED BY '***'",
    "transport_url = rabbit://openstack:***@10.233.0.2:5672/",
    "\t\t    14 Query\tSELECT password_1.created_at AS password_1_created_at FROM password AS password_1",
    "http://10.233.0.2:8080/swift/v1/glance/17aa15a3-ec85-485d-a532-7974468ba144",
    f"req-115ed927-39a8-454e-8d50-99035168d209 image 2f470776-8968-45c0 sha256 {HEX}",
])
def test_a_masked_or_harmless_line_passes(line):
    assert leaks(line) == []
