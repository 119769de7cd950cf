"""Breach-notification obligations: which laws reach a leak, who must be told, by when, with what.

`assess(facts)` is the pure entry point used by `leakline assess` and by the incident workflow; the
rules live in one TOML data file per law under `regimes/`.
"""

from leakline.obligations.engine import Assessment, NotApplicable, Obligation, assess
from leakline.obligations.facts import Facts, decode_facts, load_facts, parse_facts

__all__ = [
    "Assessment",
    "Facts",
    "NotApplicable",
    "Obligation",
    "assess",
    "decode_facts",
    "load_facts",
    "parse_facts",
]
