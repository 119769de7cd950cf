"""Deadline arithmetic: hours, calendar days in local time, business days across weekends and holidays, months."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.obligations import clock


def test_hours_are_exact_from_the_anchor_instant() -> None:
    anchor = datetime(2025, 3, 29, 23, 30, tzinfo=UTC)
    assert clock.add_hours(anchor, 72) == datetime(2025, 4, 1, 23, 30, tzinfo=UTC)


def test_days_end_at_local_midnight_of_the_last_day() -> None:
    # 2025-06-02 03:00 UTC is still 1 June in Los Angeles: day 1 of 30 is 2 June, the last day is 1 July.
    anchor = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)
    assert clock.add_days(anchor, 30, "America/Los_Angeles") == datetime(2025, 7, 2, 6, 59, 59, tzinfo=UTC)


def test_business_days_skip_the_weekend() -> None:
    friday = datetime(2025, 6, 6, 14, 0, tzinfo=UTC)
    due = clock.add_business_days(friday, 4, "US", "America/New_York", time(17, 30))
    assert due == datetime(2025, 6, 12, 21, 30, tzinfo=UTC)  # Thursday 17:30 EDT


def test_business_days_skip_us_federal_holidays() -> None:
    # Wednesday before Thanksgiving 2025: Thu 27 is a holiday; Fri 28, Mon 1, Tue 2, Wed 3.
    wednesday = datetime(2025, 11, 26, 15, 0, tzinfo=UTC)
    due = clock.add_business_days(wednesday, 4, "US", "America/New_York", time(17, 30))
    assert due == datetime(2025, 12, 3, 22, 30, tzinfo=UTC)  # 17:30 EST


def test_business_days_skip_brazilian_holidays_across_a_long_weekend() -> None:
    # Thursday 17 April 2025: Good Friday (18), weekend, Tiradentes (Mon 21); then 22, 23, 24.
    thursday = datetime(2025, 4, 17, 13, 0, tzinfo=UTC)
    due = clock.add_business_days(thursday, 3, "BR", "America/Sao_Paulo")
    assert due == datetime(2025, 4, 25, 2, 59, 59, tzinfo=UTC)  # 24 April 23:59:59 BRT


def test_black_awareness_day_is_a_brazilian_holiday_since_2024() -> None:
    assert not clock.is_business_day(date(2024, 11, 20), "BR")
    assert clock.is_business_day(date(2024, 11, 21), "BR")


def test_months_clamp_to_the_last_day_of_a_shorter_month() -> None:
    assert clock.add_months(datetime(2025, 1, 31, 10, tzinfo=UTC), 1) == datetime(2025, 2, 28, 10, tzinfo=UTC)
    assert clock.add_months(datetime(2024, 1, 31, 10, tzinfo=UTC), 1) == datetime(2024, 2, 29, 10, tzinfo=UTC)
    assert clock.add_months(datetime(2025, 12, 15, 10, tzinfo=UTC), 1) == datetime(2026, 1, 15, 10, tzinfo=UTC)


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)),
    days=st.integers(min_value=1, max_value=15),
    country=st.sampled_from(["US", "BR", "DE", "JP"]),
)
def test_business_day_deadline_lands_on_the_nth_business_day(start: datetime, days: int, country: str) -> None:
    due = clock.add_business_days(start, days, country, "UTC")
    last = due.date()
    assert clock.is_business_day(last, country)
    between = [start.date() + timedelta(days=i) for i in range(1, (last - start.date()).days + 1)]
    assert sum(clock.is_business_day(d, country) for d in between) == days
    assert due.time() == clock.END_OF_DAY
