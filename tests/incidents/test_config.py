"""`--config` of the incident commands, `leakline signal` and `leakline worker`: a file named explicitly must
exist; only the default ./leakline.toml may be missing (defaults, with a warning)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.incidents.helpers import facts_file, signal

Cli = Callable[..., tuple[int, str, str]]
NO_FILE_HINT = "hint: create it, or pass --config with the right path"


def _commands(directory: Path) -> list[tuple[str, ...]]:
    facts = str(facts_file(directory))
    sig = directory / "signal.json"
    sig.write_text(json.dumps(signal()), encoding="utf-8")
    return [
        ("incident", "list"),
        ("incident", "open", "--facts", facts),
        ("incident", "show", "INC-1"),
        ("incident", "facts", "INC-1"),
        ("incident", "facts", "INC-1", "--facts", facts),
        ("incident", "assess", "INC-1"),
        ("incident", "approve", "INC-1", "msg_1", "--by", "Dana"),
        ("incident", "send", "INC-1"),
        ("incident", "delivered", "INC-1", "msg_1", "--channel", "fax"),
        ("incident", "ack", "INC-1", "msg_1", "--by", "Dana"),
        ("incident", "move", "INC-1", "contained"),
        ("incident", "close", "INC-1"),
        ("signal", str(sig)),
        ("worker", "--once"),
    ]


@pytest.mark.parametrize("name", ["nope.toml", "leakline.tmol", "conf/leakline.toml"])
def test_an_explicit_config_that_does_not_exist_is_refused_and_nothing_is_created(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for args in _commands(inputs):
        assert cli(*args, "--config", name) == (2, "", f"{name}: no such file\n{NO_FILE_HINT}"), args
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs"]  # no leakline.db, no leakline-audit


def test_without_config_and_no_leakline_toml_the_defaults_apply_with_a_warning(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("incident", "list", "--format", "json")
    assert (code, out) == (0, "[]\n")
    assert err == (
        f"warning: no leakline.toml in {tmp_path}: using the defaults (sqlite:///leakline.db, audit log in "
        "leakline-audit/, no contacts, channels or authorities); pass --config\n"
    )


def test_an_organisation_establishment_of_no_country_is_a_config_error(cli: Cli, tmp_path: Path) -> None:
    # It is the default of the facts a signal opens an incident with; the facts refuse it, so the config does.
    config = tmp_path / "leakline.toml"
    config.write_text('[organisation]\nname = "Acme"\nestablishments = ["DE", "XX"]\n', encoding="utf-8")
    code, out, err = cli("incident", "list", "--config", str(config))
    assert (code, out) == (2, "")
    assert (
        f"{config}: organisation.establishments.1: Value error, 'XX' is not an ISO 3166-1 alpha-2 country code "
        "(such as 'DE', 'FR', 'US'), got 'XX'"
    ) in err
