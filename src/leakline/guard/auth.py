"""Client API keys: bearer keys are looked up by SHA-256, per client allowed models and regions.

Keys are never stored in clear: `[[clients]]` holds `key_sha256` digests, and/or `key_env` names variables
whose values are hashed once at start-up; a client may hold several keys (one or several of each), so that
a key can be rotated without downtime. Every key maps to the same permissions of its client and to a label
saying which of the client's keys it is (`key_sha256[1]`, `$STOREFRONT_KEY_NEXT`), never the key itself.

A presented key is hashed and looked up in a dict keyed by digest: one look-up however many keys are
configured. Its timing can only tell how a stored digest compares with the SHA-256 of what was sent, and
steering a digest towards a stored one is a preimage search; knowing a digest would not open the gateway
anyway (it takes a key whose SHA-256 it is).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from leakline.guard.errors import GatewayConfigError, ModelNotAllowed, Unauthorized
from leakline.guard.settings import ClientSettings

BEARER_PREFIX = "bearer "


Overrides = tuple[tuple[str, str], ...]
"""Detector actions, sorted by detector: hashable, so that equal tables share one sanitizer."""


@dataclass(frozen=True)
class KeyPolicy:
    """What a key changes on one route: detector actions over the route's (the key's own, then its
    `[clients.routes."<path>"]` ones), and prompt redaction / canary insertion when it sets them."""

    sanitize_actions: Overrides = ()
    redact_prompts: bool | None = None
    insert_canary: bool | None = None


NO_KEY_POLICY = KeyPolicy()


@dataclass(frozen=True)
class Client:
    """An authenticated caller: what it may use. Empty tuples mean "anything"."""

    name: str
    models: tuple[str, ...]
    regions: tuple[str, ...]
    country: str | None
    sanitize_actions: Overrides = ()
    routes: tuple[tuple[str, KeyPolicy], ...] = ()
    """The key's own policy on routes where `[clients.routes."<path>"]` changes it."""
    key: str = field(default="", compare=False)
    """Which of the client's keys authenticated (`key_sha256[1]`, `$VAR`): for the audit record, so that an
    operator rotating a key sees when the old one is no longer used. Not a permission: not compared."""
    default_policy: KeyPolicy = field(init=False, repr=False, compare=False)
    """What the key changes on every other route (its `sanitize_actions`), made once."""

    def __post_init__(self) -> None:
        default = KeyPolicy(self.sanitize_actions) if self.sanitize_actions else NO_KEY_POLICY
        object.__setattr__(self, "default_policy", default)

    def policy_on(self, path: str) -> KeyPolicy:
        """What this key changes on route `path`."""
        for route, policy in self.routes:
            if route == path:
                return policy
        return self.default_policy

    def check_model(self, model: str) -> None:
        if self.models and model not in self.models:
            raise ModelNotAllowed(f"the API key of client {self.name!r} may not use model {model!r}", param="model")

    def may_use_region(self, region: str) -> bool:
        return not self.regions or region in self.regions


