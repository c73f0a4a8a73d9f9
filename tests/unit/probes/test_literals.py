"""The literals the line prefilters look for (probes/literals.py): read from a pattern's text,
each one certainly in every match (hypothesis makes matches of the catalog's patterns and of
random ones), none where the parser does not know a construct."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probes.catalog import load_catalog
from probes.literals import required_literals


def literals(pattern: str, flags: int = 0) -> tuple[str, ...] | None:
    return required_literals(re.compile(pattern, flags))


@pytest.mark.parametrize(("pattern", "expected"), [
    ("Took 1.23 seconds", ("23 seconds",)),  # "." is any character
    (r"Took 1\.23 seconds", ("Took 1.23 seconds",)),
    (r"Took (?P<seconds>[\d.]+) seconds to spawn", (" seconds to spawn",)),
    (r"\[instance: (?P<instance>[0-9a-f-]{36})\] Creating image", ("] Creating image",)),
    (r"abc\.def", ("abc.def",)),  # an escaped character is that character
    (r"ab[.]cd", ("ab.cd",)),  # so is a class of one
    (r"ab[\]]cd", ("ab]cd",)),
    (r"abcd?ef", ("abc",)),  # an optional character ends a run, and is not in it
    (r"abcd+ef", ("abc",)),
    (r"abcd{2,3}ef", ("abc",)),
    (r"ab{x}cd", ("ab{x}cd",)),  # braces that are no quantifier are characters
    (r"ab{}cd", ("ab{}cd",)),
    (r"x{,2}yzw", ("yzw",)),
    (r"ab.cdef", ("cdef",)),
    (r"ab\dcdef", ("cdef",)),
    (r"^abc$", ("abc",)),
    (r"ab\bcdef", ("cdef",)),
    (r"a\nbc", ("a\nbc",)),
    (r"abc\\", ("abc\\",)),
    (r"(?:Failed to build|Build of instance)", ("Failed to build", "Build of instance")),
    (r"xy(?P<a>abc|abd)z", ("abc", "abd")),
    (r"ab(?:cde)?", None),  # an optional group holds nothing required
    (r"ab(?:cde)+", None),
    (r"ab(?:cde|f)", None),  # an alternative without a literal: none
    (r"ab(?=cde)", None),  # a lookahead is not read
    (r"(?<=abc)de", None),
    (r"(?P<x>ab)(?P=x)cdef", ("cdef",)),
    (r"(?#a comment)abc", ("abc",)),
    (r"(?s)abc.d", ("abc",)),
    (r"(?i:abc)de", None),  # case-insensitive in part
    (r"(?-i:abc)de", ("abc",)),
    (r"abc|de", None),
    (r"abc|def", ("abc", "def")),
    (r"[^]abc]xyz", ("xyz",)),
    (r"ab", None),  # too short
])
def test_literals_of_patterns(pattern, expected):
    assert literals(pattern) == expected


@pytest.mark.parametrize("pattern", [
    r"\x41bcdef",  # escapes the parser does not read: none, rather than a wrong one
    r"\u00e9abcdef",
    r"\N{BULLET}abcdef",
    r"(a)\1bcdef",
    r"(?x: a b c )def",
    r"(a)?(?(1)bcd|efg)",
])
def test_constructs_it_does_not_read_give_none(pattern):
    assert literals(pattern) is None


def test_case_insensitive_and_verbose_patterns_give_none():
    assert literals("abcdef", re.IGNORECASE) is None
    assert literals("(?i)abcdef") is None
    assert literals("abc def", re.VERBOSE) is None
    assert literals("abcdef", re.DOTALL) == ("abcdef",)


CATALOG_PATTERNS = sorted({rule.pattern.pattern for rule in load_catalog().events.values()})


def test_every_rule_of_the_catalog_has_literals():
    """The prefilter skips lines for every rule (one rule without literals would make every
    line of its service go through the regular expressions)."""
    missing = [p for p in CATALOG_PATTERNS if literals(p) is None]
    assert not missing


@pytest.mark.parametrize("pattern", CATALOG_PATTERNS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_match_of_a_catalog_rule_holds_one_of_its_literals(pattern, data):
    needles = literals(pattern)
    text = data.draw(st.from_regex(pattern))
    assert re.search(pattern, text)
    assert needles is None or any(n in text for n in needles), (pattern, text, needles)


# Random patterns of the constructs the parser reads (and a few it does not); no anchors or
# lookarounds, whose combinations may match nothing (hypothesis would look for a match forever).
_PIECES = st.one_of(
    st.sampled_from(list("abcxyz .-:") + [r"\.", r"\[", r"\]", r"\(", r"\n", "[.]", "[ab]", "[^a]", ".",
                                        r"\d", r"\w", r"\s", "{x}", "{}", r"\x41"]),
    st.text(alphabet="abcdxyz", min_size=3, max_size=6),
)
_QUANTIFIERS = st.sampled_from(["", "", "", "?", "*", "+", "{2}", "{0,2}", "{1,}", "*?", "+?", "??"])


@st.composite
def patterns(draw, depth: int = 0) -> str:
    items = []
    for _ in range(draw(st.integers(1, 5))):
        if depth < 2 and draw(st.integers(0, 4)) == 0:
            opener = draw(st.sampled_from(["(", "(?:", "(?P<g{}>", "(?i:", "(?s:"]))
            opener = opener.format(draw(st.integers(0, 10**6))) if "{}" in opener else opener
            alternatives = draw(st.lists(patterns(depth + 1), min_size=1, max_size=3))
            item = opener + "|".join(alternatives) + ")"
        else:
            item = draw(_PIECES)
        items.append(item + draw(_QUANTIFIERS))
    return "".join(items)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.filter_too_much])
@given(data=st.data())
def test_every_match_of_a_random_pattern_holds_one_of_its_literals(data):
    pattern = data.draw(patterns())
    try:
        compiled = re.compile(pattern)
    except re.error:
        return
    needles = required_literals(compiled)
    if needles is None:
        return
    assert all(len(n) >= 3 for n in needles)
    text = data.draw(st.from_regex(compiled))
    assert any(n in text for n in needles), (pattern, text, needles)
