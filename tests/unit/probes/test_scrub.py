"""Secrets are masked in the shapes OpenStack services and MariaDB really log them,
and the rest of the line stays (it still proves its stage)."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import re

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from probes.scrub import MASK, scrub
from tests.support import FIXTURES

METADATA_LOG = FIXTURES / "boot-ok-20261126" / "bootlab1" / "var/log/nova/nova-api-metadata.log.gz"

# Passwords as the lab generates them (32 letters and digits), HMACs as hex.
SECRETS = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                  min_size=8, max_size=64)

# The shapes, after the real writers; {} is the secret.
SHAPES = (
    # nova/api/metadata/handler.py: LOG.debug('Metadata request headers: %s', req.headers)
    "2026-11-26 10:06:10.739 1698 DEBUG nova.api.metadata.handler [None req-115ed927-39a8-454e-8d50-"
    "99035168d209 - - - - - -] Metadata request headers: {{'Host': '10.233.0.2:8775', "
    "'X-Instance-Id': '2f470776-8968-45c0-8a44-4c03143cf4e3', 'X-Tenant-Id': "
    "'c9ab7641a05e44ecb2fc8fad4caf7f77', 'X-Instance-Id-Signature': '{}'}} __call__ "
    "/usr/lib/python3/dist-packages/nova/api/metadata/handler.py:100",
    # a webob request printed as text (neutron's metadata agent: "Request: %s"), one header a line
    "X-Instance-ID-Signature: {}",
    "X-Signature: {}",
    # JSON bodies and headers
    '{{"X-Auth-Token": "{}", "Accept": "application/json"}}',
    '{{"signature": "{}", "key_id": "k1"}}',
    "X-Subject-Token: {}",
    "{{'X-Service-Token': '{}'}}",
    "hmac_key = {}",
    "Authorization: Bearer {}",
    # keystoneauth's request dump
    '-H "X-Auth-Token: {{SHA256}}{}" -H "Accept: application/json"',
    # MariaDB's general query log: what community.mysql.mysql_user runs
    "261129 21:40:01\t    42 Query\tSELECT CONCAT('*', UCASE(SHA1(UNHEX(SHA1('{}')))))",
    "\t\t    42 Query\tSELECT PASSWORD('{}')",
    "\t\t    42 Query\tCREATE USER 'nova'@'%' IDENTIFIED BY '{}'",
    "\t\t    42 Query\tGRANT ALL PRIVILEGES ON nova.* TO 'nova'@'%' IDENTIFIED BY '{}'",
    "\t\t    42 Query\tSET PASSWORD FOR 'nova'@'%' = PASSWORD('{}')",
    "\t\t    42 Query\tALTER USER 'nova'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('{}')",
    # journald's _CMDLINE of su's session lines when community.rabbitmq.rabbitmq_user creates,
    # checks or changes a user (a fresh deploy's journal: PAM's "session opened for user rabbitmq")
    'su rabbitmq -s /bin/sh -c "/usr/lib/rabbitmq/bin/rabbitmqctl  \\"-q\\" \\"-n\\" \\"rabbit\\" '
    '\\"add_user\\" \\"openstack\\" \\"{}\\""',
    'su rabbitmq -s /bin/sh -c "/usr/lib/rabbitmq/bin/rabbitmqctl  \\"-q\\" \\"-n\\" \\"rabbit\\" '
    '\\"authenticate_user\\" \\"openstack\\" \\"{}\\""',
    "rabbitmqctl change_password openstack {}",
    # connection URLs in config echoes
    "connection = mysql+pymysql://nova:{}@10.233.0.2/nova",
    "transport_url = rabbit://openstack:{}@10.233.0.2:5672/",
    "{{'transport_url': 'rabbit://openstack:{}@10.233.0.2:5672/'}}",
    # osprofiler's store, its password without a user: in [profiler] connection_string, in the
    # services' config echo and in osprofiler's own INFO line at start
    "profiler.connection_string     = redis://:{}@10.233.0.2:6379/0 log_opt_values",
    "osprofiler is enabled with connection string: redis://:{}@10.233.0.2:6379/0",
    # osprofiler's hmac_keys opt is not secret: oslo.config echoes it at DEBUG
    "profiler.hmac_keys             = {} log_opt_values /usr/lib/python3/dist-packages/oslo_config/cfg.py:2609",
)


@settings(max_examples=200)
@given(SECRETS, st.sampled_from(SHAPES))
def test_every_shape_loses_its_secret(secret, shape):
    assume(secret not in shape.format(MASK))  # e.g. "password" in "mysql_native_password"
    line = shape.format(secret)
    scrubbed = scrub(line)
    assert secret not in scrubbed
    assert MASK in scrubbed
    # the rest of the line stays: it is the line with its secret replaced
    assert scrubbed == shape.format(MASK) or shape.startswith('-H "X-Auth-Token: {{SHA256}}')


@settings(max_examples=200)
@given(SECRETS, st.sampled_from(SHAPES))
def test_a_scrubbed_journald_export_line_is_still_json(secret, shape):
    assume(secret not in shape.format(MASK))
    line = json.dumps({"__REALTIME_TIMESTAMP": "1795688553228655", "MESSAGE": shape.format(secret)})
    scrubbed = scrub(line)
    assert secret not in scrubbed
    assert json.loads(scrubbed)["__REALTIME_TIMESTAMP"] == "1795688553228655"


@settings(max_examples=200)
@given(SECRETS, st.sampled_from([s for s in SHAPES if "rabbitmqctl" in s]))
def test_a_command_line_in_a_journald_field_loses_its_password(secret, shape):
    assume(secret not in shape.format(MASK))  # e.g. "password" in "change_password"
    line = json.dumps({"MESSAGE": "pam_unix(su:session): session opened for user rabbitmq(uid=111) by (uid=0)",
                       "_CMDLINE": shape.format(secret), "SYSLOG_IDENTIFIER": "su"})
    scrubbed = scrub(line)
    assert secret not in scrubbed
    assert json.loads(scrubbed)["_CMDLINE"] == shape.format(MASK)


@settings(max_examples=300)
@given(st.lists(st.sampled_from(list("ab:='\"\\ *(){}@/-_") + ["key", "token", "SHA1(",
                                                                 "IDENTIFIED BY ", "://"])))
def test_scrubbing_twice_changes_nothing_more(pieces):
    once = scrub("".join(pieces))
    assert scrub(once) == once


def test_the_metadata_request_line_keeps_what_proves_its_stage():
    """nova's real metadata request line (the fixture holds it scrubbed), with a signature put
    back in its slot: an HMAC-SHA256 of the instance id, as nova computes it, under a key that
    is no lab's."""
    recorded = next(line for line in gzip.open(METADATA_LOG, "rt") if "Metadata request headers" in line)
    slot = "'X-Instance-Id-Signature': '***'"
    assert recorded.count(slot) == 1
    instance = re.search(r"'X-Instance-Id': '([0-9a-f-]{36})'", recorded).group(1)
    signature = hmac.new(b"not-a-lab-secret", instance.encode(), hashlib.sha256).hexdigest()
    line = recorded.replace(slot, f"'X-Instance-Id-Signature': '{signature}'")
    scrubbed = scrub(line)
    assert signature not in scrubbed
    assert "'X-Instance-Id-Signature': '***'" in scrubbed
    assert "'X-Instance-Id': '2f470776-8968-45c0-8a44-4c03143cf4e3'" in scrubbed
    assert "req-115ed927-39a8-454e-8d50-99035168d209" in scrubbed
    assert len(scrubbed) == len(line) - len(signature) + len(MASK)
    assert scrubbed == recorded


