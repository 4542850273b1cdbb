"""A teacher shares a console with the class from its page; a student watches it live at /frame,
letterboxed at the teacher's size, and what the student types changes nothing."""
from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import log_in
from tests.browser.test_console_page import terminal_text, type_line, wait_for_text


def terminal_size(page: Page) -> tuple[int, int]:
    rows, cols = page.evaluate("[window.ideTerminal.term.rows, window.ideTerminal.term.cols]")
    return rows, cols


def wait_for_size(page: Page, size: tuple[int, int], timeout_ms: int = 20000) -> None:
    for _ in range(timeout_ms // 100):
        if terminal_size(page) == size:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the terminal stayed {terminal_size(page)}, not {size}")


def test_a_student_watches_the_teachers_broadcast_and_cannot_type(ide_server, browser: Browser):
    teacher = ide_server.add_user("teach", account_type="hacker")
    student = ide_server.add_user("kid", teacher=teacher)
    errors: list[str] = []
    teacher_page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    student_page = browser.new_context(viewport={"width": 1000, "height": 700}).new_page()
    for page in (teacher_page, student_page):
        page.on("pageerror", lambda error: errors.append(str(error)))

    log_in(teacher_page, ide_server, teacher)
    teacher_page.goto(ide_server.url + f"/user/{teacher}/consoles/")
    teacher_page.get_by_role("button", name="Bash", exact=True).click()
    teacher_page.wait_for_url(re.compile(rf"/user/{teacher}/consoles/[0-9a-f]+/$"))
    console_path = teacher_page.url.removeprefix(ide_server.url)
    wait_for_text(teacher_page, r"[$#] $")
    share = teacher_page.get_by_role("button", name="Share with all my students (read-only)")
    share.click()
    expect(teacher_page.get_by_role("button", name="Stop sharing with my students")).to_be_visible()

    log_in(student_page, ide_server, student)
    student_page.goto(ide_server.url + "/")
    banner = student_page.locator("[data-class-broadcast]")
    expect(banner).to_contain_text(f"{teacher} is sharing a console with the class")
    expect(banner.get_by_role("link", name="Watch")).to_have_attribute("href", console_path)
    student_page.goto(ide_server.url + console_path + "frame/")
    expect(student_page.locator(".console-badge-readonly")).to_be_visible()
    expect(student_page.locator("#terminal")).to_have_attribute("data-readonly", "1")

    # Live: what the teacher types appears on the student's screen, at the teacher's size.
    type_line(teacher_page, "echo live-$((6*7))")
    wait_for_text(teacher_page, r"^live-42$")
    wait_for_text(student_page, r"^live-42$")
    wait_for_size(student_page, terminal_size(teacher_page))
    expect(teacher_page.locator(".console-viewers")).to_contain_text(student)

    # The student's keys reach nothing: not the teacher's screen, not the program.
    type_line(student_page, "echo student-$((2+3))-typed")
    type_line(teacher_page, "echo after-$((1+1))")
    wait_for_text(teacher_page, r"^after-2$")
    wait_for_text(student_page, r"^after-2$")
    for page in (teacher_page, student_page):
        assert "student-" not in terminal_text(page)
    token = ide_server.cli("user", "token", teacher).stdout.strip()
    console_id = console_path.rstrip("/").rsplit("/", 1)[1]
    output = teacher_page.request.get(
        ide_server.url + f"/api/v0/user/{teacher}/consoles/{console_id}/get_latest_output/",
        headers={"Authorization": f"Token {token}"}).json()["output"]
    assert "after-2" in output and "student-" not in output

    # Ending the broadcast disconnects the student.
    teacher_page.get_by_role("button", name="Stop sharing with my students").click()
    expect(student_page.locator(".console-message")).to_contain_text(
        f"{teacher} stopped sharing this console with the class")
    assert errors == []


def test_a_teacher_accepts_a_request_and_a_pupil_joins_by_link(ide_server, browser: Browser):
    teacher = ide_server.add_user("teach", account_type="hacker")
    asker, pupil = ide_server.add_user("asks"), ide_server.add_user("pupil")
    errors: list[str] = []
    pages = {}
    for name in (teacher, asker, pupil):
        pages[name] = browser.new_context().new_page()
        pages[name].on("pageerror", lambda error: errors.append(str(error)))
        pages[name].on("dialog", lambda dialog: dialog.accept())
        log_in(pages[name], ide_server, name)

    # The request waits for the teacher.
    asking = pages[asker]
    asking.goto(ide_server.url + "/account/")
    asking.fill("input[name=teacher]", teacher)
    asking.locator("form:has(input[name=teacher])").get_by_role("button", name="Save").click()
    expect(asking.locator("[data-teacher-state]")).to_have_text(f"Your teacher: {teacher} (pending)")
    teaching = pages[teacher]
    teaching.goto(ide_server.url + f"/user/{teacher}/students/")
    teaching.locator(f'[data-pending="{asker}"]').get_by_role("button", name="Accept").click()
    expect(teaching.locator(f'[data-student="{asker}"]')).to_be_visible()
    expect(teaching.locator("[data-pending]")).to_have_count(0)
    asking.reload()
    expect(asking.locator("[data-teacher-state]")).to_have_attribute("data-teacher-state", "accepted")

    # The class link: one confirmation and the pupil is in.
    link = teaching.locator("[data-join-url]").inner_text()
    joining = pages[pupil]
    joining.goto(link)
    joining.get_by_role("button", name=f"Join {teacher}'s class").click()
    joining.wait_for_url(ide_server.url + "/")
    expect(joining.get_by_text(f"teacher: {teacher}.")).to_be_visible()
    teaching.reload()
    expect(teaching.locator(f'[data-student="{pupil}"]')).to_be_visible()

    # Removing the pupil from the Students page.
    teaching.locator(f'[data-student="{pupil}"]').get_by_role("button", name="Remove").click()
    expect(teaching.locator(f'[data-student="{pupil}"]')).to_have_count(0)
    assert errors == []
