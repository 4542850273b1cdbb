"""A person schedules, edits, disables and deletes a task on the Tasks page."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import log_in


def test_schedule_a_task_change_it_and_delete_it(ide_server, browser):
    name = ide_server.add_user("tasker", account_type="hacker")
    context = browser.new_context(timezone_id="Asia/Kolkata")  # UTC+05:30: local time differs visibly
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, ide_server, name)
    page.get_by_role("link", name="Tasks").click()
    expect(page.get_by_role("heading", name="Scheduled tasks")).to_be_visible()

    form = page.locator("#new-task")
    form.get_by_label("Command").fill("python3 ~/report.py")
    form.get_by_label("hour (UTC, daily only)").fill("6")
    form.get_by_label("minute").fill("5")
    form.get_by_role("button", name="Create").click()
    row = page.locator("tr[data-task-id]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("python3 ~/report.py")
    expect(row).to_contain_text("daily at 06:05 UTC")
    expect(row.locator(".local-time")).to_contain_text("11:35")  # 06:05 UTC in Kolkata

    row.get_by_text("Edit").click()
    edit = row.locator("form[data-method=PATCH].stacked")
    edit.get_by_label("Every").select_option("hourly")
    edit.get_by_label("minute").fill("30")
    edit.get_by_role("button", name="Save").click()
    expect(page.locator("tr[data-task-id]")).to_contain_text("hourly at *:30 UTC")

    page.locator("tr[data-task-id]").get_by_role("button", name="Disable").click()
    expect(page.locator("tr[data-task-id]")).to_contain_text("disabled")
    expect(page.locator("tr[data-task-id]")).to_contain_text("not scheduled")

    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("tr[data-task-id]").get_by_role("button", name="Delete").click()
    expect(page.locator("tr[data-task-id]")).to_have_count(0)
    assert errors == []
    context.close()


def test_a_bad_task_shows_the_servers_reason(ide_server, page):
    name = ide_server.add_user("tasker", account_type="hacker")
    log_in(page, ide_server, name)
    page.goto(f"{ide_server.url}/user/{name}/tasks/")
    form = page.locator("#new-task")
    form.get_by_label("Command").fill("echo hi")
    form.get_by_label("minute").fill("5")
    form.get_by_role("button", name="Create").click()  # daily, but no hour
    expect(page.get_by_role("alert")).to_contain_text("A daily task needs an hour")
    expect(page.locator("tr[data-task-id]")).to_have_count(0)


def test_another_users_tasks_page_is_refused(ide_server, page):
    owner = ide_server.add_user("tasker")
    log_in(page, ide_server, ide_server.add_user("other"))
    response = page.goto(f"{ide_server.url}/user/{owner}/tasks/")
    assert response is not None and response.status == 403


def test_keep_a_command_running_see_it_run_and_stop_it(ide_server, page):
    name = ide_server.add_user("keeper", account_type="hacker")
    log_in(page, ide_server, name)
    page.goto(f"{ide_server.url}/user/{name}/tasks/")
    form = page.locator("#new-always-on")
    form.get_by_label("Command").fill("sleep 1000")
    form.get_by_role("button", name="Create and start").click()
    row = page.locator("tr[data-always-on-id]")
    expect(row).to_contain_text("sleep 1000")
    for _ in range(50):  # the state shown is what the supervisor recorded when the page was made
        if row.locator(".task-state").text_content() == "running":
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(row.locator(".task-state")).to_have_text("running")
    row.get_by_role("button", name="Stop").click()
    expect(page.locator("tr[data-always-on-id] .task-state")).to_have_text("stopped")
    expect(page.locator("#new-always-on")).to_have_count(0)  # hacker: one always-on task
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("tr[data-always-on-id]").get_by_role("button", name="Delete").click()
    expect(page.locator("tr[data-always-on-id]")).to_have_count(0)
