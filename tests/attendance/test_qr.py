"""码上办: a guardian scans the session's code at the door and checks in their own child, and nobody else's."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from childcare.attendance import qr
from childcare.attendance.models import AttendanceEvent, AttendanceRecord, AttendanceState, EventKind, EventSource
from childcare.db import db
from childcare.errors import NotFound
from tests.attendance.qr_factories import ENDS, STARTS, enrolled_child, local, story, volunteer_of
from tests.enrolment.factories import ChildFactory
from tests.factories import CoordinatorFactory, UserFactory


def token_for(app, session) -> str:
    with app.app_context():
        return qr.make_token(session)


def events_of(session) -> list[AttendanceEvent]:
    return list(db.session.scalars(sa.select(AttendanceEvent).where(AttendanceEvent.session_id == session.id)
                                   .order_by(AttendanceEvent.id)))


def at_the_door(time_machine, minute: int = 20) -> None:
    """Ten minutes before a 16:30 start, as families arrive."""
    time_machine.move_to(local(STARTS).replace(minute=minute), tick=False)


def test_a_guardian_scans_the_code_and_checks_in_their_own_child(app, client, login_as, post_form, time_machine):
    s = story()
    at_the_door(time_machine)
    token = token_for(app, s.session)
    login_as(s.guardian)
    client.set_cookie("lang", "en")
    page = client.get(f"/attendance/qr/{token}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'name="child_ids" value="{s.child.id}"' in body and "Check in 王小明" in body

    response = post_form(f"/attendance/qr/{token}", {"child_ids": str(s.child.id)})
    assert response.status_code == 302
    [event] = events_of(s.session)
    assert (event.kind, event.source, event.actor_id, event.child_id) == (
        EventKind.CHECKED_IN, EventSource.QR, s.guardian.id, s.child.id)
    record = db.session.scalar(sa.select(AttendanceRecord).where(AttendanceRecord.session_id == s.session.id))
    assert record.state == AttendanceState.PRESENT and record.from_paper is False
    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "王小明 is checked in (16:20)" in after and "Checked in 16:20" in after


def test_a_second_scan_of_a_checked_in_child_is_answered_kindly_without_a_second_event(
        app, client, login_as, post_form, time_machine):
    s = story()
    at_the_door(time_machine)
    token = token_for(app, s.session)
    login_as(s.guardian)
    client.set_cookie("lang", "en")
    post_form(f"/attendance/qr/{token}", {"child_ids": str(s.child.id)})
    time_machine.move_to(local(STARTS).replace(minute=25), tick=False)
    again = post_form(f"/attendance/qr/{token}", {"child_ids": str(s.child.id)}, follow_redirects=True)
    assert again.status_code == 200
    assert "王小明 is checked in (16:20)" in again.get_data(as_text=True)
    assert len(events_of(s.session)) == 1


def test_the_page_lists_only_the_guardians_own_children_expected_in_that_session(
        app, client, login_as, time_machine):
    s = story()
    sibling_without_seat = ChildFactory(guardian=s.guardian, name="王小红")
    neighbour = enrolled_child(s.programme, UserFactory(), name="赵小刚")
    at_the_door(time_machine)
    login_as(s.guardian)
    client.set_cookie("lang", "en")
    body = client.get(f"/attendance/qr/{token_for(app, s.session)}").get_data(as_text=True)
    assert "王小明" in body
    assert sibling_without_seat.name not in body and neighbour.name not in body


def test_a_guardian_cannot_check_in_someone_elses_child(app, client, login_as, post_form, time_machine):
    s = story()
    neighbour = enrolled_child(s.programme, UserFactory(), name="赵小刚")
    at_the_door(time_machine)
    token = token_for(app, s.session)
    login_as(s.guardian)
    response = post_form(f"/attendance/qr/{token}", {"child_ids": [str(s.child.id), str(neighbour.id)]})
    assert response.status_code == 404
    assert events_of(s.session) == []  # not even the guardian's own child: the whole scan is refused
    assert db.session.scalar(sa.select(sa.func.count(AttendanceRecord.id))) == 0


def test_a_child_without_a_seat_in_the_session_is_refused_as_not_expected(app, app_ctx, time_machine):
    s = story()
    sibling = ChildFactory(guardian=s.guardian, name="王小红")
    at_the_door(time_machine)
    with pytest.raises(qr.NotExpected) as refused:
        qr.check_in_by_qr(actor=s.guardian, token=qr.make_token(s.session), child_ids=[sibling.id])
    assert refused.value.code == "not_expected"
    with pytest.raises(NotFound):
        qr.check_in_by_qr(actor=UserFactory(), token=qr.make_token(s.session), child_ids=[s.child.id])
    assert events_of(s.session) == []


@pytest.mark.parametrize("forge", [
    lambda token, session_id: URLSafeTimedSerializer("not-our-secret", salt="attendance-qr").dumps(session_id),
    lambda token, session_id: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    lambda token, session_id: "hello",
], ids=["other-key", "tampered", "garbage"])
def test_a_forged_code_is_refused_as_invalid(app, client, login_as, post_form, time_machine, forge):
    s = story()
    at_the_door(time_machine)
    forged = forge(token_for(app, s.session), s.session.id)
    login_as(s.guardian)
    client.set_cookie("lang", "en")
    page = client.get(f"/attendance/qr/{forged}")
    assert page.status_code == 404 and "Invalid code" in page.get_data(as_text=True)
    refused = post_form(f"/attendance/qr/{forged}", {"child_ids": str(s.child.id)}, token_from="/children/")
    assert refused.status_code == 404
    assert events_of(s.session) == []


def test_a_code_signed_with_our_key_but_another_salt_is_invalid(app, client, login_as, time_machine):
    s = story()
    at_the_door(time_machine)
    other = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="something-else").dumps(s.session.id)
    login_as(s.guardian)
    assert client.get(f"/attendance/qr/{other}").status_code == 404


@pytest.mark.parametrize("when", [
    local(ENDS).replace(hour=ENDS.hour + 2),  # two hours after the end
    local(STARTS).replace(hour=STARTS.hour - 1),  # an hour before the start
])
def test_the_code_is_refused_outside_the_session_window(app, client, login_as, post_form, time_machine, when):
    s = story()
    at_the_door(time_machine)
    token = token_for(app, s.session)  # printed on a poster that same afternoon: the signature is genuine
    time_machine.move_to(when, tick=False)
    login_as(s.guardian)
    client.set_cookie("lang", "en")
    page = client.get(f"/attendance/qr/{token}")
    body = page.get_data(as_text=True)
    assert page.status_code == 410 and "This code is not valid now" in body and "王小明" not in body
    refused = post_form(f"/attendance/qr/{token}", {"child_ids": str(s.child.id)}, token_from="/children/")
    assert refused.status_code == 410
    assert events_of(s.session) == []


def test_the_code_opens_thirty_minutes_before_the_start_and_closes_at_the_end(app, app_ctx, time_machine):
    s = story()
    time_machine.move_to(local(STARTS) - timedelta(hours=3), tick=False)
    token = qr.make_token(s.session)
    for moment, valid in ((local(STARTS) - timedelta(minutes=31), False), (local(STARTS) - timedelta(minutes=30), True),
                          (local(ENDS), True), (local(ENDS) + timedelta(minutes=1), False)):
        time_machine.move_to(moment, tick=False)
        if valid:
            assert qr.session_for_token(token).id == s.session.id
        else:
            with pytest.raises(qr.CodeNotValidNow):
                qr.session_for_token(token)


def test_a_code_for_a_cancelled_session_is_not_valid(app, app_ctx, time_machine):
    s = story()
    s.session.cancelled = True
    db.session.commit()
    at_the_door(time_machine)
    with pytest.raises(qr.CodeNotValidNow):
        qr.session_for_token(qr.make_token(s.session))


def test_a_guardian_who_is_not_logged_in_is_sent_to_log_in_and_comes_back(app, client, time_machine):
    s = story()
    at_the_door(time_machine)
    token = token_for(app, s.session)
    response = client.get(f"/attendance/qr/{token}")
    assert response.status_code == 302
    assert "/account/login" in response.headers["Location"] and token in response.headers["Location"]


def test_the_sessions_volunteer_sees_the_code_and_the_poster(client, login_as, time_machine):
    s = story()
    at_the_door(time_machine)
    login_as(s.volunteer)
    client.set_cookie("lang", "en")
    page = client.get(f"/attendance/sessions/{s.session.id}/qr")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in body
    assert re.search(r"http://localhost/attendance/qr/[\w.-]+", body)
    assert "style=" not in body.split("<svg", 1)[1].split("</svg>", 1)[0]  # the CSP allows no inline styles
    poster = client.get(f"/attendance/sessions/{s.session.id}/qr/poster").get_data(as_text=True)
    assert "Scan to check in your child" in poster and s.programme.title in poster and "<svg" in poster


def test_the_code_on_the_staff_page_works_for_the_guardian(client, login_as, time_machine):
    s = story()
    at_the_door(time_machine)
    login_as(s.volunteer)
    body = client.get(f"/attendance/sessions/{s.session.id}/qr").get_data(as_text=True)
    path = re.search(r"http://localhost(/attendance/qr/[\w.-]+)", body).group(1)
    login_as(s.guardian)
    assert "王小明" in client.get(path).get_data(as_text=True)


def test_a_volunteer_not_serving_the_session_cannot_open_its_code(client, login_as, time_machine):
    s = story()
    other_session_volunteer = UserFactory(roles=["volunteer"])
    at_the_door(time_machine)
    for outsider in (other_session_volunteer, s.guardian, CoordinatorFactory()):
        login_as(outsider)
        assert client.get(f"/attendance/sessions/{s.session.id}/qr").status_code == 404
        assert client.get(f"/attendance/sessions/{s.session.id}/qr/poster").status_code == 404
    login_as(s.coordinator)
    assert client.get(f"/attendance/sessions/{s.session.id}/qr").status_code == 200
    volunteer_of(s.session, other_session_volunteer)
    login_as(other_session_volunteer)
    assert client.get(f"/attendance/sessions/{s.session.id}/qr").status_code == 200
