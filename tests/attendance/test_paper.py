"""When phones or the network fail: a printed sign-in sheet, and entering the completed sheet afterwards."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from childcare.attendance import paper, qr
from childcare.attendance.models import AttendanceEvent, AttendanceRecord, AttendanceState, EventKind, EventSource
from childcare.children.models import Child
from childcare.db import db
from childcare.errors import NotFound
from tests.attendance.qr_factories import ENDS, STARTS, enrolled_child, local, story, utc
from tests.factories import CoordinatorFactory, UserFactory


def events_of(session) -> list[AttendanceEvent]:
    return list(db.session.scalars(sa.select(AttendanceEvent).where(AttendanceEvent.session_id == session.id)
                                   .order_by(AttendanceEvent.id)))


def record_of(session, child) -> AttendanceRecord | None:
    return db.session.scalar(sa.select(AttendanceRecord).where(AttendanceRecord.session_id == session.id,
                                                               AttendanceRecord.child_id == child.id))


def evening(time_machine) -> None:
    """The volunteer types the sheet in after the session, at seven in the evening."""
    time_machine.move_to(local(ENDS) + timedelta(minutes=30), tick=False)


# ---- the printed sheet -------------------------------------------------------------------------------------


def test_the_sheet_masks_guardian_phones_and_marks_blocked_pickup_persons(client, login_as):
    s = story()
    login_as(s.volunteer)
    client.set_cookie("lang", "en")
    page = client.get(f"/attendance/sessions/{s.session.id}/sheet")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "139****5678" in body
    assert not re.search(r"1\d{10}", body)  # no full mobile number anywhere in the page
    assert s.grandma.name in body and "外婆" in body
    blocked_cell = body.split(s.blocked.name, 1)[1][:200]
    assert "NOT authorised" in blocked_cell
    assert "css/app.css" in body  # print styles live in the one stylesheet
    for column in ("Check-in time", "Signature", "Check-out time", "Picked up by"):
        assert column in body
    assert s.programme.title in body and "16:30–18:30" in body


def test_the_sheet_lists_children_by_pinyin(client, login_as):
    s = story()
    for name in ("张小雨", "艾米", "陈东"):
        enrolled_child(s.programme, UserFactory(), name=name)
    login_as(s.coordinator)
    body = client.get(f"/attendance/sessions/{s.session.id}/sheet").get_data(as_text=True)
    positions = [body.index(name) for name in ("艾米", "陈东", "王小明", "张小雨")]
    assert positions == sorted(positions)


def test_a_volunteer_not_serving_the_session_cannot_open_its_sheet(client, login_as):
    s = story()
    for outsider in (UserFactory(roles=["volunteer"]), s.guardian, CoordinatorFactory()):
        login_as(outsider)
        assert client.get(f"/attendance/sessions/{s.session.id}/sheet").status_code == 404
        assert client.get(f"/attendance/sessions/{s.session.id}/sheet/enter").status_code == 404


# ---- entering a completed sheet ------------------------------------------------------------------------------


def row(child, **values) -> dict:
    return {f"row-{child.id}-{key}": value for key, value in values.items()}


def test_paper_entry_writes_events_from_paper_at_the_written_local_time(client, login_as, post_form, time_machine):
    s = story()
    evening(time_machine)
    login_as(s.volunteer)
    client.set_cookie("lang", "en")
    url = f"/attendance/sessions/{s.session.id}/sheet/enter"
    response = post_form(url, row(s.child, state="present", check_in="16:35", check_out="18:20",
                                  pickup=f"person:{s.grandma.id}"))
    assert response.status_code == 302
    check_in, check_out = events_of(s.session)
    assert (check_in.kind, check_in.source, check_in.occurred_at) == (EventKind.CHECKED_IN, EventSource.PAPER,
                                                                      utc(8, 35))
    assert (check_out.kind, check_out.source, check_out.occurred_at) == (EventKind.CHECKED_OUT, EventSource.PAPER,
                                                                         utc(10, 20))
    assert check_out.pickup_person_id == s.grandma.id and check_out.pickup_name == s.grandma.name
    assert check_in.actor_id == s.volunteer.id
    record = record_of(s.session, s.child)
    assert record.from_paper is True and record.state == AttendanceState.CHECKED_OUT
    assert (record.checked_in_at, record.checked_out_at, record.picked_up_by) == (utc(8, 35), utc(10, 20), "李秀英")
    assert "1 child updated" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_blocked_pickup_person_on_the_paper_form_is_refused_with_a_form_error(
        client, login_as, post_form, time_machine):
    s = story()
    evening(time_machine)
    login_as(s.volunteer)
    client.set_cookie("lang", "en")
    response = post_form(f"/attendance/sessions/{s.session.id}/sheet/enter",
                         row(s.child, state="present", check_in="16:35", check_out="18:20",
                             pickup=f"person:{s.blocked.id}"))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="row-{s.child.id}-pickup-error"' in body and "张伟 is BLOCKED" in body
    assert 'value="16:35"' in body  # what was typed is kept
    assert events_of(s.session) == [] and record_of(s.session, s.child) is None


def test_a_coordinator_enters_an_absence_from_paper(client, login_as, post_form, time_machine):
    s = story()
    evening(time_machine)
    login_as(s.coordinator)
    response = post_form(f"/attendance/sessions/{s.session.id}/sheet/enter", row(s.child, state="absent"))
    assert response.status_code == 302
    [event] = events_of(s.session)
    assert (event.kind, event.source) == (EventKind.MARKED_ABSENT, EventSource.PAPER)
    assert record_of(s.session, s.child).from_paper is True


def test_rows_left_as_they_are_write_nothing(client, login_as, post_form, time_machine):
    s = story()
    evening(time_machine)
    login_as(s.volunteer)
    client.set_cookie("lang", "en")
    response = post_form(f"/attendance/sessions/{s.session.id}/sheet/enter", row(s.child, state=""),
                         follow_redirects=True)
    assert "Nothing was changed" in response.get_data(as_text=True)
    assert events_of(s.session) == []


def test_a_badly_written_time_is_shown_on_its_field(client, login_as, post_form, time_machine):
    s = story()
    evening(time_machine)
    login_as(s.volunteer)
    client.set_cookie("lang", "en")
    response = post_form(f"/attendance/sessions/{s.session.id}/sheet/enter",
                         row(s.child, state="present", check_in="half past four"))
    assert response.status_code == 422
    assert f'id="row-{s.child.id}-check_in-error"' in response.get_data(as_text=True)
    assert events_of(s.session) == []


def test_going_home_alone_is_refused_unless_the_guardians_allowed_it(app_ctx, time_machine):
    s = story()
    evening(time_machine)
    with pytest.raises(paper.PaperSheetInvalid) as refused:
        paper.enter_paper_sheet(actor=s.volunteer, session_id=s.session.id, rows=[
            paper.PaperRow(child_id=s.child.id, state="present", check_in="16:31", check_out="18:30",
                           pickup_kind="alone")])
    assert [(e.field, e.code) for e in refused.value.errors] == [(f"row-{s.child.id}-pickup", "pickup_not_authorised")]
    s.child.may_go_home_alone = True
    db.session.commit()
    [record] = paper.enter_paper_sheet(actor=s.volunteer, session_id=s.session.id, rows=[
        paper.PaperRow(child_id=s.child.id, state="present", check_in="16:31", check_out="18:30",
                       pickup_kind="alone")])
    assert record.state == AttendanceState.CHECKED_OUT


def test_a_child_checked_in_by_qr_is_checked_out_from_paper_without_a_second_check_in(app_ctx, time_machine):
    s = story()
    time_machine.move_to(local(STARTS) - timedelta(minutes=5), tick=False)
    qr.check_in_by_qr(actor=s.guardian, token=qr.make_token(s.session), child_ids=[s.child.id])
    evening(time_machine)
    paper.enter_paper_sheet(actor=s.volunteer, session_id=s.session.id, rows=[
        {"child_id": s.child.id, "state": "present", "check_in": "16:25", "check_out": "18:15",
         "pickup_kind": "guardian", "pickup_guardian_id": s.guardian.id}])
    kinds = [(e.kind, e.source) for e in events_of(s.session)]
    assert kinds == [(EventKind.CHECKED_IN, EventSource.QR), (EventKind.CHECKED_OUT, EventSource.PAPER)]
    record = record_of(s.session, s.child)
    assert record.checked_out_at == utc(10, 15) and record.picked_up_by == s.guardian.name


def test_a_check_out_before_the_check_in_and_a_time_still_to_come_are_refused(app_ctx, time_machine):
    s = story()
    time_machine.move_to(local(STARTS) + timedelta(minutes=40), tick=False)  # during the session
    with pytest.raises(paper.PaperSheetInvalid) as refused:
        paper.enter_paper_sheet(actor=s.volunteer, session_id=s.session.id, rows=[
            {"child_id": s.child.id, "state": "present", "check_in": "16:35", "check_out": "18:20",
             "pickup_kind": "guardian", "pickup_guardian_id": s.guardian.id}])
    assert refused.value.errors[0].code == "time_in_future"
    evening(time_machine)
    with pytest.raises(paper.PaperSheetInvalid) as refused:
        paper.enter_paper_sheet(actor=s.volunteer, session_id=s.session.id, rows=[
            {"child_id": s.child.id, "state": "present", "check_in": "16:35", "check_out": "16:20",
             "pickup_kind": "guardian", "pickup_guardian_id": s.guardian.id}])
    assert refused.value.errors[0].code == "times_out_of_order"
    assert events_of(s.session) == []


def test_a_child_not_on_the_roster_cannot_be_entered_and_outsiders_cannot_enter_sheets(app_ctx, time_machine):
    s = story()
    evening(time_machine)
    with pytest.raises(NotFound):
        paper.enter_paper_sheet(actor=UserFactory(roles=["volunteer"]), session_id=s.session.id,
                                rows=[{"child_id": s.child.id, "state": "absent"}])
    outsider = Child(name="外人")
    db.session.add(outsider)
    db.session.commit()
    with pytest.raises(paper.PaperSheetInvalid) as refused:
        paper.enter_paper_sheet(actor=s.volunteer, session_id=s.session.id,
                                rows=[{"child_id": outsider.id, "state": "absent"}])
    assert refused.value.errors[0].code == "not_expected"
    assert events_of(s.session) == []
