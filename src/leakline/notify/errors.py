"""Errors of drafting, approval and delivery; each names the communication, channel or key at fault."""

from __future__ import annotations

from leakline.errors import ConfigError, UsageError


class NotifyError(UsageError):
    """Base of user-facing communication errors."""


class CommunicationNotFound(NotifyError):
    """No communication with this id belongs to the incident."""


class ApprovalRequired(NotifyError):
    """A message to an authority or to data subjects cannot be sent before a person approves it."""


class InvalidCommunicationState(NotifyError):
    """The communication is in a state where this action makes no sense (approving a sent message)."""


class PlaceholderLeft(NotifyError):
    """The text still holds a "[TO COMPLETE before sending: …]" placeholder: it is neither approved nor sent."""


class NoRoute(NotifyError):
    """No address is configured for this recipient (`[authorities.XX]`)."""


class ChannelConfigError(ConfigError):
    """A channel is configured, but a variable it names is unset or a value is unusable."""


class DeliveryError(Exception):
    """One delivery attempt failed (the message is retried with backoff, then dead-lettered).

    Not a LeaklineError: it never reaches the user as such; its text is stored as the outbox row's
    last error, so it must not contain message bodies or secrets.
    """
