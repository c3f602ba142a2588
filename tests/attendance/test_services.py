"""At the door of the classroom: volunteers check children in, mark them absent and hand them to the right adult."""

from __future__ import annotations

import contextlib
from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from childcare.attendance import services
from childcare.attendance.models import (
    AppendOnlyAttendanceError,
    AttendanceEvent,
    AttendanceRecord,
    AttendanceState,
    EventKind,
    PickupKind,
)
from childcare.attendance.queries import expected_children
from childcare.db import db
from childcare.enrolment.models import EnrolmentStatus
from childcare.errors import DomainError, Forbidden, NotFound
from childcare.notifications.models import Notification
from childcare.programmes.models import EnrolmentMode
from tests.attendance.factories import (
    ChildFactory,
    Classroom,
    LeaveFactory,
    PickupPersonFactory,
    ShiftFactory,
    VolunteerFactory,
    enrol,
    local,
    session_at,
)
from tests.factories import CoordinatorFactory, UserFactory

pytestmark = pytest.mark.usefixtures("app_ctx", "in_english")

S = AttendanceState
MONDAY = date(2026, 3, 2)


@pytest.fixture
def in_english(app_ctx):
    with force_locale("en"):
        yield


@contextlib.contextmanager
def refuses(code: str, error_type: type[DomainError] = DomainError):
    with pytest.raises(error_type) as refused:
        yield refused
    assert refused.value.code == code, (refused.value.code, refused.value.detail)


@pytest.fixture
def room(time_machine) -> Classroom:
    """四点半课堂 on a Monday, 16:30–18:30 Shanghai time; the clock stands at 16:35 local."""
    time_machine.move_to(local(MONDAY, time(16, 35)))
    return Classroom(day=MONDAY, late_after_minutes=10, absence_alert_minutes=15, sweep_after_minutes=20)


def state_of(room: Classroom, child) -> AttendanceState:
    return next(line.state for line in expected_children(room.session) if line.child.id == child.id)


def events_of(room: Classroom, child) -> list[AttendanceEvent]:
    return list(db.session.scalars(sa.select(AttendanceEvent).where(AttendanceEvent.session_id == room.session.id,
                                                                    AttendanceEvent.child_id == child.id)
                                   .order_by(AttendanceEvent.id)))


def notifications(user, kind: str) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id,
                                                                 Notification.kind == kind)))


# ---- the roster ------------------------------------------------------------------------------------------------


def test_the_roster_lists_the_children_with_a_seat_sorted_by_pinyin(room):
    chen, ai, bai = room.seat("陈小东"), room.seat("艾小米"), room.seat("白小雪")
    enrol(ChildFactory(name="丁丁"), room.programme, status=EnrolmentStatus.WAITLISTED)
    enrol(ChildFactory(name="安安"), room.programme, status=EnrolmentStatus.CANCELLED)
    lines = expected_children(room.session)
    assert [line.child.name for line in lines] == ["艾小米", "白小雪", "陈小东"]
    assert [line.child.id for line in lines] == [ai.id, bai.id, chen.id]
    assert {line.state for line in lines} == {S.EXPECTED}


def test_the_roster_carries_the_flags_and_the_people_who_may_take_the_child(room):
    grandma_child = room.seat("李小红", allergies="花生", special_needs="需要安静", photo_consent=False,
                              may_go_home_alone=True)
    PickupPersonFactory(child=grandma_child, name="外婆")
    PickupPersonFactory(child=grandma_child, name="某某", blocked=True)
    (line,) = expected_children(room.session)
    assert (line.has_allergy, line.has_special_needs, line.photo_consent, line.may_go_home_alone) == \
        (True, True, False, True)
    assert len(line.guardians) == 1 and line.guardians[0].user.name
    assert [(p.name, p.blocked) for p in line.pickup_persons] == [("外婆", False), ("某某", True)]


def test_the_roster_costs_the_same_few_queries_for_two_or_twenty_children(room, count_queries):
    for n in range(2):
        child = room.seat(f"孩子{n}")
        PickupPersonFactory(child=child)
    with count_queries() as few:
        expected_children(room.session)
    for n in range(2, 20):
        child = room.seat(f"孩子{n}")
        PickupPersonFactory(child=child)
    LeaveFactory(child_id=child.id, session_id=room.session.id)
    services.check_in(actor=room.volunteer, session_id=room.session.id, child_id=child.id)
    db.session.expire_all()
    with count_queries() as many:
        assert len(expected_children(room.session)) == 20
    assert many() <= 8 and many() == few()


def test_a_child_on_leave_is_excused_and_expected_again_when_the_leave_is_cancelled(room):
    child = room.seat("王小明")
    leave = LeaveFactory(child_id=child.id, session_id=room.session.id)
    assert state_of(room, child) == S.EXCUSED
    leave.cancelled_at = local(MONDAY, time(9))
    db.session.flush()
    assert state_of(room, child) == S.EXPECTED


