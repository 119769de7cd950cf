"""Where the organisation is established, as the notices state it: the incident's facts
(`controller.establishments`), on which the obligations were assessed, win over `[organisation]
establishments` in leakline.toml (the default for new facts). Before, a notice to the German authority
listed the configured "Niederlassungen: DE" while the facts, and the assessment, said DE and AT."""

from __future__ import annotations

import copy
from typing import Any

from leakline.notify.models import Communication
from tests.notify.helpers import RECENT_FACTS, comms, open_incident, runtime
from tests.store.helpers import Env


def _facts(establishments: list[str], **data: Any) -> dict[str, Any]:
    facts = copy.deepcopy(RECENT_FACTS)
    facts["controller"]["establishments"] = establishments
    facts["data"].update(data)
    return facts


def _notice(messages: list[Communication], regime: str, jurisdiction: str) -> Communication:
    (found,) = [c for c in messages if c.regime == regime and c.jurisdiction == jurisdiction]
    return found


def test_the_authority_notice_lists_the_establishments_the_facts_give(env: Env) -> None:
    # leakline.toml says establishments = ["DE"]; the facts add the Austrian branch.
    with runtime(env) as rt:
        assert rt.settings.organisation.establishments == ["DE"]
        incident_id = open_incident(rt, facts=_facts(["DE", "AT"]))
        notice = _notice(comms(rt, incident_id), "gdpr-33", "DE")
        assert "   Niederlassungen: DE, AT\n" in notice.body


def test_a_main_establishment_in_the_facts_sets_the_lead_authority_language_and_the_listed_establishments(
    env: Env,
) -> None:
    # The facts move the main establishment to France: the lead authority (Art. 56) is the CNIL, its notice
    # is French and names FR, and the Union-wide notice to the people is drafted in French first.
    with runtime(env) as rt:
        incident_id = open_incident(rt, facts=_facts(["FR"], categories=["identity", "payment-card"]))
        messages = comms(rt, incident_id)
        notice = _notice(messages, "gdpr-33", "FR")
        assert notice.language == "fr"
        assert "   Établissements : FR\n" in notice.body
        people = sorted(c.language for c in messages if c.regime == "gdpr-34" and c.jurisdiction == "EU")
        assert people == ["fr"]
