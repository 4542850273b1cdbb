"""Always-on tasks through the API, on the same supervisor as web apps."""
from __future__ import annotations

import asyncio

import psutil
import pytest

from tests.ide.webapp_helpers import apps_server, owner, patch

__all__ = ["apps_server"]


def tasks(who) -> str:
    return who.base() + "always_on/"


async def log_of(who, task) -> str:
    response = await who.api.get(who.base() + f"files/path/var/log/alwayson-log-{task['id']}.log")
    return response.text if response.status == 200 else ""


async def until(condition, what: str, timeout: float = 30):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await condition()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


@pytest.mark.gen_test(timeout=120)
async def test_a_task_runs_restarts_changes_and_stops(apps_server):
    free, alice, mallory = owner(apps_server), owner(apps_server, "hacker"), owner(apps_server, "hacker")
    refused = await free.api.post(tasks(free), {"command": "sleep 100"})
    assert refused.status == 400 and "0 always-on tasks" in refused.json()["detail"]

    created = await alice.api.post(tasks(alice), {"command": "echo run-$((20+1)); sleep 0.3; exit 3",
                                                  "description": "flaky"})
    assert created.status == 201, created.text
    task = created.json()
    assert {k: task[k] for k in ("user", "description", "enabled", "logfile", "url")} == {
        "user": alice.name, "description": "flaky", "enabled": True,
        "logfile": f"/var/log/alwayson-log-{task['id']}.log",
        "url": f"/api/v0/user/{alice.name}/always_on/{task['id']}/"}
    # It ends with status 3, and is started again (with back-off).
    await until(lambda: _count(alice, task, "run-21", 2), "a restart")
    assert "exited with status 3" in await log_of(alice, task)
    over = await alice.api.post(tasks(alice), {"command": "true"})
    assert over.status == 400

    one = tasks(alice) + f"{task['id']}/"
    for method, suffix, body in (("GET", "", None), ("PATCH", "", {"command": "id"}), ("DELETE", "", None),
                                 ("POST", "restart/", None)):
        assert (await mallory.api.request(method, tasks(mallory) + f"{task['id']}/" + suffix, body)).status == 404
        assert (await mallory.api.request(method, one + suffix, body)).status == 403

    changed = await patch(alice.api, one, {"command": "echo steady; exec sleep 300"})
    assert changed.status == 200 and changed.json()["command"] == "echo steady; exec sleep 300"
    await until(lambda: _state(alice, one, "running"), "the changed task to run")
    await until(lambda: _count(alice, task, "steady", 1), "the new command's output")
    pid = int(apps_server.redis_call("HGET", f"ide:program:alwayson:{task['id']}", "pid"))
    assert psutil.pid_exists(pid)
    assert (await alice.api.delete(one)).status == 204
    assert (await alice.api.get(one)).status == 404
    await until(lambda: _gone(pid), "the task's process to end")


async def _count(who, task, text: str, at_least: int) -> bool:
    return (await log_of(who, task)).count(text) >= at_least


async def _state(who, url: str, state: str) -> bool:
    return (await who.api.get(url)).json()["state"] == state


async def _gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
