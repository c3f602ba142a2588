"""Two families, one seat, on phones: A takes the last seat, B waits first in line, A cancels, B accepts the offer."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from childcare.db import db
from childcare.programmes.models import Promotion
from tests.browser.conftest import PHONE, go_to
from tests.enrolment.view_factories import add_sessions
from tests.factories import ProgrammeFactory

pytestmark = pytest.mark.browser

PASSWORD = "Xingbei-2026"
TITLE = "七色花成长营地"
FITS_A_PHONE = "() => document.documentElement.scrollWidth"


def submit(page: Page, selector: str) -> None:
    """Click a submit button and wait for the page the server answers with."""
    with page.expect_navigation():
        page.click(selector)


def register_with_a_child(page: Page, *, name: str, phone: str, child: str) -> None:
    page.goto("/account/register")
    page.fill("input[name=name]", name)
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    submit(page, "main form button[type=submit]")
    page.goto("/children/add")
    page.fill("input[name=name]", child)
    page.check("input[name=consent]")
    submit(page, "main form button[type=submit]")
    expect(page.locator("body")).to_contain_text(child)


def enrol(page: Page, programme_id: int, child: str) -> None:
    page.goto(f"/programmes/{programme_id}")
    page.get_by_label(child).check()
    submit(page, "form.enrol-form button[type=submit]")
    page.wait_for_url("**/enrolments/")


@pytest.fixture
def one_seat_programme(app) -> int:
    """A camp with one seat whose freed seat is offered to the next family (committed: the browser sees it)."""
    with app.app_context():
        programme = ProgrammeFactory(title=TITLE, capacity=1, promotion=Promotion.OFFER)
        add_sessions(programme, 3)
        programme_id = programme.id
        db.session.remove()
    return programme_id


@pytest.fixture
def second_phone(chromium_browser, live_server):
    context = chromium_browser.new_context(base_url=live_server, **PHONE)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_the_last_seat_goes_to_a_then_to_b_from_the_waiting_list_by_an_offer_b_accepts(
        page: Page, second_phone: Page, one_seat_programme: int, screenshot, screenshot_dir):
    a, b = page, second_phone
    a.on("dialog", lambda dialog: dialog.accept())  # the "cancel the enrolment?" confirmation

    register_with_a_child(a, name="张妈妈", phone="13900139100", child="张小明")
    a.goto("/programmes/")
    a.click(f"a[href='/programmes/{one_seat_programme}']")
    expect(a.locator(".seat-box [data-testid=seats]")).to_contain_text("1")
    screenshot("programme-one-seat-left")
    enrol(a, one_seat_programme, "张小明")
    expect(a.locator("[data-testid=enrolment].status-confirmed")).to_have_count(1)
    screenshot("a-confirmed")

    register_with_a_child(b, name="李爸爸", phone="13900139101", child="李小红")
    b.goto(f"/programmes/{one_seat_programme}")
    expect(b.locator(".seat-box [data-testid=seats].full")).to_be_visible()
    assert b.evaluate(FITS_A_PHONE) <= 390
    enrol(b, one_seat_programme, "李小红")
    waiting = b.locator("[data-testid=enrolment].status-waitlisted")
    expect(waiting).to_have_count(1)
    expect(waiting.locator("[data-testid=position]")).to_contain_text("1")
    assert b.evaluate(FITS_A_PHONE) <= 390
    b.screenshot(path=str(screenshot_dir / "waitlist-story-b-waitlisted.png"), full_page=True)

    a.goto("/enrolments/")
    a.click("[data-testid=enrolment] details.cancel summary")
    submit(a, "[data-testid=enrolment] details.cancel button[type=submit]")
    expect(a.locator("[data-testid=enrolment]")).to_have_count(0)
    expect(a.locator(".enrolment.ended.status-cancelled")).to_have_count(1)

    b.goto("/enrolments/")
    offered = b.locator("[data-testid=enrolment].status-offered")
    expect(offered).to_have_count(1)
    expect(offered.locator(".offer")).to_be_visible()
    b.screenshot(path=str(screenshot_dir / "waitlist-story-b-offered.png"), full_page=True)
    b.goto("/notifications/")
    expect(b.locator(".notification").filter(has_text=TITLE).filter(has_text="李小红").first).to_be_visible()

    b.goto("/enrolments/")
    submit(b, "[data-testid=enrolment].status-offered form[action$='/accept'] button[type=submit]")
    expect(b.locator("[data-testid=enrolment].status-confirmed")).to_have_count(1)
    expect(b.locator("[data-testid=enrolment].status-offered")).to_have_count(0)
    go_to(b, "我的日程")  # through the Menu
    submit(b, "[data-testid=next-session]")  # the camp begins in a month: straight to its first fortnight
    expect(b.locator("[data-testid=session]")).to_have_count(3)
    assert b.evaluate(FITS_A_PHONE) <= 390
    b.screenshot(path=str(screenshot_dir / "waitlist-story-b-schedule.png"), full_page=True)
