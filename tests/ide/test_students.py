"""A teacher's class through the real server: the students API, the Students page, the dashboard."""
from __future__ import annotations

import re
from html import unescape

import pytest

from tests.client import Client
from tests.ide.test_files_api import BOUNDARY, multipart
from tests.ide.test_sharing import person, sharing, start_console, watch

UPLOAD_HEADERS = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def upload_body(data: bytes) -> bytes:
    return multipart(("content", "x", data))


@pytest.mark.gen_test(timeout=120)
async def test_students_api_lists_and_removes_with_immediate_effect(ide_server):
    teacher = person(ide_server, "teach")
    first = person(ide_server, "kid", teacher=teacher.name)
    second = person(ide_server, "kid", teacher=teacher.name)
    stranger = person(ide_server, "other")
    listed = await teacher.api.get(teacher.base() + "students/")
    assert listed.status == 200
    assert listed.json() == {"students": [{"username": n} for n in sorted([first.name, second.name])],
                             "pending": []}
    assert (await stranger.api.get(stranger.base() + "students/")).json() == {"students": [], "pending": []}
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
    assert (await teacher.api.get(teacher.base() + "students/")).json() == {
        "students": [{"username": second.name}], "pending": []}
    for name in (first.name, stranger.name, "nosuchuser_x2", "not-a-name"):
        missing = await teacher.api.delete(teacher.base() + f"students/{name}/")
        assert missing.status == 404 and "not one of your students" in missing.json()["detail"]
    assert (await stranger.api.delete(teacher.base() + f"students/{second.name}/")).status == 403

    # Naming the teacher again is a request to join, until the teacher accepts it.
    assert (await first.api.put(first.base() + "teacher/", {"teacher": teacher.name})).status == 200
    assert (await teacher.api.get(teacher.base() + "students/")).json() == {
        "students": [{"username": second.name}], "pending": [{"username": first.name}]}
    accepted = await teacher.api.post(teacher.base() + "students/", {"username": first.name.upper()})
    assert accepted.status == 200 and accepted.json() == {"username": first.name}
    assert len((await teacher.api.get(teacher.base() + "students/")).json()["students"]) == 2
    for owner, console in ((teacher, broadcast), (first, homework)):
        await owner.api.delete(owner.base() + f"consoles/{console}/")


@pytest.mark.gen_test(timeout=120)
async def test_naming_a_teacher_grants_nothing_until_the_teacher_accepts(ide_server):
    """A stranger names a teacher: without the teacher's consent neither sees anything of the other's."""
    teacher = person(ide_server, "teach")
    stranger = person(ide_server, "strange")
    lesson = await start_console(teacher)
    assert (await teacher.api.post(sharing(teacher, lesson), {"all_students": True})).status == 403
    person(ide_server, "kid", teacher=teacher.name)  # a real student, so the teacher can broadcast
    assert (await teacher.api.post(sharing(teacher, lesson), {"all_students": True})).status == 201
    private = await start_console(stranger)
    secret = f"/home/{stranger.name}/secret.txt"
    assert (await stranger.api.post(stranger.base() + "files/path" + secret, raw_body=upload_body(b"mine"),
                                    headers=UPLOAD_HEADERS)).status == 201

    named = await stranger.api.put(stranger.base() + "teacher/", {"teacher": teacher.name})
    assert named.status == 200 and named.json() == {"teacher": teacher.name}
    await assert_no_class_access(ide_server, teacher, stranger, lesson, private, secret)
    assert (await teacher.api.get(teacher.base() + "students/")).json()["pending"] == [{"username": stranger.name}]
    listed = [line.split() for line in ide_server.cli("user", "list").stdout.splitlines()]
    assert [stranger.name, "hacker", teacher.name, "(pending)"] in [line[:4] for line in listed]

    # Accepted: the broadcast and the teacher's access work.
    assert (await teacher.api.post(teacher.base() + "students/", {"username": stranger.name})).status == 200
    assert (await teacher.api.post(teacher.base() + "students/", {"username": stranger.name})).status == 200
    shared = (await stranger.api.get(stranger.base() + "consoles/shared_with_you/")).json()
    assert [console["id"] for console in shared] == [lesson]
    watching = await watch(ide_server, stranger, lesson)
    assert watching.received[0][0] == "setup" and watching.received[0][1]["readonly"] is True
    helping = await watch(ide_server, teacher, private)
    assert helping.received[0][0] == "setup" and helping.received[0][1]["readonly"] is False
    assert (await teacher.api.get(teacher.base() + "files/path" + secret)).body == b"mine"

    # The student names someone else: both live streams end at once, and access with them.
    other = person(ide_server, "other")
    assert (await stranger.api.put(stranger.base() + "teacher/", {"teacher": other.name})).status == 200
    assert (await watching.until_closed())[-1] == ["disconnect", f"You are no longer in {teacher.name}'s class."]
    assert (await helping.until_closed())[-1] == ["disconnect", f"{stranger.name} is no longer your student."]
    await assert_no_class_access(ide_server, teacher, stranger, lesson, private, secret)
    assert (await other.api.get(other.base() + "students/")).json() == {
        "students": [], "pending": [{"username": stranger.name}]}

    # Declining a request clears it; accepting one that is not there is a 404.
    assert (await other.api.delete(other.base() + f"students/{stranger.name}/")).status == 204
    assert (await stranger.api.get(stranger.base() + "teacher/")).json() == {"teacher": None}
    assert (await other.api.get(other.base() + "students/")).json() == {"students": [], "pending": []}
    for body in ({"username": stranger.name}, {"username": "nosuchuser_x3"}):
        missing = await other.api.post(other.base() + "students/", body)
        assert missing.status == 404 and "has not asked to join your class" in missing.json()["detail"]
    assert (await other.api.post(other.base() + "students/", {"name": "x"})).status == 400
    for owner, console in ((teacher, lesson), (stranger, private)):
        await owner.api.delete(owner.base() + f"consoles/{console}/")


