"""A rush at 8 o'clock: many families press the button at once; seats are never overbooked nor given twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from childcare.accounts.models import User
from childcare.audit.models import AuditEntry
from childcare.children.models import Guardianship
from childcare.db import db, unit_of_work
from childcare.enrolment import services
from childcare.enrolment.models import SEAT_HOLDING, Enrolment, EnrolmentStatus
from childcare.enrolment.queries import waitlist_positions
from childcare.errors import Busy
from tests.enrolment.factories import ChildFactory, DayProgrammeFactory
from tests.factories import ProgrammeFactory, UserFactory

pytestmark = [pytest.mark.concurrency, pytest.mark.usefixtures("app_ctx")]

S = EnrolmentStatus


def at_once(app, work: Callable, jobs: list[tuple], retries: int = 20) -> tuple[list, list[BaseException]]:
    """Run work(*job) for every job in its own thread, app context and session, all released by one barrier.

    Each call runs in its own unit of work; a Busy answer is retried a few times, as a client would.
    """
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(index: int, job: tuple) -> None:
        with app.app_context():
            barrier.wait()
            try:
                for attempt in range(retries):
                    try:
                        with unit_of_work():
                            results[index] = work(*job)
                        return
                    except Busy:
                        time.sleep(0.02 * (attempt + 1))
                errors.append(RuntimeError("still busy after retries"))
            except BaseException as error:  # noqa: BLE001 - reported to the test
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def families(n: int) -> list[tuple[int, int]]:
    """n guardians with one child each, committed; answers (guardian id, child id) pairs."""
    pairs = []
    for _ in range(n):
        guardian = UserFactory()
        pairs.append((guardian.id, ChildFactory(guardian=guardian).id))
    return pairs


def enrol_one(programme_id: int, session_ids=None):
    def work(guardian_id: int, child_id: int) -> int:
        actor = db.session.get(User, guardian_id)
        (enrolment,) = services.enrol(actor=actor, programme_id=programme_id, child_ids=[child_id],
                                      session_ids=session_ids)
        return enrolment.id
    return work


def statuses(**where) -> dict[int, S]:
    query = sa.select(Enrolment.id, Enrolment.status).filter_by(**where)
    return dict(db.session.execute(query).all())


def test_fifty_guardians_ten_seats_exactly_ten_confirmed(app):
    camp = ProgrammeFactory(capacity=10)
    camp_id = camp.id
    pairs = families(50)
    db.session.remove()  # the threads must not wait behind this session

    ids, errors = at_once(app, enrol_one(camp_id), pairs)

    assert errors == []
    assert len(set(ids)) == 50
    result = statuses(programme_id=camp_id)
    assert sorted(result.values()).count(S.CONFIRMED) == 10
    assert list(result.values()).count(S.WAITLISTED) == 40
    positions = waitlist_positions(programme_id=camp_id)
    assert sorted(positions.values()) == list(range(1, 41))
    # The queue follows the order in which families got the lock: every confirmed child came before the waiting.
    rows = db.session.execute(sa.select(Enrolment.id, Enrolment.status, Enrolment.queued_at)
                              .where(Enrolment.programme_id == camp_id).order_by(Enrolment.queued_at, Enrolment.id))
    arrival = [(eid, status) for eid, status, _ in rows]
    assert [status for _, status in arrival] == [S.CONFIRMED] * 10 + [S.WAITLISTED] * 40
    assert [eid for eid, _ in arrival[10:]] == list(positions)


def test_ten_cancellations_at_once_promote_each_waiting_child_exactly_once(app):
    camp = ProgrammeFactory(capacity=10)
    camp_id = camp.id
    pairs = families(25)
    for guardian_id, child_id in pairs:
        with unit_of_work():
            enrol_one(camp_id)(guardian_id, child_id)
    seated = [(e.id, e.child.guardianships[0].user_id) for e in db.session.scalars(
        sa.select(Enrolment).where(Enrolment.status == S.CONFIRMED))]
    assert len(seated) == 10
    db.session.remove()

    def cancel(enrolment_id: int, guardian_id: int) -> None:
        services.cancel(actor=db.session.get(User, guardian_id), enrolment_id=enrolment_id, reason="临时有事")

    _, errors = at_once(app, cancel, [(eid, gid) for eid, gid in seated])

    assert errors == []
    result = statuses(programme_id=camp_id)
    assert list(result.values()).count(S.CANCELLED) == 10
    assert sum(1 for s in result.values() if s in SEAT_HOLDING) == 10  # never more than the capacity
    promoted = list(db.session.scalars(sa.select(AuditEntry.object_id)
                                       .where(AuditEntry.action == "enrolment.promoted")))
    assert len(promoted) == len(set(promoted)) == 10
    assert sorted(waitlist_positions(programme_id=camp_id).values()) == [1, 2, 3, 4, 5]


def test_thirty_bookings_of_one_session_with_five_seats_confirm_five(app):
    camp = DayProgrammeFactory(capacity=5)
    camp_id, session_id = camp.id, camp.sessions[0].id
    pairs = families(30)
    db.session.remove()

    _, errors = at_once(app, enrol_one(camp_id, session_ids=[session_id]), pairs)

    assert errors == []
    result = statuses(programme_id=camp_id, session_id=session_id)
    assert list(result.values()).count(S.CONFIRMED) == 5
    assert list(result.values()).count(S.WAITLISTED) == 25
    assert sorted(waitlist_positions(programme_id=camp_id, session_id=session_id).values()) == list(range(1, 26))


def test_the_same_child_enrolled_by_two_guardians_at_once_gets_one_enrolment(app):
    camp = ProgrammeFactory(capacity=3)
    camp_id = camp.id
    mother, father = UserFactory(), UserFactory()
    child = ChildFactory(guardian=mother)
    db.session.add(Guardianship(child_id=child.id, user_id=father.id))
    db.session.commit()
    jobs = [(mother.id, child.id), (father.id, child.id)] * 4
    db.session.remove()

    ids, errors = at_once(app, enrol_one(camp_id), jobs)

    assert errors == []
    assert len(set(ids)) == 1
    assert list(statuses(programme_id=camp_id).values()) == [S.CONFIRMED]
