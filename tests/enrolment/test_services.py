"""Families enrol children, wait, get offers, cancel; coordinators remove, approve and change seats."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from childcare.accounts.models import User
from childcare.audit.models import AuditEntry
from childcare.children.models import Guardianship
from childcare.db import db, run_prepared
from childcare.enrolment import services
from childcare.enrolment.models import Enrolment, EnrolmentStatus
from childcare.enrolment.queries import waitlist_positions
from childcare.errors import InvalidInput, NotFound
from childcare.notifications.models import Notification
from childcare.programmes.models import ProgrammeSession, Promotion
from tests.enrolment.factories import (
    ChildFactory,
    DayProgrammeFactory,
    PriorityGroupFactory,
    ProgrammeWithSessionsFactory,
)
from tests.factories import CoordinatorFactory, ProgrammeFactory, UserFactory

pytestmark = pytest.mark.usefixtures("app_ctx", "in_english")

S = EnrolmentStatus


@pytest.fixture
def in_english(app_ctx):
    """Messages are read in English here, whatever the zh_CN catalogue says."""
    with force_locale("en"):
        yield


@contextlib.contextmanager
def refuses(error_type, text):
    """The service refuses with this error, and its message (in English) says why."""
    with pytest.raises(error_type) as refused:
        yield refused
    assert text in refused.value.detail, refused.value.detail


def family(programme=None):
    """A guardian with one child, enrolled in the programme when one is given."""
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian)
    enrolment = None
    if programme is not None:
        (enrolment,) = services.enrol(actor=guardian, programme_id=programme.id, child_ids=[child.id])
    return guardian, child, enrolment


def kinds_for(user) -> list[str]:
    return list(db.session.scalars(sa.select(Notification.kind).where(Notification.user_id == user.id)
                                   .order_by(Notification.id)))


# ---- first come, first served -----------------------------------------------------------------------------------


def test_first_come_confirms_while_seats_remain_then_waitlists():
    camp = ProgrammeFactory(capacity=2)
    firsts = [family(camp)[2] for _ in range(2)]
    guardian, _, late = family(camp)
    assert [e.status for e in firsts] == [S.CONFIRMED, S.CONFIRMED]
    assert late.status == S.WAITLISTED
    assert waitlist_positions(programme_id=camp.id) == {late.id: 1}
    assert kinds_for(guardian) == ["enrolment.waitlisted"]


def test_a_programme_that_needs_approval_holds_the_seat_as_pending_until_approved():
    camp = ProgrammeFactory(capacity=1, needs_approval=True)
    coordinator = CoordinatorFactory(community=camp.community)
    guardian, _, enrolment = family(camp)
    assert enrolment.status == S.PENDING
    assert family(camp)[2].status == S.WAITLISTED  # the pending child holds the only seat
    services.approve(actor=coordinator, enrolment_id=enrolment.id)
    assert enrolment.status == S.CONFIRMED
    assert kinds_for(guardian) == ["enrolment.pending", "enrolment.approved"]


def test_every_guardian_of_the_child_is_told_and_the_change_is_audited():
    camp = ProgrammeFactory()
    mother, father = UserFactory(), UserFactory()
    child = ChildFactory(guardian=mother)
    db.session.add(Guardianship(child_id=child.id, user_id=father.id, relation="爸爸"))
    (enrolment,) = services.enrol(actor=father, programme_id=camp.id, child_ids=[child.id])
    assert kinds_for(mother) == kinds_for(father) == ["enrolment.confirmed"]
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_id == enrolment.id))
    assert (entry.action, entry.actor_id, entry.community_id) == ("enrolment.confirmed", father.id, camp.community_id)


def test_a_child_with_two_guardians_and_other_classes_is_seen_whole_and_each_guardian_told_once():
    mother, father = UserFactory(), UserFactory()
    child = ChildFactory(guardian=mother)
    db.session.add(Guardianship(child_id=child.id, user_id=father.id, relation="爸爸"))
    morning = ProgrammeWithSessionsFactory(title="思维数学")
    afternoon = ProgrammeWithSessionsFactory(starts_on=morning.starts_on, start_time=morning.end_time,
                                             end_time=morning.end_time.replace(hour=15))
    services.enrol(actor=mother, programme_id=morning.id, child_ids=[child.id])
    (seat,) = services.enrol(actor=father, programme_id=afternoon.id, child_ids=[child.id])
    assert services.enrol(actor=mother, programme_id=afternoon.id, child_ids=[child.id]) == [seat]  # a repeat
    assert kinds_for(mother) == kinds_for(father) == ["enrolment.confirmed", "enrolment.confirmed"]
    same_hours = ProgrammeWithSessionsFactory(starts_on=morning.starts_on)
    with refuses(services.Overlap, "思维数学"):
        services.enrol(actor=father, programme_id=same_hours.id, child_ids=[child.id])


def test_a_sign_up_leaves_the_childs_medical_record_where_it_is():
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian, allergies="花生", medical_notes="哮喘", special_needs="助听器",
                         emergency_contact_phone="+8613800000000")
    camp_id, child_id, guardian_id = ProgrammeFactory().id, child.id, guardian.id
    db.session.expunge_all()  # as in a request: the sign-up reads the child itself
    (seat,) = services.enrol(actor=db.session.get(User, guardian_id), programme_id=camp_id, child_ids=[child_id])
    assert seat.status == S.CONFIRMED
    unread = sa.inspect(seat.child).unloaded
    assert {"allergies", "medical_notes", "special_needs", "emergency_contact_phone"} <= unread
    assert seat.child.medical_notes == "哮喘"  # read when something asks for it


# ---- who may enrol ------------------------------------------------------------------------------------------------


def test_someone_elses_child_cannot_be_enrolled():
    camp = ProgrammeFactory()
    stranger = UserFactory()
    child = ChildFactory()
    with pytest.raises(NotFound):
        services.enrol(actor=stranger, programme_id=camp.id, child_ids=[child.id])


def test_an_unpublished_programme_cannot_be_enrolled_in():
    camp = ProgrammeFactory(published=False)
    guardian, child, _ = family()
    with pytest.raises(NotFound):
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id])


def test_registration_that_has_not_opened_is_refused():
    camp = ProgrammeFactory(registration_opens_at=datetime.now(UTC) + timedelta(days=1))
    guardian, child, _ = family()
    with pytest.raises(services.RegistrationClosed) as refused:
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id])
    assert refused.value.code == "registration_closed"
    assert "opens" in refused.value.detail


def test_registration_that_has_closed_is_refused():
    camp = ProgrammeFactory(registration_closes_at=datetime.now(UTC) - timedelta(minutes=1))
    guardian, child, _ = family()
    with pytest.raises(services.RegistrationClosed):
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id])


def test_registration_opens_at_its_moment_and_closes_at_its_own():
    opens, closes = datetime(2026, 7, 1, 12, 0, tzinfo=UTC), datetime(2026, 7, 10, 12, 0, tzinfo=UTC)
    camp = ProgrammeFactory(registration_opens_at=opens, registration_closes_at=closes,
                            starts_on=date(2026, 7, 20), ends_on=date(2026, 7, 31))
    moment = timedelta(microseconds=1)
    assert services.registration_at(camp, opens - moment) is services.Registration.NOT_YET
    assert services.registration_at(camp, opens) is services.Registration.OPEN
    assert services.registration_at(camp, closes - moment) is services.Registration.OPEN
    assert services.registration_at(camp, closes) is services.Registration.CLOSED
    camp.registration_closes_at = None
    assert services.registration_at(camp, datetime(2026, 8, 1, 12, 0, tzinfo=UTC)) is services.Registration.ENDED


def test_age_is_taken_on_the_first_day():
    camp = ProgrammeFactory(min_age=6, max_age=8)
    first_day = camp.starts_on
    guardian = UserFactory()
    turns_six_on_first_day = ChildFactory(guardian=guardian, birth_date=first_day.replace(year=first_day.year - 6))
    turns_six_a_day_late = ChildFactory(guardian=guardian,
                                        birth_date=first_day.replace(year=first_day.year - 6) + timedelta(days=1))
    turned_nine = ChildFactory(guardian=guardian, birth_date=first_day.replace(year=first_day.year - 9))
    assert services.enrol(actor=guardian, programme_id=camp.id, child_ids=[turns_six_on_first_day.id])
    with refuses(services.OutOfAgeRange, "too young"):
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[turns_six_a_day_late.id])
    with refuses(services.OutOfAgeRange, "too old") as refused:
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[turned_nine.id])
    assert (refused.value.code, refused.value.field) == ("out_of_age_range", "child_ids")


def test_a_missing_birth_date_is_asked_for_when_the_programme_has_an_age_range():
    camp = ProgrammeFactory(min_age=6)
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian, birth_date=None)
    with refuses(services.OutOfAgeRange, "date of birth"):
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id])


def test_a_grade_outside_the_range_is_refused():
    camp = ProgrammeFactory(min_grade=1, max_grade=3)
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian, grade=5)
    with refuses(services.OutOfAgeRange, "grade"):
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id])


def test_a_child_cannot_be_in_two_programmes_at_the_same_time():
    morning = ProgrammeWithSessionsFactory(title="思维数学")
    same_hours = ProgrammeWithSessionsFactory(starts_on=morning.starts_on + timedelta(days=1))
    afternoon = ProgrammeWithSessionsFactory(starts_on=morning.starts_on, start_time=morning.end_time,
                                             end_time=morning.end_time.replace(hour=15))
    guardian, child, _ = family()
    services.enrol(actor=guardian, programme_id=morning.id, child_ids=[child.id])
    with refuses(services.Overlap, "思维数学") as refused:
        services.enrol(actor=guardian, programme_id=same_hours.id, child_ids=[child.id])
    assert refused.value.code == "overlap"
    assert services.enrol(actor=guardian, programme_id=afternoon.id, child_ids=[child.id])[0].status == S.CONFIRMED


def test_a_day_booked_session_and_a_whole_programme_at_the_same_hours_exclude_each_other(count_queries):
    days = DayProgrammeFactory(title="周末书法")
    first, second, _third = days.sessions
    camp = ProgrammeWithSessionsFactory(title="思维数学", starts_on=second.on_date, ends_on=second.on_date)
    guardian, child, _ = family()
    services.enrol(actor=guardian, programme_id=days.id, child_ids=[child.id], session_ids=[first.id])
    assert services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id])  # another day: no clash
    db.session.commit()
    with count_queries() as statements, refuses(services.Overlap, "思维数学"):
        services.enrol(actor=guardian, programme_id=days.id, child_ids=[child.id], session_ids=[second.id])
    assert statements() == 2  # the programme with the children and what they overlap, the sessions chosen
    sibling = ChildFactory(guardian=guardian)
    services.enrol(actor=guardian, programme_id=days.id, child_ids=[sibling.id], session_ids=[second.id])
    with refuses(services.Overlap, "周末书法"):
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[sibling.id])


def test_a_child_who_attends_something_else_is_read_once_however_many_days_are_booked(count_queries, dialect):
    """The usual case in a rush: the child already goes to a club, a booking for each of its days. The sign-up reads
    the child in one row (not one per booking, each with every column of the programme), and still checks overlap."""
    club = DayProgrammeFactory(title="周末书法", ends_on=date.today() + timedelta(days=39))
    camp = ProgrammeWithSessionsFactory(title="思维数学", starts_on=club.ends_on + timedelta(days=1))
    same_hours = ProgrammeWithSessionsFactory(starts_on=club.starts_on)
    guardian, child, _ = family()
    booked = services.enrol(actor=guardian, programme_id=club.id, child_ids=[child.id],
                            session_ids=[s.id for s in club.sessions])
    assert len(booked) == 10
    db.session.commit()
    rows = run_prepared(services._PROGRAMME_AND_CHILDREN,
                        {"programme_id": camp.id, "actor_id": guardian.id, "child_ids": [child.id],
                         "session_ids": []})
    assert len(rows) == 1
    with count_queries() as statements:
        (enrolment,) = services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id])
        db.session.commit()
    assert enrolment.status == S.CONFIRMED
    if dialect == "postgresql":
        assert statements() == 2  # the programme with the children and what they overlap, the write (with the commit)
    with refuses(services.Overlap, "周末书法"):
        services.enrol(actor=guardian, programme_id=same_hours.id, child_ids=[child.id])


def test_an_ended_enrolment_does_not_overlap():
    morning = ProgrammeWithSessionsFactory()
    same_hours = ProgrammeWithSessionsFactory(starts_on=morning.starts_on)
    guardian, child, _ = family()
    (first,) = services.enrol(actor=guardian, programme_id=morning.id, child_ids=[child.id])
    services.cancel(actor=guardian, enrolment_id=first.id)
    assert services.enrol(actor=guardian, programme_id=same_hours.id, child_ids=[child.id])


# ---- idempotency -------------------------------------------------------------------------------------------------


def test_enrolling_twice_answers_the_same_enrolment():
    camp = ProgrammeFactory()
    guardian, child, first = family(camp)
    (again,) = services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id])
    assert again.id == first.id
    assert db.session.scalar(sa.select(sa.func.count(Enrolment.id)).where(Enrolment.child_id == child.id)) == 1


def test_the_database_allows_one_live_enrolment_per_child_and_programme():
    camp = ProgrammeFactory()
    _, child, _ = family(camp)
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.add(Enrolment(programme_id=camp.id, child_id=child.id, status=S.WAITLISTED))


def test_a_child_whose_enrolment_ended_may_enrol_again_as_a_new_enrolment():
    camp = ProgrammeFactory()
    guardian, child, first = family(camp)
    services.cancel(actor=guardian, enrolment_id=first.id)
    (second,) = services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id])
    assert second.id != first.id and (first.status, second.status) == (S.CANCELLED, S.CONFIRMED)


# ---- siblings ----------------------------------------------------------------------------------------------------


def siblings(n=2):
    guardian = UserFactory()
    return guardian, [ChildFactory(guardian=guardian) for _ in range(n)]


def test_siblings_all_or_none_with_one_seat_left_are_waitlisted_together():
    camp = ProgrammeFactory(capacity=2)
    family(camp)
    guardian, kids = siblings()
    result = services.enrol(actor=guardian, programme_id=camp.id, child_ids=[k.id for k in kids], all_or_none=True)
    assert [e.status for e in result] == [S.WAITLISTED, S.WAITLISTED]
    assert sorted(waitlist_positions(programme_id=camp.id).values()) == [1, 2]


def test_siblings_all_or_none_with_two_seats_left_are_confirmed_together():
    camp = ProgrammeFactory(capacity=2)
    guardian, kids = siblings()
    result = services.enrol(actor=guardian, programme_id=camp.id, child_ids=[k.id for k in kids], all_or_none=True)
    assert [e.status for e in result] == [S.CONFIRMED, S.CONFIRMED]


def test_siblings_without_all_or_none_take_the_seats_there_are():
    camp = ProgrammeFactory(capacity=1)
    guardian, kids = siblings()
    result = services.enrol(actor=guardian, programme_id=camp.id, child_ids=[k.id for k in kids])
    assert [e.status for e in result] == [S.CONFIRMED, S.WAITLISTED]


# ---- day mode ----------------------------------------------------------------------------------------------------


def test_day_mode_books_each_chosen_session_with_its_own_seats():
    camp = DayProgrammeFactory(capacity=1)
    first, second, third = camp.sessions
    db.session.execute(sa.update(ProgrammeSession).where(ProgrammeSession.id == second.id)
                       .values(capacity=0))
    guardian, child, _ = family()
    booked = services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id],
                            session_ids=[first.id, second.id])
    assert [(e.session_id, e.status) for e in booked] == [(first.id, S.CONFIRMED), (second.id, S.WAITLISTED)]


def test_day_mode_needs_sessions_of_this_programme_that_are_not_cancelled():
    camp = DayProgrammeFactory()
    other = DayProgrammeFactory()
    guardian, child, _ = family()
    with pytest.raises(InvalidInput):
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id])
    with pytest.raises(InvalidInput):
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id], session_ids=[other.sessions[0].id])
    camp.sessions[0].cancelled = True
    with refuses(services.SessionUnavailable, "cancelled"):
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id], session_ids=[camp.sessions[0].id])


# ---- promotion on every path that frees a seat ------------------------------------------------------------------


@pytest.fixture
def full_camp():
    """One seat, taken; two families waiting."""
    camp = ProgrammeFactory(capacity=1)
    seated = family(camp)
    first_waiting = family(camp)
    second_waiting = family(camp)
    return camp, seated, first_waiting, second_waiting


def test_a_cancellation_promotes_the_first_on_the_waiting_list(full_camp):
    camp, (guardian, _, seat), (waiting_guardian, _, first), (_, _, second) = full_camp
    services.cancel(actor=guardian, enrolment_id=seat.id, reason="孩子生病")
    assert (seat.status, first.status, second.status) == (S.CANCELLED, S.CONFIRMED, S.WAITLISTED)
    assert seat.end_reason == "孩子生病"
    assert kinds_for(waiting_guardian) == ["enrolment.waitlisted", "enrolment.promoted"]
    assert waitlist_positions(programme_id=camp.id) == {second.id: 1}


def test_cancelling_a_waitlisted_enrolment_promotes_nobody(full_camp):
    _, (_, _, seat), (guardian, _, first), (_, _, second) = full_camp
    services.cancel(actor=guardian, enrolment_id=first.id)
    assert (seat.status, second.status) == (S.CONFIRMED, S.WAITLISTED)


def test_only_the_childs_guardian_or_the_coordinator_may_cancel(full_camp):
    camp, (_, _, seat), (other_guardian, _, _), _ = full_camp
    with pytest.raises(NotFound):
        services.cancel(actor=other_guardian, enrolment_id=seat.id)
    services.cancel(actor=CoordinatorFactory(community=camp.community), enrolment_id=seat.id)
    assert seat.status == S.CANCELLED


def test_a_coordinator_removes_with_a_reason_and_the_seat_is_passed_on(full_camp):
    camp, (guardian, _, seat), (_, _, first), _ = full_camp
    coordinator = CoordinatorFactory(community=camp.community)
    with pytest.raises(InvalidInput) as refused:
        services.remove(actor=coordinator, enrolment_id=seat.id, reason="  ")
    assert refused.value.field == "reason"
    with pytest.raises(NotFound):
        services.remove(actor=CoordinatorFactory(), enrolment_id=seat.id, reason="别的社区")
    services.remove(actor=coordinator, enrolment_id=seat.id, reason="重复报名")
    assert (seat.status, first.status) == (S.REMOVED, S.CONFIRMED)
    assert kinds_for(guardian)[-1] == "enrolment.removed"


def test_raising_the_capacity_promotes_as_many_as_the_new_seats(full_camp):
    camp, _, (_, _, first), (_, _, second) = full_camp
    coordinator = CoordinatorFactory(community=camp.community)
    services.change_capacity(actor=coordinator, programme_id=camp.id, capacity=2)
    assert (first.status, second.status) == (S.CONFIRMED, S.WAITLISTED)
    services.change_capacity(actor=coordinator, programme_id=camp.id, capacity=10)
    assert second.status == S.CONFIRMED


def test_lowering_the_capacity_below_the_seats_taken_is_refused_and_nobody_is_removed(full_camp):
    camp, (_, _, seat), _, _ = full_camp
    coordinator = CoordinatorFactory(community=camp.community)
    services.change_capacity(actor=coordinator, programme_id=camp.id, capacity=1)  # exactly the seats taken: fine
    with pytest.raises(services.CapacityBelowTaken) as refused:
        services.change_capacity(actor=coordinator, programme_id=camp.id, capacity=0)
    assert (refused.value.code, refused.value.field) == ("capacity_below_taken", "capacity")
    assert "1" in refused.value.detail
    assert (camp.capacity, seat.status) == (1, S.CONFIRMED)


def test_offer_mode_offers_the_freed_seat_and_accepting_confirms_it(full_camp):
    camp, (guardian, _, seat), (waiting_guardian, _, first), _ = full_camp
    camp.promotion, camp.offer_hours = Promotion.OFFER, 24
    services.cancel(actor=guardian, enrolment_id=seat.id)
    assert first.status == S.OFFERED
    assert first.offer_expires_at - datetime.now(UTC) > timedelta(hours=23)
    assert kinds_for(waiting_guardian)[-1] == "enrolment.offered"
    services.accept_offer(actor=waiting_guardian, enrolment_id=first.id)
    assert first.status == S.CONFIRMED


def test_declining_an_offer_passes_it_to_the_next_family(full_camp):
    camp, (guardian, _, seat), (waiting_guardian, _, first), (_, _, second) = full_camp
    camp.promotion = Promotion.OFFER
    services.cancel(actor=guardian, enrolment_id=seat.id)
    services.decline_offer(actor=waiting_guardian, enrolment_id=first.id)
    assert (first.status, second.status) == (S.DECLINED, S.OFFERED)


def test_accepting_too_late_is_refused_and_the_seat_passes_on_at_once(full_camp, time_machine):
    camp, (guardian, _, seat), (waiting_guardian, _, first), (_, _, second) = full_camp
    camp.promotion, camp.offer_hours = Promotion.OFFER, 24
    services.cancel(actor=guardian, enrolment_id=seat.id)
    time_machine.move_to(datetime.now(UTC) + timedelta(hours=25))
    with pytest.raises(services.OfferExpired) as refused:
        services.accept_offer(actor=waiting_guardian, enrolment_id=first.id)
    assert refused.value.code == "offer_expired" and refused.value.keeps_changes
    assert (first.status, second.status) == (S.EXPIRED, S.OFFERED)
    assert kinds_for(waiting_guardian)[-1] == "enrolment.expired"
    assert services.expire_offers() == 0  # nothing left for the job
    with pytest.raises(services.OfferExpired):
        services.accept_offer(actor=waiting_guardian, enrolment_id=first.id)


def test_the_expiry_job_passes_unanswered_offers_on_once(full_camp, time_machine):
    camp, (guardian, _, seat), (waiting_guardian, _, first), (_, _, second) = full_camp
    camp.promotion, camp.offer_hours = Promotion.OFFER, 24
    services.cancel(actor=guardian, enrolment_id=seat.id)
    time_machine.move_to(datetime.now(UTC) + timedelta(hours=25))
    assert services.expire_offers() == 1
    assert (first.status, second.status) == (S.EXPIRED, S.OFFERED)
    assert kinds_for(waiting_guardian)[-1] == "enrolment.expired"
    assert services.expire_offers() == 0  # idempotent: nothing more to do
    assert second.status == S.OFFERED


def test_an_open_offer_holds_its_seat_against_newcomers(full_camp):
    camp, (guardian, _, seat), _, _ = full_camp
    camp.promotion = Promotion.OFFER
    services.cancel(actor=guardian, enrolment_id=seat.id)
    assert family(camp)[2].status == S.WAITLISTED


def test_priority_groups_are_promoted_before_earlier_arrivals():
    camp = ProgrammeFactory(capacity=1)
    residents = PriorityGroupFactory(programme=camp, rank=1)
    guardian, _, seat = family(camp)
    _, _, early_outsider = family(camp)
    resident_guardian = UserFactory()
    resident_child = ChildFactory(guardian=resident_guardian)
    (resident,) = services.enrol(actor=resident_guardian, programme_id=camp.id, child_ids=[resident_child.id],
                                 priority_group_id=residents.id)
    assert resident.priority == 1
    assert waitlist_positions(programme_id=camp.id) == {resident.id: 1, early_outsider.id: 2}
    services.cancel(actor=guardian, enrolment_id=seat.id)
    assert (resident.status, early_outsider.status) == (S.CONFIRMED, S.WAITLISTED)


def test_a_priority_group_of_another_programme_is_refused():
    camp = ProgrammeFactory()
    other_group = PriorityGroupFactory()
    guardian, child, _ = family()
    with pytest.raises(InvalidInput):
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id], priority_group_id=other_group.id)


def test_the_coordinator_confirms_a_familys_group_and_the_waiting_list_follows_at_once():
    camp = ProgrammeFactory(capacity=1)
    coordinator = CoordinatorFactory(community=camp.community)
    residents = PriorityGroupFactory(programme=camp, rank=1, name="本社区双职工家庭")
    family(camp)
    _, _, early = family(camp)
    guardian, _, late = family(camp)
    assert waitlist_positions(programme_id=camp.id) == {early.id: 1, late.id: 2}

    changed = services.change_priority_group(actor=coordinator, enrolment_id=late.id, priority_group_id=residents.id)

    assert changed == [late] and (late.priority, late.priority_group_id) == (1, residents.id)
    assert waitlist_positions(programme_id=camp.id) == {late.id: 1, early.id: 2}
    told = db.session.scalars(sa.select(Notification).where(Notification.user_id == guardian.id,
                                                            Notification.kind == "enrolment.priority_changed")).one()
    assert told.data["group"] == "本社区双职工家庭"
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "enrolment.priority_changed")).one()
    assert entry.actor_id == coordinator.id and entry.after["priority_group_before"] is None

    assert services.change_priority_group(actor=coordinator, enrolment_id=late.id,
                                          priority_group_id=residents.id) == []  # a repeated click changes nothing
    services.change_priority_group(actor=coordinator, enrolment_id=late.id, priority_group_id=None)
    assert waitlist_positions(programme_id=camp.id) == {early.id: 1, late.id: 2}
    assert db.session.scalar(sa.select(sa.func.count(Notification.id)).where(
        Notification.user_id == guardian.id, Notification.kind == "enrolment.priority_removed")) == 1


def test_a_childs_days_move_into_the_group_together():
    club = DayProgrammeFactory(capacity=1)
    coordinator = CoordinatorFactory(community=club.community)
    residents = PriorityGroupFactory(programme=club, rank=1)
    guardian, child, _ = family()
    days = services.enrol(actor=guardian, programme_id=club.id, child_ids=[child.id],
                          session_ids=[s.id for s in club.sessions[:3]])

    changed = services.change_priority_group(actor=coordinator, enrolment_id=days[0].id,
                                             priority_group_id=residents.id)

    assert sorted(e.id for e in changed) == sorted(e.id for e in days)
    assert {e.priority for e in days} == {1}
    assert db.session.scalar(sa.select(sa.func.count(Notification.id)).where(
        Notification.user_id == guardian.id, Notification.kind == "enrolment.priority_changed")) == 1


def test_only_the_communitys_coordinator_sets_groups_and_only_the_programmes_own():
    camp = ProgrammeFactory(capacity=1)
    PriorityGroupFactory(programme=camp, rank=1)
    guardian, _, seat = family(camp)
    with pytest.raises(NotFound):
        services.change_priority_group(actor=CoordinatorFactory(), enrolment_id=seat.id, priority_group_id=None)
    with pytest.raises(NotFound):
        services.change_priority_group(actor=guardian, enrolment_id=seat.id, priority_group_id=None)
    with refuses(InvalidInput, "one of this programme's priority groups"):
        services.change_priority_group(actor=CoordinatorFactory(community=camp.community), enrolment_id=seat.id,
                                       priority_group_id=PriorityGroupFactory().id)


def test_an_ended_enrolment_keeps_its_group():
    camp = ProgrammeFactory(capacity=1)
    residents = PriorityGroupFactory(programme=camp, rank=1)
    guardian, _, seat = family(camp)
    services.cancel(actor=guardian, enrolment_id=seat.id)
    with refuses(services.InvalidState, "already ended"):
        services.change_priority_group(actor=CoordinatorFactory(community=camp.community), enrolment_id=seat.id,
                                       priority_group_id=residents.id)


# ---- leave (请假) ------------------------------------------------------------------------------------------------


def test_leave_needs_a_seat_in_the_session():
    camp = ProgrammeWithSessionsFactory(capacity=1)
    family(camp)
    guardian, child, waiting = family(camp)
    assert waiting.status == S.WAITLISTED
    with pytest.raises(services.NoSeat) as refused:
        services.request_leave(actor=guardian, child_id=child.id, session_ids=[camp.sessions[0].id], reason="发烧")
    assert refused.value.code == "no_seat"


def test_leave_is_recorded_once_per_session_and_can_be_withdrawn():
    camp = ProgrammeWithSessionsFactory()
    guardian, child, _ = family(camp)
    first, second = camp.sessions[0], camp.sessions[1]
    leaves = services.request_leave(actor=guardian, child_id=child.id, session_ids=[first.id, second.id],
                                    reason="回老家")
    again = services.request_leave(actor=guardian, child_id=child.id, session_ids=[first.id], reason="回老家")
    assert again[0].id == leaves[0].id
    services.cancel_leave(actor=guardian, leave_id=leaves[0].id)
    assert leaves[0].cancelled_at is not None
    (renewed,) = services.request_leave(actor=guardian, child_id=child.id, session_ids=[first.id], reason="还是回")
    assert renewed.id == leaves[0].id and renewed.cancelled_at is None


def test_leave_is_only_for_sessions_that_have_not_started(time_machine):
    camp = ProgrammeWithSessionsFactory()
    guardian, child, _ = family(camp)
    time_machine.move_to(camp.sessions[0].starts_at + timedelta(minutes=5))
    with pytest.raises(services.SessionUnavailable):
        services.request_leave(actor=guardian, child_id=child.id, session_ids=[camp.sessions[0].id], reason="")


def test_only_a_guardian_asks_leave_for_a_child():
    camp = ProgrammeWithSessionsFactory()
    _, child, _ = family(camp)
    with pytest.raises(NotFound):
        services.request_leave(actor=UserFactory(), child_id=child.id, session_ids=[camp.sessions[0].id], reason="")


def test_a_programme_that_has_ended_cannot_be_enrolled_in(time_machine):
    camp = ProgrammeFactory(registration_closes_at=None)
    guardian, child, _ = family()
    time_machine.move_to(datetime.combine(camp.ends_on + timedelta(days=2), datetime.min.time(), tzinfo=UTC))
    assert date.today() > camp.ends_on
    with pytest.raises(services.RegistrationClosed):
        services.enrol(actor=guardian, programme_id=camp.id, child_ids=[child.id])



def test_day_mode_raising_one_sessions_seats_promotes_that_sessions_waiting_list():
    camp = DayProgrammeFactory(capacity=1)
    first, second, _ = camp.sessions
    coordinator = CoordinatorFactory(community=camp.community)
    both = [first.id, second.id]
    family_a, child_a, _ = family()
    family_b, child_b, _ = family()
    services.enrol(actor=family_a, programme_id=camp.id, child_ids=[child_a.id], session_ids=both)
    on_first, on_second = services.enrol(actor=family_b, programme_id=camp.id, child_ids=[child_b.id],
                                         session_ids=both)
    services.change_capacity(actor=coordinator, programme_id=camp.id, capacity=2, session_id=second.id)
    assert (on_first.status, on_second.status) == (S.WAITLISTED, S.CONFIRMED)


def test_a_whole_programme_has_no_per_session_seats_to_change():
    camp = ProgrammeWithSessionsFactory()
    coordinator = CoordinatorFactory(community=camp.community)
    with pytest.raises(InvalidInput):
        services.change_capacity(actor=coordinator, programme_id=camp.id, capacity=2, session_id=camp.sessions[0].id)


# ---- a session that changes --------------------------------------------------------------------------------------


def test_cancelling_a_session_tells_each_family_with_a_seat_once_and_nobody_else():
    camp = ProgrammeWithSessionsFactory(capacity=1)
    seated_guardian, _, _ = family(camp)
    waiting_guardian, _, waiting = family(camp)
    assert waiting.status == S.WAITLISTED
    coordinator = CoordinatorFactory(community=camp.community)
    session = camp.sessions[0]
    services.change_session(actor=coordinator, session_id=session.id, cancelled=True, note="停电")
    assert kinds_for(seated_guardian)[-1] == "enrolment.session_cancelled"
    assert "enrolment.session_cancelled" not in kinds_for(waiting_guardian)
    services.change_session(actor=coordinator, session_id=session.id, note="停电，改期另行通知")
    assert kinds_for(seated_guardian).count("enrolment.session_cancelled") == 1  # a note alone tells nobody again


def test_moving_a_session_tells_the_families_the_new_time():
    camp = ProgrammeWithSessionsFactory(capacity=3)
    guardian, _, _ = family(camp)
    coordinator = CoordinatorFactory(community=camp.community)
    session = camp.sessions[1]
    day = session.starts_at.astimezone(ZoneInfo("Asia/Shanghai")).date()
    services.change_session(actor=coordinator, session_id=session.id,
                            starts_at_local=datetime.combine(day, time(10)),
                            ends_at_local=datetime.combine(day, time(12)))
    message = db.session.scalars(sa.select(Notification).where(Notification.user_id == guardian.id)
                                 .order_by(Notification.id.desc())).first()
    assert message.kind == "enrolment.session_changed" and message.data["time"] == "10:00–12:00"


def test_only_the_communitys_coordinator_changes_a_session():
    camp = ProgrammeWithSessionsFactory()
    guardian, _, _ = family(camp)
    with pytest.raises(NotFound):
        services.change_session(actor=guardian, session_id=camp.sessions[0].id, cancelled=True)