async def assert_no_class_access(server, teacher, student, lesson: str, private: str, secret: str) -> None:
    """Neither side of a class that is not (or no longer) accepted sees anything of the other."""
    assert (await student.api.get(student.base() + "consoles/shared_with_you/")).json() == []
    refused = await watch(server, student, lesson)
    assert refused.received == [["disconnect", "Console not found or access denied"]]
    refused = await watch(server, teacher, private)
    assert refused.received == [["disconnect", "Console not found or access denied"]]
    assert (await teacher.api.get(teacher.base() + "files/path" + secret)).status == 404
    assert (await teacher.api.get(teacher.base() + f"files/tree/?path=/home/{student.name}")).status == 404
    page = Client(server.url)
    await page.login(teacher.name)
    assert (await page.get(f"/user/{student.name}/consoles/{private}/")).status == 404


@pytest.mark.gen_test(timeout=120)
async def test_the_command_line_ends_a_class_on_the_live_streams_too(ide_server):
    teacher = person(ide_server, "teach")
    student = person(ide_server, "kid", teacher=teacher.name)
    lesson = await start_console(teacher)
    await teacher.api.post(sharing(teacher, lesson), {"all_students": True})
    homework = await start_console(student)
    watching = await watch(ide_server, student, lesson)
    helping = await watch(ide_server, teacher, homework)
    assert watching.received[0][0] == "setup" and helping.received[0][0] == "setup"

    ide_server.cli("user", "set", student.name, "--no-teacher")
    assert (await watching.until_closed())[-1] == ["disconnect", f"You are no longer in {teacher.name}'s class."]
    assert (await helping.until_closed())[-1] == ["disconnect", f"{student.name} is no longer your student."]

    # The operator's word stands for both sides: --teacher makes an accepted student at once.
    ide_server.cli("user", "set", student.name, "--teacher", teacher.name)
    again = await watch(ide_server, teacher, homework)
    assert again.received[0][0] == "setup" and again.received[0][1]["readonly"] is False
    other = person(ide_server, "other")
    ide_server.cli("user", "set", student.name, "--teacher", other.name)
    assert (await again.until_closed())[-1] == ["disconnect", f"{student.name} is no longer your student."]
    for owner, console in ((teacher, lesson), (student, homework)):
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
    assert f"/user/{teacher.name}/students/join/" in html and "New link" in html
    asking = person(ide_server, "asks")
    await asking.api.put(asking.base() + "teacher/", {"teacher": teacher.name})
    html = (await browser.get(f"/user/{teacher.name}/students/")).text
    assert f'data-pending="{asking.name}"' in html and f'data-student="{asking.name}"' not in html
    assert f'data-api-delete="/api/v0/user/{teacher.name}/students/{asking.name}/"' in html
    assert f'<input type="hidden" name="username" value="{asking.name}">' in html
    # The link opens the student's console read-write for the teacher.
    console_page = await browser.get(f"/user/{student.name}/consoles/{homework}/")
    assert console_page.status == 200 and 'data-readonly="0"' in console_page.text

    assert (await browser.get(f"/user/{student.name}/students/")).status == 403
    assert (await browser.get(f"/user/{teacher.name.upper()}/students/")).status == 301
    anonymous = await Client(ide_server.url).get(f"/user/{teacher.name}/students/")
    assert anonymous.status == 302 and "/login/" in anonymous.headers["Location"]
    empty = Client(ide_server.url)
    await empty.login(student.name)
    assert "You have no students yet" in (await empty.get(f"/user/{student.name}/students/")).text
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


