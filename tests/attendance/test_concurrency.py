"""Two volunteers tap the same child at the same moment: one write wins, the other is told, nobody sees a 500."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from childcare.accounts.models import User
from childcare.attendance import services
from childcare.attendance.models import AttendanceEvent, AttendanceRecord, AttendanceState, EventKind
from childcare.db import db, unit_of_work
from childcare.errors import DomainError
from tests.attendance.factories import Classroom, PickupPersonFactory, ShiftFactory, VolunteerFactory

pytestmark = [pytest.mark.concurrency, pytest.mark.usefixtures("app_ctx")]

TAPS = 4


def at_once(app, work: Callable[[User], object], actor_ids: list[int]) -> tuple[int, list[str], list[BaseException]]:
    """Each actor runs work in its own thread and unit of work, released together; answers (wins, codes, crashes)."""
    barrier = threading.Barrier(len(actor_ids), timeout=30)
    wins: list[object] = []
    codes: list[str] = []
    crashes: list[BaseException] = []

    def run(actor_id: int) -> None:
        with app.app_context():
            try:
                # Nothing is read before the barrier: on SQLite the first read would take the write lock and hold
                # the others back before they reach it.
                barrier.wait()
                with unit_of_work():
                    wins.append(work(db.session.get(User, actor_id)))
            except DomainError as error:
                codes.append(error.code)
            except BaseException as error:  # noqa: BLE001 - reported to the test
                crashes.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(actor_id,)) for actor_id in actor_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return len(wins), codes, crashes


@pytest.fixture
def busy_door():
    """A session with four volunteers on duty and one child with a seat, all committed."""
    room = Classroom()
    volunteers = [room.volunteer.id]
    for _ in range(TAPS - 1):
        volunteer = VolunteerFactory()
        ShiftFactory(session_id=room.session.id, volunteer=volunteer)
        volunteers.append(volunteer.id)
    child = room.seat("同时")
    grandma = PickupPersonFactory(child=child, name="外婆")
    ids = {"session": room.session.id, "child": child.id, "grandma": grandma.id, "volunteers": volunteers}
    db.session.remove()
    return ids


def events(child_id: int, kind: EventKind) -> int:
    return db.session.scalar(sa.select(sa.func.count(AttendanceEvent.id)).where(AttendanceEvent.child_id == child_id,
                                                                                AttendanceEvent.kind == kind))


def test_four_volunteers_check_in_the_same_child_at_once_and_exactly_one_event_is_written(app, busy_door):
    wins, codes, crashes = at_once(app, lambda actor: services.check_in(
        actor=actor, session_id=busy_door["session"], child_id=busy_door["child"]), busy_door["volunteers"])
    assert crashes == []
    assert wins == 1 and len(codes) == TAPS - 1 and set(codes) <= {"conflict", "invalid_transition"}
    assert events(busy_door["child"], EventKind.CHECKED_IN) == 1
    record = db.session.scalars(sa.select(AttendanceRecord)).one()
    assert record.state in (AttendanceState.PRESENT, AttendanceState.LATE)


def test_four_volunteers_check_out_the_same_child_at_once_and_only_one_hand_over_counts(app, busy_door):
    with unit_of_work():
        services.check_in(actor=db.session.get(User, busy_door["volunteers"][0]), session_id=busy_door["session"],
                          child_id=busy_door["child"])
    db.session.remove()
    wins, codes, crashes = at_once(app, lambda actor: services.check_out(
        actor=actor, session_id=busy_door["session"], child_id=busy_door["child"], pickup_kind="pickup_person",
        pickup_person_id=busy_door["grandma"]), busy_door["volunteers"])
    assert crashes == []
    assert wins == 1 and set(codes) <= {"conflict", "invalid_transition"}
    assert events(busy_door["child"], EventKind.CHECKED_OUT) == 1
    record = db.session.scalars(sa.select(AttendanceRecord)).one()
    last = db.session.get(AttendanceEvent, record.last_event_id)
    assert record.state == last.new_state == AttendanceState.CHECKED_OUT
