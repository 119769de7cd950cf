"""The `[gateway]`, `[regions.*]` and `[[clients]]` sections of leakline.toml (a contract: keys are stable).

Kept free of imports from the rest of leakline (config.py imports this module), so the base class
repeats `leakline.config.Section`'s rules: unknown keys are errors and values are not coerced.
Cross-section rules (a region named by `on_missing_country` exists, a client's regions exist) are
checked by `check_gateway_settings`, which names the offending key.

    [gateway]
    country_header = "x-vercel-ip-country"    # trusted only from trusted_proxies
    trusted_proxies = ["127.0.0.1/32", "::1/128"]
    on_missing_country = "reject"             # or the name of a region

    signal_outbox = "leakline-signal-outbox.sqlite"   # signals not delivered yet, across restarts

    [regions.eu]
    upstream = "http://127.0.0.1:11434/v1"
    countries = ["DE", "FR", "NL"]
    models = ["llama3.1:8b"]                  # empty: any model the upstream serves

    [gateway.routes."/v1/completions"]        # optional, per OpenAI endpoint
    sanitize_actions = { email = "block" }    # over [sanitize.actions]; a key's own overrides win
    redact_prompts = true                     # over [gateway] redact_prompts

    [[clients]]
    name = "storefront"
    key_sha256 = "<hex SHA-256 of the bearer key>"   # or key_env = "VAR_HOLDING_THE_KEY"
    # during a key rotation, several: key_sha256 = ["<old>", "<new>"], key_env = ["OLD_VAR", "NEW_VAR"]

    [clients.routes."/v1/chat/completions"]  # optional: this key on one endpoint (same keys as above)
    redact_prompts = false                    # wins over the route's and [gateway]'s
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError


def _matcher(pattern: str, expected: str) -> Callable[[str], str]:
    """A string check whose error says what is expected in words (the message names the key and the value),
    instead of pydantic's `String should match pattern '^[A-Z]{2}$'`."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError("invalid_value", expected)
        return value

    return check


def _matching(pattern: str, expected: str) -> AfterValidator:
    return AfterValidator(_matcher(pattern, expected))


def _one_or_several(check: Callable[[str], object] | None, expected: str) -> BeforeValidator:
    """A key that takes one string or an array of them (a client's keys during a rotation), kept as a list.

    One string is checked here, so that its error names the key itself (`clients.0.key_sha256`) rather
    than an index the file does not have; an array's items are checked by the list type, whose errors name
    the index (`clients.0.key_sha256.1`). An empty array is left to the model's check that a key is given."""

    def before(value: object) -> object:
        if isinstance(value, str):
            if check is not None:
                check(value)
            return [value]
        if not isinstance(value, list):
            raise PydanticCustomError("invalid_value", expected)
        return value

    return BeforeValidator(before)


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise PydanticCustomError("invalid_value", "expected an IP network such as '10.0.0.0/8' or '::1/128'") from None
    return value


_sha256_hex = _matcher(
    r"[0-9a-f]{64}", 'expected the SHA-256 of the key as 64 lowercase hex digits (printf %s "$KEY" | sha256sum)'
)
Sha256Hex = Annotated[str, AfterValidator(_sha256_hex)]
Sha256Hexes = Annotated[
    list[Sha256Hex],
    _one_or_several(
        _sha256_hex,
        "expected the SHA-256 of the key as 64 lowercase hex digits, or an array of them (several keys during "
        "a rotation)",
    ),
]
EnvNames = Annotated[
    list[str],
    _one_or_several(
        None, "expected the name of an environment variable, or an array of them (several keys during a rotation)"
    ),
]
CountryCode = Annotated[
    str, _matching(r"[A-Z]{2}", "expected a two-letter country code in capitals (ISO 3166-1 alpha-2, e.g. 'DE')")
]
REGION_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
REGION_NAME_RULE = "a region name is lowercase letters, digits, '-' and '_'"
REGION_NAME_LIMITS = " (at most 63, the first a letter or a digit)"


def region_name_suggestion(value: str) -> str | None:
    """The region name `value` was probably meant to be ('EU' → 'eu', 'eu west' → 'eu-west'), if any."""
    guess = re.sub(r"[^a-z0-9_-]+", "-", value.strip().lower()).strip("-_")[:63]
    return guess if guess != value and REGION_NAME.fullmatch(guess) else None


def _region_name(value: str) -> str:
    if REGION_NAME.fullmatch(value):
        return value
    guess = region_name_suggestion(value)
    if guess is None:
        raise PydanticCustomError("invalid_value", REGION_NAME_RULE + REGION_NAME_LIMITS)
    raise PydanticCustomError("invalid_value", REGION_NAME_RULE + " (did you mean {guess}?)", {"guess": repr(guess)})