def join_path(page_html: str, teacher: str) -> str:
    match = re.search(rf"https?://[^/<]+(/user/{teacher}/students/join/[A-Za-z0-9_-]+/)", page_html)
    assert match, "the Students page shows no join link"
    return match.group(1)


@pytest.mark.gen_test(timeout=120)
async def test_a_class_join_link_and_a_new_link_replacing_it(ide_server):
    teacher = person(ide_server, "teach")
    pupil = person(ide_server, "pupil")
    lesson = await start_console(teacher)
    teacher_page, pupil_page = Client(ide_server.url), Client(ide_server.url)
    await teacher_page.login(teacher.name)
    await pupil_page.login(pupil.name)
    link = join_path((await teacher_page.get(f"/user/{teacher.name}/students/")).text, teacher.name)
    assert link == join_path((await teacher_page.get(f"/user/{teacher.name}/students/")).text, teacher.name)

    anonymous = await Client(ide_server.url).get(link)
    assert anonymous.status == 302 and "/login/?next=" in anonymous.headers["Location"]
    confirm = await pupil_page.get(link)
    assert confirm.status == 200 and f"Join {teacher.name}'s class" in unescape(confirm.text)
    assert (await pupil_page.post(link, form={}, xsrf=False)).status == 403
    assert (await pupil.api.get(pupil.base() + "teacher/")).json() == {"teacher": None}
    joined = await pupil_page.post(link, form={})
    assert joined.status == 303 and joined.headers["Location"] == "/"
    assert (await teacher.api.get(teacher.base() + "students/")).json() == {
        "students": [{"username": pupil.name}], "pending": []}
    assert f"<strong>{teacher.name}</strong>." in (await pupil_page.get("/")).text  # not "(pending)"
    assert "You are in" in (await pupil_page.get(link)).text
    # Accepted at once: the teacher may broadcast to the class and the pupil watches.
    assert (await teacher.api.post(sharing(teacher, lesson), {"all_students": True})).status == 201
    watching = await watch(ide_server, pupil, lesson)
    assert watching.received[0][0] == "setup"
    await watching.close()
    own = await teacher_page.get(link)
    assert own.status == 200 and "your own class" in own.text
    assert (await teacher_page.post(link, form={})).status == 400

    # A new link: the old one is a clear 404, the new one works.
    renewed = await teacher_page.post(f"/user/{teacher.name}/students/", form={})
    assert renewed.status == 303
    page = (await teacher_page.get(renewed.headers["Location"])).text
    new_link = join_path(page, teacher.name)
    assert new_link != link and "the old one no longer works" in page
    latecomer = person(ide_server, "late")
    late_page = Client(ide_server.url)
    await late_page.login(latecomer.name)
    for method in ("GET", "POST"):
        old = await late_page.request(method, link, form={} if method == "POST" else None)
        assert old.status == 404 and "This class link is not valid" in old.text
    assert (await late_page.get(new_link.replace("/join/", "/join/x"))).status == 404
    assert (await late_page.get(link.replace(teacher.name, "nosuchuser_x4"))).status == 404
    assert (await teacher.api.get(teacher.base() + "students/")).json()["students"] == [{"username": pupil.name}]
    assert (await late_page.post(new_link, form={})).status == 303
    assert len((await teacher.api.get(teacher.base() + "students/")).json()["students"]) == 2
    # Someone else's Students page cannot make a new link.
    assert (await late_page.post(f"/user/{teacher.name}/students/", form={})).status == 403
    assert join_path((await teacher_page.get(f"/user/{teacher.name}/students/")).text, teacher.name) == new_link
    await teacher.api.delete(teacher.base() + f"consoles/{lesson}/")


@pytest.mark.gen_test(timeout=120)
async def test_accepting_a_student_lets_a_teacher_watching_through_a_share_type_at_once(ide_server):
    teacher = person(ide_server, "teach")
    student = person(ide_server, "kid")
    homework = await start_console(student)
    await student.api.post(sharing(student, homework), {"username": teacher.name, "mode": "ro"})
    helping = await watch(ide_server, teacher, homework)
    assert helping.received[0][1]["readonly"] is True
    await student.api.put(student.base() + "teacher/", {"teacher": teacher.name})
    assert (await teacher.api.post(teacher.base() + "students/", {"username": student.name})).status == 200
    told = await helping.until(lambda m: m[0] == "status" and "readonly" in m[1])
    assert told[1]["readonly"] is False
    # Removed: back to the share's read-only, still connected.
    assert (await teacher.api.delete(teacher.base() + f"students/{student.name}/")).status == 204
    await helping.until(lambda m: m[0] == "status" and m[1].get("readonly") is True)
    assert not helping.closed.is_set()
    await helping.close()
    await student.api.delete(student.base() + f"consoles/{homework}/")
