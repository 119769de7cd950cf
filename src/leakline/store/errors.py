"""Errors of the database layer: an unusable `[database] url`, an unreachable server, a failed migration."""

from __future__ import annotations

from leakline.errors import ConfigError


class StoreError(ConfigError):
    """The database named in `[database] url` cannot be used."""


class DatabaseUrlError(StoreError):
    """`[database] url` is not a URL leakline can open."""


class MigrationError(StoreError):
    """Bringing the database schema up to date failed."""
