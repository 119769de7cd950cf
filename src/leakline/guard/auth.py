"""Client API keys: bearer keys are compared by SHA-256, per key allowed models and regions.

Keys are never stored in clear: `[[clients]]` holds `key_sha256`, or `key_env` names a variable whose
value is hashed once at start-up. A presented key is hashed and looked up; the comparison with
`hmac.compare_digest` keeps the look-up from leaking how many hex digits matched.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    """Maps SHA-256 digests of bearer keys to clients."""

    def __init__(self, clients: Mapping[str, Client]) -> None:
        self._by_digest = dict(clients)

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
        for index, item in enumerate(clients):
            if item.key_sha256 is not None:
                digest = item.key_sha256
            else:
                value = env.get(item.key_env or "", "")
                if not value:
                    raise GatewayConfigError(
                        f"{source}: clients[{index}].key_env: environment variable {item.key_env!r} is unset or empty"
                    )
                digest = key_digest(value)
            if digest in table:
                raise GatewayConfigError(f"{source}: clients[{index}]: same key as client {table[digest].name!r}")
            own = dict(item.sanitize_actions)
            routes = tuple(
                (path, KeyPolicy(tuple(sorted({**own, **route.sanitize_actions}.items())), route.redact_prompts,
                                 route.insert_canary))
                for path, route in item.routes.items()
            )  # fmt: skip
            table[digest] = Client(
                item.name,
                tuple(item.models),
                tuple(item.regions),
                item.country,
                tuple(sorted(own.items())),
                routes,
            )
        return cls(table)

    def clients(self) -> tuple[Client, ...]:
        return tuple(self._by_digest.values())

    def authenticate(self, authorization: str | None) -> Client:
        if not authorization:
            raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
        if not authorization[: len(BEARER_PREFIX)].lower() == BEARER_PREFIX:
            raise Unauthorized("the Authorization header must use the Bearer scheme")
        presented = key_digest(authorization[len(BEARER_PREFIX) :].strip())
        for digest, client in self._by_digest.items():
            if hmac.compare_digest(digest, presented):
                return client
        raise Unauthorized("invalid API key")
