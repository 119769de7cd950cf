"""Facts an incident is opened or amended with, as `incident open`, `incident facts` and `leakline assess`
read them: a jurisdiction that is no ISO 3166 code ("XX") is refused naming the key and the code; a valid
country no regime covers (MX) is accepted with a warning on stderr that its people's law is not assessed;
a discovered_at after aware_at is refused naming both (before, the notices said the breach was detected
after the controller became aware of it)."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.incidents.helpers import facts_file
from tests.store.helpers import Env

Cli = Callable[..., tuple[int, str, str]]

MX_WARNING = (
    "data.subjects_by_jurisdiction: MX (5 people): no regime leakline knows covers MX; they count in "
    "data.subjects and the risk, but no law of where they live is assessed: check it yourself (`leakline "
    "regimes` lists the laws known)"
)


def _incidents(cli: Cli, env: Env) -> list[dict[str, object]]:
    code, out, err = cli("incident", "list", "--format", "json", "--config", str(env.config))
    assert code == 0, err
    listed: list[dict[str, object]] = json.loads(out)
    return listed


def test_an_unknown_country_code_is_refused_by_open_facts_and_assess(cli: Cli, env: Env) -> None:
    config = str(env.config)
    bad = facts_file(env.directory, "bad.json", data__subjects_by_jurisdiction={"DE": 90, "XX": 5})
    expected = (
        f"{bad}: data.subjects_by_jurisdiction.XX.(key): 'XX' is not an ISO 3166-1 alpha-2 country code "
        "(such as 'DE', 'FR', 'US'), got 'XX'"
    )
    code, out, err = cli("incident", "open", "--facts", str(bad), "--config", config)
    assert (code, out, err.strip()) == (2, "", expected)
    assert _incidents(cli, env) == []
    code, out, err = cli("assess", str(bad))
    assert (code, out, err.strip()) == (2, "", expected)
    code, out, err = cli("incident", "open", "--facts", str(facts_file(env.directory)), "--format", "json",
                         "--config", config)  # fmt: skip
    assert code == 0, err
    incident = json.loads(out)["id"]
    code, out, err = cli("incident", "facts", incident, "--facts", str(bad), "--config", config)
    assert (code, out, err.strip()) == (2, "", expected)
    state_typo = facts_file(env.directory, "state.json", data__subjects_by_jurisdiction={"US-XX": 5})
    code, _, err = cli("assess", str(state_typo))
    assert (code, err.strip()) == (
        2,
        f"{state_typo}: data.subjects_by_jurisdiction.US-XX.(key): 'US-XX' is not a US state or territory "
        "(ISO 3166-2:US, such as 'US-CA', 'US-NY'), got 'US-XX'",
    )


def test_a_country_no_regime_covers_is_accepted_with_a_warning(cli: Cli, env: Env) -> None:
    config = str(env.config)
    mexico = facts_file(env.directory, "mx.json", data__subjects_by_jurisdiction={"DE": 90, "MX": 5})
    code, out, err = cli("incident", "open", "--facts", str(mexico), "--format", "json", "--config", config)
    assert code == 0, err
    assert f"warning: {mexico}: {MX_WARNING}\n" in err
    doc = json.loads(out)
    # Nobody is dropped: the people in Mexico stay in the stored facts.
    assert doc["facts"]["data"]["subjects_by_jurisdiction"] == {"DE": 90, "MX": 5}
    code, out, err = cli("incident", "facts", doc["id"], "--facts", str(mexico), "--config", config)
    assert code == 0, err
    assert err == f"warning: {mexico}: {MX_WARNING}\n"
    code, out, err = cli("assess", str(mexico), "--format", "json")
    assert code == 0, err
    assert err == f"warning: {mexico}: {MX_WARNING}\n"
    assert json.loads(out)["risk"] == "risk"


def test_discovered_after_aware_is_refused_naming_both(cli: Cli, env: Env) -> None:
    config = str(env.config)
    backwards = facts_file(env.directory, "backwards.json", discovered_at="2026-11-25T12:00:00+00:00")
    expected = (
        f"{backwards}: discovered_at: 2026-11-25T12:00:00+00:00 is after aware_at "
        "(2026-11-25T10:00:00+00:00): the breach is discovered before or when the organisation becomes aware of "
        "it (occurred <= discovered <= aware); correct one of them, or leave discovered_at out if it is the "
        "moment of awareness"
    )
    code, out, err = cli("incident", "open", "--facts", str(backwards), "--config", config)
    assert (code, out, err.strip()) == (2, "", expected)
    assert _incidents(cli, env) == []
    code, out, err = cli("assess", str(backwards))
    assert (code, out, err.strip()) == (2, "", expected)
    before = facts_file(
        env.directory, "before.json", discovered_at="2026-11-25T08:00:00+00:00", occurred_at="2026-11-25T09:00:00Z"
    )
    code, _, err = cli("assess", str(before))
    assert (code, err.strip()) == (
        2,
        f"{before}: occurred_at: 2026-11-25T09:00:00+00:00 is after discovered_at "
        "(2026-11-25T08:00:00+00:00): nobody discovers a breach before it happens",
    )


def test_facts_stored_before_these_checks_still_load_and_are_reassessed(cli: Cli, env: Env) -> None:
    """An incident stored by an earlier version (a signal's placeholder country 'XX', discovered after aware)
    must still be reassessed after an upgrade: the new checks refuse such facts on input only."""
    from sqlalchemy import create_engine, update

    from leakline.incidents.models import FactsVersion

    config = str(env.config)
    code, out, err = cli("incident", "open", "--facts", str(facts_file(env.directory)), "--format", "json",
                         "--config", config)  # fmt: skip
    assert code == 0, err
    incident = json.loads(out)["id"]
    engine = create_engine(env.db_url)
    with engine.begin() as conn:
        row = conn.execute(FactsVersion.__table__.select().where(FactsVersion.incident_id == incident)).one()
        old = dict(row.facts)
        old["data"] = {**old["data"], "subjects_by_jurisdiction": {"DE": 10, "XX": 2}}
        old["discovered_at"] = "2026-11-20T12:00:00+00:00"
        old["aware_at"] = "2026-11-20T09:00:00+00:00"
        conn.execute(
            update(FactsVersion).where(FactsVersion.incident_id == incident).values(facts=old)  # type: ignore[arg-type]
        )
    engine.dispose()
    code, out, err = cli("incident", "assess", incident, "--config", config)
    assert code == 0, err
    code, out, err = cli("incident", "show", incident, "--config", config)
    assert code == 0, err
