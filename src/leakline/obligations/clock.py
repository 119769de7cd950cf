"""Deadline arithmetic: calendar hours, calendar days, business days with public holidays, months.

Hour deadlines run from the exact anchor instant ("72 hours from awareness"). Day-based deadlines follow
the usual legal counting: the day of the anchor is not counted, and the period ends at the end of the
last day in the jurisdiction's own time zone (or at a cut-off such as EDGAR's 17:30 Eastern time).
Business days skip Saturdays, Sundays and the public holidays of the jurisdiction from the `holidays`
package. Everything returns timezone-aware UTC datetimes. Holiday calendars are built once per
(country, year) because building one costs far more than an assessment.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

END_OF_DAY = time(23, 59, 59)
SATURDAY = 5
# A business-day count this large is a data error; the bound keeps a broken calendar from looping.
MAX_BUSINESS_DAYS = 366


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=256)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    calendar_ = holidays.country_holidays(country, subdiv=subdivision, years=year)
    return frozenset(calendar_.keys())


def is_business_day(day: date, country: str, subdivision: str | None = None) -> bool:
    return day.weekday() < SATURDAY and day not in _holiday_dates(country, subdivision, day.year)


def _at_local(day: date, at: time, tz: str) -> datetime:
    return datetime.combine(day, at, tzinfo=zone(tz)).astimezone(UTC)


def add_hours(anchor: datetime, hours: float) -> datetime:
    return (anchor + timedelta(hours=hours)).astimezone(UTC)


def add_days(anchor: datetime, days: int, tz: str, at: time = END_OF_DAY) -> datetime:
    """End (or cut-off time) of the `days`-th calendar day after the anchor's local date."""
    local_day = anchor.astimezone(zone(tz)).date()
    return _at_local(local_day + timedelta(days=days), at, tz)


def add_business_days(
    anchor: datetime, days: int, country: str, tz: str, at: time = END_OF_DAY, subdivision: str | None = None
) -> datetime:
    """End (or cut-off) of the `days`-th business day after the anchor's local date."""
    if not 0 < days <= MAX_BUSINESS_DAYS:
        raise ValueError(f"business-day count out of range: {days}")
    day = anchor.astimezone(zone(tz)).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_business_day(day, country, subdivision):
            counted += 1
    return _at_local(day, at, tz)


def add_months(anchor: datetime, months: int) -> datetime:
    """Same instant `months` calendar months later; the 31st becomes the month's last day."""
    month_index = anchor.month - 1 + months
    year, month = anchor.year + month_index // 12, month_index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day).astimezone(UTC)
