"""The [weights] section of leakline.toml: this site's region, TLS files, and which models may go where.

Example::

    [weights]
    region = "eu-central"                 # the region this site is in (sent by `pull`)

    [weights.tls]
    cert = "tls/site.pem"                 # this site's certificate chain (server, or client for mTLS)
    key = "tls/site.key"
    ca = "tls/ca.pem"                     # CA that signs the peers
    require_client_cert = true            # serve: mutual TLS

    [[weights.models]]
    id = "llama-3.1-8b-instruct"
    path = "models/llama-3.1-8b-instruct.llw"
    allowed_regions = ["eu-central", "eu-west"]

Relative paths are relative to the directory of leakline.toml. The models are declared here rather than in
`leakline.config` so the weights domain owns them; `Settings.weights` refers to `WeightsSettings`. Refused
pulls go to the audit log configured by the [audit] section.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PORT = 8443


class _WeightsSection(BaseModel):
    # Same rules as leakline.config.Section; not imported from there to avoid an import cycle.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class WeightsTLSSettings(_WeightsSection):
    cert: str | None = None
    """PEM certificate chain of this site (server certificate for `serve`, client certificate for `pull`)."""
    key: str | None = None
    """PEM private key for `cert`."""
    ca: str | None = None
    """PEM CA bundle used to verify the peer. `pull` falls back to the system store when absent."""
    require_client_cert: bool = False
    """`serve` only: demand a client certificate signed by `ca` (mutual TLS)."""


class WeightsModelSettings(_WeightsSection):
    id: str = Field(min_length=1, max_length=255)
    path: str
    """The encrypted container (.llw) served for this model."""
    allowed_regions: list[str] = Field(default_factory=list)
    """Regions that may pull this model. Empty: nobody may (fail closed)."""


class WeightsSettings(_WeightsSection):
    region: str | None = None
    """The region of this site; `pull` declares it, and a client certificate may carry it."""
    bind: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    tls: WeightsTLSSettings = Field(default_factory=WeightsTLSSettings)
    models: list[WeightsModelSettings] = Field(default_factory=list)
