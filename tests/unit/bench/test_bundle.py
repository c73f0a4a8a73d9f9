"""bench/bundle.py: a bundle built from one checkout's recorded boots is reused by another."""
import json

from bench.bundle import STAMP, build
from tests.support import FIXTURES

OK = FIXTURES / "boot-ok-20261126"


def test_the_stamp_names_the_sources_within_the_checkout_and_a_second_build_reuses_it(tmp_path):
    out = tmp_path / "bundle"
    done = build(out, 1, [OK])
    assert done["sources"] == ["tests/fixtures/boot-ok-20261126"] and done["host_copies"] == 1
    copies = sorted(p.name for p in out.iterdir() if p.is_dir())
    marker = out / copies[0] / "kept"
    marker.write_text("")  # a rebuild would remove it
    # The same sources through another path to them (a checkout elsewhere names them so).
    again = build(out, 1, [OK.parent / ".." / "fixtures" / OK.name])
    assert again == json.loads((out / STAMP).read_text()) and marker.exists()
