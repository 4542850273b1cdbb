"""Consoles through the real server: API v0, the stream with real auth, pages."""
from __future__ import annotations

import asyncio
import os
import time

import psutil
import pytest

from tests.client import Client
from tests.consoles.sockjs_client import TRANSPORTS, connect
from tests.server import ServerProcess


@pytest.fixture
def alice(ide_server):
    name = ide_server.add_user("alice", account_type="hacker")
    return name, Client(ide_server.url, token=ide_server.cli("user", "token", name).stdout.strip())


async def start(client: Client, name: str, **body):
    response = await client.post(f"/api/v0/user/{name}/consoles/", {"executable": "bash", **body})
    assert response.status == 201, response.text
    return response.json()


async def output_until(client: Client, name: str, console_id: str, text: str, timeout: float = 30) -> str:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        output = (await client.get(f"/api/v0/user/{name}/consoles/{console_id}/get_latest_output/")).json()["output"]
        if text in output:
            return output
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{text!r} never appeared in {output!r}")
        await asyncio.sleep(0.1)


@pytest.mark.gen_test(timeout=60)
async def test_start_type_read_close_through_the_api(ide_server, alice):
    name, client = alice
    console = await start(client, name)
    assert console["user"] == name and console["name"] == "Bash" and console["status"] == "running"
    assert console["console_url"] == f"/user/{name}/consoles/{console['id']}/"
    assert console["console_frame_url"] == console["console_url"] + "frame/"
    assert console["working_directory"].endswith(f"/{name}")
    sent = await client.post(f"/api/v0/user/{name}/consoles/{console['id']}/send_input/",
                             {"input": "printf '\\033[31m%s\\033[0m\\n' $((6*7))\n"})
    assert sent.status == 200
    output = await output_until(client, name, console["id"], "\n42")
    assert "\x1b" not in output
    listed = (await client.get(f"/api/v0/user/{name}/consoles/")).json()
    assert [c["id"] for c in listed] == [console["id"]]
    pid = ide_server_pid_of_console(ide_server, console["id"])
    assert (await client.delete(f"/api/v0/user/{name}/consoles/{console['id']}/")).status == 204
    assert (await client.get(f"/api/v0/user/{name}/consoles/{console['id']}/")).status == 404
    await wait_gone(pid)


@pytest.mark.gen_test(timeout=60)
async def test_latest_output_renders_wide_characters_as_the_terminal_shows_them(ide_server, alice):
    name, client = alice
    console = await start(client, name)
    base = f"/api/v0/user/{name}/consoles/{console['id']}/"
    # Wide characters take two cells: the cursor moves (\033[12G, column 12) land after them.
    script = ("printf '%s\\n' '你好, 世界'; printf '🙂🐍\\033[5GX\\n'; "
              "printf '世界\\033[6Gend\\n'; echo DONE$((1+1))\n")
    assert (await client.post(base + "send_input/", {"input": script})).status == 200
    output = await output_until(client, name, console["id"], "\nDONE2")
    lines = output.splitlines()
    assert "你好, 世界" in lines and "🙂🐍X" in lines and "世界 end" in lines, lines
    await client.delete(base)


def ide_server_pid_of_console(server: ServerProcess, console_id: str) -> int:
    # Consoles run on a terminal; web apps and tasks do not.
    for _ in range(100):
        children = [child for child in server.holder().children() if _has_terminal(child.pid)]
        if children:
            return max(children, key=lambda p: p.create_time()).pid
        time.sleep(0.05)
    raise AssertionError(f"console {console_id}'s program is not a child of the node's holder")


