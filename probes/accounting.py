"""Where a boot's time went: every instant of its window attributed to a stage, a named
segment of work or waiting, or an ``unexplained`` hole, and the critical path through them.

Pure: it takes the boot's observed stages and segments (:class:`Segment`, made by
:mod:`probes.result` from what the logs showed) and returns an :class:`Accounting`.
The rules (docs/accounting.md):

- **The window** runs from the first stage's start (the token request) to the end of the
  metadata reply (stage 54), or to the client's ACTIVE answer (stage 58) when the guest
  fetched no metadata, or to the last observed end of a boot that got neither.
- **Attribution is a union**: an instant is attributed when any stage or segment covers it;
  work side by side (the network allocated while the volume is made) is shown as such, each
  segment with its own start and end, and counted once. What no interval covers is an
  ``unexplained`` segment quoting the lines on either side.
- **The critical path** is walked back from the window's end: at each instant, the segment
  running then that ends first at or after it (the one whose end let the next begin), ties
  to the later start, then a stage before work before a wait; across a gap shorter than the
  logs' resolution, the segment that ended last. Its pieces are contiguous, so their
  durations add up to the end-to-end time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from probes.records import Evidence

STAGE, WORK, WAIT, UNEXPLAINED = "stage", "work", "wait", "unexplained"
_PREFERENCE = {STAGE: 0, WORK: 1, WAIT: 2, UNEXPLAINED: 3}
# A hole shorter than this is the clocks' and the logs' resolution, not time unaccounted for.
HOLE_FLOOR = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Segment:
    """A stretch of the boot: a stage, named work, a wait, or an unexplained hole."""

    name: str
    kind: str
    start: datetime
    end: datetime
    host: str
    service: str
    evidence: tuple[Evidence, ...] = ()
    waits_for: str | None = None
    stage: int | None = None  # a stage's number

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class PathPiece:
    """The part of a segment on the critical path."""

    segment: Segment
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Accounting:
    start: datetime
    end: datetime
    segments: tuple[Segment, ...]  # in start order, the unexplained holes among them
    critical: tuple[PathPiece, ...] = field(default=())  # from the window's start to its end

    @property
    def end_to_end_s(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def unexplained_s(self) -> float:
        return sum(s.seconds for s in self.segments if s.kind == UNEXPLAINED)

    @property
    def attributed_s(self) -> float:
        return self.end_to_end_s - self.unexplained_s


def window(stages: Sequence[Segment]) -> tuple[datetime, datetime] | None:
    """The boot's window: the first stage's start to stage 54's end (58's, the last end)."""
    if not stages:
        return None
    first = next((s for s in stages if s.stage == 1), None)
    start = first.start if first else min(s.start for s in stages)
    ends = {s.stage: s.end for s in stages}
    end = ends.get(54) or ends.get(58) or max(s.end for s in stages)
    return (start, end) if end > start else None


def account(stages: Sequence[Segment], segments: Sequence[Segment]) -> Accounting | None:
    """The boot's accounting from its observed stages and segments (None: no window)."""
    span = window(stages)
    if span is None:
        return None
    start, end = span
    inside = sorted((s for s in (*stages, *segments) if s.end >= start and s.start <= end),
                    key=lambda s: (s.start, s.end))
    full = sorted((*inside, *_holes(inside, start, end)), key=lambda s: (s.start, s.end))
    return Accounting(start, end, tuple(full), tuple(critical_path(full, start, end)))


def _holes(segments: Sequence[Segment], start: datetime, end: datetime) -> list[Segment]:
    """The stretches of [start, end] no segment covers, each quoting the lines around it."""
    holes: list[Segment] = []
    covered, last = start, None
    for segment in segments:
        if segment.start - covered > HOLE_FLOOR:
            holes.append(_hole(last, segment, covered, min(segment.start, end)))
        if segment.end >= covered:
            covered, last = segment.end, segment
    if end - covered > HOLE_FLOOR:
        holes.append(_hole(last, None, covered, end))
    return holes


def _hole(before: Segment | None, after: Segment | None, start: datetime,
          end: datetime) -> Segment:
    evidence: list[Evidence] = []
    if before is not None and before.evidence:
        evidence.append({**before.evidence[-1], "role": "before"})
    if after is not None and after.evidence:
        evidence.append({**after.evidence[0], "role": "after"})
    name = f"unexplained after {before.name}" if before else "unexplained before the first stage"
    return Segment(name, UNEXPLAINED, start, end, "", "", tuple(evidence))


def critical_path(segments: Sequence[Segment], start: datetime, end: datetime) -> list[PathPiece]:
    """The chain of segments from the window's end back to its start (returned in time
    order): at each instant the segment running then that ends first at or after it."""
    pieces: list[PathPiece] = []
    at = end
    while at > start:
        running = [s for s in segments if s.start < at <= s.end]
        if running:
            chosen = min(running, key=lambda s: (s.end, -s.start.timestamp(), _PREFERENCE[s.kind]))
        else:  # a gap under HOLE_FLOOR: the last segment to end before it takes it
            ended = [s for s in segments if s.start < at]
            if not ended:
                break
            chosen = max(ended, key=lambda s: (s.end, s.start, -_PREFERENCE[s.kind]))
        begin = max(chosen.start, start)
        pieces.append(PathPiece(chosen, begin, at))
        at = begin
    return pieces[::-1]
