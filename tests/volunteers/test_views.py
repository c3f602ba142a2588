"""The volunteer screens: apply, the board with big claim buttons, my hours and certificate; coordinators' pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from childcare.db import db, utcnow
from childcare.volunteers.models import ApplicationStatus, HoursEntry, Shift, ShiftStatus, VolunteerApplication
from tests.enrolment.factories import LOCAL
from tests.factories import CommunityFactory, CoordinatorFactory, UserFactory
from tests.volunteers.factories import ApplicationFactory, HoursFactory, ShiftFactory, session_at, volunteer_of


@pytest.fixture(autouse=True)
def english(client):
    client.set_cookie("lang", "en")


def text(response) -> str:
    return response.get_data(as_text=True)


def test_a_resident_applies_from_the_board(login_as, post_form):
    community = CommunityFactory(name="杏北社区")
    resident = UserFactory()
    login_as(resident)

    form = {"community_id": community.id, "kind": "retired_cadre", "organisation": "盐湖区教育局", "skills": "书法",
            "availability": "周三下午"}
    response = post_form("/volunteers/apply", form, token_from="/volunteers/", follow_redirects=True)

    assert response.status_code == 200 and "Thank you!" in text(response)
    application = db.session.scalar(sa.select(VolunteerApplication).where(VolunteerApplication.user_id == resident.id))
    assert application.kind.value == "retired_cadre" and application.status == ApplicationStatus.PENDING
    assert "Awaiting approval" in text(response)


def test_the_board_shows_understaffed_sessions_first_with_a_claim_button(login_as, client):
    community = CommunityFactory()
    volunteer = volunteer_of(community)
    staffed = session_at(utcnow() + timedelta(days=1), community=community, title="已满课堂", min_volunteers=1)
    ShiftFactory(session=staffed, volunteer=volunteer_of(community))
    needy = session_at(utcnow() + timedelta(days=2), community=community, title="缺人课堂", min_volunteers=2)
    login_as(volunteer)

    page = text(client.get("/volunteers/"))

    assert page.index("缺人课堂") < page.index("已满课堂")
    assert f'action="/volunteers/sessions/{needy.id}/claim"' in page
    assert f'action="/volunteers/sessions/{staffed.id}/claim"' not in page
    assert "2 volunteers still needed" in page


def test_the_board_shows_the_five_nearest_sessions_and_the_rest_one_tap_away(login_as, client):
    community = CommunityFactory()
    volunteer = volunteer_of(community)
    sessions = [session_at(utcnow() + timedelta(days=day), community=community, title=f"课堂{day}")
                for day in range(1, 9)]
    login_as(volunteer)

    page = text(client.get("/volunteers/"))

    shown, folded = page.split('data-testid="more-sessions"')
    assert [f"课堂{day}" in shown for day in range(1, 9)] == [True] * 5 + [False] * 3
    assert "3 more sessions" in folded
    assert all(f'action="/volunteers/sessions/{s.id}/claim"' in folded for s in sessions[5:])


def test_a_volunteer_claims_with_one_tap_and_sees_the_post_under_my_posts(login_as, post_form, client):
    session = session_at(title="七色花成长营地")
    volunteer = volunteer_of(session.programme.community)
    login_as(volunteer)

    response = post_form(f"/volunteers/sessions/{session.id}/claim", {}, token_from="/volunteers/",
                         follow_redirects=True)

    assert "The post is yours" in text(response)
    shift = db.session.scalar(sa.select(Shift).where(Shift.volunteer_id == volunteer.id))
    assert shift.status == ShiftStatus.HELD
    assert f'action="/volunteers/shifts/{shift.id}/release"' in text(response)


def test_a_claim_in_a_community_where_one_is_not_approved_is_refused_politely(login_as, post_form):
    volunteer = volunteer_of(CommunityFactory())
    elsewhere = session_at()
    login_as(volunteer)

    response = post_form(f"/volunteers/sessions/{elsewhere.id}/claim", {}, token_from="/volunteers/",
                         follow_redirects=True)

    assert "not an approved volunteer of this community" in text(response)
    assert db.session.scalar(sa.select(sa.func.count(Shift.id))) == 0


def test_the_volunteer_checks_in_and_out_on_the_day(login_as, post_form, client, time_machine):
    session = session_at(utcnow() + timedelta(hours=4))
    volunteer = volunteer_of(session.programme.community)
    shift = ShiftFactory(session=session, volunteer=volunteer)
    login_as(volunteer)
    time_machine.move_to(session.starts_at)

    post_form(f"/volunteers/shifts/{shift.id}/check-in", {}, token_from="/volunteers/")
    time_machine.move_to(session.starts_at + timedelta(hours=2))
    response = post_form(f"/volunteers/shifts/{shift.id}/check-out", {}, token_from="/volunteers/",
                         follow_redirects=True)

    assert "Your hours are recorded" in text(response)
    assert db.session.scalar(sa.select(HoursEntry.minutes).where(HoursEntry.shift_id == shift.id)) == 120


def test_my_hours_show_totals_and_the_certificate_names_the_community_and_total(login_as, client):
    community = CommunityFactory(name="杏北社区")
    volunteer = volunteer_of(community)
    session = session_at(utcnow() - timedelta(days=2), community=community, title="暑期小荷课堂")
    shift = ShiftFactory(session=session, volunteer=volunteer)
    HoursFactory(volunteer=volunteer, community=community, shift_id=shift.id, served_on=session.on_date, minutes=150)
    HoursFactory(volunteer=volunteer, community=community, minutes=30, reason="补录")
    login_as(volunteer)

    hours = text(client.get("/volunteers/hours"))
    certificate = client.get("/volunteers/hours/certificate")

    assert "3.00 hours in all" in hours and "杏北社区: 3.00 hours" in hours
    page = text(certificate)
    assert certificate.status_code == 200
    assert "Certificate of volunteer hours" in page and "杏北社区" in page and "暑期小荷课堂" in page
    assert "Total: 3.00 hours" in page and volunteer.name in page
    assert "****" in page and volunteer.phone[3:] not in page  # the phone is masked
    assert "<script>" not in page and "style=" not in page


def test_a_volunteer_cannot_see_another_volunteers_hours(login_as, client):
    community = CommunityFactory()
    me, other = volunteer_of(community), volunteer_of(community)
    HoursFactory(volunteer=other, community=community, minutes=600, reason="他人的时长")
    login_as(me)

    mine = text(client.get("/volunteers/hours"))

    assert "他人的时长" not in mine and "0.00 hours in all" in mine
    assert client.get(f"/volunteers/manage/volunteers/{other.id}/hours").status_code == 403
    assert "他人的时长" not in text(client.get(f"/volunteers/hours/certificate?user_id={other.id}"))


@pytest.mark.parametrize("url", ["/volunteers/manage/", "/volunteers/manage/staffing"])
def test_guardians_get_403_on_coordinator_pages(login_as, client, url):
    login_as(UserFactory())

    assert client.get(url).status_code == 403


def test_the_coordinator_approves_an_application_from_the_list(login_as, post_form):
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    application = ApplicationFactory(community=community)
    login_as(coordinator)

    response = post_form(f"/volunteers/manage/applications/{application.id}/decide",
                         {"decision": "approve", "note": "欢迎"}, token_from="/volunteers/manage/",
                         follow_redirects=True)

    assert "The application is approved" in text(response)
    assert db.session.scalar(sa.select(VolunteerApplication.status)
                             .where(VolunteerApplication.id == application.id)) == ApplicationStatus.APPROVED


def test_the_staffing_page_flags_understaffed_sessions_and_assigns(login_as, post_form, client):
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    session = session_at(community=community, title="四点半课堂", min_volunteers=1)
    volunteer = volunteer_of(community, name="李老师")
    session_at(title="别的社区的课堂")
    login_as(coordinator)

    page = text(client.get("/volunteers/manage/staffing"))
    assert "Understaffed" in page and "四点半课堂" in page and "别的社区的课堂" not in page

    post_form(f"/volunteers/manage/sessions/{session.id}/assign", {"volunteer_id": volunteer.id},
              token_from="/volunteers/manage/staffing")
    page = text(client.get("/volunteers/manage/staffing"))
    assert "Understaffed" not in page and "李老师" in page


def test_the_coordinator_records_a_correction_with_a_reason(login_as, post_form, client):
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    volunteer = volunteer_of(community)
    login_as(coordinator)
    url = f"/volunteers/manage/volunteers/{volunteer.id}/hours"

    refused = post_form(url, {"community_id": community.id, "minutes": 60, "reason": ""})
    done = post_form(url, {"community_id": community.id, "minutes": 60, "reason": "补录活动"}, follow_redirects=True)

    assert refused.status_code == 422
    assert "The correction is recorded" in text(done) and "1.00 hours in all" in text(done)


def test_every_volunteer_page_renders_in_chinese_too(login_as, client):
    client.set_cookie("lang", "zh_CN")
    community = CommunityFactory(name="杏北社区")
    coordinator = CoordinatorFactory(community=community)
    volunteer = volunteer_of(community)
    ShiftFactory(session=session_at(community=community), volunteer=volunteer)
    HoursFactory(volunteer=volunteer, community=community, minutes=90, reason="补录")

    login_as(volunteer)
    for url in ("/volunteers/", "/volunteers/hours", "/volunteers/hours/certificate?start=2020-01-01"):
        assert client.get(url).status_code == 200, url
    login_as(coordinator)
    for url in ("/volunteers/manage/", "/volunteers/manage/staffing",
                f"/volunteers/manage/volunteers/{volunteer.id}/hours"):
        assert client.get(url).status_code == 200, url


def test_the_board_costs_a_bounded_number_of_queries(login_as, client, count_queries):
    community = CommunityFactory()
    volunteer = volunteer_of(community)
    for day in range(1, 4):
        session = session_at(utcnow() + timedelta(days=day), community=community)
        ShiftFactory(session=session, volunteer=volunteer if day == 1 else volunteer_of(community))
    login_as(volunteer)
    client.get("/volunteers/")  # warm up

    with count_queries() as n:
        assert client.get("/volunteers/").status_code == 200
    few = n()
    for day in range(4, 10):
        session_at(utcnow() + timedelta(days=day), community=community)
    with count_queries() as n:
        client.get("/volunteers/")

    assert n() == few and few <= 14


def test_the_coordinator_confirms_a_volunteers_times_from_the_staffing_page(login_as, post_form):
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    session = session_at(utcnow() - timedelta(days=1), community=community)
    shift = ShiftFactory(session=session, volunteer=volunteer_of(community))
    login_as(coordinator)
    arrived = session.starts_at.astimezone(LOCAL)

    response = post_form(f"/volunteers/manage/shifts/{shift.id}/confirm",
                         {"arrived": arrived.strftime("%H:%M"),
                          "left": (arrived + timedelta(minutes=150)).strftime("%H:%M")},
                         token_from="/volunteers/manage/staffing", follow_redirects=True)

    assert "The times are confirmed" in text(response)
    assert db.session.scalar(sa.select(HoursEntry.minutes).where(HoursEntry.shift_id == shift.id)) == 150
