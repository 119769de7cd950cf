"""`uncovered_people`: the people a facts breakdown lists where no regime reaches them by residence, and the
codes the facts refuse because they name no country or US state."""

from __future__ import annotations

import pytest

from leakline.obligations.engine import uncovered_people
from leakline.obligations.errors import FactsValidationError
from tests.obligations.helpers import facts

TAIL = (
    "; they count in data.subjects and the risk, but no law of where they live is assessed: check it yourself "
    "(`leakline regimes` lists the laws known)"
)
STATES = "US-CA, US-CO, US-FL, US-NY, US-TX, US-WA"


def _where(places: dict[str, int]) -> tuple[str, ...]:
    return uncovered_people(facts(**{"data.subjects_by_jurisdiction": places, "data.subjects": 100}))


def test_covered_places_give_no_warning() -> None:
    assert _where({"DE": 3, "NO": 1, "GB": 1, "CH": 1, "CA": 2, "CA-QC": 1, "CA-ON": 1, "US-CA": 2, "JP": 1}) == ()
    assert _where({"US": 2, "US-NY": 1, "US-TX": 1}) == ()  # everyone in the US is in a state given
    assert _where({"MX": 0}) == ()  # nobody there


def test_each_uncovered_place_is_named_with_its_people() -> None:
    assert _where({"DE": 10, "MX": 5, "US": 4, "US-CA": 1, "US-OH": 1}) == (
        "data.subjects_by_jurisdiction: MX (5 people): no regime leakline knows covers MX" + TAIL,
        "data.subjects_by_jurisdiction: US (2 people in no state given): US breach laws are state laws, "
        "following the state people live in; give the states" + TAIL,
        f"data.subjects_by_jurisdiction: US-OH (1 person): leakline knows the breach laws of {STATES} only" + TAIL,
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("XX", "'XX' is not an ISO 3166-1 alpha-2 country code (such as 'DE', 'FR', 'US'), got 'XX'"),
        ("ZZ-AB", "'ZZ' is not an ISO 3166-1 alpha-2 country code (such as 'DE', 'FR', 'US'), got 'ZZ-AB'"),
        ("US-ZZ", "'US-ZZ' is not a US state or territory (ISO 3166-2:US, such as 'US-CA', 'US-NY'), got 'US-ZZ'"),
    ],
)
def test_codes_of_no_country_are_refused_naming_the_key(code: str, message: str) -> None:
    with pytest.raises(FactsValidationError) as caught:
        facts(**{"data.subjects_by_jurisdiction": {code: 1}})
    assert str(caught.value) == f"test: data.subjects_by_jurisdiction.{code}.(key): {message}"
    with pytest.raises(FactsValidationError) as caught:
        facts(**{"controller.establishments": [code]})
    assert str(caught.value) == f"test: controller.establishments.0: {message}"
