"""On a phone no page scrolls sideways: each person of the demo opens their pages at 390px, in Chinese and in English.

A table may scroll inside its own frame; the page itself must not, or the buttons at its right edge are out of reach
for a parent in the WeChat browser or a volunteer of 65.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page

from childcare.accounts.services import find_by_phone, normalise_phone
from childcare.children.models import Guardianship
from childcare.db import db
from childcare.demo.data import DEMO_ACCOUNTS
from childcare.programmes.models import Programme, ProgrammeSession
from childcare.volunteers.models import Shift

pytestmark = pytest.mark.browser

PAGE_WIDTH = "() => document.documentElement.scrollWidth"
PHONE_WIDTH = 390


def _account(label_start: str, community: str | None = None) -> dict:
    return next(a for a in DEMO_ACCOUNTS if a["label"].startswith(label_start)
                and (community is None or a["community"] == community))


@pytest.fixture
def demo(app) -> dict[tuple[str, str], list[str]]:
    """The demo, loaded for real; for each person (phone, password), the pages they use."""
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output
        guardian, volunteer = _account("guardian"), _account("volunteer (retired)")
        coordinator, admin = _account("coordinator 皮革城社区"), _account("administrator")
        parent = find_by_phone(normalise_phone(guardian["phone"]))
        child_id = db.session.scalar(sa.select(Guardianship.child_id).where(Guardianship.user_id == parent.id)
                                     .order_by(Guardianship.child_id).limit(1))
        programme_id = db.session.scalar(sa.select(Programme.id).where(Programme.title == "皮革城四点半课堂"))
        serving = find_by_phone(normalise_phone(volunteer["phone"]))
        session_id = db.session.scalar(sa.select(Shift.session_id).join(ProgrammeSession)
                                       .where(Shift.volunteer_id == serving.id)
                                       .order_by(ProgrammeSession.starts_at).limit(1))
        db.session.remove()
    return {
        (guardian["phone"], guardian["password"]): [
            "/", "/programmes/", f"/programmes/{programme_id}", "/schedule/", "/children/", f"/children/{child_id}",
            "/children/add", f"/children/{child_id}/edit", "/enrolments/", "/notifications/", "/updates/",
            "/account/tokens/"],
        (volunteer["phone"], volunteer["password"]): [
            "/volunteers/", "/attendance/", f"/attendance/sessions/{session_id}", "/volunteers/hours"],
        (coordinator["phone"], coordinator["password"]): [
            "/manage/programmes/", f"/manage/programmes/{programme_id}", f"/manage/programmes/{programme_id}/edit",
            f"/manage/programmes/{programme_id}/enrolments", f"/manage/programmes/{programme_id}/poster",
            "/manage/programmes/new", "/manage/programmes/calendar",
            "/volunteers/manage/", "/volunteers/manage/staffing", f"/attendance/sessions/{session_id}",
            f"/attendance/sessions/{session_id}/history", f"/updates/sessions/{session_id}", "/manage/audit/"],
        (admin["phone"], admin["password"]): ["/manage/places/", "/manage/people/"],
    }


def log_in(page: Page, phone: str, password: str) -> None:
    page.goto("/account/login")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")


def test_no_page_of_the_demo_scrolls_sideways_on_a_phone(chromium_browser, live_server, demo):
    from tests.browser.conftest import PHONE

    too_wide = []
    for (phone, password), paths in demo.items():
        for language in ("zh_CN", "en"):
            context = chromium_browser.new_context(base_url=live_server, **PHONE)
            context.set_default_timeout(15_000)
            context.add_cookies([{"name": "lang", "value": language, "url": live_server}])
            page = context.new_page()
            try:
                log_in(page, phone, password)
                for path in paths:
                    response = page.goto(path)
                    assert response is not None and response.status == 200, f"{path} as {phone}: {response}"
                    width = page.evaluate(PAGE_WIDTH)
                    if width > PHONE_WIDTH:
                        too_wide.append(f"{path} as {phone} in {language}: {width}px")
            finally:
                context.close()
    assert not too_wide, "\n".join(too_wide)
