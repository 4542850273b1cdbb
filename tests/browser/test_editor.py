"""A person writes Python in the browser: from the Files page into the editor,
lint markers, saving (and a conflict with a change made elsewhere), Save & Run
in the pane, a share link read by someone not logged in, uploads, and the
same editor on a phone."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Browser, Page, Playwright, expect

from tests.browser.conftest import log_in

WAIT_MS = 20000


class FilesApi:
    """The files API as a script uses it, with the user's token."""

    def __init__(self, request: APIRequestContext, name: str) -> None:
        self.request = request
        self.base = f"/api/v0/user/{name}/files/path"

    def read(self, path: str) -> str:
        response = self.request.get(self.base + path)
        assert response.status == 200, response.text()
        return response.text()

    def write(self, path: str, content: str) -> None:
        response = self.request.post(self.base + path, multipart={
            "content": {"name": path.rsplit("/", 1)[-1], "mimeType": "text/plain",
                        "buffer": content.encode()}})
        assert response.status in (200, 201), response.text()

    def listing(self, path: str) -> dict[str, Any]:
        response = self.request.get(self.base + path)
        assert response.status == 200, response.text()
        return response.json()

    def wait_for_content(self, page: Page, path: str, expected: str) -> None:
        """Poll the file on disk (saves are asynchronous in the page)."""
        for _ in range(WAIT_MS // 100):
            if self.read(path) == expected:
                return
            page.wait_for_timeout(100)
        assert self.read(path) == expected


@pytest.fixture
def writer(ide_server, playwright: Playwright) -> Iterator[tuple[str, FilesApi]]:
    """A new user and their files API."""
    name = ide_server.add_user("ed", account_type="hacker")
    token = ide_server.cli("user", "token", name).stdout.strip()
    request = playwright.request.new_context(
        base_url=ide_server.url, extra_http_headers={"Authorization": f"Token {token}"})
    yield name, FilesApi(request, name)
    request.dispose()


def document(page: Page) -> str:
    return page.evaluate("window.ideEditor.view.state.doc.toString()")


def terminal_text(page: Page) -> str:
    return page.evaluate("window.ideTerminal ? window.ideTerminal.text() : ''")


def wait_for_terminal(page: Page, pattern: str) -> str:
    for _ in range(WAIT_MS // 100):
        text = terminal_text(page)
        if re.search(pattern, text, re.M):
            return text
        page.wait_for_timeout(100)
    raise AssertionError(f"{pattern!r} never appeared in the run pane:\n{terminal_text(page)}")


def type_at_end(page: Page, text: str) -> None:
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def test_write_lint_save_run_and_share(ide_server, page: Page, browser: Browser, writer) -> None:
    name, files = writer
    path = f"/home/{name}/hello.py"
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, ide_server, name)
    page.get_by_role("link", name="Files", exact=True).click()
    page.get_by_label("Name").fill("hello.py")
    page.get_by_role("button", name="New file").click()
    page.wait_for_url(re.compile(r"/hello\.py\?edit$"))
    assert files.read(path) == ""

    type_at_end(page, "import os\nprint(6*7)\n")
    assert document(page) == "import os\nprint(6*7)\n"
    expect(page.locator(".cm-lint-marker-warning")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".cm-lintRange-warning")).to_have_text("os")
    expect(page.locator("#unsaved-marker")).to_be_visible()
    assert page.title().startswith("● ")

    page.keyboard.press("Control+s")
    expect(page.locator("#unsaved-marker")).to_be_hidden(timeout=WAIT_MS)
    assert not page.title().startswith("● ")
    files.wait_for_content(page, path, "import os\nprint(6*7)\n")

    expect(page.locator("#interpreter")).to_have_text(re.compile(r"^Python 3"))
    page.get_by_role("button", name="Save & Run").click()
    wait_for_terminal(page, r"^42$")
    popout = page.locator("a[data-run-popout]")
    expect(popout).to_have_attribute("href", re.compile(rf"^/user/{name}/consoles/[0-9a-f]+/$"))
    first_console = popout.get_attribute("href")

    # Running again restarts: a new console, and the first one is closed.
    type_at_end(page, "print('again', 2 + 3)\n")
    page.keyboard.press("Control+Enter")
    wait_for_terminal(page, r"^again 5$")
    expect(popout).not_to_have_attribute("href", first_console or "")
    consoles = page.request.get(f"{ide_server.url}/api/v0/user/{name}/consoles/").json()
    running = [c for c in consoles if c["console_url"] == first_console and c.get("status") == "running"]
    assert running == []

    page.get_by_role("button", name="Share").click()
    link = page.locator("input[data-share-link]")
    expect(link).to_have_value(re.compile(rf"/user/{name}/shares/[^/]+/$"))
    share_url = link.input_value()

    anonymous = browser.new_context()
    reader = anonymous.new_page()
    reader.goto(share_url)
    expect(reader.locator(".cm-content")).to_contain_text("print(6*7)", timeout=WAIT_MS)
    assert reader.evaluate("window.ideEditor.view.state.doc.toString()") == files.read(path)
    expect(reader.get_by_role("link", name="Log in")).to_be_visible()

    friend = ide_server.add_user("friend")
    log_in(reader, ide_server, friend)
    reader.goto(share_url)
    reader.get_by_role("button", name="Copy to my files").click()
    copied = reader.get_by_role("status").get_by_role("link")
    expect(copied).to_have_text(f"/home/{friend}/hello.py")
    copied.click()
    expect(reader.locator(".cm-content")).to_contain_text("print(6*7)", timeout=WAIT_MS)

    page.get_by_role("button", name="Stop sharing").click()
    expect(page.get_by_role("button", name="Share", exact=True)).to_be_visible(timeout=WAIT_MS)
    assert reader.goto(share_url).status == 404
    anonymous.close()
    assert errors == []


