"""A parent of two signs up only one of them, on a phone, saying which priority group the family belongs to.

Every child's box used to carry `required`, so the browser refused the form until every child was ticked."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from childcare.db import db
from childcare.enrolment.models import Enrolment
from tests.browser.conftest import sign_in
from tests.enrolment.factories import PriorityGroupFactory
from tests.enrolment.view_factories import ChildFactory, add_sessions
from tests.factories import ProgrammeFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def family_of_two(app) -> tuple[str, int, int, int]:
    """A guardian with two children, and a camp with priority groups (committed for the browser)."""
    with app.app_context():
        guardian = UserFactory(phone="+8613900139400")
        elder = ChildFactory(guardian=guardian, name="林小北")
        ChildFactory(guardian=guardian, name="林小南")
        programme = ProgrammeFactory(title="七色花成长营地（寒假）", capacity=10)
        add_sessions(programme, 2)
        PriorityGroupFactory(programme=programme, rank=2, name="本社区其他家庭")
        working = PriorityGroupFactory(programme=programme, rank=1, name="本社区双职工家庭")
        ids = programme.id, elder.id, working.id
        db.session.commit()
        db.session.remove()
    return "13900139400", *ids


def test_a_parent_of_two_signs_up_one_child_in_the_familys_priority_group(page: Page, app, family_of_two,
                                                                         screenshot):
    phone, programme_id, elder_id, working_id = family_of_two
    sign_in(page, phone)
    page.goto(f"/programmes/{programme_id}")

    groups = page.locator("input[name=priority_group_id]")
    expect(groups).to_have_count(3)
    expect(groups.first).to_be_checked()  # "none of these" until the family says otherwise
    page.get_by_label("林小北").check()
    page.get_by_label("本社区双职工家庭").check()
    screenshot("one-child-and-a-group")
    with page.expect_navigation():
        page.click("form.enrol-form button[type=submit]")

    expect(page.locator("[data-testid=enrolment].status-confirmed")).to_have_count(1)
    with app.app_context():
        enrolments = list(db.session.scalars(sa.select(Enrolment).where(Enrolment.programme_id == programme_id)))
        db.session.remove()
    assert [(e.child_id, e.priority_group_id) for e in enrolments] == [(elder_id, working_id)]