def test_stored_password_hashes_are_masked():
    native = "*" + "A1B2C3D4E5" * 4
    bcrypt = "$2b$12$" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"
    lines = (
        f"\t\t    42 Query\tCREATE USER 'nova'@'%' IDENTIFIED WITH mysql_native_password AS '{native}'",
        f"\t\t    42 Query\tCREATE USER 'nova'@'%' IDENTIFIED BY PASSWORD '{native}'",
        f"\t\t    42 Query\tSET PASSWORD FOR 'nova'@'%' = '{native}'",
        f"\t\t    37 Query\tINSERT INTO password (local_user_id, password_hash) VALUES (3, '{bcrypt}')",
    )
    for line in lines:
        scrubbed = scrub(line)
        assert native not in scrubbed and bcrypt not in scrubbed, scrubbed
        assert "Query\t" in scrubbed


def test_lines_without_secrets_stay_as_they_are():
    lines = (
        "\t\t    14 Query\tSELECT password_1.created_at AS password_1_created_at FROM password AS password_1",
        "2026-11-26 10:22:33.656 1662 WARNING keystone.common.password_hashing [None req-6814f7c6-8e33-"
        "4029-a072-5bb6dfc669be - - - - - -] Truncating password to algorithm specific maximum length "
        "72 characters.",
        "[pid: 1662|app: 0|req: 1112/1112] 10.233.0.1 () {32 vars in 496 bytes} [Thu Nov 26 10:22:33 "
        "2026] POST /v3/auth/tokens => generated 4011 bytes in 303 msecs (HTTP/1.1 201)",
        "http://10.233.0.2:8080/swift/v1/glance/17aa15a3-ec85-485d-a532-7974468ba144",
    )
    for line in lines:
        assert scrub(line) == line
