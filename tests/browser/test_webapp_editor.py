"""The editor's "Reload <domain>" button: shown for a web app's WSGI file and
the files of its source directory (not for others), it saves and reloads the
app through the API, and says why when the app does not start."""
from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest
from playwright.sync_api import APIRequestContext, Page, Playwright, expect

from tests.browser.conftest import log_in
from tests.browser.test_editor import FilesApi, type_at_end

WAIT_MS = 60000


def visit(server, domain: str, path: str = "/", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """A visitor's request to the app, by its Host header on the server's loopback address."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("GET", path, headers={"Host": f"{domain}:{server.port}", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def webmaster(ide_server, playwright: Playwright) -> Iterator[tuple[str, APIRequestContext]]:
    name = ide_server.add_user("rel", account_type="hacker")
    token = ide_server.cli("user", "token", name).stdout.strip()
    api = playwright.request.new_context(base_url=ide_server.url,
                                         extra_http_headers={"Authorization": f"Token {token}"})
    yield name, api
    api.dispose()


def test_reload_button_for_the_apps_files_reloads_and_reports_a_failure(ide_server, page: Page,
                                                                          webmaster) -> None:
    name, api = webmaster
    domain = f"{name}.localhost"
    base = f"/api/v0/user/{name}/webapps/"
    assert api.post(base, data={"domain_name": domain, "python_version": "python311"}).status == 201
    files = FilesApi(api, name)
    files.write(f"/home/{name}/site/helper.py", "GREETING = 'hi'\n")
    files.write(f"/home/{name}/notes.txt", "not the app's\n")
    assert api.patch(f"{base}{domain}/", data={"source_directory": f"/home/{name}/site"}).status == 200
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, ide_server, name)

    page.goto(f"{ide_server.url}/user/{name}/files/home/{name}/notes.txt?edit")
    expect(page.locator(".cm-content")).to_contain_text("not the app's")
    expect(page.locator("#webapp-reload-button")).to_have_count(0)

    page.goto(f"{ide_server.url}/user/{name}/files/home/{name}/site/helper.py?edit")
    expect(page.get_by_role("button", name=f"Reload {domain}")).to_be_visible()

    wsgi = f"/var/www/{domain.replace('.', '_')}_wsgi.py"
    page.goto(f"{ide_server.url}/user/{name}/files{wsgi}?edit")
    reload_button = page.get_by_role("button", name=f"Reload {domain}")
    reload_button.click()
    expect(page.locator("#editor-status")).to_have_text(f"Reloaded {domain}: it is running.", timeout=WAIT_MS)
    status, body = visit(ide_server, domain)
    assert status == 200 and f"Hello from {domain}".encode() in body

    # A mistake, saved by the button itself: the app does not start, and the page says so.
    type_at_end(page, "\nthis is not python\n")
    reload_button.click()
    expect(page.locator("#editor-status")).to_have_text(f"{domain} did not start.", timeout=WAIT_MS)
    result = page.locator("#webapp-reload-result")
    expect(result).to_be_visible()
    expect(result.locator(".webapp-reload-error")).to_contain_text("NameError: name 'this' is not defined")
    expect(result.get_by_role("link", name=f"Open {domain}'s error log")).to_have_attribute(
        "href", f"/user/{name}/files/var/log/{domain}.error.log")
    assert "this is not python" in files.read(wsgi)
    assert visit(ide_server, domain)[0] == 502
    assert errors == []
