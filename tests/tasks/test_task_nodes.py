"""Scheduled and always-on tasks across node restarts, two nodes, the real clock, and the real sandbox."""
from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client import Client
from tests.sandbox.leftovers import TEST_UID_PREFIX, HostSnapshot, cgroup_dir
from tests.sandbox.network_hosts import free_pool
from tests.server import PROXY_DNS, UNISOLATED, ServerProcess, reachable_dir
from tests.tasks.scheduling import eventually, log_of, next_free_minute, set_clock, user_client
from tests.tasks.test_always_on import processes_named


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = reachable_dir("ide-test-tasks-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.gen_test(timeout=120)
async def test_always_on_tasks_keep_running_while_the_node_restarts_and_are_supervised_again(data_dir):
    server = ServerProcess(data_dir, *UNISOLATED).start()
    try:
        user, client = await user_client(server)
        marker = f"keeper-{user}"
        task = (await client.post(f"/api/v0/user/{user}/always_on/",
                                  {"command": f"exec -a {marker} sleep 1000"})).json()

        async def one_running() -> list | None:
            running = processes_named(marker)
            shown = (await client.get(task["url"])).json()
            return running if len(running) == 1 and shown["state"] == "running" else None

        first = (await eventually(one_running))[0].pid
        server.stop(keep_programs=True)
        assert [p.pid for p in processes_named(marker)] == [first]  # the server's restart ends nothing
        server.start()
        client = Client(server.url, token=client.token)
        assert [p.pid for p in (await eventually(one_running))] == [first]
        # Taken back, not merely left alone: a crash now is seen and the task restarted.
        os.kill(first, signal.SIGKILL)

        async def restarted() -> bool:
            running = processes_named(marker)
            return len(running) == 1 and running[0].pid != first

        await eventually(restarted)
    finally:
        server.stop()


def _socket_of(data_dir: Path) -> str:
    config = (data_dir / "redis" / "redis.conf").read_text()
    return re.search(r"^unixsocket (.+)$", config, re.M).group(1)  # type: ignore[union-attr]


@pytest.mark.gen_test(timeout=120)
async def test_with_two_nodes_each_run_happens_once_even_when_a_node_dies_mid_run(data_dir):
    first = ServerProcess(data_dir, *UNISOLATED, "--adjustable-clock", "--node-id", "n1").start()
    second = ServerProcess(data_dir, *UNISOLATED, "--adjustable-clock", "--node-id", "n2",
                           "--redis-url", f"unix://{_socket_of(data_dir)}",
                           "--node-secret-file", str(data_dir / "node-secret")).start()
    try:
        user, client = await user_client(first, "web_developer")
        due = next_free_minute()
        ids = []
        for n in range(12):
            answer = await client.post(f"/api/v0/user/{user}/schedule/", {
                "command": f"echo run {n}; sleep 3; echo done {n}", "interval": "hourly",
                "minute": int(due // 60) % 60})
            assert answer.status == 201, answer.text
            ids.append(answer.json()["id"])
        set_clock(first, due - 1)
        logs = [log_of(first, user, f"schedule-log-{i}.log") for i in ids]

        async def all_started() -> bool:
            return all(log.exists() and "started `" in log.read_text() for log in logs)

        await eventually(all_started)
        assert first.process is not None
        first.process.kill()  # one node dies with runs in flight
        first.process.wait()
        first.process = None
        await asyncio.sleep(8)  # the survivor has every chance to run something twice
        for log in logs:
            assert log.read_text().count("started `") == 1, log.read_text()
    finally:
        second.stop()
        first.stop()


@pytest.mark.gen_test(timeout=150)
async def test_a_task_runs_at_its_minute_by_the_real_clock(data_dir):
    server = ServerProcess(data_dir, *UNISOLATED).start()
    try:
        user, client = await user_client(server)
        due = next_free_minute(lead=5)  # the next whole minute at least 5 s away
        task = (await client.post(f"/api/v0/user/{user}/schedule/", {
            "command": "date -u +%H:%M:%S", "interval": "hourly", "minute": int(due // 60) % 60})).json()
        log = log_of(server, user, f"schedule-log-{task['id']}.log")

        async def finished() -> str | None:
            text = log.read_text() if log.exists() else ""
            return text if "finished, exit status 0" in text else None

        text = await eventually(finished, timeout=130)
        printed = re.search(r"^(\d\d):(\d\d):(\d\d)$", text, re.M)
        assert printed is not None
        assert (int(printed.group(1)), int(printed.group(2))) == (int(due // 3600) % 24, int(due // 60) % 60)
    finally:
        server.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")
@pytest.mark.gen_test(timeout=120)
async def test_in_the_sandbox_a_run_is_its_user_and_its_cpu_counts(tmp_path_factory):
    base = f"ide-test-tasks-{os.getpid()}"
    snapshot = HostSnapshot.take()
    data_dir = tmp_path_factory.mktemp("tasks-sandboxed")
    server = ServerProcess(data_dir, "--sandbox", "full", "--uid-prefix", TEST_UID_PREFIX, "--cgroup-base", base,
                           "--sandbox-network", free_pool(), *PROXY_DNS, "--adjustable-clock").start()
    try:
        user, client = await user_client(server)
        due = next_free_minute()
        burn = "python3 -c 'import time\nend = time.process_time() + 2\nwhile time.process_time() < end: pass'"
        task = (await client.post(f"/api/v0/user/{user}/schedule/", {
            "command": f"id -un; pwd; ls /home; {burn}", "interval": "hourly",
            "minute": int(due // 60) % 60})).json()
        set_clock(server, due - 1)
        log = log_of(server, user, f"schedule-log-{task['id']}.log")

        async def finished() -> str | None:
            text = log.read_text() if log.exists() else ""
            return text if "finished" in text else None

        text = await eventually(finished)
        assert f"\n{TEST_UID_PREFIX}{user}\n/home/{user}\n{user}\n" in text, text
        assert "finished, exit status 0" in text

        async def counted() -> bool:
            cpu = (await client.get(f"/api/v0/user/{user}/cpu/")).json()
            return cpu["daily_cpu_total_usage_seconds"] >= 1.5

        await eventually(counted)
        await _a_fork_bomb_and_a_memory_hog_are_held_by_the_users_cgroups(server, base)
    finally:
        server.stop()
        for entry in pwd.getpwall():
            if entry.pw_name.startswith(TEST_UID_PREFIX + "run"):
                subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)
        assert snapshot.leftovers(base) == []


async def _a_fork_bomb_and_a_memory_hog_are_held_by_the_users_cgroups(server: ServerProcess, base: str) -> None:
    bomber, bomber_client = await user_client(server, "free")
    hog, hog_client = await user_client(server, "free")
    due = next_free_minute()
    minute = int(due // 60) % 60
    bomb = (await bomber_client.post(f"/api/v0/user/{bomber}/schedule/", {
        "command": "bomb() { bomb | bomb & }; bomb; sleep 1000", "interval": "hourly", "minute": minute})).json()
    eater = (await hog_client.post(f"/api/v0/user/{hog}/schedule/", {
        "command": "python3 -c 'b = bytearray(1024 ** 3); print(len(b))'", "interval": "hourly",
        "minute": minute})).json()
    set_clock(server, due - 1)
    pids = cgroup_dir("pids", base, bomber)

    async def crowded() -> bool:
        current = pids / "pids.current"
        return current.exists() and int(current.read_text()) >= 100

    await eventually(crowded)
    assert int((pids / "pids.current").read_text()) <= int((pids / "pids.max").read_text()) == 128
    hog_log = log_of(server, hog, f"schedule-log-{eater['id']}.log")

    async def hog_ended() -> str | None:
        text = hog_log.read_text() if hog_log.exists() else ""
        return text if "finished" in text else None

    text = await eventually(hog_ended)
    assert "finished, exit status 0" not in text and "1073741824" not in text
    # The node is still itself: the API answers, and the bomb's run can be stopped.
    assert (await bomber_client.post(bomb["url"] + "stop/")).status == 200

    async def defused() -> bool:
        # Empty, or already removed with the user's last process.
        current = pids / "pids.current"
        return not current.exists() or int(current.read_text()) == 0

    await eventually(defused)
