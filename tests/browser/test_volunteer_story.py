"""A volunteer on a phone claims a post, opens today's roster, checks two children in and hands one to grandma;
then the mother sees on her own phone who picked her child up."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from playwright.sync_api import Page, expect

from childcare.accounts.models import Role
from childcare.db import db, utcnow
from childcare.i18n import to_local
from childcare.programmes.models import ProgrammeSession
from childcare.volunteers.models import ApplicationStatus, VolunteerApplication, VolunteerKind
from tests.attendance.factories import ChildFactory, PickupPersonFactory, enrol
from tests.browser.conftest import PHONE, go_to
from tests.factories import PASSWORD, ProgrammeFactory, UserFactory

pytestmark = pytest.mark.browser

TITLE = "杏北四点半课堂"
VOLUNTEER_PHONE, MOTHER_PHONE = "13900139301", "13900139302"
FITS_A_PHONE = "() => document.documentElement.scrollWidth"


def submit(page: Page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def log_in(page: Page, phone: str) -> None:
    page.goto("/account/login")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", PASSWORD)
    submit(page, "main form button[type=submit]")


@pytest.fixture
def classroom(app) -> dict:
    """Committed: a session starting in ten minutes, two children with seats, an approved volunteer without a post."""
    with app.app_context():
        starts = utcnow().replace(microsecond=0) + timedelta(minutes=10)
        day = to_local(starts).date()
        programme = ProgrammeFactory(title=TITLE, starts_on=day, ends_on=day, claim_cutoff_hours=0,
                                     start_time=time(16, 30), end_time=time(18, 30))
        session = ProgrammeSession(programme_id=programme.id, on_date=day, starts_at=starts,
                                   ends_at=starts + timedelta(hours=2), venue_id=programme.venue_id)
        db.session.add(session)
        volunteer = UserFactory(phone=f"+86{VOLUNTEER_PHONE}", name="王老师", roles=[Role.VOLUNTEER])
        db.session.add(VolunteerApplication(user_id=volunteer.id, community_id=programme.community_id,
                                            kind=VolunteerKind.RETIRED_CADRE, status=ApplicationStatus.APPROVED))
        mother = UserFactory(phone=f"+86{MOTHER_PHONE}", name="白妈妈")
        bai = ChildFactory(name="白小雪", guardian=mother, allergies="")
        PickupPersonFactory(child=bai, name="白外婆", relation="外婆")
        PickupPersonFactory(child=bai, name="白某某", blocked=True)
        ai = ChildFactory(name="艾小米")
        for child in (bai, ai):
            enrol(child, programme)
        db.session.commit()
        data = {"session_id": session.id, "today": session.on_date == to_local(utcnow()).date()}
        db.session.remove()
    return data


@pytest.fixture
def second_phone(chromium_browser, live_server):
    context = chromium_browser.new_context(base_url=live_server, **PHONE)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_volunteer_checks_two_children_in_and_hands_one_to_grandma_and_the_mother_is_told(
        page: Page, second_phone: Page, classroom: dict, screenshot):
    session_id = classroom["session_id"]
    log_in(page, VOLUNTEER_PHONE)

    # 认领岗位: the volunteer claims the post on the volunteers' board.
    page.goto("/volunteers/")
    submit(page, f"#session-{session_id} form[action$='/claim'] button[type=submit]")
    expect(page.locator("[data-testid=my-post]")).to_have_count(1)

    if classroom["today"]:  # a run a few minutes before midnight has the session tomorrow
        go_to(page, "今日点名表")  # a volunteer's first link, beside the bell on a phone
        expect(page.locator("[data-testid=session]").filter(has_text=TITLE)).to_have_count(1)
        page.click(f"a[href='/attendance/sessions/{session_id}']")
        page.wait_for_url(f"**/attendance/sessions/{session_id}")
    else:
        page.goto(f"/attendance/sessions/{session_id}")
    rows = page.locator("[data-testid=roster-row]")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("艾小米")  # ài before bái
    expect(rows.nth(1)).to_contain_text("白小雪")
    assert page.evaluate(FITS_A_PHONE) <= 390
    screenshot("roster")

    # Check-ins go through attendance.js: the rows change in place, no page load.
    page.evaluate("window.__samePage = true")
    for name in ("艾小米", "白小雪"):
        row = page.locator("[data-testid=roster-row]").filter(has_text=name)
        row.locator("[data-testid=check-in]").click()
        expect(page.locator("[data-testid=roster-row]").filter(has_text=name)).to_have_attribute("data-state",
                                                                                                  "present")
    assert page.evaluate("window.__samePage") is True
    screenshot("both-checked-in")

    bai = page.locator("[data-testid=roster-row]").filter(has_text="白小雪")
    bai.locator("[data-testid=checkout] summary").click()
    expect(bai.locator("[data-testid=blocked]")).to_be_visible()
    expect(bai.get_by_label("白某某", exact=False)).to_be_disabled()
    bai.get_by_label("白外婆", exact=False).check()
    screenshot("choosing-who-takes-the-child")
    bai.locator("[data-testid=confirm-checkout]").click()
    bai = page.locator("[data-testid=roster-row]").filter(has_text="白小雪")
    expect(bai).to_have_attribute("data-state", "checked_out")
    expect(bai).to_contain_text("白外婆")
    assert page.evaluate("window.__samePage") is True
    screenshot("handed-to-grandma")

    mother = second_phone
    log_in(mother, MOTHER_PHONE)
    mother.goto("/notifications/")
    picked_up = mother.locator(".notification").filter(has_text="白外婆")
    expect(picked_up).to_have_count(1)
    expect(picked_up).to_contain_text("白小雪")
    expect(mother.locator(".notification")).to_have_count(2)  # arrived, and picked up
