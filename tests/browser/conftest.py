"""Browser fixtures: the test app served on a real port, and Debian's Chromium driven by Playwright on a phone.

Playwright's own browser download is not used: we launch the system Chromium (`apt-get install chromium`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Response, expect
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MENU = "header.site-header details.menu > summary"
#: a mid-sized phone, as most parents and volunteers will hold
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
}


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The session app on 127.0.0.1 and a free port, in a daemon thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium_browser():
    """One headless Chromium for the whole run (skipped when the system Chromium is absent)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium_browser, live_server):
    """A fresh phone-sized tab (no cookies) whose relative URLs resolve against the live server."""
    context = chromium_browser.new_context(base_url=live_server, **PHONE)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    """Screenshots go to a temporary directory, never into the repository."""
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def screenshot(page, screenshot_dir, request) -> Callable[[str], Path]:
    """screenshot("home") saves the whole page as <test>-NN-home.png and prints the path."""
    counter = iter(range(1, 1000))

    def _take(label: str) -> Path:
        path = screenshot_dir / f"{request.node.name}-{next(counter):02d}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    return _take


def header_item(page: Page, name: str) -> Locator:
    """The header link or button whose visible name is exactly `name`.

    The header renders its secondary links twice (inline for wide screens, in the Menu for phones) and the stylesheet
    hides one copy; role locators skip what is hidden, so this finds the copy meant for the current screen width.
    """
    header = page.locator("header.site-header")
    return header.get_by_role("link", name=name, exact=True).or_(header.get_by_role("button", name=name, exact=True))


def reveal(page: Page, name: str) -> Locator:
    """The header item `name`, made visible: on a phone most links wait in the Menu, so open it first if need be."""
    item = header_item(page, name)
    if not item.is_visible():
        page.click(MENU)
    expect(item).to_be_visible()
    return item


def go_to(page: Page, name: str) -> Response | None:
    """Follow a header link (or press a header button, such as Log out) by its visible name, as a person would."""
    item = reveal(page, name)
    with page.expect_navigation() as navigation:
        item.click()
    return navigation.value


def sign_in(page: Page, phone: str, password: str | None = None) -> None:
    """Log in on the login page as a person would (the factories' password unless told)."""
    from tests.factories import PASSWORD

    page.goto("/account/login")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", password or PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
