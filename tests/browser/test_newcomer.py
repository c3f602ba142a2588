"""A newcomer on a phone: finds the service, registers, logs out and in, changes language, reads the inbox."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import go_to, header_item, reveal

pytestmark = pytest.mark.browser

NAME = "张妈妈"
PASSWORD = "Xingbei-2026"
LOG_OUT = "form[action='/account/logout'] button[type=submit]"
BELL = "a[href='/notifications/']"


def submit(page: Page, selector: str) -> None:
    """Click a submit button and wait for the page the server answers with."""
    with page.expect_navigation():
        page.click(selector)


def register(page: Page, *, phone: str, name: str = NAME) -> None:
    page.goto("/account/register")
    page.fill("input[name=name]", name)
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    submit(page, "main form button[type=submit]")


def switch_language(page: Page, value: str) -> None:
    submit(page, f"form.language-switch button[name=language][value='{value}']")


def test_a_newcomer_registers_logs_in_again_switches_language_and_reads_the_welcome(page: Page, screenshot):
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("body")).to_contain_text("社区")
    screenshot("home")

    go_to(page, "注册")
    page.wait_for_url("**/account/register")
    screenshot("register")
    register(page, phone="139 0013 9000")

    expect(page.locator(BELL)).to_be_visible()  # only a signed-in person has a bell
    expect(page.locator("body")).to_contain_text(NAME)
    screenshot("registered")

    go_to(page, "退出登录")  # on a phone it waits in the Menu
    expect(page.locator(LOG_OUT)).to_have_count(0)
    expect(header_item(page, "登录")).to_be_visible()
    screenshot("logged-out")

    go_to(page, "登录")
    page.wait_for_url("**/account/login**")
    page.fill("input[name=phone]", "13900139000")
    page.fill("input[name=password]", PASSWORD)
    screenshot("login")
    submit(page, "main form button[type=submit]")
    expect(page.locator(BELL)).to_be_visible()
    expect(page.locator("body")).to_contain_text(NAME)

    switch_language(page, "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(reveal(page, "Log out")).to_be_visible()
    screenshot("english")

    switch_language(page, "zh_CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    expect(reveal(page, "退出登录")).to_be_visible()

    page.click(BELL)
    page.wait_for_url("**/notifications/")
    expect(page.locator(".notification")).to_have_count(1)
    expect(page.locator(".notification")).to_contain_text(NAME)
    screenshot("inbox")


OVERFLOW_AND_FONTS = """() => {
  const text = 'main p, main li, main label, main button, main select, main textarea, '
    + 'main input:not([type=checkbox]):not([type=radio]):not([type=hidden])';
  const sizes = [document.body, ...document.querySelectorAll(text)]
    .filter((el) => el.offsetParent !== null || el === document.body)
    .map((el) => [el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''),
                  parseFloat(getComputedStyle(el).fontSize)]);
  return {scrollWidth: document.documentElement.scrollWidth,
          bodyFontSize: parseFloat(getComputedStyle(document.body).fontSize),
          small: sizes.filter(([, size]) => size < 16)};
}"""


def test_pages_fit_a_390px_phone_without_sideways_scrolling_and_text_is_at_least_16px(page: Page, screenshot):
    checked = {}
    for path in ("/", "/account/login", "/account/register"):
        page.goto(path)
        checked[path] = page.evaluate(OVERFLOW_AND_FONTS)
    register(page, phone="13900139001")
    page.goto("/notifications/")
    expect(page.locator(".notification")).to_have_count(1)
    checked["/notifications/"] = page.evaluate(OVERFLOW_AND_FONTS)
    screenshot("inbox")

    for path, facts in checked.items():
        assert facts["scrollWidth"] <= 390, f"{path} scrolls sideways: scrollWidth {facts['scrollWidth']}px"
        assert facts["bodyFontSize"] >= 16, f"{path}: body text is {facts['bodyFontSize']}px"
        assert not facts["small"], f"{path}: text smaller than 16px: {facts['small']}"
