"""Remove secrets from log lines before they become evidence in a report.

Services log tokens and passwords in a few known shapes (request dumps,
connection URLs, config echoes, Ceph keys).  Each is replaced by ``***``;
the rest of the line stays so that it still proves its stage.
"""

from __future__ import annotations

import re

MASK = "***"
_PATTERNS: tuple[re.Pattern[str], ...] = (
    # headers and JSON/dict fields: X-Auth-Token: abc / "token": "abc" / 'password': 'abc'
    re.compile(
        r"(?i)((?:x-auth-token|x-subject-token|x-service-token|authorization|password|passwd|"
        r"secret|token|admin_pass|adminpass|auth_key|key)[\"']?\s*[:=]\s*[\"']?)"
        r"(?!\*\*\*)((?:\{SHA256\})?[^\s\"',}]+)"
    ),
    # scheme://user:password@host
    re.compile(r"([a-z][\w+.-]*://[^:/\s@]+:)([^@\s]+)(@)"),
    # Fernet tokens and Ceph keys wherever they appear
    re.compile(r"()(gAAAAA[\w-]{40,}={0,2})"),
    re.compile(r"()(AQ[A-Za-z0-9+/]{38}==)"),
)


def scrub(line: str) -> str:
    """The line with every secret it holds masked."""
    for pattern in _PATTERNS:
        if pattern.groups == 3:
            line = pattern.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", line)
        else:
            line = pattern.sub(lambda m: f"{m.group(1)}{MASK}", line)
    return line
