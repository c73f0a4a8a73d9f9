"""Remove secrets from log lines before they become evidence or land in a bundle.

Services log tokens, signatures and passwords in a few known shapes: request
dumps (Python dict reprs, ``Header: value`` lines, JSON), connection URLs,
config echoes, Ceph keys, and -- in MariaDB's general query log -- the SQL
the deploy ran to create its users (``IDENTIFIED BY 'pw'``,
``SHA1('pw')``, ``PASSWORD('pw')``), and in journald the command line of
``rabbitmqctl add_user USER PW``.  Each value is replaced by ``***``;
the rest of the line stays so that it still proves its stage.  A mask never
takes a quote or a backslash, so a scrubbed JSON line (a journald export) is
still JSON.
"""

from __future__ import annotations

import re

MASK = "***"

# Names whose value is a secret: headers, dict/JSON fields, config options.
# ``signature`` and ``hmac`` are matched where they start, so that
# X-Instance-Id-Signature, X-Signature and img_signature are all caught.
_NAMES = (
    r"x-auth-token|x-subject-token|x-service-token|authorization|password|passwd|"
    r"secret|token|admin_pass|adminpass|auth_key|key|signature[\w-]*|hmac[\w-]*"
)
_QUOTE = r"(?:\\?[\"'])?"  # a quote, or an escaped one inside a JSON string
_AUTH_SCHEME = r"(?:(?:bearer|basic|digest|negotiate|aws4-hmac-sha256|aws)\s+)?"
_SQL_STRING = r"((?:[^'\\]|\\.)+)(')"  # a quoted SQL literal as pymysql escapes it

# (substrings of the lowered line without which the pattern cannot match, pattern):
# the cheap test first, so that scrubbing a GB of logs stays fast.
_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    # headers and JSON/dict fields: X-Auth-Token: abc / "token": "abc" /
    # 'X-Instance-Id-Signature': 'abc' / Authorization: Bearer abc
    (("token", "authorization", "passw", "secret", "admin_pass", "key", "signature", "hmac"),
     re.compile(
         rf"(?i)((?:{_NAMES}){_QUOTE}\s*[:=]\s*{_QUOTE}{_AUTH_SCHEME})"
         r"(?!\*\*\*)((?:\{SHA256\})?[^\s\"',}\\]+)"
     )),
    # scheme://user:password@host (mysql+pymysql://, rabbit://, ...), and a password without a
    # user (redis://:password@host: osprofiler's connection_string, which osprofiler logs at
    # INFO in every service, 'osprofiler is enabled with connection string: ...')
    (("://",), re.compile(r"([a-z][\w+.-]*://[^:/\s@]*:)([^@\s\"\\/]+)(@)")),
    # SQL: SHA1('pw'), UNHEX(SHA1('pw')), PASSWORD('pw'), SHA2('pw', 256)
    (("sha1", "sha2", "md5", "password"),
     re.compile(rf"(?i)(\b(?:sha1|sha2|md5|password|old_password)\s*\(\s*'){_SQL_STRING}")),
    # SQL: IDENTIFIED BY 'pw' / BY PASSWORD '*hash' / WITH plugin AS '*hash' / VIA plugin USING 'x'
    (("identified",), re.compile(
        r"(?i)(\bidentified\s+(?:(?:with|via)\s+(?:'[^']*'|`[^`]*`|\w+)\s+)?"
        rf"(?:by|as|using)\s+(?:password\s+)?'){_SQL_STRING}"
    )),
    # SQL: SET PASSWORD FOR 'u'@'h' = '*hash'
    (("password",), re.compile(rf"(?i)(\bset\s+password\b[^=]*=\s*'){_SQL_STRING}")),
    # MySQL native password hashes, and the password hashes Keystone stores
    (("*",), re.compile(r"()(\*[0-9A-F]{40})\b")),
    (("$",), re.compile(
        r"()(\$(?:2[aby]?\$\d\d\$[./A-Za-z0-9]{53}|pbkdf2-sha\d+\$\d+\$[./A-Za-z0-9+]+\$[./A-Za-z0-9+]+))"
    )),
    # rabbitmqctl add_user / change_password / authenticate_user USER PASSWORD: the
    # command line of what community.rabbitmq.rabbitmq_user runs, which journald keeps as
    # the _CMDLINE of su's session lines (quoted, and escaped again in the JSON export)
    (("add_user", "change_password", "authenticate_user"), re.compile(
        r"(\b(?:add_user|change_password|authenticate_user)[\\\"'\s]+[^\s\\\"']+[\\\"'\s]+)"
        r"([^\s\\\"']+)"
    )),
    # Fernet tokens and Ceph keys wherever they appear
    (("gaaaaa",), re.compile(r"()(gAAAAA[\w-]{40,}={0,2})")),
    (("==",), re.compile(r"()(AQ[A-Za-z0-9+/]{38}==)")),
)


_MASKED2 = rf"\g<1>{MASK}"
_MASKED3 = rf"\g<1>{MASK}\g<3>"


def scrub(line: str) -> str:
    """The line with every secret it holds masked."""
    lowered = line.lower()
    for triggers, pattern in _RULES:
        if any(t in lowered for t in triggers):
            line = pattern.sub(_MASKED3 if pattern.groups == 3 else _MASKED2, line)
    return line
