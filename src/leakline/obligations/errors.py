"""Errors of the obligations engine: bad incident facts, unreadable facts files, broken regime data.

Facts errors are user mistakes (exit 2) and name the file, the dotted field and the expected type, or the
byte offset where a file stops being valid UTF-8/JSON. A regime data error is a packaging bug, but it still
names the data file and key so that whoever edited the rules can fix them.
"""

from __future__ import annotations

from leakline.errors import ConfigError, UsageError


class ObligationsError(UsageError):
    """Base of every error raised by `leakline assess` and `leakline regimes`."""


class FactsFileError(ObligationsError):
    """The facts file cannot be read, is not UTF-8, or is neither valid JSON nor valid TOML."""


class FactsValidationError(ObligationsError):
    """The facts parse, but a field is unknown, missing, of the wrong type or out of range."""


class RegimeDataError(ConfigError):
    """A regime data file shipped with leakline is malformed (a bug in the rules, not in the facts)."""
