"""The audit log gets an incident's events as their transaction commits, never those of one that rolled back before
its COMMIT, and a record marking them when the COMMIT itself fails (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leakline.audit.errors import KeyFileError
from leakline.incidents import service
from leakline.incidents.models import Incident, Status, TimelineEntry
from leakline.incidents.runtime import Runtime
from leakline.incidents.timeline import note
from tests.incidents.helpers import audit_kinds
from tests.notify.helpers import T0, open_incident, runtime
from tests.notify.test_notices import leakline
from tests.store.helpers import Env


class Boom(Exception):
    """An error inside the unit of work, after the timeline noted a change."""


def _timeline(rt: Runtime, incident_id: str) -> list[str]:
    with rt.store.transaction() as session:
        return list(
            session.scalars(
                select(TimelineEntry.event).where(TimelineEntry.incident_id == incident_id).order_by(TimelineEntry.id)
            )
        )


def _move(rt: Runtime, session: Session, incident: str, to: Status) -> None:
    service.transition(session, recorder=rt.recorder, incident_id=incident, to=to, actor="test", now=T0)


def audit_records(env: Env, kind: str) -> list[dict[str, Any]]:
    """The audit records of one kind, decrypted, as `leakline audit export` gives them."""
    done = leakline("audit", "export", str(env.directory / "audit"), "--key", str(env.directory / "audit.key"),
                    "--kind", kind)  # fmt: skip
    return [json.loads(line) for line in done.stdout.splitlines()]


def _audited(env: Env, rt: Runtime) -> list[str]:
    rt.recorder.flush()  # whatever was appended is on disk now: a record of a rolled-back change would show
    return audit_kinds(env.directory / "audit")


def test_the_happy_path_writes_each_committed_event_once_in_order(env: Env) -> None:
    with runtime(env) as rt:
        incident = open_incident(rt)
        events = _timeline(rt, incident)
        assert events[:3] == ["opened", "facts.version", "assessed"]
        assert _audited(env, rt) == [f"incident.{e}" for e in events]
        with rt.store.transaction() as session:
            _move(rt, session, incident, Status.CONTAINED)
        assert _audited(env, rt) == [f"incident.{e}" for e in events] + ["incident.status"]


def _raise_after_flush(rt: Runtime, session: Session) -> None:
    session.flush()  # the change reached the database, in the transaction that now rolls back
    raise Boom


def _orphan_entry(rt: Runtime, session: Session) -> None:
    # A timeline entry of an incident that does not exist: its foreign key fails when it is written.
    note(session, recorder=rt.recorder, incident_id="INC-20261126-00000000", at=T0, actor="t", event="x", detail="-")


@pytest.mark.parametrize(
    ("fail", "error"),
    [(_raise_after_flush, Boom), (_orphan_entry, IntegrityError)],
    ids=["exception-in-unit-of-work", "constraint-violation-at-commit"],
)
def test_a_transaction_that_rolls_back_leaves_no_audit_record(
    env: Env, fail: Callable[[Runtime, Session], None], error: type[Exception]
) -> None:
    with runtime(env) as rt:
        incident = open_incident(rt)
        before = _audited(env, rt)
        with pytest.raises(error), rt.store.transaction() as session:
            _move(rt, session, incident, Status.CONTAINED)
            fail(rt, session)
        assert _audited(env, rt) == before
        assert _timeline(rt, incident).count("status") == 1  # detected → triaged when it was assessed
        with rt.store.transaction() as session:
            assert service.get_incident(session, incident_id=incident).status == Status.TRIAGED
        # The next transaction records its own events, and only those.
        with rt.store.transaction() as session:
            _move(rt, session, incident, Status.NOTIFYING)
        assert _audited(env, rt) == [*before, "incident.status"]


def test_a_savepoint_that_rolls_back_drops_only_its_own_events(env: Env) -> None:
    with runtime(env) as rt:
        incident = open_incident(rt)
        before = _audited(env, rt)
        with rt.store.transaction() as session:
            _move(rt, session, incident, Status.CONTAINED)
            with pytest.raises(Boom), session.begin_nested():
                note(session, recorder=rt.recorder, incident_id=incident, at=T0, actor="t", event="x", detail="-")
                raise Boom
            with session.begin_nested():
                note(session, recorder=rt.recorder, incident_id=incident, at=T0, actor="t", event="y", detail="-")
        assert _audited(env, rt) == [*before, "incident.status", "incident.y"]
        assert _timeline(rt, incident)[-2:] == ["status", "y"]


def test_an_audit_log_that_cannot_be_opened_still_rolls_the_change_back(env: Env) -> None:
    # The key file named in [audit] is missing: the records could not be written, so nothing is stored.
    env.config.write_text(
        env.config.read_text(encoding="utf-8").replace('key = "audit.key"', 'key = "missing.key"'), encoding="utf-8"
    )
    with runtime(env) as rt:
        with pytest.raises(KeyFileError) as refused:
            open_incident(rt, now=T0 - timedelta(seconds=1))
        assert refused.value.message == f"{env.directory / 'missing.key'}: no such key file"
        with rt.store.transaction() as session:
            assert session.scalars(select(Incident.id)).all() == []
    assert not (env.directory / "audit").exists()


class CommitFailed(Exception):
    """The database refused the COMMIT itself (a lost connection, a serialization failure)."""


def test_a_commit_that_fails_after_the_append_is_marked_rolled_back(env: Env) -> None:
    with runtime(env) as rt:
        incident = open_incident(rt)
        before = _audited(env, rt)

        def refuse(_connection: Connection) -> None:
            raise CommitFailed

        event.listen(rt.store.engine, "commit", refuse)
        try:
            with pytest.raises(CommitFailed), rt.store.transaction() as session:
                _move(rt, session, incident, Status.CONTAINED)
        finally:
            event.remove(rt.store.engine, "commit", refuse)
        with rt.store.transaction() as session:
            assert service.get_incident(session, incident_id=incident).status == Status.TRIAGED
        assert _audited(env, rt) == [*before, "incident.status", "incident.rolled_back"]
        [marked] = audit_records(env, "incident.rolled_back")
        [status] = audit_records(env, "incident.status")[-1:]
        assert marked["payload"]["events"] == ["status"]
        assert marked["payload"]["records"] == [status["seq"]]
        assert marked["payload"]["detail"] == (
            "the database transaction of these events rolled back after they were recorded"
        )


def test_an_event_the_log_cannot_take_rolls_the_change_back(env: Env) -> None:
    with runtime(env) as rt:
        incident = open_incident(rt)
        before = _audited(env, rt)

        def full(**_: object) -> int:
            raise OSError(28, "No space left on device")

        rt.recorder.router.append = full  # type: ignore[method-assign]
        with pytest.raises(OSError), rt.store.transaction() as session:
            _move(rt, session, incident, Status.CONTAINED)
        del rt.recorder.router.append
        with rt.store.transaction() as session:
            assert service.get_incident(session, incident_id=incident).status == Status.TRIAGED
        assert _audited(env, rt) == before
