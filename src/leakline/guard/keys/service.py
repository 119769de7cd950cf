"""Adding, listing and revoking the gateway's database keys, and reading the ones a gateway accepts.

Keyword-only functions taking a session (the caller owns the transaction). A key is made here from 32 random
bytes (`secrets`), returned once to be shown once, and only its SHA-256 is stored, as `[[clients]]
key_sha256` would hold it: the table gives nothing that opens the gateway.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leakline.guard.auth import DATABASE_LABEL, key_digest
from leakline.guard.keys.errors import (
    BadLabel,
    ClientNotOptedIn,
    KeyNotFound,
    LabelTaken,
    ScopeNotAllowed,
    UnknownClient,
)
from leakline.guard.keys.models import ActiveKey, GatewayKey, GatewayKeyRead, names_column, names_of
from leakline.guard.settings import ClientSettings

KEY_PREFIX = "llk_"
"""Marks a leakline gateway key (a secret scanner, leakline's own among them, can anchor on it)."""
KEY_RANDOM_BYTES = 32
LABEL_PATTERN = DATABASE_LABEL
"""A label goes into audit records and log lines (`db:<label>`): letters, digits, `.`, `_`, `-`."""
DIGEST_IN_LABEL = 8
"""Hex digits of the digest in a default label (`storefront-1a2b3c4d`): tells keys apart, opens nothing."""


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)


def check_client(*, clients: Sequence[ClientSettings], name: str, source: str) -> ClientSettings:
    """The `[[clients]]` entry `name`, which must accept database keys."""
    for client in clients:
        if client.name == name:
            if not client.database_keys:
                raise ClientNotOptedIn(
                    f"{source}: client {name!r} does not accept keys from the database",
                    hint=f"set database_keys = true in its [[clients]] entry (name = {name!r}) and restart the gateway",
                )
            return client
    known = ", ".join(repr(c.name) for c in clients) or "none"
    raise UnknownClient(f"{source}: no [[clients]] entry is named {name!r} (configured: {known})")


def check_scope(
    *,
    client: ClientSettings,
    models: Sequence[str],
    regions: Sequence[str],
    configured_regions: Sequence[str],
    source: str,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`(models, regions)` for a key of `client`, without repeats, in the order given: each within what the
    client may use (its `models` / `regions`, when it has any), each region one the configuration defines.
    Empty: the key may use what its client may."""
    models_out = tuple(dict.fromkeys(models))
    regions_out = tuple(dict.fromkeys(regions))
    for name in models_out:
        if not name.strip() or name != name.strip():
            raise ScopeNotAllowed(f"--model {name!r}: a model name, without surrounding spaces")
        _within_client(client.name, "model", name, client.models, source)
    for name in regions_out:
        if name not in configured_regions:
            known = ", ".join(repr(r) for r in configured_regions) or "none"
            raise ScopeNotAllowed(f"{source}: --region {name!r} is not a configured region (configured: {known})")
        _within_client(client.name, "region", name, client.regions, source)
    return models_out, regions_out


def _within_client(client: str, kind: str, name: str, allowed: Sequence[str], source: str) -> None:
    """`name` (a model or region) is one the client may use: any, when its list is empty."""
    if allowed and name not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise ScopeNotAllowed(
            f"{source}: client {client!r} may not use {kind} {name!r} (its {kind}s: {listed})",
            hint="a key can only narrow what its client may use",
        )


BY_MAX = 100


def check_by(by: str) -> str:
    """Who acts, as the table and the audit record both keep it: cut to `BY_MAX` characters once."""
    return by[:BY_MAX]


def check_label(label: str) -> str:
    if not LABEL_PATTERN.fullmatch(label):
        raise BadLabel(
            f"label {label!r}: use 1-100 letters, digits, '.', '_' or '-', starting with a letter or a digit"
        )
    return label


def add_key(
    *,
    session: Session,
    client: str,
    label: str | None,
    created_by: str,
    now: datetime,
    models: tuple[str, ...] = (),
    regions: tuple[str, ...] = (),
) -> tuple[GatewayKeyRead, str]:
    """Store a new key of `client`; returns its record and the key itself (to be shown once, never stored).
    `created_by`: at most `BY_MAX` characters (`check_by`); `models`, `regions`: checked by `check_scope`."""
    key = new_key()
    digest = key_digest(key)
    if label is None:
        label = f"{client}-{digest[:DIGEST_IN_LABEL]}"
        if not LABEL_PATTERN.fullmatch(label):
            raise BadLabel(
                f"client {client!r} gives no valid default label ({label!r})",
                hint="give one with --label: 1-100 letters, digits, '.', '_' or '-'",
            )
    check_label(label)
    if session.scalar(select(GatewayKey.id).where(GatewayKey.label == label)) is not None:
        raise LabelTaken(f"label {label!r} is taken by another key", hint="choose another --label")
    row = GatewayKey(
        client=client,
        label=label,
        key_sha256=digest,
        created_at=now,
        created_by=created_by,
        revoked_at=None,
        models=names_column(models),
        regions=names_column(regions),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # another `add` with this label committed in between
        raise LabelTaken(f"label {label!r} is taken by another key", hint="choose another --label") from exc
    return GatewayKeyRead.of(row), key


def list_keys(*, session: Session, client: str | None = None) -> list[GatewayKeyRead]:
    """Every key (revoked ones too), oldest first."""
    query = select(GatewayKey).order_by(GatewayKey.id)
    if client is not None:
        query = query.where(GatewayKey.client == client)
    return [GatewayKeyRead.of(row) for row in session.scalars(query)]


def revoke_key(*, session: Session, label: str, now: datetime) -> tuple[GatewayKeyRead, bool]:
    """Revoke the key `label`; returns its record and whether it was revoked now (False: it already was)."""
    row = session.scalar(select(GatewayKey).where(GatewayKey.label == label))
    if row is None:
        raise KeyNotFound(f"no gateway key has the label {label!r}", hint="leakline gateway-keys list shows them")
    if row.revoked_at is not None:
        return GatewayKeyRead.of(row), False
    row.revoked_at = now
    session.flush()
    return GatewayKeyRead.of(row), True


def active_keys(*, session: Session) -> list[ActiveKey]:
    """The keys a gateway accepts: not revoked. A `models` / `regions` value that cannot be read is None
    (`KeyStore.use_database` refuses that key)."""
    rows = session.execute(
        select(GatewayKey.client, GatewayKey.label, GatewayKey.key_sha256, GatewayKey.models, GatewayKey.regions)
        .where(GatewayKey.revoked_at.is_(None))
    )  # fmt: skip
    return [
        ActiveKey(client=c, label=label, key_sha256=d, models=names_of(m), regions=names_of(r))
        for c, label, d, m, r in rows
    ]
