"""A camp booked by the day, on a phone: a parent with a long list of days ticks them all with one box, or all but
one, and every day ticked is booked. Each day's box stays as large as the child's, however long its label."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from childcare.db import db
from childcare.enrolment.models import Enrolment
from childcare.programmes.models import EnrolmentMode
from tests.browser.conftest import sign_in
from tests.enrolment.view_factories import ChildFactory, add_sessions
from tests.factories import ProgrammeFactory, UserFactory

pytestmark = pytest.mark.browser

DAYS = 12


@pytest.fixture
def camp_by_the_day(app) -> tuple[str, int, int]:
    """A guardian with a child, and a camp of twelve days booked one by one (committed for the browser)."""
    with app.app_context():
        guardian = UserFactory(phone="+8613900139300")
        child = ChildFactory(guardian=guardian, name="周小满")
        programme = ProgrammeFactory(title="小荷课堂（按天预约）", capacity=6, mode=EnrolmentMode.DAY)
        add_sessions(programme, DAYS)
        ids = programme.id, child.id
        db.session.commit()
        db.session.remove()
    return "13900139300", *ids


def booked_days(app, child_id: int) -> int:
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count(Enrolment.id)).where(Enrolment.child_id == child_id))
        db.session.remove()
    return count


def test_one_box_ticks_every_day_and_every_day_ticked_is_booked(page: Page, app, camp_by_the_day, screenshot):
    phone, programme_id, child_id = camp_by_the_day
    sign_in(page, phone)
    page.goto(f"/programmes/{programme_id}")

    days = page.locator("input[name=session_ids]")
    expect(days).to_have_count(DAYS)
    child_box = page.get_by_label("周小满").bounding_box()
    for index in (0, DAYS - 1):
        box = days.nth(index).bounding_box()
        assert (box["width"], box["height"]) == (child_box["width"], child_box["height"])
    every_day = page.get_by_label("全部课次")
    every_day.check()
    for index in range(DAYS):
        expect(days.nth(index)).to_be_checked()
    days.nth(3).uncheck()
    expect(every_day).not_to_be_checked()
    assert every_day.evaluate("box => box.indeterminate")
    screenshot("all-days-but-one")

    page.get_by_label("周小满").check()
    with page.expect_navigation():
        page.click("form.enrol-form button[type=submit]")

    expect(page.locator("[data-testid=enrolment].status-confirmed")).to_have_count(DAYS - 1)
    assert booked_days(app, child_id) == DAYS - 1
