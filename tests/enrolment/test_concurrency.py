"""A rush at 8 o'clock: many families press the button at once; seats are never overbooked nor given twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

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
from childcare.programmes.models import Programme, ProgrammeSession, Promotion
from tests.enrolment.factories import ChildFactory, DayProgrammeFactory
from tests.factories import CoordinatorFactory, ProgrammeFactory, UserFactory

pytestmark = [pytest.mark.concurrency, pytest.mark.usefixtures("app_ctx")]

S = EnrolmentStatus


def at_once(app, work: Callable, jobs: list[tuple], retries: int = 20,
            refusals: tuple[type[BaseException], ...] = ()) -> tuple[list, list[BaseException]]:
    """Run work(*job) for every job in its own thread, app context and session, all released by one barrier.

    Each call runs in its own unit of work; a Busy answer is retried a few times, as a client would. A refusal of
    one of the `refusals` kinds is an answer (it is the result, after its unit of work ended as it would at the
    boundary), not an error.
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
                    except refusals as refusal:
                        results[index] = refusal
                        return
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


# ---- one enrolment, two hands: offers, expiry, cancelling, removing, raising the capacity -------------------------

ROUNDS = 4  # each race runs a few times: one lucky interleaving must not hide a bug
ENDINGS = {"enrolment.cancelled", "enrolment.removed", "enrolment.declined", "enrolment.expired"}


def call(action: Callable, *args):
    """at_once's work when the threads do different things: each job names its own action."""
    return action(*args)


def race(app, jobs: list[tuple], turn: int, **options) -> tuple[list, list[BaseException]]:
    """at_once(call, jobs), the threads started in the opposite order on odd turns so that no side always gets the
    lock first; the answers come back in the order of the jobs."""
    order = list(range(len(jobs)))[::-1 if turn % 2 else 1]
    results, errors = at_once(app, call, [jobs[i] for i in order], **options)
    answers = [None] * len(jobs)
    for result, i in zip(results, order, strict=True):
        answers[i] = result
    return answers, errors


def accepting(guardian_id: int, enrolment_id: int) -> str:
    return services.accept_offer(actor=db.session.get(User, guardian_id), enrolment_id=enrolment_id).status.value


def declining(guardian_id: int, enrolment_id: int) -> str:
    return services.decline_offer(actor=db.session.get(User, guardian_id), enrolment_id=enrolment_id).status.value


def cancelling(guardian_id: int, enrolment_id: int) -> str:
    return services.cancel(actor=db.session.get(User, guardian_id), enrolment_id=enrolment_id,
                           reason="临时有事").status.value


def removing(coordinator_id: int, enrolment_id: int) -> str:
    return services.remove(actor=db.session.get(User, coordinator_id), enrolment_id=enrolment_id,
                           reason="重复报名").status.value


def raising(coordinator_id: int, programme_id: int, capacity: int, session_id: int | None = None) -> int:
    services.change_capacity(actor=db.session.get(User, coordinator_id), programme_id=programme_id,
                             capacity=capacity, session_id=session_id)
    return capacity


def expiry_job(now) -> int:
    return services.expire_offers(now=now)


def line_up(programme_id: int, pairs: list[tuple[int, int]]) -> list[int]:
    """The families enrol one after another (seats first, then the waiting list, in this order)."""
    ids = []
    for guardian_id, child_id in pairs:
        with unit_of_work():
            ids.append(enrol_one(programme_id)(guardian_id, child_id))
    return ids


def trail(programme_id: int) -> list[tuple[str, int]]:
    """(action, enrolment id) of every audit entry about the programme's enrolments, oldest first."""
    ids = sa.select(Enrolment.id).where(Enrolment.programme_id == programme_id)
    return [tuple(row) for row in db.session.execute(
        sa.select(AuditEntry.action, AuditEntry.object_id)
        .where(AuditEntry.object_type == "enrolments", AuditEntry.object_id.in_(ids)).order_by(AuditEntry.id))]


