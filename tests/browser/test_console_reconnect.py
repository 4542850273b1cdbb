"""A page attached to a console while the server restarts reconnects by itself.

The server is killed (a crash) and started again on the same port; the
page shows that it is reconnecting, comes back without a reload, shows the
program's new output, and its scrollback is replayed once, not twice.
"""
from __future__ import annotations

import re
import shutil

from playwright.sync_api import Page, expect

from tests.browser.test_console_page import open_bash, type_line, wait_for_text
from tests.server import UNISOLATED, ServerProcess, reachable_dir


def test_an_attached_page_reconnects_after_a_crash_of_the_server(page: Page) -> None:
    data_dir = reachable_dir("ide-reconnect-")
    server = ServerProcess(data_dir, *UNISOLATED).start()
    try:
        name = server.add_user("rc", account_type="hacker")
        errors = open_bash(page, server, name)
        type_line(page, "n=5; echo before-$n")
        wait_for_text(page, r"^before-5$")
        console_url = page.url
        connection = page.locator(".console-connection")
        expect(connection).to_have_attribute("data-state", "connected")

        server.requested_port = server.port
        server.crash()
        expect(connection).to_have_attribute("data-state", "reconnecting")
        server.start()
        expect(connection).to_have_attribute("data-state", "connected", timeout=10_000)
        assert page.url == console_url  # no reload
        type_line(page, "echo after-$n")
        text = wait_for_text(page, r"^after-5$")
        assert len(re.findall(r"^before-5$", text, re.M)) == 1  # the replay replaced the screen
        assert errors == []
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
