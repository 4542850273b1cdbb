"""A teacher's class through the real server: the students API, the Students page, the dashboard."""
from __future__ import annotations

import pytest

from tests.client import Client
from tests.ide.test_sharing import person, sharing, start_console, watch


@pytest.mark.gen_test(timeout=120)
async def test_students_api_lists_and_removes_with_immediate_effect(ide_server):
    teacher = person(ide_server, "teach")
    first = person(ide_server, "kid", teacher=teacher.name)
    second = person(ide_server, "kid", teacher=teacher.name)
    stranger = person(ide_server, "other")
    listed = await teacher.api.get(teacher.base() + "students/")
    assert listed.status == 200
    assert listed.json() == {"students": [{"username": n} for n in sorted([first.name, second.name])]}
    assert (await stranger.api.get(stranger.base() + "students/")).json() == {"students": []}
    assert (await stranger.api.get(teacher.base() + "students/")).status == 403

    # The class lets first watch the teacher's broadcast, and the teacher type in first's console.
    broadcast = await start_console(teacher)
    await teacher.api.post(sharing(teacher, broadcast), {"all_students": True})
    homework = await start_console(first)
    watching = await watch(ide_server, first, broadcast)
    helping = await watch(ide_server, teacher, homework)
    assert watching.received[0][0] == "setup" and helping.received[0][0] == "setup"

    assert (await teacher.api.delete(teacher.base() + f"students/{first.name.upper()}/")).status == 204
    assert (await watching.until_closed())[-1] == ["disconnect", f"You are no longer in {teacher.name}'s class."]
    assert (await helping.until_closed())[-1] == ["disconnect", f"{first.name} is no longer your student."]
    assert (await first.api.get(first.base() + "teacher/")).json() == {"teacher": None}
    assert set(ide_server.redis_call("SMEMBERS", f"ide:teacher:{teacher.name}:students")) == {second.name}
    assert (await teacher.api.get(teacher.base() + "students/")).json() == {"students": [{"username": second.name}]}
    for name in (first.name, stranger.name, "nosuchuser_x2"):
        missing = await teacher.api.delete(teacher.base() + f"students/{name}/")
        assert missing.status == 404 and "not one of your students" in missing.json()["detail"]
    assert (await stranger.api.delete(teacher.base() + f"students/{second.name}/")).status == 403

    # Naming the teacher again puts them back in the class, on both sides.
    assert (await first.api.put(first.base() + "teacher/", {"teacher": teacher.name})).status == 200
    assert len((await teacher.api.get(teacher.base() + "students/")).json()["students"]) == 2
    for owner, console in ((teacher, broadcast), (first, homework)):
        await owner.api.delete(owner.base() + f"consoles/{console}/")


@pytest.mark.gen_test(timeout=120)
async def test_the_students_page(ide_server):
    teacher = person(ide_server, "teach")
    student = person(ide_server, "kid", teacher=teacher.name)
    homework = await start_console(student)
    lesson = await start_console(teacher)
    await teacher.api.post(sharing(teacher, lesson), {"all_students": True})
    browser = Client(ide_server.url)
    await browser.login(teacher.name)
    page = await browser.get(f"/user/{teacher.name}/students/")
    assert page.status == 200, page.text
    html = page.text
    assert f'data-student="{student.name}"' in html
    assert f'href="/user/{student.name}/consoles/{homework}/"' in html
    assert "1 of 1" in html and " s of 5000 s" in html  # consoles running; CPU today of the allowance
    assert f'data-api-delete="/api/v0/user/{teacher.name}/students/{student.name}/"' in html
    assert f'data-api-delete="/api/v0/user/{teacher.name}/consoles/{lesson}/sharing/all_students/"' in html
    assert "Shared with the class" in html
    # The link opens the student's console read-write for the teacher.
    console_page = await browser.get(f"/user/{student.name}/consoles/{homework}/")
    assert console_page.status == 200 and 'data-readonly="0"' in console_page.text

    assert (await browser.get(f"/user/{student.name}/students/")).status == 403
    assert (await browser.get(f"/user/{teacher.name.upper()}/students/")).status == 301
    anonymous = await Client(ide_server.url).get(f"/user/{teacher.name}/students/")
    assert anonymous.status == 302 and "/login/" in anonymous.headers["Location"]
    empty = Client(ide_server.url)
    await empty.login(student.name)
    assert "Nobody has named you as their teacher yet" in (await empty.get(f"/user/{student.name}/students/")).text
    for owner, console in ((teacher, lesson), (student, homework)):
        await owner.api.delete(owner.base() + f"consoles/{console}/")


@pytest.mark.gen_test(timeout=120)
async def test_dashboard_shows_the_class_broadcast_and_the_students_link(ide_server):
    teacher = person(ide_server, "teach")
    student = person(ide_server, "kid", teacher=teacher.name)
    friend = person(ide_server, "friend")
    lesson = await start_console(teacher)
    gift = await start_console(friend)
    await friend.api.post(sharing(friend, gift), {"username": student.name, "mode": "ro"})
    student_browser, teacher_browser = Client(ide_server.url), Client(ide_server.url)
    await student_browser.login(student.name)
    await teacher_browser.login(teacher.name)

    before = (await student_browser.get("/")).text
    assert "data-class-broadcast" not in before and f"/user/{friend.name}/consoles/{gift}/" in before
    await teacher.api.post(sharing(teacher, lesson), {"all_students": True})
    during = (await student_browser.get("/")).text
    assert f'data-class-broadcast="{lesson}"' in during
    assert f"<strong>{teacher.name}</strong> is sharing a console with the class" in during
    assert during.count(f"/user/{teacher.name}/consoles/{lesson}/") == 1  # in the banner only
    assert f'href="/user/{teacher.name}/students/"' in (await teacher_browser.get("/")).text
    assert "/students/" not in (await student_browser.get("/")).text

    await teacher.api.delete(sharing(teacher, lesson) + "all_students/")
    assert "data-class-broadcast" not in (await student_browser.get("/")).text
    for owner, console in ((teacher, lesson), (friend, gift)):
        await owner.api.delete(owner.base() + f"consoles/{console}/")
