"""Urgency colours of the text table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leakline.obligations import Obligation
from leakline.obligations.render import urgency_style

NOW = datetime(2025, 6, 2, 12, tzinfo=UTC)


def duty(*, required: bool = True, due_in: timedelta | None = None) -> Obligation:
    return Obligation(
        regime="gdpr-33",
        jurisdiction="DE",
        recipient="supervisory-authority",
        authority="x",
        required=required,
        why="",
        due_at=None if due_in is None else NOW + due_in,
        deadline="",
        basis="",
        content=(),
    )


@pytest.mark.parametrize(
    ("due_in", "style"),
    [
        (timedelta(minutes=-1), "bold red"),
        (timedelta(hours=24), "red"),
        (timedelta(hours=24, seconds=1), "yellow"),
        (timedelta(hours=72), "yellow"),
        (timedelta(hours=72, seconds=1), "green"),
        (None, "cyan"),
    ],
)
def test_urgency_colours(due_in: timedelta | None, style: str) -> None:
    assert urgency_style(duty(due_in=due_in), NOW) == style


def test_duties_that_do_not_arise_are_dimmed() -> None:
    assert urgency_style(duty(required=False, due_in=timedelta(hours=1)), NOW) == "dim"
