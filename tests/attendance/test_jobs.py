"""The clock watches for the children: not arrived after the start, or not handed over after the end."""

from __future__ import annotations

from datetime import date, time

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from childcare.attendance import services
from childcare.attendance.jobs import raise_absence_alerts, sweep_not_checked_out
from childcare.attendance.models import AlertKind, AttendanceAlert
from childcare.attendance.queries import expected_children
from childcare.db import db
from childcare.notifications.models import Notification
from tests.attendance.factories import Classroom, LeaveFactory, ShiftFactory, VolunteerFactory, local
from tests.factories import UserFactory

pytestmark = pytest.mark.usefixtures("app_ctx")

MONDAY = date(2026, 3, 2)


@pytest.fixture
def room(time_machine) -> Classroom:
    time_machine.move_to(local(MONDAY, time(16, 0)))
    return Classroom(day=MONDAY, absence_alert_minutes=15, sweep_after_minutes=20)


def alerts(kind: AlertKind) -> list[AttendanceAlert]:
    return list(db.session.scalars(sa.select(AttendanceAlert).where(AttendanceAlert.kind == kind)))


def inbox(user, kind: str) -> int:
    return db.session.scalar(sa.select(sa.func.count(Notification.id)).where(Notification.user_id == user.id,
                                                                             Notification.kind == kind))


def test_a_child_not_arrived_fifteen_minutes_after_the_start_raises_one_alert_however_often_the_job_runs(
        room, time_machine):
    mother = UserFactory()
    missing = room.seat("没来", guardian=mother)
    here, absent, on_leave = room.seat("来了"), room.seat("请假没说"), room.seat("请假")
    LeaveFactory(child_id=on_leave.id, session_id=room.session.id)
    time_machine.move_to(local(MONDAY, time(16, 35)))
    services.check_in(actor=room.volunteer, session_id=room.session.id, child_id=here.id)
    services.mark_absent(actor=room.volunteer, session_id=room.session.id, child_id=absent.id)
    time_machine.move_to(local(MONDAY, time(16, 44)))
    assert raise_absence_alerts() == 0  # fourteen minutes: not yet
    time_machine.move_to(local(MONDAY, time(16, 46)))
    assert [raise_absence_alerts() for _ in range(3)] == [1, 0, 0]
    assert [a.child_id for a in alerts(AlertKind.ABSENT)] == [missing.id]
    assert inbox(mother, "attendance.absence_alert") == 1
    (line,) = [line for line in expected_children(room.session) if line.child.id == missing.id]
    assert line.absence_alert


def test_no_absence_alert_before_the_start_or_after_the_end(room, time_machine):
    room.seat("没来")
    time_machine.move_to(local(MONDAY, time(16, 20)))
    assert raise_absence_alerts() == 0
    time_machine.move_to(local(MONDAY, time(18, 31)))
    assert raise_absence_alerts() == 0


def test_a_child_not_checked_out_after_the_end_alerts_the_volunteers_and_coordinator_once(room, time_machine):
    second_volunteer, gone_volunteer = VolunteerFactory(), VolunteerFactory()
    ShiftFactory(session_id=room.session.id, volunteer=second_volunteer)
    ShiftFactory(session_id=room.session.id, volunteer=gone_volunteer, status="released")
    still_here, gone_home = room.seat("还在"), room.seat("走了")
    time_machine.move_to(local(MONDAY, time(16, 31)))
    for child in (still_here, gone_home):
        services.check_in(actor=room.volunteer, session_id=room.session.id, child_id=child.id)
    services.check_out(actor=room.volunteer, session_id=room.session.id, child_id=gone_home.id,
                       pickup_kind="guardian", pickup_guardian_id=gone_home.guardianships[0].user_id)
    time_machine.move_to(local(MONDAY, time(18, 45)))
    assert sweep_not_checked_out() == 0  # fifteen minutes after the end: not yet
    time_machine.move_to(local(MONDAY, time(18, 51)))
    assert [sweep_not_checked_out() for _ in range(3)] == [1, 0, 0]
    assert [a.child_id for a in alerts(AlertKind.NOT_CHECKED_OUT)] == [still_here.id]
    for person in (room.volunteer, second_volunteer, room.coordinator):
        assert inbox(person, "attendance.not_checked_out") == 1
    assert inbox(gone_volunteer, "attendance.not_checked_out") == 0
    note = db.session.scalars(sa.select(Notification).where(Notification.kind == "attendance.not_checked_out")).first()
    assert note.data["children"] == "还在" and note.link.endswith(f"/attendance/sessions/{room.session.id}")


def test_the_jobs_tick_runs_the_attendance_jobs(app, room, time_machine):
    room.seat("没来")
    time_machine.move_to(local(MONDAY, time(16, 50)))
    result = CliRunner().invoke(app.cli, ["jobs", "tick"], obj=None, catch_exceptions=False)
    assert "absence_alerts: 1" in result.output and "not_checked_out: 0" in result.output