RegionName = Annotated[str, AfterValidator(_region_name)]
HeaderName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,100}$")]
UpstreamUrl = Annotated[
    str, _matching(r"https?://\S+", "expected an http:// or https:// URL of the OpenAI-compatible API (with /v1)")
]
NetworkText = Annotated[str, AfterValidator(_network)]
FilePath = Annotated[str, _matching(r"(?s).*\S.*", "expected the path of a file, e.g. 'leakline-signal-outbox.sqlite'")]

REJECT = "reject"
POLICY_ROUTES = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
"""The endpoints that may have a `[gateway.routes."<path>"]` table (`/v1/models` carries no text)."""

ActionName = Literal["redact", "block", "alert"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AnomalySettings(_Section):
    """Per-minute volume baselines per edge location and per key (see docs/gateway.md)."""

    enabled: bool = True
    threshold: float = Field(default=6.0, gt=0)
    """Robust score ((x - median) / max(1.4826 * MAD, 0.1 * median, 1), increases only) beyond which a minute is
    anomalous."""
    warmup_minutes: int = Field(default=30, ge=3)
    """Minutes of history a baseline needs before it may raise a signal."""
    alpha: float = Field(default=0.1, gt=0, le=1)
    """Accepted for older configuration files and no longer used: each minute is judged against its window's own
    median and MAD (an average of past medians lagged behind steady traffic and flagged it)."""
    window_minutes: int = Field(default=30, ge=3)
    """Sliding window over which each minute's median and MAD are taken."""
    store: Literal["file", "database"] = "file"
    """Where counters and baselines live: `file` (`state_path`, shared by the workers of one host) or
    `database` (leakline's `[database]`; PostgreSQL shares them across replicas on several hosts)."""
    state_path: str = "leakline-gateway-state.sqlite"
    """SQLite file shared by the workers of one host (relative paths: relative to leakline.toml)."""


class RouteSettings(_Section):
    """`[gateway.routes."<path>"]`: one endpoint's overrides of the gateway-wide policy (absent: inherited)."""

    sanitize_actions: dict[str, ActionName] = Field(default_factory=dict)
    """Overrides of `[sanitize.actions]` on this route (detector -> action); a key's own overrides win."""
    redact_prompts: bool | None = None
    """Overrides `[gateway] redact_prompts` on this route."""
    insert_canary: bool | None = None
    """Overrides `[gateway] insert_canary` on this route (not on `/v1/embeddings`: vectors carry no text)."""


class GatewaySettings(_Section):
    country_header: HeaderName = "x-vercel-ip-country"
    """Header carrying the visitor's country; e.g. cf-ipcountry, x-amz-cf-ipcountry."""
    trusted_proxies: list[NetworkText] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    """Peers (CIDR) whose country header is believed; from anyone else it is ignored."""
    on_missing_country: str = REJECT
    """"reject" (451) or the name of the region that serves requests without a trusted country."""
    pop_header: HeaderName = "x-vercel-id"
    """Header whose first `::`-separated part names the edge PoP (e.g. `fra1::iad1::abc` → fra1)."""
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=120.0, gt=0)
    """Longest silence between two upstream bytes (a stream may run longer in total)."""
    body_read_timeout_seconds: float = Field(default=30.0, gt=0)
    """How long a client may take to send a request's body, once its headers arrived: a client that stalls
    mid-body (or sends it a byte at a time) gets a 408 and its connection closed, instead of holding it."""
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    """How long `leakline serve` lets requests in flight finish after SIGTERM or Ctrl-C (per worker); those
    still running then end with a 503 `shutting_down` (a stream: a last error event) and are audited."""
    upstream_connections: int = Field(default=100, gt=0)
    """Connections per worker to each upstream host; a request beyond them waits for one to be free."""
    upstream_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    """How long a request waits for one of `upstream_connections` to be free before it is answered 503
    `upstream_busy` (a stream holds its connection until its end, so without a bound a queue behind long
    streams would wait for minutes, silently)."""
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)
    """How long `GET /readyz` waits for each upstream's `GET /models`."""
    readiness_cache_seconds: float = Field(default=5.0, ge=0)
    """How long an upstream check of `GET /readyz` is reused (probes must not hammer the upstreams)."""
    readiness: Literal["any", "all"] = "any"
    """When `GET /readyz` says ready: "any" region's upstream answers (default: an outage of one region must
    not pull every replica from the load balancer, which would also cut off the regions that work) or
    "all" of them (replicas that serve one region each, behind a load balancer that routes by region)."""
    header_mode: Literal["deny", "allow"] = "allow"
    """"allow": only `allowed_headers` of an upstream response pass; "deny": all but the deny-list."""
    allowed_headers: list[HeaderName] = Field(
        default_factory=lambda: ["content-type", "x-request-id", "openai-version"]
    )
    """Upstream headers passed in "allow" mode (`openai-processing-ms` is no longer among the defaults: the
    time a model took tells which model ran)."""
    denied_headers: list[str] = Field(default_factory=list)
    """Extra deny-list entries (fnmatch patterns, lowercase) on top of the built-in list."""
    redact_prompts: bool = False
    """Also sanitize prompts (redact only) before the upstream sees them."""
    insert_canary: bool = False
    """Put the first `[sanitize] canaries` token into a system message of every chat request and in front
    of every text prompt of `/v1/completions`, so that a model repeating its instructions is caught by
    the canary detector."""
    signals_url: str | None = None
    """A central leakline's `/api/v1/signals`; unset: signals go to the incident engine in-process."""
    signals_token_env: str | None = None
    """Environment variable holding the bearer token for `signals_url`."""
    signal_outbox: FilePath = "leakline-signal-outbox.sqlite"
    """SQLite file (relative paths: relative to leakline.toml) where signals not delivered yet wait, across
    restarts, until the incident engine or the central leakline takes them; shared by the workers of one
    host. On local disk: it is fsynced before a signal counts as kept."""
    signal_outbox_max_entries: int = Field(default=10_000, gt=0)
    """Signals the outbox holds at most; when full the oldest are kept and new ones counted as dropped."""
    signal_outbox_max_bytes: int = Field(default=64 * 1024 * 1024, ge=65_536)
    """Bytes of signal JSON the outbox holds at most (64 MiB; a gateway signal is at most a few KiB)."""
    database_keys_refresh_seconds: float = Field(default=5.0, gt=0, le=3600)
    """How often each worker reads the keys kept in the database (clients with `database_keys = true`): a key
    added or revoked with `leakline gateway-keys` takes effect within this time on every replica."""
    database_keys_max_stale_seconds: float = Field(default=300.0, gt=0)
    """When the database cannot be read for this long, its keys are no longer accepted (fail closed: a revoked
    key must not outlive its revocation by more than this); the configured keys go on working."""
    anomalies: AnomalySettings = Field(default_factory=AnomalySettings)
    routes: dict[str, RouteSettings] = Field(default_factory=dict)
    """Per-endpoint overrides, keyed by path (one of `POLICY_ROUTES`; checked by `check_gateway_settings`)."""

    @field_validator("country_header", "pop_header", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


    @model_validator(mode="after")
    def _stale_after_refresh(self) -> GatewaySettings:
        if self.database_keys_max_stale_seconds < self.database_keys_refresh_seconds:
            raise PydanticCustomError(
                "invalid_value",
                f"database_keys_max_stale_seconds ({self.database_keys_max_stale_seconds:g}) is shorter than "
                f"database_keys_refresh_seconds ({self.database_keys_refresh_seconds:g}): the keys kept in the "
                "database would be refused between two reads",
            )
        return self


class RegionSettings(_Section):
    upstream: UpstreamUrl
    """Base URL of the OpenAI-compatible upstream, including `/v1` (`check_gateway_settings` refuses a query
    string or fragment; `check_servable` warns of a path that does not end in `/v1`)."""
    countries: list[CountryCode] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    """Models this region's upstream may serve; empty means any."""
    api_key_env: str | None = None
    """Environment variable with the bearer key the upstream expects (never the client's key)."""


class ClientSettings(_Section):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    key_sha256: Sha256Hexes = Field(default_factory=list)
    """SHA-256 digests of the client's bearer keys: one string, or an array while a key is rotated."""
    key_env: EnvNames = Field(default_factory=list)
    """Environment variables holding the client's bearer keys (hashed at start-up): one name or an array."""
    models: list[str] = Field(default_factory=list)
    """Models this key may use; empty means any."""
    regions: list[RegionName] = Field(default_factory=list)
    """Regions this key may be served from; empty means any."""
    country: CountryCode | None = None
    """Binds the key to a country (a back office in one country): used instead of the edge header."""
    sanitize_actions: dict[str, ActionName] = Field(default_factory=dict)
    """This key's overrides of `[sanitize.actions]` (detector -> action), e.g. `ip_address = "redact"`."""
    routes: dict[str, RouteSettings] = Field(default_factory=dict)
    """This key's overrides on one endpoint (`[clients.routes."<path>"]`), over everything else: its
    `sanitize_actions` over the key's own, `redact_prompts` / `insert_canary` over the route's."""
    database_keys: bool = False
    """Also accept this client's keys kept in leakline's `[database]` (`leakline gateway-keys add`)."""

    @model_validator(mode="after")
    def _some_key(self) -> ClientSettings:
        if not self.key_sha256 and not self.key_env and not self.database_keys:
            raise PydanticCustomError(
                "invalid_value",
                "give key_sha256 or key_env (or both, during a key rotation), or database_keys = true",
            )
        return self
