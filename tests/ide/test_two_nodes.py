"""Two real nodes on one Redis: either answers for the other's consoles, and pages stream from the right one."""
from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

import psutil
import pytest

from tests.client import Client
from tests.consoles.node import wait_for
from tests.consoles.sockjs_client import connect
from tests.server import UNISOLATED, ServerProcess, reachable_dir


@pytest.fixture(scope="module")
def nodes():
    data_dir = reachable_dir("ide-test-nodes-")
    try:
        yield from _two_nodes(data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _two_nodes(data_dir: Path):
    first = ServerProcess(data_dir, *UNISOLATED, "--node-id", "n1", "--node-path", "/nodes/n1/").start()
    try:
        config = (Path(data_dir) / "redis" / "redis.conf").read_text()
        socket_path = re.search(r"^unixsocket (.+)$", config, re.M).group(1)  # type: ignore[union-attr]
        # The first node made the deployment's node secret in the data directory they share.
        second = ServerProcess(data_dir, *UNISOLATED, "--node-id", "n2", "--node-path", "/nodes/n2",
                               "--redis-url", f"unix://{socket_path}",
                               "--node-secret-file", str(Path(data_dir) / "node-secret")).start()
    except BaseException:
        first.stop()
        raise
    yield first, second
    second.stop()
    first.stop()


def account_on_both(first: ServerProcess, second: ServerProcess, prefix: str) -> tuple[str, str, Client, Client]:
    """A new hacker account: its name, its API token, and an API client on each node."""
    name = first.add_user(prefix, account_type="hacker")
    token = first.cli("user", "token", name).stdout.strip()
    return name, token, Client(first.url, token=token), Client(second.url, token=token)


async def latest_output(client: Client, base: str, text: str) -> str:
    async def output() -> str | None:
        response = await client.get(base + "get_latest_output/")
        assert response.status == 200, response.text
        return response.json()["output"] if text in response.json()["output"] else None
    return await wait_for(output, message=f"{text!r} in the latest output")


@pytest.mark.gen_test(timeout=90)
async def test_a_console_of_one_node_is_driven_closed_and_viewed_through_the_other(nodes):
    first, second = nodes
    name, token, on_first, on_second = account_on_both(first, second, "multi")

    created = await on_first.post(f"/api/v0/user/{name}/consoles/", {"executable": "bash"})
    assert created.status == 201, created.text
    console = created.json()
    assert console["stream_url"] == "/nodes/n1/consoles/sockjs"
    base = f"/api/v0/user/{name}/consoles/{console['id']}/"

    # The other node passes typing and reading on to the node that runs the console.
    typed = await on_second.post(base + "send_input/", {"input": "echo $((6*7))\n"})
    assert typed.status == 200, typed.text
    assert "\n42" in await latest_output(on_second, base, "\n42")
    assert (await on_second.get(base)).json()["stream_url"] == "/nodes/n1/consoles/sockjs"

    # The stream is served under the node's path (as the proxy passes it on) and at its usual place.
    for prefix in ("/nodes/n1/consoles/sockjs", "/consoles/sockjs"):
        stream = await connect("websocket", first.url, console["id"], prefix=prefix,
                               headers={"Authorization": f"Token {token}"})
        try:
            await stream.output_until(r"42")
        finally:
            await stream.close()

    # The page, served by either node, points the browser at the console's node.
    browser = Client(second.url)
    await browser.login(name)
    page = await browser.get(f"/user/{name}/consoles/{console['id']}/")
    assert page.status == 200
    assert 'data-sockjs-url="/nodes/n1/consoles/sockjs"' in html.unescape(page.text)

    # Closing through the other node kills the program on its own node.
    closed = await on_second.delete(base)
    assert closed.status == 204, closed.text
    assert (await on_first.get(base)).status == 404
    assert (await on_first.post(base + "send_input/", {"input": "x"})).status == 404


@pytest.mark.gen_test(timeout=60)
async def test_a_console_whose_node_is_gone_gets_a_clear_answer(nodes):
    first, second = nodes
    name, _, _, client = account_on_both(first, second, "gone")
    with first.redis() as redis:
        redis.hset("ide:console:00000000deadbeef", mapping={
            "owner": name, "node": "n9", "node_path": "/nodes/n9", "argv": '["bash"]', "cwd": "/",
            "name": "Bash", "created": "1", "status": "running"})
        redis.sadd(f"ide:user:{name}:consoles", "00000000deadbeef")
    base = f"/api/v0/user/{name}/consoles/00000000deadbeef/"
    for response in (await client.post(base + "send_input/", {"input": "ls\n"}),
                     await client.get(base + "get_latest_output/")):
        assert response.status == 503
        assert response.json()["detail"] == ("The server running this console (n9) is not answering; "
                                             "try again in a moment.")
    assert (await client.delete(base)).status == 204  # its program went with its node
    assert (await client.get(f"/api/v0/user/{name}/consoles/")).json() == []


@pytest.mark.gen_test(timeout=90)
async def test_processes_of_every_node_are_listed_and_killed_through_either(nodes):
    first, second = nodes
    name, _, on_first, on_second = account_on_both(first, second, "procs")
    api = f"/api/v0/user/{name}/processes/"
    for client, seconds in ((on_first, "881"), (on_first, "882"), (on_second, "883")):
        created = await client.post(f"/api/v0/user/{name}/consoles/", {"executable": "sleep", "arguments": seconds})
        assert created.status == 201, created.text

    async def listed() -> dict[str, dict]:
        response = await on_second.get(api)
        assert response.status == 200, response.text
        return {p["command"].split()[-1]: p for p in response.json() if "sleep" in p["command"]}

    async def all_three() -> dict[str, dict] | None:
        found = await listed()
        return found if set(found) == {"881", "882", "883"} else None
    processes = await wait_for(all_three, message="the three sleeps, listed through the second node")
    assert [processes[seconds]["node"] for seconds in ("881", "882", "883")] == ["n1", "n1", "n2"]
    seen_from_first = {(p["node"], p["pid"]) for p in (await on_first.get(api)).json()}
    assert seen_from_first == {(p["node"], p["pid"]) for p in (await on_second.get(api)).json()}

    # A pid means something only on its node: killing it there, through the other node.
    doomed = processes["881"]
    refused = await on_second.delete(f"{api}{os.getpid()}/?node=n1")
    assert refused.status == 404
    assert refused.json()["detail"] == f"Process {os.getpid()} is not running in any of your consoles."
    assert (await on_second.delete(f"{api}{doomed['pid']}/?node=n1")).status == 204
    assert not psutil.pid_exists(doomed["pid"]) or psutil.Process(doomed["pid"]).status() == psutil.STATUS_ZOMBIE
    assert set(await listed()) == {"882", "883"}

    assert (await on_second.delete(api)).status == 204  # every node's
    async def none_left() -> bool:
        return not await listed()
    await wait_for(none_left, message="no process left on either node")


@pytest.mark.gen_test(timeout=90)
async def test_removing_a_student_through_one_node_ends_the_class_on_the_other(nodes):
    first, second = nodes
    teacher, teacher_token, teacher_first, teacher_second = account_on_both(first, second, "teach")
    student = first.add_user("kid", teacher=teacher)
    student_token = first.cli("user", "token", student).stdout.strip()
    student_first = Client(first.url, token=student_token)
    lesson = (await teacher_first.post(f"/api/v0/user/{teacher}/consoles/", {"executable": "bash"})).json()
    homework = (await student_first.post(f"/api/v0/user/{student}/consoles/", {"executable": "bash"})).json()
    sharing = f"/api/v0/user/{teacher}/consoles/{lesson['id']}/sharing/"
    assert (await teacher_first.post(sharing, {"all_students": True})).status == 201
    await student_first.put(f"/api/v0/user/{student}/files/path/home/{student}/hw.py", {"content": "x = 1\n"})
    link = (await teacher_first.post(f"/api/v0/user/{teacher}/files/sharing/",
                                     {"path": f"/home/{student}/hw.py"})).json()["url"]
    watching = await connect("websocket", first.url, lesson["id"],
                             headers={"Authorization": f"Token {student_token}"})
    helping = await connect("websocket", first.url, homework["id"],
                            headers={"Authorization": f"Token {teacher_token}"})
    for stream in (watching, helping):
        assert (await stream.until(lambda m: m[0] in ("setup", "disconnect")))[0] == "setup"

    assert (await teacher_second.delete(f"/api/v0/user/{teacher}/students/{student}/")).status == 204
    assert (await watching.until_closed())[-1] == ["disconnect", f"You are no longer in {teacher}'s class."]
    assert (await helping.until_closed())[-1] == ["disconnect", f"{student} is no longer your student."]
    assert (await Client(first.url).get(link)).status == 404
    await teacher_first.delete(f"/api/v0/user/{teacher}/consoles/{lesson['id']}/")
    await student_first.delete(f"/api/v0/user/{student}/consoles/{homework['id']}/")
