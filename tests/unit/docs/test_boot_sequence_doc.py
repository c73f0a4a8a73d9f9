"""docs/boot-sequence.md is the spec the stage catalog encodes: they must agree."""

from __future__ import annotations

import re

from probes.catalog import load_catalog
from tests.support import ROOT

SPEC = ROOT / "docs" / "boot-sequence.md"
_ROW = re.compile(r"^\| (\d+) \| (.+?) -> (.+?) \| (.+?) \|$")


def spec_rows() -> dict[int, tuple[str, str, str]]:
    rows = {}
    for line in SPEC.read_text().splitlines():
        match = _ROW.match(line.strip())
        if match:
            rows[int(match[1])] = (match[2], match[3], match[4])
    return rows


def test_the_spec_travels_with_the_project_and_says_so():
    assert SPEC.read_text().splitlines()[0].startswith("**The spec.**")
    assert sorted(spec_rows()) == list(range(1, 59))


def test_the_catalog_names_every_stage_as_the_spec_does():
    rows = spec_rows()
    for stage in load_catalog().stages:
        assert rows[stage.number] == (stage.actor, stage.target, stage.action), stage.number