def _has_terminal(pid: int) -> bool:
    """From /proc (psutil's ``terminal()`` maps devices it listed once, missing newer ptys)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[4]) != 0
    except (OSError, ValueError, IndexError):
        return False


async def wait_gone(pid: int, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert asyncio.get_running_loop().time() < deadline, f"process {pid} still alive"
        await asyncio.sleep(0.05)


@pytest.mark.gen_test(timeout=60)
async def test_exit_status_is_recorded(ide_server, alice):
    name, client = alice
    console = await start(client, name, arguments=["-c", "exit 3"])
    for _ in range(300):
        record = (await client.get(f"/api/v0/user/{name}/consoles/{console['id']}/")).json()
        if record["status"] == "exited":
            break
        await asyncio.sleep(0.05)
    assert record["status"] == "exited" and record["exit_status"] == 3
    typed = await client.post(f"/api/v0/user/{name}/consoles/{console['id']}/send_input/", {"input": "x"})
    assert typed.status == 409 and "ended" in typed.json()["detail"]


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("body, message", [
    ({}, 'Give "executable"'),
    ({"executable": "no-such-program-xyz"}, "no-such-program-xyz: no such program here."),
    ({"executable": "bash", "arguments": 5}, "arguments must be a string or a list of strings."),
    ({"executable": "bash", "arguments": "'unbalanced"}, "arguments could not be parsed"),
    ({"executable": "bash", "working_directory": "relative/dir"}, "working_directory must be an absolute path."),
    ({"executable": "bash", "working_directory": "/home/nobody_zz/nowhere"},
     "working_directory must be a directory in your home"),
])
async def test_bad_start_requests_are_400(ide_server, alice, body, message):
    name, client = alice
    response = await client.post(f"/api/v0/user/{name}/consoles/", body)
    assert response.status == 400, response.text
    assert message in response.json()["detail"]
    assert (await client.get(f"/api/v0/user/{name}/consoles/")).json() == []


@pytest.mark.gen_test(timeout=60)
async def test_console_limit_of_a_free_account(ide_server):
    name = ide_server.add_user("free")
    client = Client(ide_server.url, token=ide_server.cli("user", "token", name).stdout.strip())
    first = await start(client, name)
    await start(client, name)
    third = await client.post(f"/api/v0/user/{name}/consoles/", {"executable": "bash"})
    assert third.status == 403
    assert "2" in third.json()["detail"]
    await client.delete(f"/api/v0/user/{name}/consoles/{first['id']}/")
    await start(client, name)


@pytest.mark.gen_test(timeout=60)
async def test_other_users_cannot_see_or_touch_a_console(ide_server, alice):
    name, client = alice
    console = await start(client, name)
    mallory = ide_server.add_user("mal")
    intruder = Client(ide_server.url, token=ide_server.cli("user", "token", mallory).stdout.strip())
    base = f"/api/v0/user/{name}/consoles/{console['id']}/"
    for method, path, body in (("GET", base, None), ("DELETE", base, None),
                               ("POST", base + "send_input/", {"input": "rm -rf ~\n"}),
                               ("GET", base + "get_latest_output/", None)):
        response = await intruder.request(method, path, body)
        assert response.status == 403, (method, path)
    own_url = await intruder.get(f"/api/v0/user/{mallory}/consoles/{console['id']}/")
    missing = await intruder.get(f"/api/v0/user/{mallory}/consoles/0000000000000000/")
    assert own_url.status == missing.status == 404 and own_url.json() == missing.json()
    stream = await connect("websocket", ide_server.url, console["id"],
                           headers={"Authorization": f"Token {intruder.token}"})
    closed = await stream.until_closed()
    assert ["disconnect", "Console not found or access denied"] in closed
    assert not stream.of_kind("stdout")
    await client.delete(base)


@pytest.mark.gen_test(timeout=90)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_stream_with_the_session_cookie_on_every_transport(ide_server, transport):
    name = ide_server.add_user("web", account_type="hacker")
    browser = Client(ide_server.url)
    await browser.login(name)
    console = await start(browser, name)
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    stream = await connect(transport, ide_server.url, console["id"],
                           headers={"Cookie": cookie, "Origin": ide_server.url})
    setup = await stream.until(lambda m: m[0] == "setup")
    assert setup[1]["owner"] == name and setup[1]["readonly"] is False
    await stream.type("echo $((6*7))\r")
    await stream.output_until(r"\r42\r\n")
    await stream.close()
    await browser.delete(f"/api/v0/user/{name}/consoles/{console['id']}/")


@pytest.mark.gen_test(timeout=60)
async def test_cross_site_websocket_is_refused(ide_server, alice):
    name, client = alice
    console = await start(client, name)
    browser = Client(ide_server.url)
    await browser.login(name)
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    with pytest.raises(Exception) as refused:
        stream = await connect("raw_websocket", ide_server.url, console["id"],
                               headers={"Cookie": cookie, "Origin": "http://evil.example"})
        await stream.until(lambda m: m[0] == "stdout", timeout=5)
    assert "403" in str(refused.value)
    await client.delete(f"/api/v0/user/{name}/consoles/{console['id']}/")


@pytest.mark.gen_test(timeout=60)
async def test_launchers_round_trip_and_start(ide_server, alice):
    name, client = alice
    base = f"/api/v0/user/{name}/launchers/"
    bad = await client.post(base, {"name": "x", "command": "python3 'oops", "working_directory": "/tmp"})
    assert bad.status == 400 and "quote" in bad.json()["detail"].lower()
    wrong_type = await client.post(base, {"name": 1, "command": "bash", "working_directory": "/tmp"})
    assert wrong_type.status == 400
    created = await client.post(base, {"name": "Greeter", "command": "bash -c 'echo hello-$USER; exec bash'",
                                       "working_directory": f"/home/{name}"})
    assert created.status == 201, created.text
    launcher = created.json()
    assert (await client.get(base)).json() == [launcher]
    assert (await client.get(base + launcher["id"] + "/")).json() == launcher
    changed = await client.put(base + launcher["id"] + "/", {**launcher, "name": "Hello"})
    assert changed.json()["name"] == "Hello"
    console = (await client.post(f"/api/v0/user/{name}/consoles/", {"launcher": launcher["id"]})).json()
    assert console["name"] == "Hello"
    await output_until(client, name, console["id"], f"hello-{name}")
    assert (await client.delete(base + launcher["id"] + "/")).status == 204
    assert (await client.delete(base + launcher["id"] + "/")).status == 404
    # A missing launcher is the same 404 when a console is started from it.
    missing = await client.post(f"/api/v0/user/{name}/consoles/", {"launcher": launcher["id"]})
    assert (missing.status, missing.json()["detail"]) == (404, "No such launcher.")
    assert (await client.put(base + launcher["id"] + "/", launcher)).status == 404
    await client.delete(f"/api/v0/user/{name}/consoles/{console['id']}/")


@pytest.mark.gen_test(timeout=60)
async def test_process_list_and_kill(ide_server, alice):
    name, client = alice
    console = await start(client, name)
    await client.post(f"/api/v0/user/{name}/consoles/{console['id']}/send_input/", {"input": "sleep 777 &\n"})
    for _ in range(200):
        processes = (await client.get(f"/api/v0/user/{name}/processes/")).json()
        sleeper = [p for p in processes if p["command"] == "sleep 777"]
        if sleeper:
            break
        await asyncio.sleep(0.05)
    assert sleeper and {"pid", "command", "cpu_seconds", "memory_bytes"} <= set(sleeper[0])
    assert (await client.delete(f"/api/v0/user/{name}/processes/{os.getpid()}/")).status == 404
    assert (await client.delete(f"/api/v0/user/{name}/processes/{sleeper[0]['pid']}/")).status == 204
    await wait_gone(sleeper[0]["pid"])
    assert (await client.delete(f"/api/v0/user/{name}/processes/")).status == 204
    for _ in range(200):
        if (await client.get(f"/api/v0/user/{name}/consoles/{console['id']}/")).json()["status"] == "exited":
            break
        await asyncio.sleep(0.05)
    assert (await client.get(f"/api/v0/user/{name}/processes/")).json() == []


@pytest.mark.gen_test(timeout=60)
async def test_shared_with_you_and_cpu_shapes(ide_server, alice):
    name, client = alice
    assert (await client.get(f"/api/v0/user/{name}/consoles/shared_with_you/")).json() == []
    cpu = (await client.get(f"/api/v0/user/{name}/cpu/")).json()
    assert cpu["daily_cpu_limit_seconds"] == 5000
    assert cpu["daily_cpu_total_usage_seconds"] >= 0 and "T" in cpu["next_reset_time"]


@pytest.mark.gen_test(timeout=60)
async def test_console_pages(ide_server):
    name = ide_server.add_user("pg", account_type="hacker")
    other = ide_server.add_user("pg")
    browser = Client(ide_server.url)
    await browser.login(name)
    console = await start(browser, name)
    listing = await browser.get(f"/user/{name}/consoles/")
    assert listing.status == 200 and console["id"] in listing.text and "Python 3" in listing.text
    page = await browser.get(console["console_url"])
    assert page.status == 200 and f'data-console-id="{console["id"]}"' in page.text
    for frame in (console["console_frame_url"], console["console_frame_url"].rstrip("/")):
        framed = await browser.get(frame)
        assert framed.status == 200 and 'id="terminal"' in framed.text and 'class="topbar"' not in framed.text
    upper = await browser.get(console["console_url"].replace(f"/user/{name}/", f"/user/{name.upper()}/"))
    assert upper.status == 301 and upper.headers["Location"] == console["console_url"]
    stranger = Client(ide_server.url)
    await stranger.login(other)
    assert (await stranger.get(console["console_url"])).status == 404
    assert (await stranger.get(f"/user/{name}/consoles/")).status == 403
    anonymous = await Client(ide_server.url).get(console["console_url"])
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/login/?next=")
    await browser.delete(f"/api/v0/user/{name}/consoles/{console['id']}/")


@pytest.mark.gen_test(timeout=90)
async def test_working_directory_outside_your_home_is_refused_alike_whether_it_exists_or_not(ide_server, alice):
    """alice may not start in bob's project through /proc/<pid>/cwd of his console, nor
    learn from the answer which of the host's directories exist."""
    name, client = alice
    bob = ide_server.add_user("bob", account_type="hacker")
    bob_client = Client(ide_server.url, token=ide_server.cli("user", "token", bob).stdout.strip())
    assert (await bob_client.put(f"/api/v0/user/{bob}/files/path/home/{bob}/secret.txt",
                                 {"content": "bob's secret\n"})).status == 201
    bobs = await start(bob_client, bob)
    bob_pid = ide_server_pid_of_console(ide_server, bobs["id"])
    assert (await client.put(f"/api/v0/user/{name}/files/path/home/{name}/mine.txt", {"content": "x"})).status == 201
    os.symlink(ide_server.data_dir / "home" / bob, ide_server.data_dir / "home" / name / "to_bob")
    launcher = (await client.post(f"/api/v0/user/{name}/launchers/", {
        "name": "peek", "command": "cat secret.txt", "working_directory": f"/proc/{bob_pid}/cwd"})).json()

    outside = f"working_directory must be a directory in your home, /home/{name}/."
    for directory in (f"/proc/{bob_pid}/cwd", "/root/.ssh", "/root/no-such-directory", f"/home/{bob}",
                      f"/home/{bob}/no-such-directory", "/home/nobody_zz", "/"):
        response = await client.post(f"/api/v0/user/{name}/consoles/",
                                     {"executable": "cat", "arguments": ["secret.txt"],
                                      "working_directory": directory})
        assert (response.status, response.json()["detail"]) == (400, outside), directory
    by_launcher = await client.post(f"/api/v0/user/{name}/consoles/", {"launcher": launcher["id"]})
    assert (by_launcher.status, by_launcher.json()["detail"]) == (400, outside)
    through_link = await client.post(f"/api/v0/user/{name}/consoles/",
                                     {"executable": "bash", "working_directory": f"/home/{name}/to_bob"})
    assert through_link.status == 400 and "leads outside" in through_link.json()["detail"]
    missing = await client.post(f"/api/v0/user/{name}/consoles/",
                                {"executable": "bash", "working_directory": f"/home/{name}/nowhere"})
    assert missing.json()["detail"] == f"working directory /home/{name}/nowhere does not exist."
    assert (await client.get(f"/api/v0/user/{name}/consoles/")).json() == []
    await bob_client.delete(f"/api/v0/user/{bob}/consoles/{bobs['id']}/")


