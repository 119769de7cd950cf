"""Residency: which region may serve a request, decided from the visitor's country and the model.

Pure functions over the settings. The country comes from the edge's header only when the TCP peer is
one of `trusted_proxies` (anyone can send the header; only the edge's word counts) and every copy of
the header names the same country (an edge that appends leaves the visitor's copy first), or from a
key's country binding. Country → regions (those listing it) → those the key may use → those allowed to
serve the model; the first in leakline.toml order wins. Every refusal is a `ResidencyDenied` naming
the policy that refused, so that the 451 body, the signal and the audit record say the same thing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from leakline.guard.auth import Client
from leakline.guard.errors import ModelNotFound, ResidencyDenied
from leakline.guard.settings import REJECT, GatewaySettings, RegionSettings

POLICY_MISSING_COUNTRY = "gateway.on_missing_country"
POLICY_COUNTRY = "regions.countries"
POLICY_CLIENT = "clients.regions"
POLICY_MODEL = "regions.models"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Decision:
    region: str
    upstream: str
    country: str | None
    country_source: str
    """"header", "key" or "default" (on_missing_country named a region)."""


def parse_networks(items: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def peer_is_trusted(peer: str | None, networks: Sequence[Network]) -> bool:
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    # A dual-stack socket (`--host ::`) sees IPv4 peers as `::ffff:a.b.c.d`: judged as the IPv4 address they are,
    # or `127.0.0.1/32` never matched and every IPv4 edge's country header was ignored.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return any(address in network or (mapped is not None and mapped in network) for network in networks)


def normalise_country(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code, or None for absent/unknown values (Vercel sends none for unknown)."""
    if value is None:
        return None
    code = value.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha() or code in ("XX", "T1"):
        return None
    return code


def agreed_country(values: Sequence[str]) -> tuple[str | None, bool]:
    """The country that every copy of the country header names, and whether they disagree.

    `("DE", "de")` agree on DE; `("US", "DE")` and `("DE", "XX")` disagree: (None, True). Values that are
    no country (`XX`, `T1`) agree with each other on none.
    """
    countries = {normalise_country(value) for value in values}
    if len(countries) > 1:
        return None, True
    return (next(iter(countries)) if countries else None), False


def visitor_country(client: Client, header_value: str | None, trusted: bool) -> tuple[str | None, str]:
    if client.country is not None:
        return client.country, "key"
    if trusted:
        country = normalise_country(header_value)
        if country is not None:
            return country, "header"
    return None, "none"


def model_known(model: str, regions: Mapping[str, RegionSettings]) -> bool:
    return any(not r.models or model in r.models for r in regions.values())


def decide(
    *,
    gateway: GatewaySettings,
    regions: Mapping[str, RegionSettings],
    client: Client,
    country: str | None,
    country_source: str,
    model: str | None,
) -> Decision:
    """The region that serves this request, or `ResidencyDenied` / `ModelNotFound` saying why not."""
    if model is not None and not model_known(model, regions):
        raise ModelNotFound(f"the model {model!r} does not exist or no region serves it", param="model")
    if country is None:
        if gateway.on_missing_country == REJECT:
            raise ResidencyDenied(
                "no trusted visitor country on this request, and policy gateway.on_missing_country is 'reject'",
                policy=POLICY_MISSING_COUNTRY,
                country=None,
            )
        candidates = [gateway.on_missing_country]
        country_source = "default"
    else:
        candidates = [name for name, region in regions.items() if country in region.countries]
        if not candidates:
            raise ResidencyDenied(
                f"no region in policy regions.*.countries serves visitors from {country}",
                policy=POLICY_COUNTRY,
                country=country,
            )
    allowed = [name for name in candidates if client.may_use_region(name)]
    if not allowed:
        raise ResidencyDenied(
            f"client {client.name!r} may not be served from region(s) {', '.join(candidates)} (policy clients.regions)",
            policy=POLICY_CLIENT,
            country=country,
        )
    if model is not None:
        serving = [name for name in allowed if not regions[name].models or model in regions[name].models]
        if not serving:
            raise ResidencyDenied(
                f"model {model!r} may not be served from region(s) {', '.join(allowed)} (policy regions.*.models)",
                policy=POLICY_MODEL,
                country=country,
            )
        allowed = serving
    name = allowed[0]
    return Decision(name, regions[name].upstream.rstrip("/"), country, country_source)
