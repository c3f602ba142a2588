"""The header: on a phone a coordinator's many links fold into a Menu that opens without script, and the header keeps
to two rows; on a desktop every link stands inline."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from childcare.db import db
from tests.browser.conftest import MENU, PHONE, go_to, header_item
from tests.factories import PASSWORD, CoordinatorFactory

pytestmark = pytest.mark.browser

COORDINATOR_PHONE = "13900139401"
#: what the header offers a coordinator (not an administrator: no 人员), as a zh_CN reader sees it
FIRST = "今日点名表"
IN_THE_MENU = ("项目", "项目管理", "区域与场地", "操作记录", "我的孩子", "我的报名", "我的日程", "学习动态", "志愿者",
               "我的账号")
LOG_OUT = "退出登录"
BELL = "header a.bell"
#: Two rows: 8px padding, a 48px row (the language buttons' tap-target height), 8px between rows, a 48px row of links,
#: 8px padding = 120px. A third row adds at least 8 + 48 = 56px (176px), so 150px tells two rows from three, with room
#: for a brand that wraps onto two lines of text (a 56px first row, 128px in all).
TWO_ROWS_PX = 150


@pytest.fixture
def coordinator(app) -> str:
    """A coordinator of one community, committed so the served app sees it; yields the phone number to log in with."""
    with app.app_context():
        CoordinatorFactory(phone=f"+86{COORDINATOR_PHONE}", name="李社工")
        db.session.remove()
    return COORDINATOR_PHONE


def log_in(page: Page, phone: str) -> None:
    page.goto("/account/login")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    expect(page.locator(BELL)).to_be_visible()


@pytest.fixture
def phone_without_script(chromium_browser, live_server):
    """A 390px phone with JavaScript switched off: the Menu must be plain HTML."""
    context = chromium_browser.new_context(base_url=live_server, java_script_enabled=False, **PHONE)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def desktop(chromium_browser, live_server):
    context = chromium_browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 800},
                                           locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_on_a_phone_a_coordinators_header_takes_two_rows_and_every_link_is_one_tap_away_in_the_menu(
        phone_without_script: Page, coordinator: str, screenshot_dir):
    page = phone_without_script
    log_in(page, coordinator)
    page.goto("/")

    header = page.locator("header.site-header").bounding_box()
    assert header["height"] <= TWO_ROWS_PX, f"the header is {header['height']}px tall: more than two rows"
    expect(header_item(page, FIRST)).to_be_visible()
    expect(page.locator(BELL)).to_be_visible()
    expect(page.locator("form.language-switch button[value=en]")).to_be_visible()
    for name in (*IN_THE_MENU, LOG_OUT):
        expect(header_item(page, name)).to_be_hidden()
    page.screenshot(path=str(screenshot_dir / "header-phone-closed.png"))

    # By keyboard, with no script: the Menu is a <summary>, focusable, opened with Enter, and shows its focus ring.
    menu = page.locator(MENU)
    menu.focus()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    expect(page.locator("header details.menu")).to_have_attribute("open", "")
    for name in (*IN_THE_MENU, LOG_OUT):
        item = header_item(page, name)
        expect(item).to_be_in_viewport()
        assert item.bounding_box()["height"] >= 48, f"{name}: tap target under 48px"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(screenshot_dir / "header-phone-menu-open.png"))

    for name in (FIRST, *IN_THE_MENU):
        page.goto("/")
        response = go_to(page, name)  # opens the Menu first when the link waits there
        assert response is not None and response.ok, f"{name}: {response and response.status}"
    go_to(page, LOG_OUT)
    expect(page.locator(BELL)).to_have_count(0)


def test_on_a_desktop_every_link_stands_inline_without_opening_anything(desktop: Page, coordinator: str,
                                                                        screenshot_dir):
    log_in(desktop, coordinator)
    desktop.goto("/")
    expect(desktop.locator(MENU)).to_be_hidden()
    for name in (FIRST, *IN_THE_MENU, LOG_OUT):
        expect(header_item(desktop, name)).to_be_visible()
    expect(desktop.locator(BELL)).to_be_visible()
    desktop.screenshot(path=str(screenshot_dir / "header-desktop.png"))


@pytest.fixture
def phone_with_script(chromium_browser, live_server):
    context = chromium_browser.new_context(base_url=live_server, **PHONE)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_with_script_the_menu_closes_on_escape_and_on_a_tap_elsewhere(phone_with_script: Page, coordinator: str):
    page = phone_with_script
    log_in(page, coordinator)
    page.goto("/")
    menu = page.locator("header details.menu")
    page.locator(MENU).click()
    expect(menu).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(page.locator(MENU)).to_be_focused()  # back where the keyboard user was

    page.locator(MENU).click()
    expect(menu).to_have_attribute("open", "")
    # The open panel covers the page below the header, so "elsewhere" is the header's own edge.
    page.locator("header.site-header").click(position={"x": 4, "y": 4})
    expect(menu).not_to_have_attribute("open", "")
