"""Sharing consoles through the real server: several users, the API, the stream, the PTY."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from tests.client import Client
from tests.consoles.sockjs_client import ConsoleClient, connect


@dataclass
class Person:
    name: str
    api: Client

    def base(self, owner: str | None = None) -> str:
        return f"/api/v0/user/{owner or self.name}/"


def person(server, prefix: str, account_type: str = "hacker", teacher: str | None = None) -> Person:
    name = server.add_user(prefix, account_type=account_type, teacher=teacher)
    return Person(name, Client(server.url, token=server.cli("user", "token", name).stdout.strip()))


async def start_console(owner: Person, *arguments: str) -> str:
    response = await owner.api.post(owner.base() + "consoles/", {"executable": "bash",
                                                                "arguments": list(arguments)})
    assert response.status == 201, response.text
    return response.json()["id"]


async def watch(server, who: Person, console_id: str, transport: str = "websocket") -> ConsoleClient:
    stream = await connect(transport, server.url, console_id,
                           headers={"Authorization": f"Token {who.api.token}"})
    await stream.until(lambda m: m[0] in ("setup", "disconnect"))
    return stream


def sharing(owner: Person, console_id: str) -> str:
    return owner.base() + f"consoles/{console_id}/sharing/"


async def wait_for_file(path, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not path.exists():
        assert asyncio.get_running_loop().time() < deadline, f"{path} never appeared"
        await asyncio.sleep(0.05)


@pytest.mark.gen_test(timeout=120)
async def test_read_only_and_read_write_shares_checked_on_the_pty(ide_server):
    alice, bob, carol = (person(ide_server, p) for p in ("alice", "bob", "carol"))
    console = await start_console(alice)
    assert (await alice.api.post(sharing(alice, console), {"username": bob.name, "mode": "ro"})).status == 201
    created = await alice.api.post(sharing(alice, console), {"username": carol.name.upper(), "mode": "rw"})
    assert created.status == 201 and created.json() == {"username": carol.name, "mode": "rw"}
    listed = (await alice.api.get(sharing(alice, console))).json()
    assert listed == {"shares": sorted([{"username": bob.name, "mode": "ro"},
                                        {"username": carol.name, "mode": "rw"}],
                                       key=lambda s: s["username"]),
                      "all_students": False}

    owner = await watch(ide_server, alice, console)
    viewer = await watch(ide_server, bob, console, transport="xhr_streaming")
    typist = await watch(ide_server, carol, console)
    assert viewer.received[0][1]["readonly"] is True and typist.received[0][1]["readonly"] is False

    home = ide_server.data_dir / "home" / alice.name
    await viewer.send(["set_size", 50, 132])
    await viewer.type("touch ro_marker; echo RO$((1+1))SENT\r")
    await viewer.until(lambda m: m[0] == "status" and m[1].get("notice") == "readonly")
    await typist.type("touch rw_marker; echo RW$((2+2))SENT\r")
    await owner.output_until(r"RW4SENT")
    await wait_for_file(home / "rw_marker")
    await owner.type("stty size; echo CHECK$((3+3))DONE\r")
    await viewer.output_until(r"CHECK6DONE")
    assert "\r24 80\r\n" in owner.output
    assert "RO2SENT" not in owner.output and not (home / "ro_marker").exists()

    # bob and carol see it under "shared with you"; alice does not.
    for who in (bob, carol):
        shared = (await who.api.get(who.base() + "consoles/shared_with_you/")).json()
        assert [c["id"] for c in shared] == [console]
    assert (await alice.api.get(alice.base() + "consoles/shared_with_you/")).json() == []
    for stream in (owner, viewer, typist):
        await stream.close()
    await alice.api.delete(alice.base() + f"consoles/{console}/")


@pytest.mark.gen_test(timeout=120)
async def test_revoke_mid_stream_and_mode_changes_take_effect_at_once(ide_server):
    alice, bob, carol = (person(ide_server, p) for p in ("alice", "bob", "carol"))
    console = await start_console(alice, "-c", "while :; do echo tick; sleep 0.02; done")
    await alice.api.post(sharing(alice, console), {"username": bob.name, "mode": "ro"})
    await alice.api.post(sharing(alice, console), {"username": carol.name, "mode": "rw"})
    viewer = await watch(ide_server, bob, console)
    typist = await watch(ide_server, carol, console, transport="xhr_polling")
    await viewer.output_until(r"(tick\r\n){5}")

    assert (await alice.api.delete(sharing(alice, console) + f"{bob.name}/")).status == 204
    messages = await viewer.until_closed()
    assert messages[-1] == ["disconnect", f"{alice.name} stopped sharing this console with you."]
    assert (await alice.api.delete(sharing(alice, console) + f"{bob.name}/")).status == 404
    again = await watch(ide_server, bob, console)
    assert again.received == [["disconnect", "Console not found or access denied"]]
    assert (await bob.api.get(bob.base() + "consoles/shared_with_you/")).json() == []

    changed = await alice.api.post(sharing(alice, console), {"username": carol.name, "mode": "ro"})
    assert changed.status == 200 and changed.json() == {"username": carol.name, "mode": "ro"}
    told = await typist.until(lambda m: m[0] == "status" and "readonly" in m[1])
    assert told[1]["readonly"] is True
    assert not typist.closed.is_set()
    await typist.output_until(r"(tick\r\n){3}$")
    await typist.close()
    await alice.api.delete(alice.base() + f"consoles/{console}/")


@pytest.mark.gen_test(timeout=60)
async def test_sharing_requests_that_are_refused(ide_server):
    alice, bob = person(ide_server, "alice"), person(ide_server, "bob")
    console = await start_console(alice)
    url = sharing(alice, console)
    cases = [
        ({"username": "nosuchuser_x1", "mode": "ro"}, 404, "no user named"),
        ({"username": alice.name, "mode": "ro"}, 400, "own this console"),
        ({"username": bob.name, "mode": "write"}, 400, '"ro"'),
        ({"username": bob.name}, 400, '"ro"'),
        ({"mode": "ro"}, 400, "username"),
        ({"all_students": True}, 403, "teachers"),
    ]
    for body, status, detail in cases:
        response = await alice.api.post(url, body)
        assert response.status == status, (body, response.text)
        assert detail in response.json()["detail"], (body, response.text)
    assert (await alice.api.get(url)).json() == {"shares": [], "all_students": False}

    # Only the owner manages shares; those who cannot see the console learn nothing.
    assert (await bob.api.get(url)).status == 403
    assert (await bob.api.get(sharing(bob, console))).status == 404
    await alice.api.post(url, {"username": bob.name, "mode": "rw"})
    refused = await bob.api.post(sharing(bob, console), {"username": bob.name, "mode": "rw"})
    assert refused.status == 403 and alice.name in refused.json()["detail"]
    assert (await bob.api.delete(sharing(bob, console) + f"{bob.name}/")).status == 403
    assert (await alice.api.get(sharing(alice, "0123456789abcdef"))).status == 404
    assert (await alice.api.delete(url + "all_students/")).status == 404


@pytest.mark.gen_test(timeout=60)
async def test_closing_a_console_forgets_its_shares(ide_server):
    alice, bob = person(ide_server, "alice"), person(ide_server, "bob")
    console = await start_console(alice)
    await alice.api.post(sharing(alice, console), {"username": bob.name, "mode": "ro"})
    assert ide_server.redis_call("SISMEMBER", f"ide:user:{bob.name}:shared_with_me", console) == 1
    assert (await alice.api.delete(alice.base() + f"consoles/{console}/")).status == 204
    assert ide_server.redis_call("EXISTS", f"ide:console:{console}:shares") == 0
    assert ide_server.redis_call("SISMEMBER", f"ide:user:{bob.name}:shared_with_me", console) == 0
    assert (await bob.api.get(bob.base() + "consoles/shared_with_you/")).json() == []


@pytest.mark.gen_test(timeout=120)
async def test_a_class_broadcast(ide_server):
    teacher = person(ide_server, "teach")
    early = person(ide_server, "early", teacher=teacher.name)
    late = person(ide_server, "late")
    shared = person(ide_server, "own", teacher=teacher.name)
    console = await start_console(teacher)
    url = sharing(teacher, console)
    assert (await teacher.api.post(url, {"username": shared.name, "mode": "ro"})).status == 201
    assert (await teacher.api.post(url, {"all_students": True})).status == 201
    assert (await teacher.api.post(url, {"all_students": True})).status == 200
    assert (await teacher.api.get(url)).json()["all_students"] is True

    # A student who joins the class while the broadcast lasts gets in too, once accepted.
    outsider = await watch(ide_server, late, console)
    assert outsider.received == [["disconnect", "Console not found or access denied"]]
    assert (await late.api.put(late.base() + "teacher/", {"teacher": teacher.name})).status == 200
    assert (await late.api.get(late.base() + "consoles/shared_with_you/")).json() == []
    assert (await teacher.api.post(teacher.base() + "students/", {"username": late.name})).status == 200
    shared_list = (await late.api.get(late.base() + "consoles/shared_with_you/")).json()
    assert [c["id"] for c in shared_list] == [console]
    owner = await watch(ide_server, teacher, console)
    students = {who.name: await watch(ide_server, who, console) for who in (early, late, shared)}
    for stream in students.values():
        assert stream.received[0][0] == "setup" and stream.received[0][1]["readonly"] is True

    # The teacher sees who watches; a student can neither type nor resize.
    await owner.until(lambda m: m[0] == "status" and m[1].get("watchers_total") == 4)
    late_stream = students[late.name]
    await late_stream.send(["set_size", 60, 200])
    await late_stream.type("echo FROM$((5+5))STUDENT\r")
    await late_stream.until(lambda m: m[0] == "status" and m[1].get("notice") == "readonly")
    await owner.type("stty size; echo TEACHER$((6+6))\r")
    for stream in (owner, *students.values()):
        await stream.output_until(r"TEACHER12")
    assert "\r24 80\r\n" in owner.output and "FROM10STUDENT" not in owner.output

    # Ending it disconnects those it let in; a share of one's own stays.
    assert (await teacher.api.delete(url + "all_students/")).status == 204
    for who in (early, late):
        messages = await students[who.name].until_closed()
        assert messages[-1] == ["disconnect", f"{teacher.name} stopped sharing this console with the class."]
    assert not students[shared.name].closed.is_set()
    assert (await teacher.api.get(url)).json()["all_students"] is False
    assert (await late.api.get(late.base() + "consoles/shared_with_you/")).json() == []
    await owner.close()
    await students[shared.name].close()
    await teacher.api.delete(teacher.base() + f"consoles/{console}/")


@pytest.mark.gen_test(timeout=120)
async def test_a_teacher_helps_a_student_without_being_invited(ide_server):
    teacher = person(ide_server, "teach")
    student = person(ide_server, "pupil", teacher=teacher.name)
    classmate = person(ide_server, "mate", teacher=teacher.name)
    console = await start_console(student)
    own = await watch(ide_server, student, console)
    helper = await watch(ide_server, teacher, console)
    assert helper.received[0][1] == {**helper.received[0][1], "readonly": False, "owner": student.name}
    await helper.type("echo HELP$((7+7))ED\r")
    await own.output_until(r"HELP14ED")
    # The student sees who is attached.
    await own.until(lambda m: m[0] == "status" and {"username": teacher.name, "readonly": False,
                                                    "connections": 1} in m[1].get("watchers", []))
    # The teacher has no say over the student's shares, and a classmate gets nothing.
    assert (await teacher.api.get(sharing(teacher, console))).status == 403
    nosy = await watch(ide_server, classmate, console)
    assert nosy.received == [["disconnect", "Console not found or access denied"]]
    page = Client(ide_server.url)
    await page.login(teacher.name)
    response = await page.get(f"/user/{student.name}/consoles/{console}/")
    assert response.status == 200 and 'data-readonly="0"' in response.text
    for stream in (own, helper):
        await stream.close()
    await student.api.delete(student.base() + f"consoles/{console}/")


@pytest.mark.gen_test(timeout=60)
async def test_console_page_for_owner_and_for_a_read_only_viewer(ide_server):
    alice, bob = person(ide_server, "alice"), person(ide_server, "bob")
    console = await start_console(alice)
    await alice.api.post(sharing(alice, console), {"username": bob.name, "mode": "ro"})
    owner_page, viewer_page = Client(ide_server.url), Client(ide_server.url)
    await owner_page.login(alice.name)
    await viewer_page.login(bob.name)
    mine = await owner_page.get(f"/user/{alice.name}/consoles/{console}/")
    assert mine.status == 200 and 'id="console-sharing"' in mine.text
    assert f'data-sharing-api="/api/v0/user/{alice.name}/consoles/{console}/sharing/"' in mine.text
    theirs = await viewer_page.get(f"/user/{alice.name}/consoles/{console}/")
    assert theirs.status == 200 and 'data-readonly="1"' in theirs.text
    assert 'id="console-sharing"' not in theirs.text and "data-readonly-badge" in theirs.text
    frame = await viewer_page.get(f"/user/{alice.name}/consoles/{console}/frame/")
    assert frame.status == 200 and 'data-readonly="1"' in frame.text
    # The session cookie works for the sharing API too, with the XSRF header.
    listed = await owner_page.get(f"/api/v0/user/{alice.name}/consoles/{console}/sharing/")
    assert listed.json()["shares"] == [{"username": bob.name, "mode": "ro"}]
    await alice.api.delete(alice.base() + f"consoles/{console}/")
