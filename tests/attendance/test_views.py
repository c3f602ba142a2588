"""The roster on a volunteer's phone: only their sessions, big buttons, rows that update in place."""

from __future__ import annotations

from datetime import date, time

import pytest
import sqlalchemy as sa

from childcare.attendance.models import AttendanceEvent, AttendanceRecord, AttendanceState, EventKind
from childcare.db import db
from tests.attendance.factories import Classroom, PickupPersonFactory, ShiftFactory, VolunteerFactory, local
from tests.conftest import csrf_token_from
from tests.factories import CoordinatorFactory

MONDAY = date(2026, 3, 2)
FETCH = {"X-Requested-With": "fetch", "Accept": "application/json"}


@pytest.fixture(autouse=True)
def english(client):
    client.set_cookie("lang", "en")


@pytest.fixture
def room(time_machine) -> Classroom:
    time_machine.move_to(local(MONDAY, time(16, 35)))
    return Classroom(day=MONDAY)


def text(response) -> str:
    return response.get_data(as_text=True)


def roster_url(room: Classroom) -> str:
    return f"/attendance/sessions/{room.session.id}"


def action(room: Classroom, child, what: str) -> str:
    return f"{roster_url(room)}/children/{child.id}/{what}"


def post(client, room: Classroom, url: str, data: dict | None = None, *, fetch: bool = False):
    token = csrf_token_from(client, roster_url(room))
    return client.post(url, data={**(data or {}), "csrf_token": token}, headers=FETCH if fetch else None)


def record_of(child) -> AttendanceRecord | None:
    return db.session.scalar(sa.select(AttendanceRecord).where(AttendanceRecord.child_id == child.id)
                             .execution_options(populate_existing=True))


def test_a_volunteer_who_does_not_serve_the_session_gets_not_found_and_no_medical_notes(room, login_as, client):
    room.seat("艾小米", medical_notes="哮喘，随身带喷雾")
    other = VolunteerFactory()
    ShiftFactory(session_id=room.session.id, volunteer=other, status="released")
    login_as(other)
    response = client.get(roster_url(room))
    assert response.status_code == 404
    assert "哮喘" not in text(response) and "艾小米" not in text(response)
    assert client.get(f"{roster_url(room)}/history").status_code == 404
    assert room.programme.title not in text(client.get("/attendance/"))


def test_the_serving_volunteer_sees_the_roster_sorted_by_pinyin_with_the_health_marks(room, login_as, client):
    room.seat("陈小东")
    room.seat("艾小米", allergies="花生", medical_notes="哮喘，随身带喷雾")
    room.seat("白小雪", photo_consent=False)
    login_as(room.volunteer)
    assert room.programme.title in text(client.get("/attendance/"))
    page = text(client.get(roster_url(room)))
    assert page.index("艾小米") < page.index("白小雪") < page.index("陈小东")
    assert "Allergy" in page and "花生" in page and "哮喘" in page and "No photos" in page
    assert 'data-testid="check-in"' in page and "Mark the rest absent" in page
    assert "js/attendance.js" in page
    assert "Event log" not in page  # the history is for coordinators


def test_check_in_without_javascript_redirects_back_to_the_row(room, login_as, client):
    child = room.seat("赵小乐")
    login_as(room.volunteer)
    response = post(client, room, action(room, child, "check-in"))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#child-{child.id}")
    assert record_of(child).state == AttendanceState.PRESENT
    assert "Checked in." in text(client.get(roster_url(room)))


def test_check_in_with_javascript_answers_the_new_row_as_json(room, login_as, client):
    child = room.seat("赵小乐")
    login_as(room.volunteer)
    response = post(client, room, action(room, child, "check-in"), fetch=True)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["ok"], body["state"], body["child_id"]) == (True, "present", child.id)
    assert f'id="child-{child.id}"' in body["html"] and 'data-testid="checkout"' in body["html"]
    again = post(client, room, action(room, child, "check-in"), fetch=True)
    assert again.status_code == 422 and again.get_json()["code"] == "invalid_transition"


def test_check_out_to_a_pickup_person_and_a_blocked_one_refused(room, login_as, client):
    child = room.seat("吴小宝")
    grandma = PickupPersonFactory(child=child, name="吴外婆")
    uncle = PickupPersonFactory(child=child, name="吴舅舅", blocked=True)
    login_as(room.volunteer)
    post(client, room, action(room, child, "check-in"))
    page = text(client.get(roster_url(room)))
    assert f'value="person:{uncle.id}" id="out-{child.id}-p{uncle.id}" disabled' in page
    assert "BLOCKED" in page and 'value="override"' not in page  # only coordinators may hand to someone else
    refused = post(client, room, action(room, child, "check-out"), {"pickup": f"person:{uncle.id}"}, fetch=True)
    assert refused.status_code == 422 and refused.get_json()["code"] == "pickup_blocked"
    missing = post(client, room, action(room, child, "check-out"), {}, fetch=True)
    assert missing.status_code == 422 and missing.get_json()["field"] == "pickup"
    done = post(client, room, action(room, child, "check-out"), {"pickup": f"person:{grandma.id}"}, fetch=True)
    assert done.status_code == 200 and done.get_json()["state"] == "checked_out"
    assert record_of(child).picked_up_by == "吴外婆"


