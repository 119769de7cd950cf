"""Errors of `leakline gateway-keys`: each names the client or label that is wrong."""

from __future__ import annotations

from leakline.errors import LeaklineError


class GatewayKeyError(LeaklineError):
    """A key cannot be added, listed or revoked as asked."""


class UnknownClient(GatewayKeyError):
    """The client is not a `[[clients]]` entry of the configuration."""


class ClientNotOptedIn(GatewayKeyError):
    """The client exists but does not accept keys from the database (`database_keys = true`)."""


class LabelTaken(GatewayKeyError):
    """Another key already has this label."""


class BadLabel(GatewayKeyError):
    """The label is empty, too long or holds characters a log line or a shell would mangle."""


class KeyNotFound(GatewayKeyError):
    """No key has this label."""


class ScopeNotAllowed(GatewayKeyError):
    """A `--model` or `--region` the client may not use, or a region the configuration does not define."""
