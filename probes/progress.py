"""Progress of a long command (``bootprobe run``): what it asks of whoever shows it
(:class:`RunProgress`), progress nobody sees (:class:`Silent`), and the ``bootprobe``
command's, on stderr (:class:`Steps`)."""

from __future__ import annotations

import sys
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol


class Steps:
    """Progress on stderr: a spinner with the running step on a terminal, plain
    time-stamped lines otherwise (CI logs).  Times count from its creation."""

    def __init__(self) -> None:
        self._clock = time.monotonic
        self._started = self._clock()
        self._rich: Any = None

    @property
    def _console(self) -> Any:
        if self._rich is None:  # imported on first use: `bootprobe --help` stays fast
            from rich.console import Console

            self._rich = Console(stderr=True, highlight=False)
        return self._rich

    def __call__(self, text: str) -> None:
        line = f"bootprobe [{self._clock() - self._started:6.1f} s] {text}"
        if self._console.is_terminal:
            self._console.print(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def step(self, text: str) -> AbstractContextManager[Any]:
        """A context for a long step: spinner on a terminal, a line otherwise."""
        self(text)
        if self._console.is_terminal:
            status: AbstractContextManager[Any] = self._console.status(text)
            return status
        return nullcontext()


class RunProgress(Protocol):
    """What a long command says as it goes: a line, or a step that takes a while (the
    command's caller decides how to show them, or whether to)."""

    def __call__(self, text: str) -> None: ...

    def step(self, text: str) -> AbstractContextManager[Any]: ...


class Silent:
    """Progress nobody is shown."""

    def __call__(self, text: str) -> None:
        pass

    def step(self, text: str) -> AbstractContextManager[Any]:
        return nullcontext()