def test_a_refusal_without_javascript_comes_back_as_a_message(room, login_as, client):
    child = room.seat("吴小宝")
    uncle = PickupPersonFactory(child=child, name="吴舅舅", blocked=True)
    login_as(room.volunteer)
    post(client, room, action(room, child, "check-in"))
    response = post(client, room, action(room, child, "check-out"), {"pickup": f"person:{uncle.id}"})
    assert response.status_code == 302
    assert "BLOCKED" in text(client.get(roster_url(room)))


def test_the_coordinator_overrides_with_a_reason_and_the_event_log_shows_it(room, login_as, client):
    child = room.seat("孙小圣")
    login_as(room.coordinator)
    post(client, room, action(room, child, "check-in"))
    assert 'value="override"' in text(client.get(roster_url(room)))
    response = post(client, room, action(room, child, "check-out"),
                    {"pickup": "override", "pickup_name": "邻居张阿姨", "override_reason": "妈妈来电确认"})
    assert response.status_code == 302
    log = text(client.get(f"{roster_url(room)}/history"))
    assert "邻居张阿姨" in log and "妈妈来电确认" in log and "Checked out" in log


def test_mark_the_rest_absent_and_a_coordinators_correction(room, login_as, client):
    here, missing = room.seat("甲"), room.seat("乙")
    login_as(room.coordinator)
    post(client, room, action(room, here, "check-in"))
    response = post(client, room, f"{roster_url(room)}/rest-absent")
    assert response.status_code == 302
    assert record_of(missing).state == AttendanceState.ABSENT and record_of(here).state == AttendanceState.PRESENT
    fixed = post(client, room, action(room, missing, "correct"), {"new_state": "present", "reason": "在厕所"},
                 fetch=True)
    assert fixed.status_code == 200 and fixed.get_json()["state"] == "present"
    kinds = list(db.session.scalars(sa.select(AttendanceEvent.kind).where(AttendanceEvent.child_id == missing.id)
                                    .order_by(AttendanceEvent.id)))
    assert kinds == [EventKind.MARKED_ABSENT, EventKind.CORRECTED]


def test_a_volunteer_cannot_correct(room, login_as, client):
    child = room.seat("甲")
    login_as(room.volunteer)
    response = post(client, room, action(room, child, "correct"), {"new_state": "present", "reason": "x"})
    assert response.status_code == 403


def test_a_coordinator_of_another_community_cannot_see_the_roster(room, login_as, client):
    login_as(CoordinatorFactory())
    assert client.get(roster_url(room)).status_code == 404


def test_no_address_under_attendance_accepts_a_method_that_would_edit_or_delete_events(app):
    methods = {method for rule in app.url_map.iter_rules() if rule.rule.startswith("/attendance")
               for method in rule.methods}
    assert methods <= {"GET", "HEAD", "OPTIONS", "POST"}
    assert not any(word in rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/attendance")
                   for word in ("edit", "delete", "events/"))


def test_a_coordinator_sees_every_session_of_the_community_today_but_not_tomorrows(room, login_as, client):
    from tests.attendance.factories import session_at

    tomorrow = session_at(room.programme, MONDAY.replace(day=3), time(16, 30), time(18, 30))
    login_as(room.coordinator)
    page = text(client.get("/attendance/"))
    assert f"/attendance/sessions/{room.session.id}" in page and f"/attendance/sessions/{tomorrow.id}" not in page
    assert "Event log" in text(client.get(roster_url(room)))


def test_the_event_log_reads_who_did_what_from_which_state_to_which(room, login_as, client):
    child = room.seat("钱小多")
    login_as(room.volunteer)
    post(client, room, action(room, child, "absent"))
    post(client, room, action(room, child, "check-in"))
    login_as(room.coordinator)
    log = text(client.get(f"{roster_url(room)}/history")).split("<tbody>")[1]
    assert log.count('data-testid="event"') == 2
    assert log.index("Marked absent") < log.index("Checked in")
    assert "Expected → Absent" in log and "Absent → Present" in log and room.volunteer.name in log
