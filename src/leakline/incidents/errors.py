"""Errors of the incident workflow, each naming what was wrong (an id, a transition, a facts field)."""

from __future__ import annotations

from leakline.errors import UsageError


class IncidentError(UsageError):
    """Base of every user-facing error of `leakline incident` / `leakline signal`."""


class IncidentNotFound(IncidentError):
    """No incident has the given id."""


class InvalidTransition(IncidentError):
    """The lifecycle does not allow this status change (it only moves forward)."""


class UnmetObligations(IncidentError):
    """Closing would stop the reminders of required notifications that are not delivered yet."""


class IncidentClosed(IncidentError):
    """The incident is closed; it accepts no more changes."""


class SignalFileError(IncidentError):
    """A signal given by hand or over HTTP is not valid JSON or not a valid signal."""
