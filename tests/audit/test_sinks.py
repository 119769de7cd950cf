"""Residency routing and the out-of-the-box defaults of `default_audit_log`."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from leakline.audit import format as fmt
from leakline.audit.errors import AuditConfigError, ResidencyRefused
from leakline.audit.keys import KEY_ENV_VAR, generate_key_file
from leakline.audit.sinks import default_audit_log
from leakline.audit.verify import verify_log
from leakline.config import load_settings, parse_settings
from leakline.errors import ConfigError


def test_defaults_create_the_log_and_key_on_first_use_and_say_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    notices: list[str] = []
    router = default_audit_log(parse_settings({}, source="leakline.toml"), notice=notices.append, cwd=tmp_path)
    directory = tmp_path / "leakline-audit"
    assert not directory.exists()  # nothing happens until something is recorded
    assert router.append(kind="scan.run", actor="cli", payload={"findings": 3}) == 1
    router.close()
    key = directory / "audit.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(notices) == 1 and str(key) in notices[0]
    again = default_audit_log(parse_settings({}, source="leakline.toml"), notice=notices.append, cwd=tmp_path)
    assert again.append(kind="scan.run", actor="cli") == 3  # a new epoch (record 2), then the event
    again.close()
    assert len(notices) == 1
    assert verify_log(directory).records == 4


def test_regions_go_to_their_own_sink_only(tmp_path: Path) -> None:
    key = tmp_path / "audit.key"
    generate_key_file(key)
    toml = tmp_path / "leakline.toml"
    toml.write_text(
        '[audit]\npath = "global"\nkey = "audit.key"\ncommit = "record"\n'
        '[audit.sinks.eu]\npath = "eu-only"\n[audit.sinks.us]\npath = "/dev/null/never"\n'
    )
    router = default_audit_log(load_settings(toml))
    assert router.append(kind="gateway.exchange", actor="gateway", region="eu", payload={"p": 1}) == 1
    assert router.append(kind="incident.opened", actor="incidents", payload={"p": 2}) == 1
    with pytest.raises(ResidencyRefused, match="no audit sink for region 'br'") as caught:
        router.append(kind="gateway.exchange", actor="gateway", region="br", payload={"p": 3})
    assert caught.value.hint is not None and "[audit.sinks.br]" in caught.value.hint
    router.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.key", "eu-only", "global", "leakline.toml"]
    eu, world = verify_log(tmp_path / "eu-only"), verify_log(tmp_path / "global")
    assert (eu.region, eu.records, world.region, world.records) == ("eu", 2, None, 2)
    assert b"gateway.exchange" not in (tmp_path / "global" / fmt.LOG_FILENAME).read_bytes()


def test_configured_audit_needs_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    with pytest.raises(AuditConfigError, match=r"leakline\.toml: audit\.key: required key is missing"):
        default_audit_log(parse_settings({"audit": {"path": "x"}}, source="leakline.toml"))


def test_bad_region_names_and_keys_in_settings(tmp_path: Path) -> None:
    settings = parse_settings({"audit": {"key": "k", "sinks": {"EU West": {"path": "x"}}}}, source="leakline.toml")
    with pytest.raises(AuditConfigError, match=r"audit\.sinks\.EU West: a region name"):
        default_audit_log(settings)
    with pytest.raises(ConfigError, match=r"leakline\.toml: audit\.sinks\.eu\.paht: unknown key"):
        parse_settings({"audit": {"sinks": {"eu": {"paht": "x"}}}}, source="leakline.toml")
    with pytest.raises(ConfigError, match=r"audit\.commit: expected one of"):
        parse_settings({"audit": {"commit": "sometimes"}}, source="leakline.toml")
