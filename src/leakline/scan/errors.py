"""Errors of the scanner; each is a user mistake with a message that says how to fix it."""

from __future__ import annotations

from leakline.errors import ConfigError, UsageError


class ScanPathError(UsageError):
    """The path given to `leakline scan` does not exist or is not a Next.js app."""


class BaselineError(ConfigError):
    """A baseline file is unreadable or not in leakline's baseline format."""


class UnknownRuleError(UsageError):
    """A rule id that leakline does not have."""