def test_in_day_mode_only_the_children_booked_into_that_session_are_on_its_roster(time_machine):
    time_machine.move_to(local(MONDAY, time(8, 0)))
    room = Classroom(day=MONDAY, start=time(9), end=time(12), mode=EnrolmentMode.DAY)
    tuesday = session_at(room.programme, MONDAY + timedelta(days=1), time(9), time(12))
    monday_child, tuesday_child = ChildFactory(name="周一"), ChildFactory(name="周二")
    enrol(monday_child, room.programme, room.session)
    enrol(tuesday_child, room.programme, tuesday)
    assert [line.child.name for line in expected_children(room.session)] == ["周一"]
    assert [line.child.name for line in expected_children(tuesday)] == ["周二"]


# ---- check-in, late, absent ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("at", "state"), [(time(16, 40), S.PRESENT), (time(16, 41), S.LATE),
                                           (time(16, 20), S.PRESENT)])
def test_a_check_in_more_than_ten_minutes_after_half_past_four_local_time_is_late(room, time_machine, at, state):
    child = room.seat("刘小雨")
    time_machine.move_to(local(MONDAY, at))
    record = services.check_in(actor=room.volunteer, session_id=room.session.id, child_id=child.id)
    assert record.state == state


@pytest.mark.parametrize(("day_offset", "at", "state"), [(0, time(23, 40), S.PRESENT), (0, time(23, 41), S.LATE),
                                                          (1, time(0, 5), S.LATE)])
def test_lateness_is_right_for_a_camp_night_session_that_crosses_local_midnight(time_machine, day_offset, at, state):
    time_machine.move_to(local(MONDAY, time(23, 0)))
    room = Classroom(day=MONDAY, start=time(23, 30), end=time(0, 30), late_after_minutes=10)
    assert room.session.on_date == MONDAY and room.session.ends_at - room.session.starts_at == timedelta(hours=1)
    child = room.seat("星星")
    time_machine.move_to(local(MONDAY + timedelta(days=day_offset), at))
    assert services.check_in(actor=room.volunteer, session_id=room.session.id, child_id=child.id).state == state


def test_every_write_appends_an_event_and_the_record_always_equals_the_last_event(room):
    child = room.seat("赵小乐")
    sid = room.session.id
    services.mark_absent(actor=room.volunteer, session_id=sid, child_id=child.id)
    services.check_in(actor=room.volunteer, session_id=sid, child_id=child.id)
    services.check_out(actor=room.volunteer, session_id=sid, child_id=child.id, pickup_kind=PickupKind.GUARDIAN,
                       pickup_guardian_id=child.guardianships[0].user_id)
    services.correct(actor=room.coordinator, session_id=sid, child_id=child.id, new_state=S.PRESENT,
                     reason="还没走，在等妈妈")
    events = events_of(room, child)
    assert [(e.kind, e.previous_state, e.new_state) for e in events] == [
        (EventKind.MARKED_ABSENT, S.EXPECTED, S.ABSENT), (EventKind.CHECKED_IN, S.ABSENT, S.PRESENT),
        (EventKind.CHECKED_OUT, S.PRESENT, S.CHECKED_OUT), (EventKind.CORRECTED, S.CHECKED_OUT, S.PRESENT)]
    record = db.session.scalars(sa.select(AttendanceRecord).where(AttendanceRecord.child_id == child.id)).one()
    assert record.last_event_id == events[-1].id and record.state == events[-1].new_state
    assert record.checked_out_at is None and record.picked_up_by == ""


def test_impossible_transitions_are_refused_and_leave_no_event(room):
    child = room.seat("钱小多")
    sid = room.session.id
    with refuses("invalid_transition"):
        services.check_out(actor=room.volunteer, session_id=sid, child_id=child.id, pickup_kind=PickupKind.GUARDIAN,
                           pickup_guardian_id=child.guardianships[0].user_id)
    services.check_in(actor=room.volunteer, session_id=sid, child_id=child.id)
    with refuses("invalid_transition"):
        services.check_in(actor=room.volunteer, session_id=sid, child_id=child.id)
    with refuses("invalid_transition"):
        services.mark_absent(actor=room.volunteer, session_id=sid, child_id=child.id)
    assert len(events_of(room, child)) == 1


