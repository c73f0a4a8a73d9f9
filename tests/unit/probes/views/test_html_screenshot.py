"""The HTML view as a person sees it: Debian's headless Chromium takes a screenshot.

The PNG is decoded here with zlib alone (chunks, CRCs, IDAT, scanline filters) and must
show the bar colours of the waterfall. A copy is left in tests/artifacts/ to look at.
Without chromium the test skips on a developer's machine and fails in CI (CI=true).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from probes.views.html import STATUS_COLOURS, render_html
from tests.support import FIXTURES
from tests.support import screenshot as browser
from tests.support.screenshot import ARTIFACTS, decode_png, rgb, rows_with_colour, screenshot

RESULT_FILES = sorted(FIXTURES.glob("run-lab-*.json")) + sorted(
    FIXTURES.glob("run-sample-*.json")
)
BAR_HEIGHT_PX = (
    6  # a bar (10 px) or a marker (~9 px) colours at least this many pixel rows
)


@pytest.mark.parametrize("result_file", RESULT_FILES, ids=lambda p: p.name)
def test_screenshot_of_the_html_shows_the_waterfall(result_file: Path, tmp_path: Path):
    result = json.loads(result_file.read_text(encoding="utf-8"))
    page = tmp_path / f"{result_file.stem}.html"
    page.write_text(render_html(result), encoding="utf-8")
    png_file = tmp_path / f"{result_file.stem}.png"
    screenshot(page, png_file, tmp_path / "chromium-profile")

    assert png_file.is_file() and png_file.stat().st_size > 0
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(png_file, ARTIFACTS / png_file.name)
    shutil.copyfile(page, ARTIFACTS / page.name)

    png = decode_png(png_file.read_bytes())
    assert (png.width, png.height) == (browser.WIDTH, browser.HEIGHT)
    assert len({row for row in png.rows}) > 100, "the screenshot is (nearly) blank"
    # The first boot's 58 rows fit in the window: each bar or marker colours pixel rows.
    first = result["boots"][0]["stages"]
    for status in ("measured", "proxy"):
        bars = sum(1 for s in first if s["status"] == status)
        found = rows_with_colour(png, rgb(STATUS_COLOURS[status]))
        assert found >= BAR_HEIGHT_PX * bars, (status, bars, found)
    assert any(
        s["status"] == "measured" for s in first
    ), "a boot without a measured stage"


def test_screenshot_shows_the_segments_and_the_critical_path(tmp_path: Path):
    """A recorded cold boot analysed here: its work, waits and unexplained stretches drawn in
    rows of their own, and the critical path's mark beside the rows it runs through."""
    from probes.analyze import analyze
    from probes.boots import read_boots
    from probes.catalog import load_catalog
    from probes.views.html import CRITICAL_COLOUR, KIND_COLOURS

    folder = FIXTURES / "boot-cold-20261126"
    result = analyze(folder, read_boots(folder), load_catalog())
    page = tmp_path / "accounting.html"
    page.write_text(render_html(result), encoding="utf-8")
    png_file = tmp_path / "accounting.png"
    screenshot(page, png_file, tmp_path / "chromium-profile")
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(png_file, ARTIFACTS / png_file.name)
    png = decode_png(png_file.read_bytes())
    segments = result["boots"][0]["accounting"]["segments"]
    for kind in ("work", "wait"):
        count = sum(1 for s in segments if s["kind"] == kind)
        found = rows_with_colour(png, rgb(KIND_COLOURS[kind]))
        assert count and found >= BAR_HEIGHT_PX * count, (kind, count, found)
    on_path = sum(1 for s in segments if s["critical_s"] > 0)
    marked = rows_with_colour(png, rgb(CRITICAL_COLOUR))
    assert marked >= 10 * on_path, (on_path, marked)  # a 16 px row's mark, on every such row