def entries(programme_id: int, action: str) -> list[int]:
    return [eid for done, eid in trail(programme_id) if done == action]


def held(programme_id: int) -> int:
    return sum(1 for status in statuses(programme_id=programme_id).values() if status in SEAT_HOLDING)


def offered_camp(waiting: int, *, second_guardian: bool = False) -> tuple[int, int, int, list[int]]:
    """A one-seat camp that offers freed seats for 24 hours: the seat was just given up and offered to the first
    waiting family. Answers the camp, the offered enrolment, its guardian, and the enrolments still waiting.

    With second_guardian, the offered child has a father too; his id is the guardian answered."""
    camp = ProgrammeFactory(capacity=1, promotion=Promotion.OFFER, offer_hours=24)
    camp_id = camp.id
    pairs = families(2 + waiting)
    (seat, offered, *still_waiting) = line_up(camp_id, pairs)
    guardian_id = pairs[1][0]
    if second_guardian:
        father = UserFactory()
        db.session.add(Guardianship(child_id=pairs[1][1], user_id=father.id))
        db.session.commit()
        guardian_id = father.id
    with unit_of_work():
        cancelling(pairs[0][0], seat)
    assert statuses(programme_id=camp_id)[offered] == S.OFFERED
    return camp_id, offered, guardian_id, still_waiting


@pytest.fixture
def travelling_clock(app, time_machine):
    """time_machine for races: afterwards the pool is emptied. The pool dates each connection by the clock, and the
    threads open connections in the travelled future, which a later invalidation of the pool (a dropped database)
    would take for newer than itself and keep."""
    yield time_machine
    with app.app_context():
        db.engine.dispose()


def test_an_offer_accepted_as_the_expiry_job_reaches_its_deadline_has_exactly_one_outcome(app, travelling_clock):
    start = datetime.now(UTC)
    for turn in range(ROUNDS):
        # Every round starts at the same moment, so the job never meets an offer an earlier round left open.
        travelling_clock.move_to(start)
        camp_id, offered, guardian_id, (next_family, *behind) = offered_camp(waiting=3)
        deadline = db.session.get(Enrolment, offered).offer_expires_at
        # The guardian presses "accept" in the offer's last half-minute; the job's tick lands on the deadline.
        travelling_clock.move_to(deadline - timedelta(seconds=30))
        db.session.remove()  # the threads must not wait behind this session

        (accepted, expired), errors = race(app, [(accepting, guardian_id, offered), (expiry_job, deadline)], turn,
                                           refusals=(services.OfferExpired,))

        assert errors == []
        result = statuses(programme_id=camp_id)
        if accepted == S.CONFIRMED.value:  # the guardian was first: the seat is theirs, nobody else hears of it
            assert expired == 0
            assert (result[offered], result[next_family]) == (S.CONFIRMED, S.WAITLISTED)
            assert entries(camp_id, "enrolment.offered") == [offered]
        else:  # the job was first: the offer is over and the next family is offered the seat, once
            assert isinstance(accepted, services.OfferExpired) and expired == 1
            assert (result[offered], result[next_family]) == (S.EXPIRED, S.OFFERED)
            assert entries(camp_id, "enrolment.offered") == [offered, next_family]
        assert entries(camp_id, "enrolment.expired") == ([] if expired == 0 else [offered])
        assert all(result[eid] == S.WAITLISTED for eid in behind)
        assert held(camp_id) == 1


