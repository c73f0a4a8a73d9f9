"""The trend page as a person sees it: headless Chromium's screenshot of five nights (made
from the recorded lab run, stage 53 one second slower from the third night) shows the p50
and p95 lines of the stages and the red frame of the stage that moved. A copy is left in
tests/artifacts/ to look at. Without chromium the test skips (and fails in CI)."""
from __future__ import annotations

import shutil
from pathlib import Path

from probes.trend import find_moves, load_nights, titles_of
from probes.views.trend_html import CHART_H, COLOURS, render_trend_html
from tests.support import screenshot as browser
from tests.support.nights import night, write_nights
from tests.support.screenshot import ARTIFACTS, colour_box, decode_png, pixels_of, rgb

WIDTH, HEIGHT = 1400, 2600


def test_screenshot_of_the_trend_shows_lines_and_the_move(tmp_path: Path, monkeypatch):
    results = [night(1), night(2, jitter=0.05), night(3, slow={53: 1.0}),
               night(4, slow={53: 1.0}, jitter=0.05), night(5, slow={53: 1.0})]
    nights = load_nights(write_nights(tmp_path / "nights", results))
    moves = find_moves(nights)
    assert [(m.number, m.label) for m in moves] == [(53, "2026-12-03")]
    page = tmp_path / "trend-sample.html"
    page.write_text(render_trend_html(nights, moves, titles_of(nights)), encoding="utf-8")
    png_file = tmp_path / "trend-sample.png"
    monkeypatch.setattr(browser, "HEIGHT", HEIGHT)
    browser.screenshot(page, png_file, tmp_path / "chromium-profile")
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(png_file, ARTIFACTS / png_file.name)
    shutil.copyfile(page, ARTIFACTS / page.name)

    png = decode_png(png_file.read_bytes())
    assert (png.width, png.height) == (WIDTH, HEIGHT)
    assert len(set(png.rows)) > 100, "the screenshot is (nearly) blank"
    # Every observed stage's chart draws its p50 line and points (8 px) over 5 nights, and its
    # p95 line where it lies above the p50 (it is drawn first).
    observed = sum(1 for row in nights[0].rows.values() if row.get("p50_s") is not None)
    apart = sum(1 for row in nights[0].rows.values() if (row.get("p95_s") or 0) > (row.get("p50_s") or 0))
    assert observed > 40 and apart > 25
    # A point is ~50 px of its colour: at least 5 points per chart.
    assert pixels_of(png, rgb(COLOURS["p50"])) >= 5 * 40 * observed
    assert pixels_of(png, rgb(COLOURS["p95"])) >= 5 * 20 * apart
    # Below the header (legend, table of moves), the stage that moved has a red frame as
    # tall as its chart, and only one stage has.
    box = colour_box(png, rgb(COLOURS["up"]), top=300)
    assert box is not None, "no red frame: the move is not shown"
    x0, y0, x1, y1 = box
    assert y1 - y0 >= CHART_H and y1 - y0 < 2.5 * CHART_H, box
    assert 300 < x1 - x0 < 400, box
