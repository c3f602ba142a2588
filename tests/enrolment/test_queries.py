"""What families and coordinators read: seats, waiting-list places, schedules, in bounded queries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from childcare.db import db
from childcare.enrolment import queries, services
from childcare.enrolment.models import EnrolmentStatus
from childcare.errors import NotFound
from tests.enrolment.factories import ChildFactory, DayProgrammeFactory, ProgrammeWithSessionsFactory
from tests.factories import CoordinatorFactory, ProgrammeFactory, UserFactory

pytestmark = pytest.mark.usefixtures("app_ctx")

S = EnrolmentStatus


def enrol_new_family(programme, **kwargs):
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian)
    return guardian, services.enrol(actor=guardian, programme_id=programme.id, child_ids=[child.id], **kwargs)


def test_waitlist_positions_stay_gap_free_after_cancellations():
    camp = ProgrammeFactory(capacity=1)
    enrol_new_family(camp)
    waiting = [enrol_new_family(camp) for _ in range(5)]
    guardian, (second,) = waiting[1]
    services.cancel(actor=guardian, enrolment_id=second.id)
    guardian, (fourth,) = waiting[3]
    services.cancel(actor=guardian, enrolment_id=fourth.id)
    positions = queries.waitlist_positions(programme_id=camp.id)
    assert positions == {waiting[0][1][0].id: 1, waiting[2][1][0].id: 2, waiting[4][1][0].id: 3}


def test_seat_summary_counts_every_programme_in_one_query(count_queries):
    full = ProgrammeFactory(capacity=1)
    empty = ProgrammeFactory(capacity=5)
    for _ in range(3):
        enrol_new_family(full)
    db.session.commit()  # count_queries opens (and closes) an app context of its own
    with count_queries() as n:
        summary = queries.seat_summary([full.id, empty.id])
    assert n() == 1
    assert summary[full.id] == queries.SeatSummary(capacity=1, held=1, seats_left=0, waitlist_length=2)
    assert summary[empty.id] == queries.SeatSummary(capacity=5, held=0, seats_left=5, waitlist_length=0)


def test_session_seat_summary_uses_the_programme_capacity_unless_the_session_has_its_own(count_queries):
    camp = DayProgrammeFactory(capacity=2)
    first, second, _ = camp.sessions
    second.capacity = 1
    enrol_new_family(camp, session_ids=[first.id, second.id])
    enrol_new_family(camp, session_ids=[second.id])
    db.session.commit()  # count_queries opens (and closes) an app context of its own
    with count_queries() as n:
        summary = queries.session_seat_summary([first.id, second.id])
    assert n() == 1
    assert summary[first.id] == queries.SeatSummary(2, 1, 1, 0)
    assert summary[second.id] == queries.SeatSummary(1, 1, 0, 1)


def test_a_guardian_sees_only_their_own_childrens_enrolments_in_a_bounded_number_of_queries(count_queries):
    camps = [ProgrammeWithSessionsFactory(starts_on=ProgrammeFactory().starts_on + timedelta(days=10 * i))
             for i in range(3)]
    guardian = UserFactory()
    kids = [ChildFactory(guardian=guardian) for _ in range(2)]
    for camp in camps:
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[k.id for k in kids])
    enrol_new_family(camps[0])
    db.session.commit()  # count_queries opens (and closes) an app context of its own
    with count_queries() as n:
        mine = queries.enrolments_of_guardian(guardian)
        titles = {(e.child.name, e.programme.title) for e in mine}
    assert n() <= 2
    assert len(mine) == len(titles) == 6


def test_the_schedule_lists_each_session_with_its_leave(count_queries):
    camp = ProgrammeWithSessionsFactory()
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian)
    services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id])
    first, second, third = camp.sessions
    (leave,) = services.request_leave(actor=guardian, child_id=child.id, session_ids=[second.id], reason="看牙")
    db.session.commit()  # count_queries opens (and closes) an app context of its own
    with count_queries() as n:
        schedule = queries.schedule_of_guardian(guardian, camp.starts_on, camp.ends_on)
    assert n() <= 3
    assert [(e.session.id, e.child.id, e.leave and e.leave.id) for e in schedule] == [
        (first.id, child.id, None), (second.id, child.id, leave.id), (third.id, child.id, None)]
    assert queries.schedule_of_guardian(UserFactory(), camp.starts_on, camp.ends_on) == []


def test_the_coordinator_list_shows_places_and_hides_other_communities():
    camp = ProgrammeFactory(capacity=1)
    enrol_new_family(camp)
    waiting = [enrol_new_family(camp)[1][0] for _ in range(2)]
    coordinator = CoordinatorFactory(community=camp.community)
    rows = queries.enrolments_for_manager(coordinator, camp.id)
    assert [(r.enrolment.status, r.position) for r in rows] == [(S.CONFIRMED, None), (S.WAITLISTED, 1),
                                                                 (S.WAITLISTED, 2)]
    assert [r.enrolment.id for r in rows[1:]] == [w.id for w in waiting]
    only_waiting = queries.enrolments_for_manager(coordinator, camp.id, statuses=["waitlisted"])
    assert [r.position for r in only_waiting] == [1, 2]
    with pytest.raises(NotFound):
        queries.enrolments_for_manager(CoordinatorFactory(), camp.id)
