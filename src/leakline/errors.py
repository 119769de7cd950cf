"""The root of leakline's error hierarchy.

Every domain derives its own errors from `LeaklineError`. Each error carries a user-facing message
and the process exit code it maps to; the CLI turns errors into output and exit codes in exactly one
place (`leakline.cli._fatal`). Messages never contain secrets or personal data.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class LeaklineError(Exception):
    """An error meant for the person running leakline, not a bug."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """The text shown to the user: the message, then a hint on how to fix it if there is one."""
        if self.hint:
            return f"{self.message}\nhint: {self.hint}"
        return self.message


class UsageError(LeaklineError):
    """The command line or an input path is wrong."""


class ConfigError(LeaklineError):
    """leakline.toml (or another settings file) is missing, unreadable or invalid."""


class IntegrityError(LeaklineError):
    """Stored data failed verification (tampering, truncation, wrong key)."""

    exit_code = 1
