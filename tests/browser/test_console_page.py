"""A person starts Bash from the Consoles page, types, and finds the same
console full-screen at /frame."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in


def terminal_text(page: Page) -> str:
    return page.evaluate("window.ideTerminal ? window.ideTerminal.text() : ''")


def wait_for_text(page: Page, pattern: str, timeout_ms: int = 20000) -> str:
    """Poll the xterm buffer from Python (wait_for_function does not await promises)."""
    deadline = timeout_ms / 100
    for _ in range(int(deadline)):
        text = terminal_text(page)
        if re.search(pattern, text, re.M):
            return text
        page.wait_for_timeout(100)
    raise AssertionError(f"{pattern!r} never appeared in the terminal:\n{terminal_text(page)}")


def type_line(page: Page, line: str) -> None:
    page.locator(".xterm-helper-textarea").focus()
    page.keyboard.type(line)
    page.keyboard.press("Enter")


def open_bash(page: Page, server, name: str) -> list[str]:
    """Log in, start Bash from the Consoles page and wait for its prompt; the page's errors."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, server, name)
    page.get_by_role("link", name="Consoles", exact=True).click()
    page.get_by_role("button", name="Bash", exact=True).click()
    page.wait_for_url(re.compile(rf"/user/{name}/consoles/[0-9a-f]+/$"))
    wait_for_text(page, r"[$#] $")
    return errors


def test_bash_from_the_consoles_page_then_frame(ide_server, page):
    name = ide_server.add_user("web", account_type="hacker")
    errors = open_bash(page, ide_server, name)
    type_line(page, "echo $((6*7))")
    wait_for_text(page, r"^42$")
    console_url = page.url
    page.goto(console_url + "frame/")
    expect(page.locator("#terminal")).to_be_visible()
    text = wait_for_text(page, r"^42$")
    assert "echo $((6*7))" in text
    box = page.locator("#terminal").bounding_box()
    viewport = page.viewport_size
    assert box and viewport and box["width"] >= viewport["width"] * 0.95
    type_line(page, "echo from-frame-$((1+1))")
    wait_for_text(page, r"^from-frame-2$")
    page.goto(ide_server.url + f"/user/{name}/consoles/")
    expect(page.locator(f'a[href="{console_url.removeprefix(ide_server.url)}"]').first).to_be_visible()
    assert errors == []
