"""The probe guest's console parser (probes.guest.parse_console)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probes.guest import GuestConsole, parse_console
from tests.support import FIXTURES

# See fixtures/README.md for where this comes from.
CONSOLE = (FIXTURES / "console-probe-guest-bookworm.log").read_bytes().decode()
SERVER_ID = "7c1e4a3f-2b9d-4c55-9e0a-6f3d8b21c4e7"

LEASE = (
    "BOOTLAB-LEASE ip=10.20.0.57 mask=255.255.255.0 router=none "
    "server=10.20.0.2 staticroutes=169.254.169.254/32 10.20.0.2"
)
META = {"uuid": SERVER_ID, "name": "s", "hostname": "s", "launch_index": 0}


def console(*lines: str, end: str = "\r\n") -> str:
    return end.join(lines) + end


# -- the realistic console --------------------------------------------------


def test_realistic_console_yields_lease_metadata_and_ready():
    guest = parse_console(CONSOLE)

    assert guest.lease == {
        "ip": "10.20.0.57",
        "mask": "255.255.255.0",
        "router": None,
        "server": "10.20.0.2",
        "staticroutes": "169.254.169.254/32 10.20.0.2",
    }
    assert guest.lease_line == LEASE
    assert guest.metadata is not None
    assert guest.metadata["uuid"] == SERVER_ID
    assert set(guest.metadata) == {
        "uuid",
        "hostname",
        "name",
        "launch_index",
        "availability_zone",
        "random_seed",
        "project_id",
        "devices",
        "dedicated_cpus",
    }
    # The kernel message glued into the metadata line was cut out, not
    # merged into random_seed.
    assert "hrtimer" not in json.dumps(guest.metadata)
    assert len(guest.metadata["random_seed"]) == 684  # base64 of 512 bytes
    assert guest.metadata_error is None
    assert not guest.metadata_failed
    assert guest.ready
    assert guest.finished


@pytest.mark.parametrize("ending", ["\n", "\r", "\r\r\n"])
def test_line_endings_do_not_change_the_result(ending):
    assert parse_console(CONSOLE.replace("\r\n", ending)) == parse_console(CONSOLE)


def test_every_prefix_of_the_console_is_a_consistent_partial_view():
    full = parse_console(CONSOLE)
    lease_from = None
    for cut in range(len(CONSOLE) + 1):
        guest = parse_console(CONSOLE[:cut])
        # What a prefix reports is never different from the whole, only less.
        assert guest.lease in (None, full.lease)
        assert guest.metadata in (None, full.metadata)
        # A metadata block cut short is "not yet", never "malformed".
        assert guest.metadata_error is None
        assert not guest.metadata_failed
        if guest.lease is not None and lease_from is None:
            lease_from = cut
        if lease_from is not None:
            assert guest.lease == full.lease, "a lease once seen must stay"
    # The lease counts from the moment its line ends (a lone \r ends a line).
    assert CONSOLE[:lease_from].endswith(LEASE + "\r")


def test_a_lease_line_cut_mid_value_is_not_reported():
    guest = parse_console(console("[    4.9] x") + "BOOTLAB-LEASE ip=10.20")
    assert guest.lease is None


def test_an_unclosed_metadata_block_is_pending_not_an_error():
    guest = parse_console(console(LEASE, "BOOTLAB-METADATA-BEGIN", '{"uuid": "7c1e'))
    assert guest.metadata is None
    assert guest.metadata_started
    assert guest.metadata_error is None
    assert not guest.finished


def test_empty_console():
    assert parse_console("") == GuestConsole()
    assert not parse_console("").finished


# -- metadata block variants ---------------------------------------------------


def test_malformed_json_gives_no_metadata_and_an_error():
    guest = parse_console(
        console(
            LEASE,
            "BOOTLAB-METADATA-BEGIN",
            '{"uuid": "7c1e4a3f", "name": ',
            "BOOTLAB-METADATA-END",
            "BOOTLAB-READY",
        )
    )
    assert guest.metadata is None
    assert guest.metadata_error is not None
    assert "not valid JSON" in guest.metadata_error
    assert guest.lease is not None and guest.ready
    assert guest.finished


@pytest.mark.parametrize(
    ("body", "error"),
    [("[1, 2]", "JSON list, not an object"), ("", "empty"), ("null", "JSON NoneType")],
)
def test_json_that_is_not_an_object_is_an_error(body, error):
    guest = parse_console(
        console("BOOTLAB-METADATA-BEGIN", body, "BOOTLAB-METADATA-END")
    )
    assert guest.metadata is None
    assert error in (guest.metadata_error or "")


def test_pretty_printed_metadata_spanning_lines_parses():
    lines = json.dumps(META, indent=2).splitlines()
    guest = parse_console(
        console("BOOTLAB-METADATA-BEGIN", *lines, "BOOTLAB-METADATA-END")
    )
    assert guest.metadata == META


def test_metadata_on_the_marker_lines_themselves():
    guest = parse_console(
        console("BOOTLAB-METADATA-BEGIN" + json.dumps(META) + "BOOTLAB-METADATA-END")
    )
    assert guest.metadata == META


def test_kernel_lines_inside_the_block_are_skipped():
    text = json.dumps(META)
    guest = parse_console(
        console(
            "BOOTLAB-METADATA-BEGIN",
            "[    8.123456] random: crng init done",
            text[:20] + "[    9.004561] hrtimer: interrupt took 4617530 ns",
            text[20:],
            "[    9.100000] clocksource: Switched to clocksource hpet",
            "BOOTLAB-METADATA-END",
        )
    )
    assert guest.metadata == META


def test_metadata_failed_marker():
    guest = parse_console(console(LEASE, "BOOTLAB-METADATA-FAILED", "BOOTLAB-READY"))
    assert guest.metadata is None
    assert guest.metadata_failed
    assert guest.metadata_error is None
    assert guest.finished


def test_block_cut_short_by_another_marker_is_an_error():
    guest = parse_console(
        console("BOOTLAB-METADATA-BEGIN", '{"uuid":', "BOOTLAB-READY")
    )
    assert guest.metadata is None
    assert guest.metadata_error == "metadata block interrupted by BOOTLAB-READY"
    assert guest.ready


def test_first_valid_block_wins_and_clears_earlier_errors():
    guest = parse_console(
        console(
            "BOOTLAB-METADATA-BEGIN",
            "{broken",
            "BOOTLAB-METADATA-END",
            "BOOTLAB-METADATA-BEGIN",
            json.dumps(META),
            "BOOTLAB-METADATA-END",
        )
    )
    assert guest.metadata == META
    assert guest.metadata_error is None


# -- lease line variants ---------------------------------------------------------


def test_lease_with_router_extra_fields_and_glued_kernel_message():
    guest = parse_console(
        console(
            "BOOTLAB-LEASE ip=192.0.2.10 mask=255.255.255.0 router=192.0.2.1 "
            "server=192.0.2.2 staticroutes=none mtu=1450"
            "[    7.334012] clocksource: timekeeping watchdog on CPU0"
        )
    )
    assert guest.lease == {
        "ip": "192.0.2.10",
        "mask": "255.255.255.0",
        "router": "192.0.2.1",
        "server": "192.0.2.2",
        "staticroutes": None,
        "mtu": "1450",
    }


def test_first_lease_is_kept_and_a_lease_without_ip_is_ignored():
    guest = parse_console(
        console(
            "BOOTLAB-LEASE ip= mask=",
            "BOOTLAB-LEASE ip=10.0.0.5 mask=255.255.255.0",
            "BOOTLAB-LEASE ip=10.0.0.6 mask=255.255.255.0",
        )
    )
    assert guest.lease is not None and guest.lease["ip"] == "10.0.0.5"


def test_lease_failed_marker():
    guest = parse_console(
        console("BOOTLAB-LEASE-FAILED", "BOOTLAB-METADATA-FAILED", "BOOTLAB-READY")
    )
    assert guest.lease is None
    assert guest.lease_failed
    assert guest.metadata_failed and guest.ready


def test_marker_prefixes_of_longer_words_are_not_markers():
    guest = parse_console(
        console("BOOTLAB-READYNESS", "BOOTLAB-LEASED ip=1.2.3.4", "XBOOTLAB-READY-2")
    )
    assert guest == GuestConsole()


def test_escape_sequences_and_nul_padding_are_ignored():
    guest = parse_console(
        console("\x1b[0m\x00\x00BOOTLAB-READY\x1b[K", "\x1bc" + LEASE)
    )
    assert guest.ready
    assert guest.lease_line == LEASE


# -- properties ---------------------------------------------------------------------

MARKERS = st.sampled_from(
    [
        LEASE,
        "BOOTLAB-LEASE",
        "BOOTLAB-LEASE ip=",
        "BOOTLAB-LEASE-FAILED",
        "BOOTLAB-METADATA-BEGIN",
        "BOOTLAB-METADATA-END",
        "BOOTLAB-METADATA-FAILED",
        "BOOTLAB-READY",
        json.dumps(META),
        '{"uuid": ',
        "[    1.000000] kernel: line",
    ]
)
ENDINGS = st.sampled_from(["\r\n", "\n", "\r", ""])


@settings(max_examples=400)
@given(st.text())
def test_arbitrary_text_never_crashes_the_parser(text):
    _check_invariants(parse_console(text))


@settings(max_examples=400)
@given(st.lists(st.tuples(st.one_of(MARKERS, st.text(max_size=40)), ENDINGS)))
def test_arbitrary_marker_soup_never_crashes_the_parser(parts):
    _check_invariants(parse_console("".join(line + end for line, end in parts)))


KERNEL_LINES = st.builds(
    "[{:5d}.{:06d}] {}".format,
    st.integers(0, 99999),
    st.integers(0, 999999),
    st.text(st.characters(exclude_characters="\r\n"), max_size=60),
)


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 10_000), KERNEL_LINES), max_size=8))
def test_kernel_lines_anywhere_between_lines_do_not_change_the_result(inserts):
    lines = CONSOLE.split("\r\n")
    for position, kernel_line in sorted(inserts, reverse=True):
        lines.insert(position % len(lines), kernel_line)
    assert parse_console("\r\n".join(lines)) == parse_console(CONSOLE)


def _check_invariants(guest: GuestConsole) -> None:
    assert isinstance(guest, GuestConsole)
    assert guest.metadata is None or isinstance(guest.metadata, dict)
    assert guest.metadata is None or guest.metadata_error is None
    assert guest.lease is None or guest.lease.get("ip")
    assert (guest.lease is None) == (guest.lease_line is None)
    if guest.metadata is not None or guest.metadata_error is not None:
        assert guest.metadata_started


def test_console_recorded_on_the_lab():
    """The console of a real boot on the lab (see fixtures/README.md)."""
    text = (FIXTURES / "console-lab-run-20261126.log").read_bytes().decode()
    guest = parse_console(text)
    assert guest.lease is not None
    assert guest.lease["ip"] == "10.234.0.229"
    assert guest.lease["router"] is None
    assert guest.lease["staticroutes"] == "169.254.169.254/32 10.234.0.1"
    assert guest.metadata is not None
    assert guest.metadata["uuid"] == "6ccf356f-b17d-42e9-bfe8-68de83a51dd6"
    assert guest.ready