def test_save_conflict_offers_reload_and_overwrite(ide_server, page: Page, writer) -> None:
    name, files = writer
    path = f"/home/{name}/shared.py"
    files.write(path, "x = 1\n")
    log_in(page, ide_server, name)
    page.goto(f"{ide_server.url}/user/{name}/files{path}?edit")
    expect(page.locator(".cm-content")).to_contain_text("x = 1", timeout=WAIT_MS)

    files.write(path, "x = 'from elsewhere'\n")
    type_at_end(page, "y = 2\n")
    page.keyboard.press("Control+s")
    conflict = page.locator("#conflict-bar")
    expect(conflict).to_be_visible(timeout=WAIT_MS)
    assert files.read(path) == "x = 'from elsewhere'\n"
    conflict.get_by_role("button", name="Reload").click()
    expect(page.locator(".cm-content")).to_contain_text("from elsewhere", timeout=WAIT_MS)
    assert document(page) == "x = 'from elsewhere'\n"
    expect(page.locator("#unsaved-marker")).to_be_hidden()

    # The reload brought the new version: saving on top of it just works.
    type_at_end(page, "z = 3\n")
    page.keyboard.press("Control+s")
    files.wait_for_content(page, path, "x = 'from elsewhere'\nz = 3\n")

    files.write(path, "changed again\n")
    type_at_end(page, "mine = True\n")
    page.keyboard.press("Control+s")
    expect(conflict).to_be_visible(timeout=WAIT_MS)
    conflict.get_by_role("button", name="Overwrite").click()
    files.wait_for_content(page, path, "x = 'from elsewhere'\nz = 3\nmine = True\n")
    expect(page.locator("#unsaved-marker")).to_be_hidden(timeout=WAIT_MS)


