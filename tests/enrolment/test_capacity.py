"""Seats are counted inside the lock from the statuses that hold one; a lock that cannot be had answers busy."""

from __future__ import annotations

import threading

import psycopg2
import psycopg2.errors
import pytest

from childcare.accounts.models import User
from childcare.db import db, read_only, unit_of_work
from childcare.enrolment import capacity, services
from childcare.enrolment.models import EnrolmentStatus
from childcare.errors import Busy
from tests.enrolment.factories import ChildFactory, DayProgrammeFactory, EnrolmentFactory
from tests.factories import ProgrammeFactory, UserFactory

S = EnrolmentStatus


@pytest.mark.usefixtures("app_ctx")
def test_pending_confirmed_and_offered_hold_seats_and_ended_or_waiting_do_not():
    camp = ProgrammeFactory(capacity=10)
    for status in S:
        EnrolmentFactory(programme=camp, status=status,
                         offer_expires_at=camp.registration_closes_at if status == S.OFFERED else None)
    capacity.lock_capacity(programme_id=camp.id)
    assert capacity.seats_held(camp.id) == 3
    assert capacity.seats_left(camp) == 7


@pytest.mark.usefixtures("app_ctx")
def test_a_session_has_the_programmes_seats_unless_it_has_its_own():
    camp = DayProgrammeFactory(capacity=4)
    first, second, _ = camp.sessions
    second.capacity = 1
    EnrolmentFactory(programme=camp, session=first)
    assert (capacity.capacity_of(camp), capacity.capacity_of(camp, first), capacity.capacity_of(camp, second)) == \
        (4, 4, 1)
    assert (capacity.seats_left(camp, first), capacity.seats_left(camp, second)) == (3, 1)
    assert capacity.seats_held(camp.id) == 0  # day bookings are not whole-programme seats


@pytest.mark.usefixtures("app_ctx")
def test_the_lock_answers_the_rows_reloaded_inside_it():
    camp = DayProgrammeFactory()
    ids = [s.id for s in reversed(camp.sessions)]
    assert [s.id for s in capacity.lock_capacity(session_ids=ids)] == sorted(ids)
    assert capacity.lock_capacity(programme_id=camp.id) == [camp]


@pytest.mark.usefixtures("app_ctx")
def test_a_read_only_transaction_takes_the_write_lock_before_counting(dialect):
    camp = ProgrammeFactory()
    with read_only():
        capacity.lock_capacity(programme_id=camp.id)  # on SQLite: a no-op write takes the lock now
        assert capacity.seats_left(camp) == camp.capacity


@pytest.mark.concurrency
@pytest.mark.usefixtures("app_ctx")
def test_a_seat_lock_held_too_long_answers_busy_not_an_error(app, dialect, monkeypatch):
    if dialect != "postgresql":
        pytest.skip("SQLite waits on BEGIN IMMEDIATE for its busy timeout (15 s); the same Busy path follows")
    monkeypatch.setitem(app.config, "LOCK_TIMEOUT_SECONDS", 1)
    camp = ProgrammeFactory()
    guardian = UserFactory()
    camp_id, guardian_id, child_id = camp.id, guardian.id, ChildFactory(guardian=guardian).id
    db.session.remove()
    locked, release = threading.Event(), threading.Event()

    def coordinator_holding_the_lock() -> None:
        with app.app_context(), unit_of_work():
            capacity.lock_capacity(programme_id=camp_id)
            locked.set()
            release.wait(10)
        with app.app_context():
            db.session.remove()

    holder = threading.Thread(target=coordinator_holding_the_lock)
    holder.start()
    try:
        assert locked.wait(10)
        with pytest.raises(Busy) as refused, unit_of_work():
            services.enrol(actor=db.session.get(User, guardian_id), programme_id=camp_id, child_ids=[child_id])
        assert (refused.value.status, refused.value.code) == (503, "busy")
    finally:
        release.set()
        holder.join()


def _locked_elsewhere(programme_id: int) -> bool:
    """Whether another connection finds the programme's row locked (it does not wait)."""
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    other = psycopg2.connect(url)
    other.autocommit = True
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT 1 FROM programmes WHERE id = %s FOR UPDATE NOWAIT", (programme_id,))
        return False
    except psycopg2.errors.LockNotAvailable:
        return True
    finally:
        other.close()


def _lock_and_recount(programme_id: int) -> None:
    capacity.lock_and_recount(programme_id, [None], priority=100, child_ids=[])


def _lock_capacity(programme_id: int) -> None:
    capacity.lock_capacity(programme_id=programme_id)


@pytest.mark.concurrency
@pytest.mark.usefixtures("app_ctx")
@pytest.mark.parametrize("take_lock", [_lock_and_recount, _lock_capacity])
def test_a_seat_lock_taken_first_in_a_transaction_holds_until_the_transaction_ends(dialect, take_lock):
    if dialect != "postgresql":
        pytest.skip("SQLite's lock is its one writer at a time, taken at BEGIN IMMEDIATE")
    camp_id = ProgrammeFactory().id
    db.session.remove()  # the lock is the next transaction's first statement, with the BEGIN it carries
    with unit_of_work():
        take_lock(camp_id)
        assert _locked_elsewhere(camp_id)
    assert not _locked_elsewhere(camp_id)
    with unit_of_work():
        take_lock(camp_id)
        assert _locked_elsewhere(camp_id)
        db.session.rollback()
        assert not _locked_elsewhere(camp_id)


@pytest.mark.usefixtures("app_ctx")
def test_a_sign_up_costs_the_same_few_statements_however_full_the_programme(count_queries, dialect):
    quiet, crowded = ProgrammeFactory(capacity=5), ProgrammeFactory(capacity=5)
    for number in range(30):
        EnrolmentFactory(programme=crowded, status=S.CONFIRMED if number < 5 else S.WAITLISTED)
    costs = []
    for camp in (quiet, crowded):
        guardian = UserFactory()
        child = ChildFactory(guardian=guardian)
        db.session.flush()
        camp_id, child_id, guardian_id = camp.id, child.id, guardian.id
        db.session.expunge_all()  # as in a request, the sign-up reads the programme and the children itself
        guardian = db.session.get(User, guardian_id)
        with count_queries() as statements:
            (enrolment,) = services.enrol(actor=guardian, programme_id=camp_id, child_ids=[child_id])
            db.session.commit()
        costs.append(statements())
    assert enrolment.status == S.WAITLISTED
    # PostgreSQL: the programme with the children, their guardians and live enrolments, then (lock, recount and ids
    # in one round trip, which runs below SQLAlchemy) one statement writing the enrolment, its audit entry, message
    # and outbox row, which goes out with the COMMIT. SQLite holds its write lock from the start and runs each of
    # these on its own.
    assert costs[0] == costs[1] == (2 if dialect == "postgresql" else 8), costs
