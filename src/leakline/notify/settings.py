"""leakline.toml sections the communication plan reads: `[organisation]`, `[channels]`, `[[contacts]]`,
`[authorities.XX]`, `[escalation]` and `[owners]`.

Each model checks its own keys (unknown keys are errors); references between sections (a chain entry
naming a contact, a contact naming a channel) are checked by `check_references`, which names the key
that points nowhere.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from leakline.errors import ConfigError
from leakline.obligations.facts import JurisdictionCode

# Copies of leakline.obligations.facts.Sector/Size: config.py imports this module, and importing the
# obligations package here would import config.py back. tests/notify/test_settings.py keeps them equal.
Sector = Literal[
    "retail",
    "online-marketplace",
    "online-search-engine",
    "social-network",
    "cloud",
    "managed-services",
    "healthcare",
    "finance",
    "energy",
    "transport",
    "public",
    "other",
]
Size = Literal["micro", "small", "medium", "large"]

ContactRole = Literal["compliance", "dpo", "frontend", "backend", "infrastructure", "executive"]
_COUNTRY = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
ADDRESS_SCHEMES = ("mailto:", "webhook:", "slack:", "teams:")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Dpo(_Section):
    name: str
    email: str | None = None
    phone: str | None = None


class OrganisationSettings(_Section):
    name: str = "Unnamed organisation"
    establishments: list[JurisdictionCode] = Field(default_factory=list)
    """ISO 3166 codes, main establishment first: the defaults for facts.controller.establishments (checked as
    the facts check them, so that the provisional facts a signal opens an incident with are valid)."""
    sector: Sector = "other"
    size: Size = "large"
    dpo: Dpo | None = None


class SmtpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = True
    sender: str = "leakline@localhost"
    username_env: str | None = None
    password_env: str | None = None
    ca_file: str | None = None
    """PEM bundle to verify the server's certificate with (default: the system's trust store)."""
    timeout_seconds: float = Field(default=15.0, gt=0)


class HookSettings(_Section):
    webhook_url_env: str
    """Name of the environment variable that holds the webhook URL (URLs of incoming webhooks are secrets)."""


class SignedHookSettings(HookSettings):
    secret_env: str | None = None
    """Environment variable with the HMAC-SHA256 key for the `X-Leakline-Signature` header."""


class ChannelsSettings(_Section):
    smtp: SmtpSettings | None = None
    slack: dict[str, HookSettings] = Field(default_factory=dict)
    teams: dict[str, HookSettings] = Field(default_factory=dict)
    webhook: dict[str, SignedHookSettings] = Field(default_factory=dict)
    max_attempts: int = Field(default=8, ge=1, le=100)
    """Deliveries tried this many times go to the dead letters (with an alert)."""
    backoff_seconds: float = Field(default=30.0, gt=0)
    backoff_max_seconds: float = Field(default=3600.0, gt=0)
    lease_seconds: float = Field(default=120.0, gt=0)
    """How long a worker owns a claimed message before another worker may take it over."""
    http_timeout_seconds: float = Field(default=15.0, gt=0)

    def names(self) -> set[str]:
        """Every channel a contact may name: "smtp", "slack.ops", "teams.sec", "webhook.siem"."""
        found = {"smtp"} if self.smtp is not None else set()
        for family, hooks in (("slack", self.slack), ("teams", self.teams), ("webhook", self.webhook)):
            found |= {f"{family}.{name}" for name in hooks}
        return found


class Contact(_Section):
    name: Annotated[str, StringConstraints(min_length=1)]
    role: ContactRole
    email: str | None = None
    phone: str | None = None
    channels: list[str] = Field(default_factory=lambda: ["smtp"])


class EscalationSettings(_Section):
    ack_minutes: int = Field(default=15, ge=1)
    chain: list[str] = Field(default_factory=list)
    """Contact names, in order: an unacknowledged internal alert goes to the next one."""
    reminder_hours: list[float] = Field(default_factory=lambda: [48.0, 24.0, 6.0])
    """Remind the compliance contacts this many hours before each obligation's due_at."""
    overdue: bool = True
    """Escalate an obligation whose due_at passed without its notice being sent to the whole chain."""
    undue_delay_reminder_hours: float = Field(default=24.0, ge=0)
    """Remind the compliance contacts every this many hours (counted from the incident's opening) of a required
    obligation that has no due_at ("without undue delay", GDPR Art. 34) while its notice is not delivered, and
    (counted from its delivery) of what a GDPR Art. 33 notice said would follow while its supplement is not
    delivered (Art. 33(4), "without undue further delay"); 0: never."""


class OwnersSettings(_Section):
    frontend: list[str] = Field(default_factory=list)
    backend: list[str] = Field(default_factory=list)
    infrastructure: list[str] = Field(default_factory=list)

    def for_surface(self, surface: str) -> list[str]:
        return list(getattr(self, surface, []))


def check_references(
    *,
    source: str,
    channels: ChannelsSettings,
    contacts: list[Contact],
    authorities: dict[str, dict[str, str]],
    escalation: EscalationSettings,
    owners: OwnersSettings,
) -> None:
    """Every name used in one section must exist in the section it points to."""
    problems: list[str] = []
    names = {contact.name for contact in contacts}
    available = channels.names()
    for index, contact in enumerate(contacts):
        for position, channel in enumerate(contact.channels):
            if channel not in available:
                problems.append(
                    f"{source}: contacts[{index}].channels[{position}]: no channel {channel!r} is configured "
                    f"(configured: {', '.join(sorted(available)) or 'none'})"
                )
        if "smtp" in contact.channels and not contact.email:
            problems.append(f"{source}: contacts[{index}].email: required when the contact uses smtp")
    for position, name in enumerate(escalation.chain):
        if name not in names:
            problems.append(f"{source}: escalation.chain[{position}]: no contact named {name!r} in [[contacts]]")
    for surface in ("frontend", "backend", "infrastructure"):
        for position, name in enumerate(owners.for_surface(surface)):
            if name not in names:
                problems.append(f"{source}: owners.{surface}[{position}]: no contact named {name!r} in [[contacts]]")
    for code, routes in authorities.items():
        if not _COUNTRY.match(code):
            problems.append(f"{source}: authorities.{code}: expected an ISO 3166 code such as 'DE' or 'US-CA'")
        for recipient, address in routes.items():
            problems.extend(_check_address(source, f"authorities.{code}.{recipient}", address, available))
    if problems:
        raise ConfigError("\n".join(problems))


def _check_address(source: str, key: str, address: str, available: set[str]) -> list[str]:
    if not address.startswith(ADDRESS_SCHEMES):
        return [f"{source}: {key}: expected mailto:ADDRESS, webhook:NAME, slack:NAME or teams:NAME, got {address!r}"]
    scheme, _, rest = address.partition(":")
    if not rest:
        return [f"{source}: {key}: nothing after {scheme}:"]
    channel = "smtp" if scheme == "mailto" else f"{scheme}.{rest}"
    if channel not in available:
        return [f"{source}: {key}: channel {channel!r} is not configured under [channels]"]
    return []