def test_mark_the_rest_absent_skips_the_excused_and_those_already_here(room):
    here, on_leave, missing_a, missing_b = (room.seat(n) for n in ("甲", "乙", "丙", "丁"))
    LeaveFactory(child_id=on_leave.id, session_id=room.session.id)
    services.check_in(actor=room.volunteer, session_id=room.session.id, child_id=here.id)
    assert services.mark_rest_absent(actor=room.volunteer, session_id=room.session.id) == 2
    assert [state_of(room, c) for c in (here, on_leave, missing_a, missing_b)] == [S.PRESENT, S.EXCUSED, S.ABSENT,
                                                                                  S.ABSENT]
    assert services.mark_rest_absent(actor=room.volunteer, session_id=room.session.id) == 0


def test_a_volunteer_who_does_not_serve_the_session_cannot_touch_its_children(room):
    child = room.seat("孙小圣")
    stranger = VolunteerFactory()
    ShiftFactory(session_id=room.session.id, volunteer=stranger, status="released")
    with pytest.raises(NotFound):
        services.check_in(actor=stranger, session_id=room.session.id, child_id=child.id)
    with pytest.raises(NotFound):
        services.check_in(actor=CoordinatorFactory(), session_id=room.session.id, child_id=child.id)


def test_a_child_without_a_seat_cannot_be_checked_in(room):
    outsider = ChildFactory(name="路人")
    with pytest.raises(NotFound):
        services.check_in(actor=room.volunteer, session_id=room.session.id, child_id=outsider.id)


def test_guardians_hear_when_their_child_arrives(room):
    mother = UserFactory()
    child = room.seat("周小周", guardian=mother)
    services.check_in(actor=room.volunteer, session_id=room.session.id, child_id=child.id)
    (note,) = notifications(mother, "attendance.checked_in")
    assert note.data["time"] == "16:35" and note.data["child"] == "周小周"


# ---- check-out -------------------------------------------------------------------------------------------------


@pytest.fixture
def arrived(room):
    """A child checked in, with a grandmother allowed to collect and an uncle blocked by the guardians."""
    mother = UserFactory(name="周妈妈")
    child = room.seat("吴小宝", guardian=mother)
    grandma = PickupPersonFactory(child=child, name="吴外婆")
    uncle = PickupPersonFactory(child=child, name="吴舅舅", blocked=True)
    services.check_in(actor=room.volunteer, session_id=room.session.id, child_id=child.id)
    return child, mother, grandma, uncle


def test_a_guardian_takes_the_child_and_every_guardian_is_told_who_and_when(room, arrived, time_machine):
    child, mother, _, _ = arrived
    father = UserFactory(name="吴爸爸")
    from childcare.children.models import Guardianship

    db.session.add(Guardianship(child_id=child.id, user_id=father.id, relation="爸爸"))
    db.session.flush()
    time_machine.move_to(local(MONDAY, time(18, 25)))
    record = services.check_out(actor=room.volunteer, session_id=room.session.id, child_id=child.id,
                                pickup_kind="guardian", pickup_guardian_id=father.id)
    assert (record.state, record.picked_up_by) == (S.CHECKED_OUT, "吴爸爸")
    for guardian in (mother, father):
        (note,) = notifications(guardian, "attendance.checked_out")
        assert (note.data["who"], note.data["time"]) == ("吴爸爸", "18:25")


def test_an_authorised_pickup_person_takes_the_child(room, arrived):
    child, mother, grandma, _ = arrived
    record = services.check_out(actor=room.volunteer, session_id=room.session.id, child_id=child.id,
                                pickup_kind=PickupKind.PICKUP_PERSON, pickup_person_id=grandma.id)
    assert record.picked_up_by == "吴外婆"
    assert events_of(room, child)[-1].pickup_person_id == grandma.id
    assert notifications(mother, "attendance.checked_out")[0].data["who"] == "吴外婆"


def test_a_blocked_person_is_refused_with_a_warning(room, arrived):
    child, _, _, uncle = arrived
    with refuses("pickup_blocked") as refused:
        services.check_out(actor=room.coordinator, session_id=room.session.id, child_id=child.id,
                           pickup_kind=PickupKind.PICKUP_PERSON, pickup_person_id=uncle.id)
    assert "吴舅舅" in refused.value.detail and "BLOCKED" in refused.value.detail
    assert state_of(room, child) == S.PRESENT


def test_someone_elses_pickup_person_or_guardian_is_not_authorised(room, arrived):
    child, *_ = arrived
    other = room.seat("别家孩子")
    other_grandma = PickupPersonFactory(child=other)
    with refuses("pickup_not_authorised"):
        services.check_out(actor=room.volunteer, session_id=room.session.id, child_id=child.id,
                           pickup_kind=PickupKind.PICKUP_PERSON, pickup_person_id=other_grandma.id)
    with refuses("pickup_not_authorised"):
        services.check_out(actor=room.volunteer, session_id=room.session.id, child_id=child.id,
                           pickup_kind=PickupKind.GUARDIAN, pickup_guardian_id=other.guardianships[0].user_id)
    with refuses("pickup_required"):
        services.check_out(actor=room.volunteer, session_id=room.session.id, child_id=child.id, pickup_kind=None)


