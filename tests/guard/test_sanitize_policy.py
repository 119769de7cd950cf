"""The `[sanitize]` policy: validation with clear errors, per-detector actions, failing closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakline.config import load_settings
from leakline.guard.sanitize import Action, Policy, PolicyError, Sanitizer, SanitizerFailed, SanitizeSettings
from leakline.guard.sanitize.matchers import Candidate, NumberMatcher, Triggers

CANARY = "Zq7XbN2vLp9RtY4sKw8HdM3c"


def test_settings_section_is_read_from_leakline_toml(tmp_path: Path) -> None:
    (tmp_path / "prompt.txt").write_text("You are the shop assistant of Example GmbH.", encoding="utf-8")
    toml = tmp_path / "leakline.toml"
    toml.write_text(
        '[sanitize]\ncanaries = ["' + CANARY + '"]\nprotected_corpus = ["prompt.txt"]\n'
        'phone_regions = ["DE"]\n[sanitize.actions]\nemail = "block"\nip_address = "redact"\n',
        encoding="utf-8",
    )
    settings = load_settings(toml, required=True)
    policy = Policy.from_settings(settings.sanitize, base_dir=tmp_path)
    assert policy.actions["email"] is Action.BLOCK
    assert policy.actions["ip_address"] is Action.REDACT
    assert policy.actions["canary"] is Action.BLOCK
    assert policy.actions["phone"] is Action.REDACT
    assert policy.protected_documents == ("You are the shop assistant of Example GmbH.",)
    assert policy.phone_regions == ("DE",)


def test_unknown_detector_is_named() -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_settings(SanitizeSettings(actions={"emails": "redact"}))
    assert info.value.message == "sanitize.actions.emails: unknown detector"


def test_weak_canary_is_refused_without_echoing_it() -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_settings(SanitizeSettings(canaries=[CANARY, "abcdef0123456789"]))
    assert info.value.message.startswith("sanitize.canaries[1]: too short or too regular")
    assert "abcdef0123456789" not in info.value.diagnostics()


def test_unreadable_and_non_utf8_corpus_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_settings(SanitizeSettings(protected_corpus=["missing.txt"]), base_dir=tmp_path)
    assert info.value.message.startswith("sanitize.protected_corpus[0]: ")
    assert "missing.txt: cannot read" in info.value.message
    (tmp_path / "bad.txt").write_bytes(b"ok \xff bad")
    with pytest.raises(PolicyError) as info:
        Policy.from_settings(SanitizeSettings(protected_corpus=["bad.txt"]), base_dir=tmp_path)
    assert info.value.message.endswith("bad.txt: not valid UTF-8 at byte offset 3")


def test_unknown_phone_region() -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_settings(SanitizeSettings(phone_regions=["DE", "XX"]))
    assert info.value.message == "sanitize.phone_regions[1]: unknown region 'XX'"


def test_per_route_actions() -> None:
    policy = Policy().with_actions({"email": "alert"})
    result = Sanitizer(policy).sanitize("write to jane@example.com")
    assert result.text == "write to jane@example.com"
    assert [(h.detector, h.action) for h in result.hits] == [("email", Action.ALERT)]
    with pytest.raises(PolicyError):
        Policy().with_actions({"email": "shred"})


class _Exploding(NumberMatcher):
    def __init__(self) -> None:
        super().__init__(())

    def find(self, text: str, triggers: Triggers) -> list[Candidate]:
        raise RuntimeError("boom")


def test_a_failing_detector_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    sanitizer = Sanitizer(Policy())
    number = next(f.matcher for f in sanitizer.local_families if f.name == "number")
    monkeypatch.setattr(number, "find", _Exploding().find)  # the one matcher both whole texts and streams use
    with pytest.raises(SanitizerFailed) as info:
        sanitizer.sanitize("card 4111111111111111")
    assert info.value.detector == "number"
    assert "4111" not in info.value.diagnostics()
    stream = sanitizer.stream()
    with pytest.raises(SanitizerFailed):
        stream.feed("card 4111111111111111 " + "x" * 2000)


def test_one_sanitizer_serves_many_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    sanitizer = Sanitizer(Policy(canaries=(CANARY,)))
    texts = [f"order {i}: mail user{i}@example.com, card 4111 1111 1111 1111, ip 10.0.0.{i % 250}" * 20
             for i in range(40)]  # fmt: skip
    expected = [sanitizer.sanitize(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(sanitizer.sanitize, texts))
    assert got == expected
    assert expected[3].text.startswith("order 3: mail [REDACTED:EMAIL], card [REDACTED:PAYMENT_CARD], ip 10.0.0.3")