def test_a_late_acceptance_and_the_expiry_job_pass_the_seat_on_exactly_once(app, travelling_clock):
    start = datetime.now(UTC)
    for turn in range(ROUNDS):
        travelling_clock.move_to(start)  # the job never meets an offer an earlier round left open
        camp_id, offered, guardian_id, (next_family, *behind) = offered_camp(waiting=3)
        deadline = db.session.get(Enrolment, offered).offer_expires_at
        travelling_clock.move_to(deadline + timedelta(minutes=1))  # both come too late: each would pass the seat on
        db.session.remove()

        (accepted, expired), errors = race(app, [(accepting, guardian_id, offered), (expiry_job, None)], turn,
                                           refusals=(services.OfferExpired,))

        assert errors == []
        assert isinstance(accepted, services.OfferExpired)
        assert expired in (0, 1)  # 0: the late click had already passed the seat on
        result = statuses(programme_id=camp_id)
        assert (result[offered], result[next_family]) == (S.EXPIRED, S.OFFERED)
        assert all(result[eid] == S.WAITLISTED for eid in behind)
        assert entries(camp_id, "enrolment.expired") == [offered]
        assert entries(camp_id, "enrolment.offered") == [offered, next_family]
        assert held(camp_id) == 1


def test_raising_the_capacity_while_families_cancel_gives_each_seat_to_a_distinct_waiting_child(app):
    for turn in range(ROUNDS):
        camp = ProgrammeFactory(capacity=4)
        camp_id, coordinator_id = camp.id, CoordinatorFactory(community=camp.community).id
        pairs = families(14)
        ids = line_up(camp_id, pairs)
        seated, waiting = list(zip(pairs[:4], ids[:4], strict=True)), ids[4:]
        db.session.remove()

        answers, errors = race(app, [(cancelling, guardian_id, eid) for (guardian_id, _), eid in seated]
                               + [(raising, coordinator_id, camp_id, 7)], turn)

        assert errors == []
        assert answers == [S.CANCELLED.value] * 4 + [7]
        assert db.session.get(Programme, camp_id).capacity == 7
        result = statuses(programme_id=camp_id)
        assert held(camp_id) == 7  # four seats freed and three added: all taken, none more
        promoted = entries(camp_id, "enrolment.promoted")
        assert sorted(promoted) == sorted(set(promoted)) == waiting[:7]  # the first seven in the queue, once each
        assert all(result[eid] == S.CONFIRMED for eid in waiting[:7])
        assert waitlist_positions(programme_id=camp_id) == {eid: place for place, eid in enumerate(waiting[7:], 1)}


def test_a_coordinator_removing_a_child_as_the_guardian_cancels_ends_it_once_and_promotes_once(app):
    for turn in range(ROUNDS):
        camp = ProgrammeFactory(capacity=3)
        camp_id, coordinator_id = camp.id, CoordinatorFactory(community=camp.community).id
        pairs = families(8)
        ids = line_up(camp_id, pairs)
        seated, waiting = list(zip(pairs[:3], ids[:3], strict=True)), ids[3:]
        db.session.remove()

        # Every seated child at once: its guardian cancels while the coordinator removes it.
        answers, errors = race(app, [job for (guardian_id, _), eid in seated
                                     for job in ((cancelling, guardian_id, eid), (removing, coordinator_id, eid))],
                               turn, refusals=(services.InvalidState,))

        assert errors == []
        result = statuses(programme_id=camp_id)
        done = trail(camp_id)
        for index, (_, eid) in enumerate(seated):
            cancelled, removed = answers[2 * index:2 * index + 2]
            winner = [answer for answer in (cancelled, removed) if isinstance(answer, str)]
            assert len(winner) == 1, (cancelled, removed)  # one of them ended it, the other was told it had ended
            assert result[eid] == S(winner[0]) and result[eid] in (S.CANCELLED, S.REMOVED)
            assert [action for action, oid in done if oid == eid and action in ENDINGS] == [f"enrolment.{winner[0]}"]
        promoted = entries(camp_id, "enrolment.promoted")
        assert sorted(promoted) == sorted(set(promoted)) == waiting[:3]
        assert held(camp_id) == 3
        assert sorted(waitlist_positions(programme_id=camp_id).values()) == [1, 2]


def other_parent(enrolment_id: int, guardian_id: int) -> int:
    """The child's other guardian."""
    return db.session.scalar(sa.select(Guardianship.user_id).where(
        Guardianship.child_id == db.session.get(Enrolment, enrolment_id).child_id, Guardianship.user_id != guardian_id))


