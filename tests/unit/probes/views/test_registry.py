"""The report formats, registered by name in probes.views: what `bootprobe report --format`
offers and renders, each renderer imported only when it is looked up."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from probes import views
from probes.cli import build_parser
from probes.views.csv import render_csv
from tests.support import ROOT


def test_the_formats_shipped_in_the_order_the_help_lists_them():
    assert views.formats() == ("table", "json", "csv", "html", "trace", "otlp")
    assert views.renderer("csv") is render_csv
    result = {"schema": "bootlab.run/1", "boots": []}
    assert views.render("json", result) == json.dumps(result, indent=2) + "\n"
    with pytest.raises(KeyError):
        views.renderer("nosuch")


def test_a_registered_format_is_offered_by_bootprobe_report(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(views, "_RENDERERS", dict(views._RENDERERS))

    @views.register("count")
    def render_count(result: Any) -> str:
        return f"{len(result['boots'])} boots\n"

    assert views.formats()[-1] == "count" and views.renderer("count") is render_count
    args = build_parser({}).parse_args(["report", "r.json", "--format", "count"])
    assert args.format == "count"
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"schema": "bootlab.run/1", "boots": [{}, {}]}))
    from probes.cli import main

    assert main(["report", str(path), "--format", "count"]) == 0
    assert capsys.readouterr().out == "2 boots\n"


def test_the_command_line_imports_no_renderer_nor_the_cloud_client_to_start():
    code = ("import sys, probes.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('rich', 'openstack', 'paramiko', 'yaml') or m.startswith('probes.views.')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "[]"
