"""Restarting ``ide serve`` (a crash or an upgrade's SIGTERM) ends nobody's work.

Real servers, real programs: consoles printing a counter, holding a Python
variable, drawing a full screen; a web app; an always-on task.  The server
is killed and started again on the same data directory, and everything is
still there: same console ids, the same processes, scrollback without a
gap, the app's socket answering while no server runs.
"""
from __future__ import annotations

import asyncio
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.client import Client
from tests.consoles.sockjs_client import connect
from tests.ide.test_sharing import Person
from tests.ide.webapp_helpers import create_app, domain_of, visit
from tests.server import UNISOLATED, ServerProcess, reachable_dir
from tests.tasks.test_always_on import processes_named

COUNTER = "import itertools, time\nfor i in itertools.count():\n    print(f'n={i}', flush=True)\n    time.sleep(0.01)\n"
FULL_SCREEN = """
import curses
def main(screen):
    rows, cols = screen.getmaxyx()
    screen.addstr(0, 0, f"FULL {rows}x{cols}")
    while True:
        key = screen.getkey()
        screen.addstr(1, 0, f"key={key} ")
        screen.refresh()
curses.wrapper(main)
"""
ENDS_ON_GO = "until [ -e go ]; do sleep 0.05; done; echo bye; exit 7"


@pytest.fixture
def node() -> Iterator[ServerProcess]:
    data_dir = reachable_dir("ide-restart-")
    server = ServerProcess(data_dir, *UNISOLATED).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def person_on(server: ServerProcess, name: str, token: str) -> Person:
    return Person(name, Client(server.url, token=token))


async def start(who: Person, executable: str, *arguments: str) -> dict:
    response = await who.api.post(who.base() + "consoles/", {"executable": executable, "arguments": list(arguments)})
    assert response.status == 201, response.text
    return response.json()


async def latest(who: Person, console_id: str) -> str:
    answer = await who.api.get(who.base() + f"consoles/{console_id}/get_latest_output/")
    return str(answer.json()["output"]) if answer.status == 200 else ""


