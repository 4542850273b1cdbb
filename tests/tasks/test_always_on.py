"""Always-on tasks kept running by the real supervisor: start, restart after kill -9, back-off,
restart on request, stop on disable and delete, back after the node restarts, other users kept out."""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import psutil
import pytest

from tests.client import Client
from tests.server import ServerProcess, unisolated_server
from tests.tasks.scheduling import eventually, log_of, user_client


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with unisolated_server() as running:  # also ends the programs it leaves running
        yield running


def processes_named(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if marker in " ".join(process.info["cmdline"] or []):
            found.append(process)
    return found


async def shown(client: Client, task: dict) -> dict:
    return (await client.get(task["url"])).json()


@pytest.mark.gen_test(timeout=120)
async def test_an_always_on_task_runs_and_comes_back_after_kill_9(server):
    user, client = await user_client(server)
    marker = f"ticker-{user}"
    created = await client.post(f"/api/v0/user/{user}/always_on/", {
        "command": f"exec -a {marker} bash -c 'while true; do echo tick; sleep 0.2; done'",
        "description": "ticks"})
    assert created.status == 201, created.text
    task = created.json()
    assert task["logfile"] == f"/var/log/alwayson-log-{task['id']}.log"

    async def running() -> dict | None:
        answer = await shown(client, task)
        return answer if answer["state"] == "running" and processes_named(marker) else None

    first = await eventually(running)
    assert first["restarts"] == 0 and first["uptime_seconds"] is not None
    log = log_of(server, user, f"alwayson-log-{task['id']}.log")
    assert "tick" in log.read_text()

    old = processes_named(marker)[0]
    os.kill(old.pid, signal.SIGKILL)

    async def restarted() -> dict | None:
        answer = await shown(client, task)
        again = [p for p in processes_named(marker) if p.pid != old.pid]
        return answer if answer["restarts"] >= 1 and answer["state"] == "running" and again else None

    await eventually(restarted)
    assert "exited with status 137" in log.read_text()

    before = processes_named(marker)[0].pid
    assert (await client.post(f"{task['url']}restart/")).status == 200

    async def replaced() -> bool:
        now = processes_named(marker)
        return bool(now) and now[0].pid != before and (await shown(client, task))["state"] == "running"

    await eventually(replaced)

    disabled = await client.patch(task["url"], {"enabled": False})
    assert disabled.status == 200 and disabled.json()["state"] == "stopped"

    async def stopped() -> bool:
        return not processes_named(marker)

    await eventually(stopped)
    assert (await client.delete(task["url"])).status == 204
    assert (await client.get(task["url"])).status == 404


@pytest.mark.gen_test(timeout=120)
async def test_a_crash_loop_backs_off_and_says_so(server):
    user, client = await user_client(server)
    task = (await client.post(f"/api/v0/user/{user}/always_on/", {"command": "echo crashing; exit 3"})).json()

    async def backing_off() -> dict | None:
        answer = await shown(client, task)
        return answer if answer["state"] == "backing off" and answer["restarts"] >= 2 else None

    answer = await eventually(backing_off)
    assert "exited with status 3" in answer["last_error"]
    log = log_of(server, user, f"alwayson-log-{task['id']}.log").read_text()
    starts = [line for line in log.splitlines() if " started (pid " in line]
    stamps = [time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) for line in starts]
    # Each wait at least as long as the one before: 1 s, 2 s, 4 s...
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert gaps == sorted(gaps)
    await client.delete(task["url"])


@pytest.mark.gen_test(timeout=60)
async def test_limits_and_other_users(server):
    free, free_client = await user_client(server, "free")
    refused = await free_client.post(f"/api/v0/user/{free}/always_on/", {"command": "sleep 100"})
    assert refused.status == 400 and "cannot have always-on tasks" in refused.json()["detail"]
    owner, owner_client = await user_client(server)
    task = (await owner_client.post(f"/api/v0/user/{owner}/always_on/",
                                    {"command": "sleep 1000", "enabled": False})).json()
    second = await owner_client.post(f"/api/v0/user/{owner}/always_on/", {"command": "sleep 100"})
    assert second.status == 400 and "can have 1 always-on task" in second.json()["detail"]
    intruder, intruder_client = await user_client(server)
    for method, body in (("GET", None), ("PATCH", {"command": "id > ~/pwned"}), ("DELETE", None)):
        assert (await intruder_client.request(method, task["url"], body)).status == 403
        mine = task["url"].replace(f"/user/{owner}/", f"/user/{intruder}/")
        assert (await intruder_client.request(method, mine, body)).status == 404
    assert (await intruder_client.post(task["url"].replace(owner, intruder) + "restart/")).status == 404
    assert (await shown(owner_client, task))["command"] == "sleep 1000"
    await owner_client.delete(task["url"])