def test_one_parent_accepting_an_offer_as_the_other_cancels_leaves_it_cancelled_and_offers_the_seat_once(app):
    for turn in range(ROUNDS):
        camp_id, offered, father_id, (next_family, *behind) = offered_camp(waiting=3, second_guardian=True)
        mother_id = other_parent(offered, father_id)
        db.session.remove()

        parents = [(accepting, mother_id, offered), (cancelling, father_id, offered)]
        (accepted, cancelled), errors = race(app, parents, turn, refusals=(services.InvalidState,))

        assert errors == []
        assert cancelled == S.CANCELLED.value  # an offer and a seat can both be cancelled: the father always wins
        assert accepted == S.CONFIRMED.value or isinstance(accepted, services.InvalidState)
        result = statuses(programme_id=camp_id)
        assert (result[offered], result[next_family]) == (S.CANCELLED, S.OFFERED)
        assert all(result[eid] == S.WAITLISTED for eid in behind)
        assert [action for action, eid in trail(camp_id) if eid == offered and action in ENDINGS] == [
            "enrolment.cancelled"]
        assert entries(camp_id, "enrolment.offered") == [offered, next_family]
        assert held(camp_id) == 1


def test_one_parent_accepting_an_offer_as_the_other_declines_it_has_one_outcome(app):
    for turn in range(ROUNDS):
        camp_id, offered, father_id, (next_family, *behind) = offered_camp(waiting=3, second_guardian=True)
        mother_id = other_parent(offered, father_id)
        db.session.remove()

        parents = [(accepting, mother_id, offered), (declining, father_id, offered)]
        (accepted, declined), errors = race(app, parents, turn, refusals=(services.InvalidState,))

        assert errors == []
        winners = [answer for answer in (accepted, declined) if isinstance(answer, str)]
        assert len(winners) == 1, (accepted, declined)  # the other parent is told the offer is no longer open
        result = statuses(programme_id=camp_id)
        if winners == [S.CONFIRMED.value]:
            assert (result[offered], result[next_family]) == (S.CONFIRMED, S.WAITLISTED)
            assert entries(camp_id, "enrolment.offered") == [offered]
        else:
            assert winners == [S.DECLINED.value]
            assert (result[offered], result[next_family]) == (S.DECLINED, S.OFFERED)
            assert entries(camp_id, "enrolment.offered") == [offered, next_family]
        assert all(result[eid] == S.WAITLISTED for eid in behind)
        assert held(camp_id) == 1


def test_raising_one_days_seats_while_families_cancel_that_day_promotes_each_waiting_child_once(app):
    for turn in range(ROUNDS):
        camp = DayProgrammeFactory(capacity=3)
        camp_id, day_id = camp.id, camp.sessions[0].id
        coordinator_id = CoordinatorFactory(community=camp.community).id
        pairs = families(10)
        ids = []
        for guardian_id, child_id in pairs:
            with unit_of_work():
                ids.append(enrol_one(camp_id, session_ids=[day_id])(guardian_id, child_id))
        seated, waiting = list(zip(pairs[:3], ids[:3], strict=True)), ids[3:]
        db.session.remove()

        answers, errors = race(app, [(cancelling, guardian_id, eid) for (guardian_id, _), eid in seated]
                               + [(raising, coordinator_id, camp_id, 5, day_id)], turn)

        assert errors == []
        assert answers == [S.CANCELLED.value] * 3 + [5]
        assert db.session.get(ProgrammeSession, day_id).capacity == 5
        result = statuses(programme_id=camp_id, session_id=day_id)
        assert sum(1 for status in result.values() if status in SEAT_HOLDING) == 5
        promoted = entries(camp_id, "enrolment.promoted")
        assert sorted(promoted) == sorted(set(promoted)) == waiting[:5]
        assert sorted(waitlist_positions(programme_id=camp_id, session_id=day_id).values()) == [1, 2]