def test_binary_lossy_and_leaving_with_unsaved_changes(ide_server, page: Page, writer) -> None:
    name, files = writer
    home = f"/home/{name}"
    files.request.post(files.base + home + "/blob.dat", multipart={
        "content": {"name": "blob.dat", "mimeType": "application/octet-stream", "buffer": b"\x00\x01\x02" * 50}})
    files.request.post(files.base + home + "/latin1.py", multipart={
        "content": {"name": "latin1.py", "mimeType": "text/plain", "buffer": b"s = 'caf\xe9'\n"}})
    log_in(page, ide_server, name)

    page.goto(f"{ide_server.url}/user/{name}/files{home}/blob.dat?edit")
    expect(page.get_by_text("binary data")).to_be_visible()
    expect(page.get_by_role("link", name="Download blob.dat")).to_be_visible()
    assert page.locator(".cm-editor").count() == 0

    page.goto(f"{ide_server.url}/user/{name}/files{home}/latin1.py?edit")
    expect(page.get_by_text("not valid UTF-8")).to_be_visible(timeout=WAIT_MS)
    assert document(page) == "s = 'caf\ufffd'\n"
    type_at_end(page, "t = 1\n")
    questions: list[str] = []

    def answer(dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.keyboard.press("Control+s")
    files.wait_for_content(page, home + "/latin1.py", "s = 'caf\ufffd'\nt = 1\n")
    assert len(questions) == 1 and "UTF-8" in questions[0]

    type_at_end(page, "u = 2\n")
    page.remove_listener("dialog", answer)
    unloads: list[str] = []
    page.on("dialog", lambda dialog: (unloads.append(dialog.type), dialog.accept()))
    # The page closes only once the question was answered.
    with page.expect_event("close", timeout=WAIT_MS):
        page.close(run_before_unload=True)
    assert unloads == ["beforeunload"]


def test_files_page_upload_rename_delete(ide_server, page: Page, writer, tmp_path) -> None:
    name, files = writer
    home = f"/home/{name}/"
    log_in(page, ide_server, name)
    page.goto(f"{ide_server.url}/user/{name}/files{home}")
    page.get_by_label("Name").fill("lib")
    page.get_by_role("button", name="New directory").click()
    expect(page.locator("tr.entry-directory", has_text="lib/")).to_be_visible(timeout=WAIT_MS)

    first, second = tmp_path / "one.txt", tmp_path / "two words.py"
    first.write_text("one\n")
    second.write_text("print('two')\n")
    page.locator("input[data-upload-input]").set_input_files([first, second])
    expect(page.locator("tr.entry", has_text="two words.py")).to_be_visible(timeout=WAIT_MS)
    assert files.read(home + "two words.py") == "print('two')\n"
    assert files.read(home + "one.txt") == "one\n"
    rows = page.locator("tr.entry").evaluate_all("rows => rows.map(row => row.dataset.name)")
    assert rows.index("lib") < rows.index("one.txt")

    too_big = tmp_path / "huge.bin"
    limit = int(page.locator("#files-page").get_attribute("data-upload-limit") or 0)
    with too_big.open("wb") as handle:
        handle.truncate(limit + 1)
    page.locator("input[data-upload-input]").set_input_files(too_big)
    expect(page.locator(".upload-item[data-state=failed]")).to_contain_text("over the upload limit")
    assert "huge.bin" not in files.listing(home)

    page.once("dialog", lambda dialog: dialog.accept("renamed.txt"))
    page.locator("tr.entry", has_text="one.txt").get_by_role("button", name="Rename").click()
    expect(page.locator("tr.entry", has_text="renamed.txt")).to_be_visible(timeout=WAIT_MS)
    assert files.read(home + "renamed.txt") == "one\n"

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tr.entry", has_text="renamed.txt").get_by_role("button", name="Delete").click()
    expect(page.locator("tr.entry", has_text="renamed.txt")).to_have_count(0, timeout=WAIT_MS)
    assert "renamed.txt" not in files.listing(home)


def test_teacher_opens_a_students_file_from_the_homes_links(ide_server, page: Page, writer) -> None:
    teacher, teacher_files = writer
    student = ide_server.add_user("pupil", teacher=teacher)
    teacher_files.write(f"/home/{student}/homework.py", "print('done')\n")
    log_in(page, ide_server, teacher)
    page.goto(f"{ide_server.url}/user/{teacher}/files/home/{teacher}/")
    homes = page.get_by_role("navigation", name="Homes you can open")
    expect(homes.get_by_role("link")).to_have_text([f"/home/{teacher}", f"/home/{student}"])
    homes.get_by_role("link", name=f"/home/{student}").click()
    page.get_by_role("link", name="homework.py").click()
    expect(page.locator(".cm-content")).to_contain_text("print('done')", timeout=WAIT_MS)


def test_phone_can_tap_type_and_save(ide_server, browser: Browser, writer) -> None:
    name, files = writer
    path = f"/home/{name}/phone.py"
    files.write(path, "")
    context = browser.new_context(viewport={"width": 375, "height": 740}, has_touch=True, is_mobile=True)
    page = context.new_page()
    log_in(page, ide_server, name)
    page.goto(f"{ide_server.url}/user/{name}/files{path}?edit")
    editor = page.locator(".cm-content")
    expect(editor).to_be_visible(timeout=WAIT_MS)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.locator("#editor").bounding_box()
    assert box is not None and box["height"] >= 200 and box["x"] + box["width"] <= 375

    editor.tap()
    page.keyboard.type("answer = 6 * 7\n")
    assert document(page) == "answer = 6 * 7\n"
    page.get_by_role("button", name="Save", exact=True).tap()
    files.wait_for_content(page, path, "answer = 6 * 7\n")
    expect(page.locator("#unsaved-marker")).to_be_hidden(timeout=WAIT_MS)
    context.close()
