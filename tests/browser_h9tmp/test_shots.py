from datetime import timedelta

import pytest

from childcare.db import db, utcnow
from tests.factories import PASSWORD, CommunityFactory, CoordinatorFactory
from tests.volunteers.factories import HoursFactory, ShiftFactory, session_at, volunteer_of

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("app_ctx")]


def login(page, user):
    page.goto("/account/login")
    page.fill("input[name=phone]", user.phone[3:])
    page.fill("input[name=password]", PASSWORD)
    page.locator("form:has(input[name=phone]) button[type=submit]").click()


def test_shots(page, app):
    community = CommunityFactory(name="杏北社区")
    coordinator = CoordinatorFactory(community=community)
    volunteer = volunteer_of(community, name="王晓明")
    s1 = session_at(utcnow() + timedelta(days=1), community=community, title="四点半课堂", min_volunteers=2)
    session_at(utcnow() + timedelta(days=2), community=community, title="七色花成长营地")
    ShiftFactory(session=s1, volunteer=volunteer)
    past = session_at(utcnow() - timedelta(days=3), community=community, title="暑期小荷课堂")
    sh = ShiftFactory(session=past, volunteer=volunteer)
    HoursFactory(volunteer=volunteer, community=community, shift_id=sh.id, served_on=past.on_date, minutes=180)
    HoursFactory(volunteer=volunteer, community=community, minutes=30, reason="补录")
    db.session.commit()
    login(page, volunteer)
    page.goto("/volunteers/")
    page.screenshot(path="/tmp/h9_board.png", full_page=True)
    page.goto("/volunteers/hours/certificate?start=2020-01-01")
    page.emulate_media(media="print")
    page.screenshot(path="/tmp/h9_cert.png", full_page=True)
    page.emulate_media(media="screen")
    page.context.clear_cookies()
    login(page, coordinator)
    page.goto("/volunteers/manage/staffing")
    page.screenshot(path="/tmp/h9_staffing.png", full_page=True)
