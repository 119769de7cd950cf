"""Properties of the pure parts of delivery: the backoff schedule and the webhook signature."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.notify.channels import sign
from leakline.notify.outbox import backoff

attempts = st.integers(min_value=1, max_value=60)
seconds = st.floats(min_value=0.5, max_value=600, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(attempt=attempts, base=seconds, cap_factor=st.floats(min_value=1, max_value=1000, allow_nan=False))
def test_backoff_doubles_from_base_until_the_cap(attempt: int, base: float, cap_factor: float) -> None:
    cap = base * cap_factor
    delay = backoff(attempt, base_seconds=base, max_seconds=cap)
    following = backoff(attempt + 1, base_seconds=base, max_seconds=cap)
    assert backoff(1, base_seconds=base, max_seconds=cap) == timedelta(seconds=base)
    assert timedelta(seconds=base) <= delay <= timedelta(seconds=cap)
    # timedelta keeps microseconds: doubling a rounded delay may differ from the rounded double by 1 µs
    assert abs(following - min(delay * 2, timedelta(seconds=cap))) <= timedelta(microseconds=1)


@settings(max_examples=200, deadline=None)
@given(
    secret=st.binary(min_size=1, max_size=64), timestamp=st.integers(0, 2**40).map(str), body=st.binary(max_size=512)
)
def test_signature_is_hmac_sha256_over_timestamp_dot_body(secret: bytes, timestamp: str, body: bytes) -> None:
    signature = sign(secret, timestamp, body)
    expected = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert sign(secret, timestamp, body + b"x") != signature
    assert sign(secret, str(int(timestamp) + 1), body) != signature
