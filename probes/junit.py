"""A comparison as JUnit XML: one test case per stage (and one for end to end), and one per
named segment of work or waiting.

A stage that regressed is a ``<failure>`` naming its base and new values and the growth
allowed; a stage neither night observed, or only one of them, is ``<skipped>`` with the
reason; every other stage passes. CI systems (Jenkins, GitLab, GitHub Actions, Zuul)
show the failing stages by name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from probes.compare import END_TO_END, Margins, StageDelta


def stage_titles(*results: Mapping[str, Any]) -> dict[int, str]:
    """``actor -> target: action`` per stage number, from the first result that has it."""
    titles: dict[int, str] = {END_TO_END: "end to end (first request to the guest's metadata)"}
    for result in results:
        for boot in result.get("boots") or []:
            for stage in boot.get("stages") or []:
                number = int(stage["number"])
                if number not in titles and stage.get("action"):
                    titles[number] = (f"{stage.get('actor')} -> {stage.get('target')}: "
                                      f"{stage.get('action')}")
    return titles


def _value(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3f} s"


def render_junit(deltas: Sequence[StageDelta], metric: str, margins: Margins,
                 titles: Mapping[int, str], suite: str = "bootprobe.stages",
                 timestamp: str | None = None, properties: Mapping[str, Any] | None = None) -> str:
    """The JUnit XML document (one ``<testsuite>`` in ``<testsuites>``)."""
    failures = sum(1 for d in deltas if d.regressed)
    skipped = sum(1 for d in deltas if not d.regressed and d.allowed_s is None)
    root = ET.Element("testsuites", name=suite, tests=str(len(deltas)), failures=str(failures),
                      errors="0", skipped=str(skipped))
    attrs = {"name": suite, "tests": str(len(deltas)), "failures": str(failures), "errors": "0",
             "skipped": str(skipped)}
    if timestamp:
        attrs["timestamp"] = timestamp
    testsuite = ET.SubElement(root, "testsuite", attrs)
    props = ET.SubElement(testsuite, "properties")
    for name, value in {"metric": metric, "margin.relative": margins.relative,
                        "margin.absolute_s": margins.absolute_s, "margin.spread": margins.spread,
                        **(properties or {})}.items():
        ET.SubElement(props, "property", name=str(name), value=str(value))
    for d in deltas:
        number = "e2e" if d.number == END_TO_END else f"{d.number:02d}"
        title = titles.get(d.number, "") if d.segment is None else ""
        name = f"segment: {d.segment}" if d.segment else f"stage {number}: {title}".rstrip(": ")
        case = ET.SubElement(testsuite, "testcase", classname=f"{suite}.{metric.removesuffix('_s')}",
                             name=name, time=f"{d.new_s or 0.0:.6f}")
        detail = (f"{d.label} {metric}: base {_value(d.base_s)} ({d.base_count} boots), "
                  f"new {_value(d.new_s)} ({d.new_count} boots)")
        if d.regressed and d.new_s is None:
            message = f"{d.label} no longer observed: base {_value(d.base_s)} over {d.base_count} boots, now none"
            failure = ET.SubElement(case, "failure", message=message, type="evidence-lost")
            failure.text = f"{detail}\n{title}\nthe night's result.json says why for each boot (stage 'reason')"
        elif d.regressed:
            growth = d.growth_s or 0.0
            message = (f"{d.label} regressed: {metric} {_value(d.base_s)} -> {_value(d.new_s)} "
                       f"(+{growth:.3f} s, allowed +{d.allowed_s:.3f} s)")
            failure = ET.SubElement(case, "failure", message=message, type="regression")
            failure.text = (f"{detail}\nallowed growth {margins.explain(d.base_s or 0.0, d.spread_s)}"
                            f" = {d.allowed_s:.3f} s\n{title}")
        elif d.allowed_s is None:
            reason = d.note or "observed in neither result"
            ET.SubElement(case, "skipped", message=f"{d.label}: {reason}")
        else:
            ET.SubElement(case, "system-out").text = (
                f"{detail}; growth {(d.growth_s or 0.0):+.3f} s, allowed +{d.allowed_s:.3f} s")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
