"""A person logs in through the real login page and sees the dashboard."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import log_in


def test_login_shows_dashboard_then_logout(ide_server, page):
    name = ide_server.add_user()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, ide_server, name, "wrong password")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    log_in(page, ide_server, name)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator(".nav .who")).to_have_text(name)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert errors == []


def test_dashboard_is_usable_on_a_phone(ide_server, browser):
    name = ide_server.add_user()
    context = browser.new_context(viewport={"width": 375, "height": 740}, has_touch=True, is_mobile=True)
    page = context.new_page()
    log_in(page, ide_server, name)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.locator(".nav-toggle-label").tap()
    expect(page.get_by_role("link", name="Account")).to_be_visible()
    page.get_by_role("link", name="Account").tap()
    expect(page.get_by_role("heading", name=f"Account: {name}")).to_be_visible()
    context.close()