def test_going_home_alone_only_when_the_guardians_allowed_it(room, arrived):
    child, mother, _, _ = arrived
    with refuses("pickup_not_authorised"):
        services.check_out(actor=room.volunteer, session_id=room.session.id, child_id=child.id,
                           pickup_kind=PickupKind.ALONE)
    child.may_go_home_alone = True
    db.session.flush()
    record = services.check_out(actor=room.volunteer, session_id=room.session.id, child_id=child.id,
                                pickup_kind=PickupKind.ALONE)
    assert record.state == S.CHECKED_OUT and events_of(room, child)[-1].pickup_kind == PickupKind.ALONE
    assert len(notifications(mother, "attendance.went_home_alone")) == 1


def test_only_a_coordinator_may_hand_the_child_to_someone_else_and_only_with_a_reason(room, arrived):
    child, mother, _, _ = arrived
    sid = room.session.id
    with refuses("pickup_not_authorised"):
        services.check_out(actor=room.volunteer, session_id=sid, child_id=child.id, pickup_kind=PickupKind.OVERRIDE,
                           pickup_name="邻居张阿姨", override_reason="妈妈打电话说的")
    with refuses("reason_required"):
        services.check_out(actor=room.coordinator, session_id=sid, child_id=child.id, pickup_kind="override",
                           pickup_name="邻居张阿姨")
    with refuses("pickup_blocked"):
        services.check_out(actor=room.coordinator, session_id=sid, child_id=child.id, pickup_kind="override",
                           pickup_name="吴舅舅", override_reason="他说是妈妈让来的")
    record = services.check_out(actor=room.coordinator, session_id=sid, child_id=child.id, pickup_kind="override",
                                pickup_name="邻居张阿姨", override_reason="妈妈打电话到社区确认")
    assert record.picked_up_by == "邻居张阿姨"
    last = events_of(room, child)[-1]
    assert (last.pickup_kind, last.pickup_name, last.reason, last.actor_id) == (
        PickupKind.OVERRIDE, "邻居张阿姨", "妈妈打电话到社区确认", room.coordinator.id)
    assert notifications(mother, "attendance.checked_out")[0].data["who"] == "邻居张阿姨"


# ---- corrections, the append-only log, conflicts ----------------------------------------------------------------


def test_only_coordinators_correct_and_always_with_a_reason(room):
    child = room.seat("郑小正")
    with pytest.raises(Forbidden):
        services.correct(actor=room.volunteer, session_id=room.session.id, child_id=child.id, new_state=S.ABSENT,
                         reason="弄错了")
    with refuses("reason_required"):
        services.correct(actor=room.coordinator, session_id=room.session.id, child_id=child.id, new_state=S.ABSENT,
                         reason="  ")
    record = services.correct(actor=room.coordinator, session_id=room.session.id, child_id=child.id,
                              new_state=S.PRESENT, reason="纸质签到表上有")
    assert record.state == S.PRESENT and record.checked_in_at is not None
    assert events_of(room, child)[-1].reason == "纸质签到表上有"


def test_an_attendance_event_cannot_be_changed_or_deleted_through_the_orm(room):
    child = room.seat("冯小锋")
    services.check_in(actor=room.volunteer, session_id=room.session.id, child_id=child.id)
    db.session.commit()
    (event,) = events_of(room, child)
    event.reason = "悄悄改掉"
    with pytest.raises(AppendOnlyAttendanceError):
        db.session.flush()
    db.session.rollback()
    (event,) = events_of(room, child)
    db.session.delete(event)
    with pytest.raises(AppendOnlyAttendanceError):
        db.session.flush()


def test_a_change_made_meanwhile_by_someone_else_is_a_conflict_not_a_crash(room):
    child = room.seat("褚小褚")
    services.check_in(actor=room.volunteer, session_id=room.session.id, child_id=child.id)
    record = db.session.scalars(sa.select(AttendanceRecord).where(AttendanceRecord.child_id == child.id)).one()
    # Another volunteer's request moves the version on; this session still holds the old one.
    db.session.execute(sa.update(AttendanceRecord).where(AttendanceRecord.id == record.id)
                       .values(version=record.version + 1).execution_options(synchronize_session=False))
    with refuses("conflict") as refused:
        services.check_out(actor=room.volunteer, session_id=room.session.id, child_id=child.id,
                           pickup_kind="guardian", pickup_guardian_id=child.guardianships[0].user_id)
    assert refused.value.status == 409 and "reload" in refused.value.detail
    assert len(events_of(room, child)) == 1  # the losing event went with its savepoint
