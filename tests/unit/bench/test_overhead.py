"""bench/overhead.py's figures from a real run's result file (three boots on the lab)."""
import json

from bench.overhead import Boot, boot_figures, ratio, summarize
from tests.support import FIXTURES

RUN = FIXTURES / "run-lab-20261126.json"


def boots(mode: str) -> list[Boot]:
    return [boot_figures(mode, 1, b) for b in json.loads(RUN.read_text())["boots"]]


def test_each_boot_keeps_the_clients_times_and_the_stages_it_saw():
    figures = boots("on")
    assert [b.to_active_s for b in figures] == [8.166856, 8.098454, 8.485706]
    assert all(b.outcome == "ok" and b.to_metadata_s > b.to_active_s for b in figures)
    assert all(0 < b.stages_observed <= 58 for b in figures)


def test_modes_are_summarised_apart_and_compared_by_their_p50():
    on, off = boots("on"), boots("off")
    off[0].outcome = "failed"
    summary_on, summary_off = summarize("on", on + off), summarize("off", on + off)
    assert (summary_on.boots, summary_on.failed, summary_on.to_active_p50_s) == (3, 0, 8.166856)
    assert (summary_off.boots, summary_off.failed) == (2, 1)
    assert ratio(summary_on.to_active_p50_s, summary_off.to_active_p50_s) == round(8.166856 / 8.098454, 3)
    assert ratio(None, 1.0) is None