async def until_output(who: Person, console_id: str, pattern: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        output = await latest(who, console_id)
        if re.search(pattern, output):
            return output
        if time.monotonic() > deadline:
            raise AssertionError(f"{pattern!r} never appeared in {output!r}")
        await asyncio.sleep(0.1)


async def send(who: Person, console_id: str, text: str) -> None:
    answer = await who.api.post(who.base() + f"consoles/{console_id}/send_input/", {"input": text})
    assert answer.status == 200, answer.text


async def replay(server: ServerProcess, who: Person, console_id: str, token: str) -> str:
    """What a viewer attaching now is sent: the scrollback, then live output for a moment."""
    client = await connect("websocket", server.url, console_id, headers={"Authorization": f"Token {token}"})
    try:
        await client.output_until(r"n=\d+\r?\n")
        await asyncio.sleep(0.3)
        return client.output
    finally:
        await client.close()


def app_answers_on_its_socket(server: ServerProcess, who: Person, webapp: dict) -> bool:
    """A request straight to the app's socket, as the front would send it."""
    path = server.data_dir / "run" / who.name / f"{webapp['id']}.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(f"GET / HTTP/1.0\r\nHost: {domain_of(who)}\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        return answer.split(b"\r\n", 1)[0].endswith(b" 200 OK")


def gap_free(counter_output: str) -> tuple[int, int]:
    """(first, last) counter value; fails if a value between them is missing or repeated."""
    values = [int(value) for value in re.findall(r"^n=(\d+)\r?$", counter_output, re.M)]
    assert values, counter_output[-300:]
    assert values == list(range(values[0], values[0] + len(values))), "the counter's output has a gap"
    return values[0], values[-1]


@pytest.mark.parametrize("how", ["crash", "upgrade"])
@pytest.mark.gen_test(timeout=240)
async def test_a_restart_keeps_consoles_web_apps_and_always_on_tasks(node: ServerProcess, how: str) -> None:
    name = node.add_user("rst", account_type="hacker")
    token = node.cli("user", "token", name).stdout.strip()
    who = person_on(node, name, token)
    home = node.data_dir / "home" / name
    counter = await start(who, "python3", "-u", "-c", COUNTER)
    python = await start(who, "python3")
    full_screen = await start(who, "python3", "-c", FULL_SCREEN)
    ends = await start(who, "bash", "-c", ENDS_ON_GO)
    await send(who, python["id"], "x = 6 * 7\n")
    await until_output(who, counter["id"], r"n=50\b")
    screen = await until_output(who, full_screen["id"], r"FULL \d+x\d+")
    webapp = await create_app(who)
    assert (await visit(node, domain_of(who))).code == 200
    marker = f"bot-{name}"
    task = (await who.api.post(who.base() + "always_on/",
                               {"command": f"exec -a {marker} bash -c 'while true; do sleep 0.2; done'"})).json()
    for _ in range(100):
        if len(processes_named(marker)) == 1:
            break
        await asyncio.sleep(0.1)
    (bot,) = processes_named(marker)

    if how == "crash":
        node.crash()
    else:
        node.stop(keep_programs=True)
    assert app_answers_on_its_socket(node, who, webapp)  # the app serves while no server runs
    (home / "go").touch()  # one console's program ends while no server runs
    await asyncio.sleep(0.5)
    node.start()
    listening = time.monotonic()
    who = person_on(node, name, token)

    listed = {c["id"]: c for c in (await who.api.get(who.base() + "consoles/")).json()}
    assert time.monotonic() - listening < 2.0
    assert all(listed[c["id"]]["status"] == "running" for c in (counter, python, full_screen))
    while (await visit(node, domain_of(who), timeout=5)).code != 200:
        await asyncio.sleep(0.05)
    assert time.monotonic() - listening < 2.0  # the front serves the app again at once

    await send(who, python["id"], "print(x * 2)\n")
    await until_output(who, python["id"], r"\n84")
    await send(who, full_screen["id"], "q")
    after = await until_output(who, full_screen["id"], r"key=q")
    assert re.search(r"FULL \d+x\d+", screen).group() in after  # type: ignore[union-attr]
    first, last = gap_free(await replay(node, who, counter["id"], token))
    assert first == 0 and last > 100
    ended = (await who.api.get(who.base() + f"consoles/{ends['id']}/")).json()
    for _ in range(50):
        if ended["status"] != "running":
            break
        await asyncio.sleep(0.1)
        ended = (await who.api.get(who.base() + f"consoles/{ends['id']}/")).json()
    assert ended["status"] == "exited" and ended["exit_status"] == 7
    assert "bye" in await latest(who, ends["id"])
    assert [p.pid for p in processes_named(marker)] == [bot.pid]
    shown = (await who.api.get(who.base() + f"always_on/{task['id']}/")).json()
    assert shown["state"] == "running"


@pytest.mark.gen_test(timeout=120)
async def test_stop_all_leaves_no_program_behind(node: ServerProcess) -> None:
    name = node.add_user("stp", account_type="hacker")
    who = person_on(node, name, node.cli("user", "token", name).stdout.strip())
    marker = f"left-{name}"
    console = await start(who, "bash", "-c", f"exec -a {marker}-console sleep 600")
    await create_app(who)
    assert (await visit(node, domain_of(who))).code == 200
    await who.api.post(who.base() + "always_on/", {"command": f"exec -a {marker}-task sleep 600"})
    for _ in range(100):
        if len(processes_named(marker)) == 2:
            break
        await asyncio.sleep(0.1)
    assert len(processes_named(marker)) == 2, console
    holder = [p for p in processes_named("sandbox.holder.daemon") if str(node.data_dir) in " ".join(p.cmdline())]
    assert len(holder) == 1
    node.stop()
    assert processes_named(marker) == []
    assert processes_named(str(node.data_dir)) == []  # the holder included
    assert not holder[0].is_running() or holder[0].status() == psutil.STATUS_ZOMBIE


def test_a_second_server_on_the_same_data_directory_is_refused(node: ServerProcess) -> None:
    second = ServerProcess(node.data_dir, *UNISOLATED)
    with pytest.raises(RuntimeError, match="already runs on the data directory"):
        second.start(timeout=30)


def test_scrollback_files_are_the_servers_own(node: ServerProcess) -> None:
    assert (Path(node.data_dir) / "scrollback").stat().st_mode & 0o777 == 0o700
    assert (Path(node.data_dir) / "holder").stat().st_mode & 0o777 == 0o700