@pytest.mark.gen_test(timeout=60)
async def test_consoles_of_an_unisolated_server_do_not_run_as_root(ide_server, alice):
    """This server runs with --sandbox off --unsafe-no-isolation: as root, its users'
    programs run as one unprivileged account instead."""
    name, client = alice
    console = await start(client, name, arguments=["-c", "echo uid=$(id -u)"])
    output = await output_until(client, name, console["id"], "uid=")
    uid = int(output.split("uid=")[1].split()[0])
    assert uid == os.getuid() if os.getuid() != 0 else uid != 0
    await client.delete(f"/api/v0/user/{name}/consoles/{console['id']}/")


@pytest.mark.gen_test(timeout=60)
async def test_a_teacher_may_start_in_a_students_home_and_a_classmate_may_not(ide_server):
    teacher = ide_server.add_user("teach", account_type="hacker")
    student = ide_server.add_user("stud", teacher=teacher)
    classmate = ide_server.add_user("stud", teacher=teacher)
    clients = {name: Client(ide_server.url, token=ide_server.cli("user", "token", name).stdout.strip())
               for name in (teacher, student, classmate)}
    assert (await clients[student].put(f"/api/v0/user/{student}/files/path/home/{student}/hw/a.py",
                                       {"content": "x = 1\n"})).status == 201
    console = await start(clients[teacher], teacher, arguments=["-c", "pwd; ls"],
                          working_directory=f"/home/{student}/hw")
    assert console["working_directory"] == f"/home/{student}/hw"
    output = await output_until(clients[teacher], teacher, console["id"], "a.py")
    assert f"/home/{student}/hw" in output
    refused = await clients[classmate].post(f"/api/v0/user/{classmate}/consoles/", {
        "executable": "bash", "working_directory": f"/home/{student}/hw"})
    assert refused.status == 400
    assert refused.json()["detail"] == f"working_directory must be a directory in your home, /home/{classmate}/."
    await clients[teacher].delete(f"/api/v0/user/{teacher}/consoles/{console['id']}/")
