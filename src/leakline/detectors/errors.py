"""Errors of the detectors: a caller built a matcher from input that cannot be matched."""

from __future__ import annotations

from leakline.errors import UsageError


class DetectorError(UsageError):
    """A detector was configured with input it cannot use."""


class EmptyLiteralError(DetectorError):
    """A literal matcher was given an empty value, which would match at every position."""
