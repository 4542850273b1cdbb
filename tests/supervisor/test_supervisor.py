"""The supervisor: states, back-off, rate-limited starts, stops, its record in Redis."""
from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import psutil
import pytest
import redis.asyncio as aioredis

from sandbox import Identity, Sandbox
from supervisor import ProgramFailed, ProgramSpec, ProgramState, RestartPolicy, Supervisor
from supervisor.keys import program_key
from supervisor.spec import Backoff

FAST = Backoff(first_delay=0.05, max_delay=0.2, max_failures=2, stable_seconds=30)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path / "home", isolation="off")
    yield box
    asyncio.run(box.close())


def _spec(box: Sandbox, name: str, script: str, **kwargs: object) -> ProgramSpec:
    identity = box.identity("sup", "free")
    log = box.log_dir / "sup" / f"{name}.log"
    return ProgramSpec(name=name, identity=identity, argv=("sh", "-c", script), cwd=identity.visible_home,
                       log=log, event_log=box.log_dir / "sup" / f"{name}.events", backoff=FAST,
                       ready_seconds=0.1, **kwargs)  # type: ignore[arg-type]


def _with_supervisor(box: Sandbox, redis_server: str,
                     body: Callable[[Supervisor, aioredis.Redis], Awaitable[None]]) -> None:
    async def main() -> None:
        redis = aioredis.Redis(unix_socket_path=redis_server, decode_responses=True)
        supervisor = Supervisor(redis, box, "node-test", poll_interval=0.02, min_start_interval=0.05)
        try:
            await body(supervisor, redis)
        finally:
            await supervisor.stop_all()
            await supervisor.close()
            await redis.aclose()
    asyncio.run(main())


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(1500):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_runs_records_in_redis_and_stops_the_program(sandbox: Sandbox, redis_server: str) -> None:
    spec = _spec(sandbox, "ok", "echo up; exec sleep 300")

    async def body(supervisor: Supervisor, redis: aioredis.Redis) -> None:
        await supervisor.ensure_running(spec)
        status = await supervisor.wait_running("ok", timeout=30)
        assert status.pid is not None and psutil.pid_exists(status.pid)
        await supervisor.settled()
        record = await redis.hgetall(program_key("ok"))
        assert record["state"] == "running" and record["owner"] == "sup" and record["pid"] == str(status.pid)
        stopped = await supervisor.stop("ok")
        assert stopped.state == ProgramState.STOPPED
        assert not psutil.pid_exists(status.pid) or psutil.Process(status.pid).status() == "zombie"
        await supervisor.settled()
        assert (await redis.hgetall(program_key("ok")))["state"] == "stopped"

    _with_supervisor(sandbox, redis_server, body)
    assert "up" in spec.log.read_text()
    assert spec.event_log is not None
    events = spec.event_log.read_text()
    assert "started (pid" in events and "stopped (pid" in events


def test_a_crashing_program_backs_off_then_fails_with_its_error(sandbox: Sandbox, redis_server: str) -> None:
    spec = _spec(sandbox, "crash", "echo attempt; exit 7")
    seen: list[ProgramState] = []

    async def body(supervisor: Supervisor, redis: aioredis.Redis) -> None:
        await supervisor.ensure_running(spec)

        def watch() -> bool:
            state = supervisor.status("crash").state
            if not seen or seen[-1] != state:
                seen.append(state)
            return state == ProgramState.FAILED

        await _until(watch, "the program to be given up")
        status = supervisor.status("crash")
        assert "exited with status 7" in status.last_error
        with pytest.raises(ProgramFailed, match="status 7"):
            await supervisor.wait_running("crash", timeout=5)

    _with_supervisor(sandbox, redis_server, body)
    assert ProgramState.BACKING_OFF in seen
    # The first start and max_failures restarts, then nothing more.
    assert spec.log.read_text().count("attempt") == FAST.max_failures + 1


def test_concurrent_start_requests_start_the_program_once(sandbox: Sandbox, redis_server: str) -> None:
    spec = _spec(sandbox, "once", "echo start; exec sleep 300")

    async def body(supervisor: Supervisor, redis: aioredis.Redis) -> None:
        await asyncio.gather(*(supervisor.ensure_running(spec) for _ in range(50)))
        await supervisor.wait_running("once", timeout=30)
        await asyncio.gather(*(supervisor.ensure_running(spec) for _ in range(50)))

    _with_supervisor(sandbox, redis_server, body)
    assert spec.log.read_text().count("start") == 1


def test_restart_never_leaves_a_finished_program_stopped(sandbox: Sandbox, redis_server: str) -> None:
    spec = _spec(sandbox, "job", "echo done", restart=RestartPolicy.NEVER)

    async def body(supervisor: Supervisor, redis: aioredis.Redis) -> None:
        await supervisor.ensure_running(spec)
        await _until(lambda: supervisor.status("job").exit_status == 0, "the job to finish")
        assert supervisor.status("job").state == ProgramState.STOPPED

    _with_supervisor(sandbox, redis_server, body)
    assert spec.log.read_text().count("done") == 1


def test_running_waits_for_the_ready_path(sandbox: Sandbox, redis_server: str) -> None:
    """Ready means the socket takes connections: from ``bind`` to ``listen`` it exists but refuses them."""
    identity: Identity = sandbox.identity("sup", "free")
    marker = sandbox.tmp_dir.parent / "ready.sock"
    trigger, listen = sandbox.tmp_dir.parent / "go", sandbox.tmp_dir.parent / "listen"
    server = ("import os, socket, sys, time\n"
              "s = socket.socket(socket.AF_UNIX)\n"
              "s.bind(sys.argv[1])\n"
              "while not os.path.exists(sys.argv[2]): time.sleep(0.02)\n"
              "s.listen()\n"
              "time.sleep(300)\n")
    spec = _spec(sandbox, "ready", f"while [ ! -e {trigger} ]; do sleep 0.02; done; "
                 f"exec python3 -c '{server}' {marker} {listen}", ready_path=marker)
    assert identity.username == "sup"

    async def body(supervisor: Supervisor, redis: aioredis.Redis) -> None:
        await supervisor.ensure_running(spec)
        await _until(lambda: supervisor.status("ready").pid is not None, "the start")
        for _ in range(10):  # alive for a while, but not ready
            await asyncio.sleep(0.05)
            assert supervisor.status("ready").state == ProgramState.STARTING
        trigger.touch()
        await _until(marker.exists, "the socket bound")
        for _ in range(10):  # bound, not yet listening: still not ready
            await asyncio.sleep(0.05)
            assert supervisor.status("ready").state == ProgramState.STARTING
        listen.touch()
        await supervisor.wait_running("ready", timeout=30)

    _with_supervisor(sandbox, redis_server, body)
    for path in (marker, trigger, listen):
        os.unlink(path)
