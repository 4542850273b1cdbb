"""Share links a teacher makes to a student's files end with the class; students see and revoke them."""
from __future__ import annotations

from html import unescape
from urllib.parse import quote

import pytest

from tests.client import Client
from tests.ide.test_files_api import Caller


def enrolled(server, teacher: Caller) -> Caller:
    return Caller(server, server.add_user("kid", teacher=teacher.name))


async def share(caller: Caller, path: str) -> str:
    response = await caller.client.post(f"{caller.api}files/sharing/", {"path": path})
    assert response.status == 201, response.text
    return response.json()["url"]


async def links(caller: Caller) -> list[dict[str, str]]:
    response = await caller.client.get(f"{caller.api}files/sharing/")
    assert response.status == 200, response.text
    return response.json()["shares"]


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("ending", ["student leaves", "teacher removes", "student changes teacher"])
async def test_a_teachers_link_to_a_students_file_ends_with_the_class(ide_server, ending):
    teacher = Caller(ide_server, ide_server.add_user("teach"))
    student = enrolled(ide_server, teacher)
    homework, own = f"/home/{student.name}/hw.py", f"/home/{student.name}/mine.py"
    await student.save(homework, "answer = 41\n")
    await student.save(own, "print('mine')\n")
    by_teacher = await share(teacher, homework)
    assert by_teacher.startswith(f"/user/{student.name}/shares/")
    by_student = await share(student, own)
    await student.save(homework, "answer = 42\n")  # later edits show through the link
    anonymous = Client(ide_server.url)
    assert "answer = 42" in unescape((await anonymous.get(by_teacher)).text)

    if ending == "student leaves":
        assert (await student.client.delete(f"{student.api}teacher/")).status == 204
    elif ending == "teacher removes":
        assert (await teacher.client.delete(f"{teacher.api}students/{student.name}/")).status == 204
    else:
        other = ide_server.add_user("other")
        assert (await student.client.put(f"{student.api}teacher/", {"teacher": other})).status == 200
    gone = await anonymous.get(by_teacher)
    assert gone.status == 404 and "answer" not in gone.text
    assert (await anonymous.get(by_student)).status == 200  # the student's own link stays
    assert [link["url"] for link in await links(student)] == [by_student]
    assert (await student.client.get(f"{student.api}files/sharing/?path={homework}")).status == 404


@pytest.mark.gen_test(timeout=60)
async def test_a_student_lists_and_revokes_links_the_teacher_made(ide_server):
    teacher = Caller(ide_server, ide_server.add_user("teach"))
    student = enrolled(ide_server, teacher)
    first, second, third = (f"/home/{student.name}/{name}.py" for name in ("a", "b", "c"))
    for path in (first, second, third):
        await student.save(path, "x = 1\n")
    made = {path: await share(teacher, path) for path in (first, second)}
    mine = await share(student, third)
    assert await links(student) == [
        {"path": first, "url": made[first], "creator": teacher.name},
        {"path": second, "url": made[second], "creator": teacher.name},
        {"path": third, "url": mine, "creator": student.name}]
    assert await links(teacher) == []  # links to the teacher's own files only

    # The Account page lists them too, each with a revoke button.
    page = Client(ide_server.url)
    await page.login(student.name)
    account = (await page.get("/account/")).text
    revoke = f"/api/v0/user/{student.name}/files/sharing/?path={quote(first, safe='')}"
    assert f'data-api-delete="{revoke}"' in account and f"<td>{teacher.name}</td>" in account
    assert (await page.delete(revoke)).status == 204  # as the page's button sends it
    assert (await Client(ide_server.url).get(made[first])).status == 404

    # Sharing the file oneself adopts the teacher's link: it outlives the class.
    again = await student.client.post(f"{student.api}files/sharing/", {"path": second})
    assert again.status == 200 and again.json() == {"url": made[second]}
    assert {link["path"]: link["creator"] for link in await links(student)} == {
        second: student.name, third: student.name}
    assert (await student.client.delete(f"{student.api}teacher/")).status == 204
    assert (await Client(ide_server.url).get(made[second])).status == 200
    assert (await Client(ide_server.url).get(mine)).status == 200


@pytest.mark.gen_test(timeout=60)
async def test_links_from_before_creators_were_recorded_count_as_the_owners(ide_server):
    teacher = Caller(ide_server, ide_server.add_user("teach"))
    student = enrolled(ide_server, teacher)
    path = f"/home/{student.name}/old.py"
    await student.save(path, "old = True\n")
    url = await share(teacher, path)
    token = url.rstrip("/").rsplit("/", 1)[1]
    ide_server.redis_call("HDEL", f"ide:fileshare:{token}", "creator")
    assert await links(student) == [{"path": path, "url": url, "creator": student.name}]
    assert (await student.client.delete(f"{student.api}teacher/")).status == 204
    assert (await Client(ide_server.url).get(url)).status == 200


@pytest.mark.gen_test(timeout=60)
async def test_a_teachers_link_stored_after_the_class_ended_does_not_serve(ide_server):
    """A teacher's share request that passed its access check just before the class ended may store
    its link just after the links were deleted: the link still answers 404."""
    teacher = Caller(ide_server, ide_server.add_user("teach"))
    student = enrolled(ide_server, teacher)
    path = f"/home/{student.name}/late.py"
    await student.save(path, "late = True\n")
    url = await share(teacher, path)
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert (await student.client.delete(f"{student.api}teacher/")).status == 204
    # What the racing request writes after the class ended.
    ide_server.redis_call("HSET", f"ide:fileshare:{token}", "owner", student.name, "path", path,
                          "creator", teacher.name)
    ide_server.redis_call("HSET", f"ide:user:{student.name}:fileshares", path, token)
    assert (await Client(ide_server.url).get(url)).status == 404
    assert await links(student) == [{"path": path, "url": url, "creator": teacher.name}]
    assert (await student.client.delete(f"{student.api}files/sharing/?path={path}")).status == 204
