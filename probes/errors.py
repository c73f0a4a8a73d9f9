"""Errors a probe run reports to its user, each with an outcome and a next step."""

from __future__ import annotations

from probes.records import Outcome, Stage


class ProbeError(Exception):
    """An error with a message for humans and what to do about it."""

    outcome = Outcome.BOOT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(ProbeError):
    """The command line or the cloud configuration cannot work (exit 2)."""

    outcome = Outcome.CONFIG_ERROR


class CloudUnreachable(ProbeError):
    """The cloud could not be reached or refused our credentials (exit 3)."""

    outcome = Outcome.UNREACHABLE


class BootFailed(ProbeError):
    """The instance did not boot as far as the named stage (exit 1)."""

    outcome = Outcome.BOOT_FAILED

    def __init__(self, stage: Stage, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.stage = stage
