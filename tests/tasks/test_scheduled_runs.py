"""Scheduled tasks run by the real scheduler as real processes, with the clock moved through its seam."""
from __future__ import annotations

import re
from collections.abc import Iterator

import psutil
import pytest

from tests.server import ServerProcess, unisolated_server
from tests.tasks.scheduling import eventually, log_of, next_free_minute, set_clock, user_client


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with unisolated_server("--adjustable-clock") as running:
        yield running


@pytest.fixture(autouse=True)
def real_time(server: ServerProcess) -> Iterator[None]:
    """Each test starts at the real time: a clock left hours ahead would make its new task missed."""
    server.redis_call("DEL", "ide:clock:offset")
    yield
    server.redis_call("DEL", "ide:clock:offset")


async def schedule(client, user: str, command: str, due: float) -> dict:
    minute = int(due // 60) % 60
    response = await client.post(f"/api/v0/user/{user}/schedule/",
                                 {"command": command, "interval": "hourly", "minute": minute})
    assert response.status == 201, response.text
    return response.json()


@pytest.mark.gen_test(timeout=120)
async def test_a_task_due_now_runs_as_its_user_and_its_log_says_how_it_went(server):
    user, client = await user_client(server)
    due = next_free_minute()
    task = await schedule(client, user, 'echo "hello from $USER in $PWD"; echo oops >&2; exit 3', due)
    set_clock(server, due - 1)
    log = log_of(server, user, f"schedule-log-{task['id']}.log")

    async def finished() -> str | None:
        text = log.read_text() if log.exists() else ""
        return text if "finished" in text else None

    text = await eventually(finished)
    assert re.search(r"^--- \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: started `echo", text, re.M)
    assert f"hello from {user} in " in text and "oops" in text
    assert re.search(r"^--- .*: finished, exit status 3, after \d+\.\d s$", text, re.M)
    listed = (await client.get(f"/api/v0/user/{user}/schedule/{task['id']}/")).json()
    assert listed["last_run"]["outcome"] == "finished" and listed["last_run"]["exit_status"] == 3
    assert listed["next_run"] > listed["last_run"]["started"]


@pytest.mark.gen_test(timeout=120)
async def test_a_run_still_going_makes_the_next_skip_and_deleting_the_task_stops_it(server):
    user, client = await user_client(server)
    due = next_free_minute()
    marker = f"sleeper-{user}"
    task = await schedule(client, user, f"exec -a {marker} sleep 600", due)
    set_clock(server, due - 1)

    async def sleeper() -> list[psutil.Process] | None:
        return [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]

    await eventually(sleeper)
    set_clock(server, due + 3600)  # the next hour comes while the first run sleeps on
    log = log_of(server, user, f"schedule-log-{task['id']}.log")

    async def skipped() -> bool:
        return "skipped: the previous run is still going" in log.read_text()

    await eventually(skipped)
    assert log.read_text().count("started `") == 1
    assert (await client.delete(f"/api/v0/user/{user}/schedule/{task['id']}/")).status == 204

    async def gone() -> bool:
        return not await sleeper()

    await eventually(gone)


@pytest.mark.gen_test(timeout=120)
async def test_a_run_missed_while_no_server_ran_is_logged_not_made_up(server):
    user, client = await user_client(server)
    due = next_free_minute()
    task = await schedule(client, user, "echo ran", due)
    set_clock(server, due + 2 * 3600 + 300)  # as if every node had been down for two hours
    log = log_of(server, user, f"schedule-log-{task['id']}.log")

    async def missed() -> bool:
        return log.exists() and "was missed: no server was running then" in log.read_text()

    await eventually(missed)
    assert "started `" not in log.read_text()
    shown = (await client.get(f"/api/v0/user/{user}/schedule/{task['id']}/")).json()
    assert shown["last_run"]["outcome"] == "missed"


@pytest.mark.gen_test(timeout=120)
async def test_a_run_that_never_ends_is_listed_as_running_and_can_be_stopped(server):
    user, client = await user_client(server)
    due = next_free_minute()
    marker = f"forever-{user}"
    task = await schedule(client, user, f"exec -a {marker} sleep 100000", due)
    set_clock(server, due - 1)

    async def running() -> dict | None:
        shown = (await client.get(task["url"])).json()
        alive = [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]
        return shown if alive and shown["last_run"] and shown["last_run"]["outcome"] == "running" else None

    await eventually(running)
    other, other_client = await user_client(server)
    assert (await other_client.post(task["url"] + "stop/")).status == 403
    assert (await client.post(task["url"] + "stop/")).status == 200

    async def ended() -> dict | None:
        shown = (await client.get(task["url"])).json()
        alive = [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]
        return shown if not alive and shown["last_run"]["outcome"] == "finished" else None

    shown = await eventually(ended)
    assert shown["last_run"]["exit_status"] == 128 + 15  # SIGTERM was enough for sleep
    assert shown["enabled"] and shown["next_run"] is not None  # the task itself stays scheduled
