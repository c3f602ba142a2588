"""The opening minute on a phone: a parent waits on the programme's page, the button held and a countdown running by
the server's clock; at the moment the button comes alive, and one press takes the seat."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from childcare.db import db
from tests.browser.conftest import sign_in
from tests.enrolment.view_factories import ChildFactory, add_sessions
from tests.factories import ProgrammeFactory, UserFactory

pytestmark = pytest.mark.browser

OPENS_IN = timedelta(seconds=8)


@pytest.fixture
def waiting_family(app) -> tuple[str, int]:
    """A guardian with a child, and a camp whose registration opens in a few seconds (committed for the browser)."""
    with app.app_context():
        guardian = UserFactory(phone="+8613900139200")
        ChildFactory(guardian=guardian, name="陈小雨")
        programme = ProgrammeFactory(title="暑期阅读营", capacity=5,
                                     registration_opens_at=datetime.now(UTC) + OPENS_IN)
        add_sessions(programme, 2)
        programme_id = programme.id
        db.session.commit()
        db.session.remove()
    return "13900139200", programme_id


def test_the_button_waits_for_the_opening_and_then_takes_the_seat(page: Page, waiting_family, screenshot):
    phone, programme_id = waiting_family
    sign_in(page, phone)

    page.goto(f"/programmes/{programme_id}")
    button = page.locator("form.enrol-form button[type=submit]")
    countdown = page.locator("[data-testid=registration] [data-countdown]")
    expect(page.locator("[data-testid=registration]")).to_contain_text("报名将于")
    expect(countdown).to_be_visible()
    expect(countdown).to_have_text(re.compile(r"^00:0\d$"))  # whole seconds, by the server's clock
    expect(button).to_be_disabled()
    screenshot("waiting-for-the-opening")

    page.get_by_label("陈小雨").check()
    expect(button).to_be_enabled(timeout=int(OPENS_IN.total_seconds() + 10) * 1000)
    expect(page.locator("[data-testid=registration] .opened")).to_be_visible()
    expect(countdown).to_be_hidden()
    with page.expect_navigation():
        button.click()

    page.wait_for_url("**/enrolments/")
    expect(page.locator("[data-testid=enrolment].status-confirmed")).to_have_count(1)
    screenshot("the-seat-taken")
