"""probes.offline.analyze_folder, `bootprobe analyze` without its command line."""

from __future__ import annotations

import pytest

from probes.errors import ConfigError, ProbeError
from probes.offline import analyze_folder
from tests.support import FIXTURES

OK = FIXTURES / "boot-ok-20261126"


def test_a_folder_of_a_passed_boot_is_ok_with_its_options():
    result = analyze_folder(OK, "9.9", clock_offsets=False)
    assert (result["outcome"], result["exit_code"], result["tool_version"]) == ("ok", 0, "9.9")
    assert result["options"] == {"logdir": str(OK), "clock_offsets": False}
    assert len(result["boots"]) == 1


def test_not_a_folder_is_a_configuration_error_and_an_empty_one_has_no_boot(tmp_path):
    with pytest.raises(ConfigError) as not_folder:
        analyze_folder(tmp_path / "nosuch", "9.9")
    assert not_folder.value.outcome.exit_code == 2 and "var/log tree" in not_folder.value.hint
    with pytest.raises(ProbeError) as empty:
        analyze_folder(tmp_path, "9.9")
    assert empty.value.message == f"no boot found in {tmp_path}"
    assert empty.value.outcome.exit_code == 1
