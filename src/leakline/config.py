"""leakline.toml → validated settings.

One file, one root model. Each domain owns the model of its own section (gathered here so that
unknown keys anywhere are caught; reading the file lives in `leakline.configfile`, the shared `Section`
base and the error messages in `leakline.configmodels`),
and every validation problem becomes a `ConfigError` that names the file, the dotted key and the
expected type, e.g.
``leakline.toml: scan.fail_on: expected one of 'critical', 'high', 'medium', 'low', got 'severe'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from leakline.audit.settings import AuditSettings
from leakline.configfile import CONFIG_FILENAME, KNOWN_SECTIONS, SeverityName, read_toml
from leakline.configmodels import ResidencySettings, ScanSettings, Section, format_validation_error
from leakline.errors import ConfigError
from leakline.guard.sanitize.settings import SanitizeSettings
from leakline.guard.settings import ClientSettings, GatewaySettings, RegionSettings
from leakline.incidents.settings import ApiSettings, IncidentsSettings
from leakline.notify.render import NotifySettings
from leakline.notify.settings import ChannelsSettings, Contact, EscalationSettings, OrganisationSettings, OwnersSettings
from leakline.store.settings import DatabaseSettings
from leakline.weights.settings import WeightsSettings


class Settings(Section):
    """The whole of leakline.toml. Sections not given take their defaults."""

    residency: ResidencySettings = Field(default_factory=ResidencySettings)
    scan: ScanSettings = Field(default_factory=ScanSettings)
    weights: WeightsSettings = Field(default_factory=WeightsSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    sanitize: SanitizeSettings = Field(default_factory=SanitizeSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    regions: dict[str, RegionSettings] = Field(default_factory=dict)
    clients: list[ClientSettings] = Field(default_factory=list)
    organisation: OrganisationSettings = Field(default_factory=OrganisationSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    channels: ChannelsSettings = Field(default_factory=ChannelsSettings)
    contacts: list[Contact] = Field(default_factory=list)
    authorities: dict[str, dict[str, str]] = Field(default_factory=dict)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    owners: OwnersSettings = Field(default_factory=OwnersSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    incidents: IncidentsSettings = Field(default_factory=IncidentsSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    source: str | None = Field(default=None, exclude=True)
    """The file these settings came from (None: embedded defaults)."""


def parse_settings(data: dict[str, Any], *, source: str) -> Settings:
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None
    return settings.model_copy(update={"source": source})


def load_settings(path: Path, *, required: bool = False) -> Settings:
    """Read and validate a whole leakline.toml. A missing file gives the defaults unless `required`."""
    data = read_toml(path, required=required)
    if data is None:
        return Settings()
    return parse_settings(data, source=str(path))


__all__ = [
    "CONFIG_FILENAME",
    "KNOWN_SECTIONS",
    "ResidencySettings",
    "ScanSettings",
    "Section",
    "Settings",
    "SeverityName",
    "format_validation_error",
    "load_settings",
    "parse_settings",
]
