"""The literals a regular expression's every match holds, read from its text.

The line prefilters (:meth:`probes.correlate.Interest.wants`, :mod:`probes.logs.bulk`) skip a
line that holds none of the literals one of which every match of a rule needs, before the rule
is tried.  :func:`required_literals` finds them in the pattern's text with a small parser of
the part of Python's syntax the catalog writes (plain and escaped characters, classes, ``.``,
anchors, groups, alternatives, quantifiers), and gives up (None: every line is tried) on
anything else, so an unknown construct costs time, never a match.

The literals it returns: the longest run of plain characters at the pattern's top level
(a class of one character counts as that character; a quantified atom, a class, an escape
like ``\\d`` or an anchor ends a run), when it is 3 characters or more; else the literals of
the first group (capturing or not, not case-insensitive) that has some; else, for a group of
alternatives, those of every alternative when each has some.  A case-insensitive or verbose
pattern has none.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

MIN_LENGTH = 3

# A parsed pattern: a sequence of nodes.  ("char", c) a plain character; ("other",) anything
# that matches without being a known character (a class, ".", "\\d", an anchor, a lookaround,
# a back-reference, a case-insensitive group); ("quantified",) a repeated atom; ("group", seq)
# a group; ("branch", [seq, ...]) alternatives.
Node = tuple[Any, ...]
Seq = list[Node]

OTHER: Node = ("other",)
_ESCAPED = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_CLASS_ESCAPES = set("dDsSwW")
_ANCHOR_ESCAPES = set("bBAZ")
_QUANTIFIER = re.compile(r"\{(?=[\d,])\d*(,\d*)?\}")  # "{}" and "{x}" are plain characters
_FLAGS = re.compile(r"\(\?([aiLmsux]*)(?:-([imsx]+))?([:)])")


class Unknown(Exception):
    """A construct the parser does not read: the pattern gets no literals."""


@lru_cache(maxsize=1024)  # asked for each file's classifier; the catalog's patterns repeat
def required_literals(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """Literals one of which every match of ``pattern`` holds (each 3 characters or more), or
    None when none are known (see the module's docstring)."""
    if pattern.flags & (re.IGNORECASE | re.VERBOSE):
        return None
    try:
        sequence, end = _parse(pattern.pattern, 0)
    except Unknown:
        return None
    if end != len(pattern.pattern):  # a ")" with no group
        return None
    return _literals(sequence)


def _literals(sequence: Seq) -> tuple[str, ...] | None:
    best, run = "", ""
    for node in sequence:
        if node[0] == "char":
            run += node[1]
            continue
        best, run = max(best, run, key=len), ""
    best = max(best, run, key=len)
    if len(best) >= MIN_LENGTH:
        return (best,)
    for node in sequence:
        if node[0] == "group":
            inner = _literals(node[1])
            if inner is not None:
                return inner
        elif node[0] == "branch":
            alternatives = [_literals(alternative) for alternative in node[1]]
            if all(alternatives):
                return tuple(needle for found in alternatives if found for needle in found)
    return None


def _parse(text: str, pos: int) -> tuple[Seq, int]:
    """The alternatives from ``pos`` to the ``)`` that ends their group (or the end): one
    sequence, a branch when there are several; and where they end."""
    alternatives: list[Seq] = []
    sequence: Seq = []
    while pos < len(text):
        char = text[pos]
        if char == ")":
            break
        if char == "|":
            alternatives.append(sequence)
            sequence = []
            pos += 1
            continue
        if char in "*+?" or (char == "{" and _QUANTIFIER.match(text, pos)):
            pos = _quantify(text, pos, sequence)
            continue
        node, pos = _atom(text, pos)
        if node is not None:
            sequence.append(node)
    if alternatives:
        alternatives.append(sequence)
        return [("branch", alternatives)], pos
    return sequence, pos


def _quantify(text: str, pos: int, sequence: Seq) -> int:
    """The atom before ``pos`` repeated: it matches as something unknown."""
    if not sequence or sequence[-1] == ("quantified",):
        raise Unknown("nothing to repeat")
    found = _QUANTIFIER.match(text, pos) if text[pos] == "{" else None
    pos = found.end() if found else pos + 1
    if pos < len(text) and text[pos] in "?+":  # lazy, possessive
        pos += 1
    sequence[-1] = ("quantified",)
    return pos


def _atom(text: str, pos: int) -> tuple[Node | None, int]:
    """One atom at ``pos`` (None: one that matches nothing, a comment or the flags)."""
    char = text[pos]
    if char == "\\":
        return _escape(text, pos)
    if char == "[":
        return _class(text, pos)
    if char == "(":
        return _group(text, pos)
    if char in ".^$":
        return OTHER, pos + 1
    return ("char", char), pos + 1


def _escape(text: str, pos: int) -> tuple[Node, int]:
    if pos + 1 >= len(text):
        raise Unknown("a trailing backslash")
    char = text[pos + 1]
    if char in _CLASS_ESCAPES or char in _ANCHOR_ESCAPES:
        return OTHER, pos + 2
    if char in _ESCAPED:
        return ("char", _ESCAPED[char]), pos + 2
    if char.isascii() and char.isalnum():  # \x41, \u00e9, \N{...}, \0, back-references
        raise Unknown(f"the escape \\{char}")
    return ("char", char), pos + 2


def _class(text: str, pos: int) -> tuple[Node, int]:
    """A class ``[...]``: the character it holds when it holds one, else something unknown."""
    end = pos + 1
    if end < len(text) and text[end] == "^":
        end += 1
    if end < len(text) and text[end] == "]":  # a "]" first is one of the class's
        end += 1
    while end < len(text) and text[end] != "]":
        end += 2 if text[end] == "\\" else 1
    if end >= len(text):
        raise Unknown("an unclosed class")
    body = text[pos + 1:end]
    if len(body) == 1 and body not in "^\\":
        return ("char", body), end + 1
    if len(body) == 2 and body[0] == "\\" and not (body[1].isascii() and body[1].isalnum()):
        return ("char", body[1]), end + 1
    return OTHER, end + 1


def _group(text: str, pos: int) -> tuple[Node | None, int]:
    """A group from its ``(``: its alternatives, or something unknown for a lookaround or a
    back-reference; None for inline flags and comments."""
    if text.startswith("(?#", pos):
        return None, _after(text, pos, ")", "an unclosed comment")
    if text.startswith("(?P=", pos):
        return OTHER, _after(text, pos, ")", "an unclosed back-reference")
    plain, start = _opening(text, pos)
    if start < 0:  # the pattern's flags, read from re.compile's
        return None, -start
    inner, end = _parse(text, start)
    if end >= len(text):
        raise Unknown("an unclosed group")
    return (("group", inner) if plain else OTHER), end + 1


def _after(text: str, pos: int, closer: str, what: str) -> int:
    end = text.find(closer, pos)
    if end < 0:
        raise Unknown(what)
    return end + 1


def _opening(text: str, pos: int) -> tuple[bool, int]:
    """Whether the group at ``pos`` matches its characters as written (not a lookaround, an
    atomic or a case-insensitive group), and where its content starts (minus where the
    pattern's inline flags end)."""
    if text.startswith("(?P<", pos):
        return True, _after(text, pos, ">", "an unclosed group name")
    if text.startswith(("(?=", "(?!", "(?>"), pos):
        return False, pos + 3
    if text.startswith(("(?<=", "(?<!"), pos):
        return False, pos + 4
    if not text.startswith("(?", pos):
        return True, pos + 1
    flags = _FLAGS.match(text, pos)
    if flags is None:
        raise Unknown(f"the group {text[pos:pos + 4]!r}")
    added, removed, kind = flags.group(1), flags.group(2) or "", flags.group(3)
    if "x" in added + removed:
        raise Unknown("verbose in part")
    if kind == ")":
        return True, -flags.end()
    return "i" not in added, flags.end()
