"""The content-security policy blocks nothing the IDE itself does: every page
is used as a person would, and Chromium reports no violation."""
from __future__ import annotations

import os
import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in
from tests.browser.test_console_page import type_line, wait_for_text

WAIT_MS = 20000


def watch_violations(page: Page) -> list[str]:
    """Every CSP violation the page (any document it loads) reports, both as
    the DOM event and as Chromium's console message."""
    violations: list[str] = []
    page.expose_function("reportCspViolation", lambda text: violations.append(text))
    page.add_init_script("""
        document.addEventListener("securitypolicyviolation", (event) => {
          window.reportCspViolation(`${event.violatedDirective} blocked ${event.blockedURI} `
                                    + `at ${event.sourceFile}:${event.lineNumber}`);
        });
    """)
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    return violations


def test_no_page_trips_the_policy(ide_server, page: Page):
    teacher = ide_server.add_user("csp", account_type="hacker")
    ide_server.add_user("cspkid", teacher=teacher)
    violations = watch_violations(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(ide_server.url + "/login/")
    expect(page.locator("input[name=username]")).to_be_visible()
    log_in(page, ide_server, teacher)
    page.wait_for_url(ide_server.url + "/")

    # The console page, typing through the stream, and its frame.
    page.goto(ide_server.url + f"/user/{teacher}/consoles/")
    page.get_by_role("button", name="Bash", exact=True).click()
    page.wait_for_url(re.compile(rf"/user/{teacher}/consoles/[0-9a-f]+/$"))
    wait_for_text(page, r"[$#] $")
    type_line(page, "echo csp-$((40+2))")
    wait_for_text(page, r"^csp-42$")
    page.goto(page.url + "frame/")
    wait_for_text(page, r"^csp-42$")

    # The editor: a file written, linted and saved.
    home = f"/home/{teacher}"
    source = ide_server.data_dir / "home" / teacher / "csp.py"
    source.write_text("x = 1\n")
    owner = source.parent.stat()  # the server serves only files the home's owner owns
    os.chown(source, owner.st_uid, owner.st_gid)
    page.goto(ide_server.url + f"/user/{teacher}/files{home}/csp.py?edit")
    page.locator(".cm-content").click()
    page.keyboard.type("import os\n")
    expect(page.locator(".cm-lint-marker-warning").first).to_be_visible(timeout=WAIT_MS)
    page.keyboard.press("Control+s")
    page.goto(ide_server.url + f"/user/{teacher}/files{home}/")
    expect(page.get_by_text("csp.py").first).to_be_visible(timeout=WAIT_MS)

    # The Web page: a web app added through its form (the API, with the session's XSRF header).
    page.goto(ide_server.url + f"/user/{teacher}/webapps/")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator(f"[data-webapp='{teacher}.localhost']")).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("button", name="Reload", exact=True).click()
    expect(page.locator("[data-state]")).to_have_text("running", timeout=WAIT_MS)

    for path in ("/", "/account/", f"/user/{teacher}/students/", f"/user/{teacher}/consoles/",
                 f"/user/{teacher}/webapps/", f"/user/{teacher}/tasks/"):
        response = page.goto(ide_server.url + path)
        assert response is not None and response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")

    page.goto(ide_server.url + "/no/such/page")
    assert violations == [] and errors == []