class ActiveKeyLike(Protocol):
    """A key kept in the database, as `leakline.guard.keys.service.active_keys` reads it."""

    @property
    def client(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def key_sha256(self) -> str: ...
    @property
    def models(self) -> tuple[str, ...] | None: ...
    @property
    def regions(self) -> tuple[str, ...] | None: ...


def _scope_problem(client: Client, models: tuple[str, ...] | None, regions: tuple[str, ...] | None) -> str | None:
    """Why a database key's own models / regions cannot be accepted, or None. Fail closed: a value that cannot
    be read, or one the client may no longer use (its configuration changed since the key was added), refuses
    the key; cutting it down to what is still allowed could leave it empty, which means "anything"."""
    for kind, names, allowed in (("models", models, client.models), ("regions", regions, client.regions)):
        if names is None:
            return f"its {kind} column is not a JSON list of names"
        outside = [n for n in names if allowed and n not in allowed]
        if outside:
            return f"its {kind} {', '.join(repr(n) for n in outside)} are not allowed to the client any more"
    return None


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


DATABASE_LABEL_PREFIX = "db:"
"""The audit label of a key kept in the database: `db:<label>` (`leakline gateway-keys`)."""
DATABASE_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
"""What a database key's label may be (`leakline gateway-keys add` makes no other): it goes into log lines
and audit records."""


class KeyStore:
    """Maps SHA-256 digests of bearer keys to clients: the configured keys, and the keys kept in the database
    for the clients that accept them (`use_database`, swapped whole by each worker's refresh)."""

    def __init__(
        self,
        clients: Mapping[str, Client],
        *,
        configured: Mapping[str, Client] | None = None,
        database_clients: Iterable[str] = (),
    ) -> None:
        self._by_digest = dict(clients)
        self._configured = dict(configured) if configured is not None else {c.name: c for c in clients.values()}
        """Every `[[clients]]` entry by name, whether or not it has a configured key."""
        self.database_clients = frozenset(database_clients)
        """The clients that accept keys kept in the database (`database_keys = true`)."""
        self._from_database: dict[str, Client] = {}
        self._database_until = float("inf")
        """When (`_clock`) the keys read from the database stop being accepted unless read again."""
        self._clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_settings(
        cls,
        clients: Iterable[ClientSettings],
        *,
        environ: Mapping[str, str] | None = None,
        source: str = "leakline.toml",
    ) -> KeyStore:
        env = os.environ if environ is None else environ
        table: dict[str, Client] = {}
        configured: dict[str, Client] = {}
        database_clients: list[str] = []
        for index, item in enumerate(clients):
            own = dict(item.sanitize_actions)
            routes = tuple(
                (path, KeyPolicy(tuple(sorted({**own, **route.sanitize_actions}.items())), route.redact_prompts,
                                 route.insert_canary))
                for path, route in item.routes.items()
            )  # fmt: skip
            client = Client(
                item.name,
                tuple(item.models),
                tuple(item.regions),
                item.country,
                tuple(sorted(own.items())),
                routes,
            )
            configured[item.name] = client
            if item.database_keys:
                database_clients.append(item.name)
            mine: dict[str, str] = {}  # this client's digests -> the key (and index) that gave them
            for key, digest, label in _digests(item, index, env, source):
                if digest in mine:
                    if key.startswith("key_env"):
                        continue  # one key in two variables mid-rotation: the same caller, harmless
                    raise GatewayConfigError(f"{source}: clients.{index}.{key}: the same digest as {mine[digest]}")
                if digest in table:
                    raise GatewayConfigError(
                        f"{source}: clients.{index}.{key}: same key as client {table[digest].name!r}"
                    )
                mine[digest] = key
                table[digest] = dataclasses.replace(client, key=label)
        return cls(table, configured=configured, database_clients=database_clients)

    def clients(self) -> tuple[Client, ...]:
        """Every configured client (those whose keys are all in the database too)."""
        return tuple(self._configured.values())

    def use_database(
        self,
        keys: Iterable[ActiveKeyLike],
        *,
        valid_for: float = float("inf"),
        clock: Callable[[], float] = time.monotonic,
    ) -> list[str]:
        """Accept these keys kept in the database instead of the ones read before (one swap: a request sees
        the old table or the new one), for `valid_for` seconds unless read again: `authenticate` refuses them
        after that, whatever became of the refresh (a read that hangs, a task that died). Returns why keys
        were left out, one line each, for the log: a label a log line could not show as it is, a key of a
        client that does not accept database keys, or whose digest is a configured key's (the configuration
        decides who that key is)."""
        table: dict[str, Client] = {}
        skipped: list[str] = []
        for key in keys:
            if not DATABASE_LABEL.fullmatch(key.label):
                # Written to the table by hand: shown escaped and cut, never as it is (a log line, a record).
                skipped.append(f"database key with the label {key.label[:40]!r} ignored: not a valid label")
                continue
            where = f"database key {DATABASE_LABEL_PREFIX}{key.label} of client {key.client!r}"
            if key.client not in self.database_clients:
                why = "no such client" if key.client not in self._configured else "database_keys is not true"
                skipped.append(f"{where} ignored: {why}")
                continue
            if key.key_sha256 in self._by_digest:
                owner = self._by_digest[key.key_sha256].name
                skipped.append(f"{where} ignored: the same key is configured for client {owner!r}")
                continue
            client = self._configured[key.client]
            problem = _scope_problem(client, key.models, key.regions)
            if problem is not None:
                skipped.append(f"{where} ignored: {problem}")
                continue
            table[key.key_sha256] = dataclasses.replace(
                client,
                models=key.models or client.models,
                regions=key.regions or client.regions,
                key=f"{DATABASE_LABEL_PREFIX}{key.label}",
            )
        self._clock = clock
        self._database_until = clock() + valid_for
        self._from_database = table
        return skipped

    def drop_database(self) -> int:
        """Stop accepting the keys kept in the database (fail closed); returns how many there were."""
        dropped = len(self._from_database)
        self._from_database = {}
        return dropped

    @property
    def database_keys_expired(self) -> bool:
        return self._clock() > self._database_until

    @property
    def database_key_count(self) -> int:
        return len(self._from_database)

    def authenticate(self, authorization: str | None) -> Client:
        if not authorization:
            raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
        if not authorization[: len(BEARER_PREFIX)].lower() == BEARER_PREFIX:
            raise Unauthorized("the Authorization header must use the Bearer scheme")
        digest = key_digest(authorization[len(BEARER_PREFIX) :].strip())
        client = self._by_digest.get(digest)
        if client is None:
            database = self._from_database
            if database and self._clock() <= self._database_until:
                client = database.get(digest)
            if client is None:
                raise Unauthorized("invalid API key")
        return client


def _digests(item: ClientSettings, index: int, env: Mapping[str, str], source: str) -> Iterator[tuple[str, str, str]]:
    """(the leakline.toml key and index, the digest, the label of the audit record) of each of a client's keys."""
    # Errors name the key in the settings validation's dotted notation (`key_env`, or `key_env.1` in an
    # array); the audit record's label of a digest is always its position (`key_sha256[1]`, kept as
    # records already written have it), the label of a variable its name.
    for position, digest in enumerate(item.key_sha256):
        key = "key_sha256" if len(item.key_sha256) == 1 else f"key_sha256.{position}"
        yield key, digest, f"key_sha256[{position}]"
    for position, name in enumerate(item.key_env):
        key = "key_env" if len(item.key_env) == 1 else f"key_env.{position}"
        value = env.get(name, "")
        where = f"{source}: clients.{index}.{key}: environment variable {name!r}"
        if not value:
            raise GatewayConfigError(f"{where} is unset or empty")
        if not value.strip():
            raise GatewayConfigError(f"{where} holds only whitespace", hint=f"set {name} to the client's bearer key")
        # The key is hashed as the variable holds it, while a client's `Bearer` key is stripped: a key read
        # with `"$(cat key)"$'\n'` or pasted with a space would give a digest no request ever matches (401
        # forever). Refused rather than stripped: which of the two is the real key is the operator's call.
        # The message never shows the value.
        if value != value.strip():
            end = "starts" if value[0].isspace() else "ends"
            hint = "a newline?" if value[0 if end == "starts" else -1] in "\r\n" else "a space or a tab?"
            raise GatewayConfigError(
                f"{where} {end} with whitespace ({hint})",
                hint=f"set {name} to the key alone, without spaces or line breaks around it",
            )
        yield key, key_digest(value), f"${name}"
