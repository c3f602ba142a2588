"""Volunteers' story: apply to a community, get approved, claim posts, serve, and collect hours."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from childcare.accounts.models import Role
from childcare.audit.models import AuditEntry
from childcare.db import db, utcnow
from childcare.errors import DomainError, NotFound
from childcare.notifications.models import Notification
from childcare.volunteers import queries, services
from childcare.volunteers.models import ApplicationStatus, HoursEntry, ShiftStatus, VolunteerApplication
from tests.enrolment.factories import ChildFactory
from tests.factories import CommunityFactory, CoordinatorFactory, ProgrammeFactory, UserFactory
from tests.volunteers.factories import (
    ApplicationFactory,
    ShiftFactory,
    enrol_children,
    session_at,
    volunteer_of,
)

pytestmark = pytest.mark.usefixtures("app_ctx")


def kinds_for(user) -> list[str]:
    return list(db.session.scalars(sa.select(Notification.kind).where(Notification.user_id == user.id)
                                   .order_by(Notification.id)))


# ---- applications -----------------------------------------------------------------------------------------------


def test_a_resident_applies_once_per_community_and_a_repeat_answers_the_same_application():
    community = CommunityFactory(name="杏北社区")
    coordinator = CoordinatorFactory(community=community)
    student = UserFactory(name="王同学")

    first = services.apply(actor=student, community_id=community.id, kind="student", organisation="山西大学",
                           skills="辅导作业", availability="暑假每天上午")
    again = services.apply(actor=student, community_id=community.id, kind="student")

    assert again.id == first.id and first.status == ApplicationStatus.PENDING
    assert db.session.scalar(sa.select(sa.func.count(VolunteerApplication.id))) == 1
    assert kinds_for(coordinator) == ["volunteer.application_received"]


def test_the_coordinator_approves_the_applicant_is_told_and_gets_the_volunteer_role():
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    application = ApplicationFactory(community=community)

    services.decide(actor=coordinator, application_id=application.id, approve=True, note="欢迎加入")

    assert application.status == ApplicationStatus.APPROVED and application.decided_by_id == coordinator.id
    assert application.user.has_role(Role.VOLUNTEER)
    assert kinds_for(application.user) == ["volunteer.approved"]
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.object_id == application.id,
                                                                AuditEntry.object_type == "volunteer_applications"))


def test_a_declined_applicant_is_told_with_the_note_and_may_apply_again_later():
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    application = ApplicationFactory(community=community)

    services.decide(actor=coordinator, application_id=application.id, approve=False, note="名额已满")
    again = services.apply(actor=application.user, community_id=community.id, kind="resident")

    assert application.status == ApplicationStatus.DECLINED and not application.user.has_role(Role.VOLUNTEER)
    assert again.id != application.id and again.status == ApplicationStatus.PENDING


def test_a_coordinator_of_another_community_cannot_decide():
    application = ApplicationFactory()
    stranger = CoordinatorFactory(community=CommunityFactory())

    with pytest.raises(NotFound):
        services.decide(actor=stranger, application_id=application.id, approve=True)


def test_approved_in_one_community_is_not_approved_in_another():
    community_a, community_b = CommunityFactory(), CommunityFactory()
    volunteer = volunteer_of(community_a)
    in_b = session_at(community=community_b)

    with pytest.raises(DomainError) as refused:
        services.claim(actor=volunteer, session_id=in_b.id)

    assert refused.value.code == "not_approved"
    assert services.claim(actor=volunteer, session_id=session_at(community=community_a).id).status == ShiftStatus.HELD


# ---- posts ------------------------------------------------------------------------------------------------------


def test_25_children_at_ten_to_one_with_a_minimum_of_one_need_three_posts():
    session = session_at(children_per_adult=10, min_volunteers=1, capacity=30)
    enrol_children(session.programme, 25)

    staffing = queries.staffing_of([session.id])[session.id]

    assert (staffing.enrolled, staffing.needed, staffing.open_posts) == (25, 3, 3)
    assert queries.posts_needed(enrolled=0, children_per_adult=10, min_volunteers=2) == 2
    assert queries.posts_needed(enrolled=20, children_per_adult=10, min_volunteers=1) == 2


def test_day_mode_counts_only_the_children_booked_into_that_session():
    from childcare.programmes.models import EnrolmentMode
    from tests.enrolment.factories import EnrolmentFactory

    first = session_at(mode=EnrolmentMode.DAY, children_per_adult=2, min_volunteers=0)
    second = session_at(first.starts_at + timedelta(days=1), programme=first.programme)
    for _ in range(3):
        EnrolmentFactory(programme=first.programme, session_id=first.id)

    staffing = queries.staffing_of([first.id, second.id])

    assert (staffing[first.id].needed, staffing[second.id].needed) == (2, 0)


def test_a_claim_when_every_post_is_taken_is_refused():
    session = session_at(min_volunteers=1)
    community = session.programme.community
    services.claim(actor=volunteer_of(community), session_id=session.id)

    with pytest.raises(DomainError) as refused:
        services.claim(actor=volunteer_of(community), session_id=session.id)

    assert refused.value.code == "no_open_post"


def test_claiming_twice_answers_the_same_post():
    session = session_at()
    volunteer = volunteer_of(session.programme.community)

    assert services.claim(actor=volunteer, session_id=session.id).id == \
        services.claim(actor=volunteer, session_id=session.id).id


def test_a_volunteer_cannot_hold_two_posts_at_the_same_time():
    first = session_at(min_volunteers=2)
    community = first.programme.community
    overlapping = session_at(first.starts_at + timedelta(hours=1), community=community, min_volunteers=2)
    later = session_at(first.ends_at, community=community)
    volunteer = volunteer_of(community)
    services.claim(actor=volunteer, session_id=first.id)

    with pytest.raises(DomainError) as refused:
        services.claim(actor=volunteer, session_id=overlapping.id)

    assert refused.value.code == "overlap"
    assert services.claim(actor=volunteer, session_id=later.id)  # back to back is fine


def test_claims_and_releases_close_at_the_cut_off(time_machine):
    session = session_at(utcnow() + timedelta(hours=10), claim_cutoff_hours=2, min_volunteers=2)
    community = session.programme.community
    early, late = volunteer_of(community), volunteer_of(community)
    shift = services.claim(actor=early, session_id=session.id)

    time_machine.move_to(session.starts_at - timedelta(hours=2, minutes=-1))
    with pytest.raises(DomainError) as claim_refused:
        services.claim(actor=late, session_id=session.id)
    with pytest.raises(DomainError) as release_refused:
        services.release(actor=early, shift_id=shift.id)

    assert claim_refused.value.code == release_refused.value.code == "claim_closed"


def test_a_claim_just_before_the_cut_off_is_taken(time_machine):
    session = session_at(utcnow() + timedelta(hours=10), claim_cutoff_hours=2)
    time_machine.move_to(session.starts_at - timedelta(hours=2, minutes=1))

    assert services.claim(actor=volunteer_of(session.programme.community), session_id=session.id)


def test_a_coordinator_assigns_after_the_cut_off_but_not_over_an_overlap(time_machine):
    session = session_at(utcnow() + timedelta(hours=1), claim_cutoff_hours=2)
    community = session.programme.community
    coordinator = CoordinatorFactory(community=community)
    volunteer = volunteer_of(community)

    shift = services.assign(actor=coordinator, session_id=session.id, volunteer_id=volunteer.id)
    other = session_at(session.starts_at, community=community)
    with pytest.raises(DomainError) as refused:
        services.assign(actor=coordinator, session_id=other.id, volunteer_id=volunteer.id)

    assert shift.assigned_by_id == coordinator.id and refused.value.code == "overlap"
    assert "volunteer.shift_assigned" in kinds_for(volunteer)


def test_a_coordinator_removes_a_post_and_the_volunteer_is_told():
    shift = ShiftFactory()
    coordinator = CoordinatorFactory(community=shift.session.programme.community)

    services.remove(actor=coordinator, shift_id=shift.id, reason="临时调整")

    assert shift.status == ShiftStatus.REMOVED
    assert kinds_for(shift.volunteer) == ["volunteer.shift_removed"]


def test_releasing_close_to_the_session_asks_only_free_approved_volunteers_to_cover():
    session = session_at(utcnow() + timedelta(hours=20), min_volunteers=2)
    community = session.programme.community
    leaving, free = volunteer_of(community, name="要走的"), volunteer_of(community, name="有空的")
    busy_elsewhere = volunteer_of(community)
    services.claim(actor=busy_elsewhere, session_id=session_at(session.starts_at, community=community).id)
    in_the_same_session = volunteer_of(community)
    services.claim(actor=in_the_same_session, session_id=session.id)
    pending = ApplicationFactory(community=community).user
    other_community = volunteer_of(CommunityFactory())
    shift = services.claim(actor=leaving, session_id=session.id)

    services.release(actor=leaving, shift_id=shift.id)

    asked = set(db.session.scalars(sa.select(Notification.user_id)
                                   .where(Notification.kind == "volunteer.cover_request")))
    assert asked == {free.id}
    assert {busy_elsewhere.id, in_the_same_session.id, pending.id, other_community.id, leaving.id}.isdisjoint(asked)


def test_releasing_well_before_the_session_sends_no_cover_request():
    session = session_at(utcnow() + timedelta(days=3))
    community = session.programme.community
    volunteer_of(community)
    shift = services.claim(actor=volunteer_of(community), session_id=session.id)

    services.release(actor=shift.volunteer, shift_id=shift.id)

    assert shift.status == ShiftStatus.RELEASED
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))
                             .where(Notification.kind == "volunteer.cover_request")) == 0


def test_a_volunteer_cannot_release_someone_elses_post():
    shift = ShiftFactory()

    with pytest.raises(NotFound):
        services.release(actor=volunteer_of(shift.session.programme.community), shift_id=shift.id)


# ---- hours ------------------------------------------------------------------------------------------------------


def test_checking_in_and_out_on_the_day_writes_one_ledger_line(time_machine):
    session = session_at(utcnow() + timedelta(hours=5))
    volunteer = volunteer_of(session.programme.community)
    shift = services.claim(actor=volunteer, session_id=session.id)

    time_machine.move_to(session.starts_at - timedelta(minutes=5))
    services.check_in(actor=volunteer, shift_id=shift.id)
    time_machine.move_to(session.starts_at + timedelta(hours=2, minutes=55))
    entry = services.check_out(actor=volunteer, shift_id=shift.id)
    again = services.check_out(actor=volunteer, shift_id=shift.id)

    assert entry.id == again.id and entry.minutes == 180 and entry.served_on == session.on_date
    assert db.session.scalar(sa.select(sa.func.count(HoursEntry.id))) == 1


def test_checking_in_on_another_day_is_refused():
    session = session_at(utcnow() + timedelta(days=3))
    volunteer = volunteer_of(session.programme.community)
    shift = services.claim(actor=volunteer, session_id=session.id)

    with pytest.raises(DomainError) as refused:
        services.check_in(actor=volunteer, shift_id=shift.id)

    assert refused.value.code == "not_today"


def test_a_coordinator_confirms_the_times_and_the_line_follows(time_machine):
    session = session_at(utcnow() - timedelta(hours=4))
    shift = ShiftFactory(session=session)
    coordinator = CoordinatorFactory(community=session.programme.community)

    entry = services.confirm_times(actor=coordinator, shift_id=shift.id, checked_in_at=session.starts_at,
                                   checked_out_at=session.starts_at + timedelta(minutes=150))
    again = services.confirm_times(actor=coordinator, shift_id=shift.id, checked_in_at=session.starts_at,
                                   checked_out_at=session.starts_at + timedelta(minutes=90))

    assert entry.id == again.id and again.minutes == 90 and shift.confirmed_by_id == coordinator.id


def test_a_correction_needs_a_reason_and_is_audited():
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    volunteer = volunteer_of(community)

    with pytest.raises(DomainError) as refused:
        services.correct_hours(actor=coordinator, volunteer_id=volunteer.id, community_id=community.id,
                               minutes=60, reason="  ")
    entry = services.correct_hours(actor=coordinator, volunteer_id=volunteer.id, community_id=community.id,
                                   minutes=60, reason="补录3月5日服务")

    assert refused.value.code == "reason_required" and refused.value.field == "reason"
    audit = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "volunteer.hours_corrected"))
    assert audit.reason == "补录3月5日服务" and audit.object_id == entry.id
    assert kinds_for(volunteer) == ["volunteer.hours_corrected"]


def test_a_negative_correction_may_not_take_the_total_below_zero():
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    volunteer = volunteer_of(community)
    services.correct_hours(actor=coordinator, volunteer_id=volunteer.id, community_id=community.id, minutes=60,
                           reason="补录")

    services.correct_hours(actor=coordinator, volunteer_id=volunteer.id, community_id=community.id, minutes=-30,
                           reason="多记了半小时")
    with pytest.raises(DomainError) as refused:
        services.correct_hours(actor=coordinator, volunteer_id=volunteer.id, community_id=community.id,
                               minutes=-31, reason="错误")

    assert refused.value.code == "negative_total"
    assert queries.community_total_minutes(volunteer.id, community.id) == 30


def test_totals_are_kept_per_community_and_overall():
    community_a, community_b = CommunityFactory(name="杏北社区"), CommunityFactory(name="水塔社区")
    volunteer = volunteer_of(community_a, community_b)
    for community, minutes in ((community_a, 120), (community_a, 90), (community_b, 60)):
        services.correct_hours(actor=CoordinatorFactory(community=community), volunteer_id=volunteer.id,
                               community_id=community.id, minutes=minutes, reason="补录")

    totals = queries.totals_of(queries.hours_lines(volunteer.id))

    assert {c.name: m for c, m in totals.by_community} == {"杏北社区": 210, "水塔社区": 60}
    assert totals.total_minutes == 270 and totals.total_hours == 4.5


# ---- pause enrolment when understaffed --------------------------------------------------------------------------


def test_an_understaffed_programme_that_asks_for_it_refuses_new_enrolments():
    from childcare.enrolment.services import enrol

    session = session_at(pause_enrolment_when_understaffed=True, min_volunteers=1, children_per_adult=10)
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian)

    with pytest.raises(DomainError) as refused:
        enrol(actor=guardian, programme_id=session.programme_id, child_ids=[child.id])
    services.claim(actor=volunteer_of(session.programme.community), session_id=session.id)
    (enrolment,) = enrol(actor=guardian, programme_id=session.programme_id, child_ids=[child.id])

    assert refused.value.code == "understaffed"
    assert enrolment.status.value == "confirmed"


def test_the_eleventh_child_waits_for_a_second_volunteer_at_ten_to_one():
    from childcare.enrolment.services import enrol

    session = session_at(pause_enrolment_when_understaffed=True, min_volunteers=1, children_per_adult=10,
                         capacity=20)
    services.claim(actor=volunteer_of(session.programme.community), session_id=session.id)
    enrol_children(session.programme, 10)
    guardian = UserFactory()

    with pytest.raises(DomainError) as refused:
        enrol(actor=guardian, programme_id=session.programme_id, child_ids=[ChildFactory(guardian=guardian).id])

    assert refused.value.code == "understaffed"


def test_programmes_that_do_not_ask_keep_taking_enrolments_without_volunteers():
    from childcare.enrolment.services import enrol

    session = session_at(min_volunteers=1)
    guardian = UserFactory()

    (enrolment,) = enrol(actor=guardian, programme_id=session.programme_id,
                         child_ids=[ChildFactory(guardian=guardian).id])

    assert enrolment.status.value == "confirmed"


# ---- the job ----------------------------------------------------------------------------------------------------


def test_coordinators_hear_once_about_a_session_tomorrow_that_still_needs_volunteers():
    session = session_at(utcnow() + timedelta(hours=20), min_volunteers=1)
    coordinator = CoordinatorFactory(community=session.programme.community)
    session_at(utcnow() + timedelta(days=5), community=session.programme.community)

    assert services.alert_understaffed() == 1
    assert services.alert_understaffed() == 0
    assert kinds_for(coordinator) == ["volunteer.understaffed"]


def test_programme_factory_sessions_start_in_the_future():
    # Guards the factories the other tests rely on.
    assert session_at().starts_at > utcnow() and ProgrammeFactory().children_per_adult == 10
