"""What the scheduler costs while nothing is due: one server, idle with no tasks, then with many.

The tasks are daily at hours two or more hours ahead, so none is due
within the hour and the scheduler has nothing to run, only its index to
keep.  CPU is the server's and its embedded Redis's (psutil, every
thread), over the same window with none and with all of them; Redis's own
count of the commands it served over each window says how often the
scheduler looked.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from bench.servers import RunningServer
from bench.task_burst import insert_tasks, redis_socket
from tasks.timing import Timing

PER_OWNER = 50  # web_developer's limit
SETTLE_SECONDS = 20.0


@dataclass(frozen=True)
class IdleWindow:
    tasks: int
    seconds: float
    cpu: float
    redis_commands: dict[str, int]

    @property
    def share_of_core(self) -> float:
        return self.cpu / self.seconds


def _command_counts(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def _window(server: RunningServer, client: redis.Redis, tasks: int, seconds: float) -> IdleWindow:
    before_commands = _command_counts(client)
    cpu_before = server.cpu_seconds()
    started = time.monotonic()
    time.sleep(seconds)
    cpu = server.cpu_seconds() - cpu_before
    elapsed = time.monotonic() - started
    after = _command_counts(client)
    # The two INFO calls of this window are the bench's own.
    counts = {name: calls - before_commands.get(name, 0) - (2 if name == "info" else 0)
              for name, calls in after.items()}
    return IdleWindow(tasks, elapsed, cpu, {name: calls for name, calls in counts.items() if calls > 0})


def far_timings(now: float) -> list[Timing]:
    """Daily timings all at least two hours after ``now``: none of them is due within the hour."""
    hour = datetime.fromtimestamp(now, UTC).hour
    return [Timing("daily", minute, (hour + 2 + offset) % 24) for offset in range(20) for minute in range(0, 60, 7)]


def measure_idle(server: RunningServer, tasks: int, seconds: float) -> tuple[IdleWindow, IdleWindow]:
    """The window with no tasks, then the same after inserting ``tasks`` and letting the server settle."""
    client = redis.Redis(unix_socket_path=redis_socket(server), decode_responses=True)
    try:
        time.sleep(SETTLE_SECONDS)
        empty = _window(server, client, 0, seconds)
        owners = [f"idle{n}" for n in range(-(-tasks // PER_OWNER))]
        made = insert_tasks(server, owners, PER_OWNER, far_timings(time.time()))[:tasks]
        soonest = min(due for _, _, due in made if due is not None)
        if soonest - time.time() < 3600:
            raise RuntimeError("a task meant to be idle is due within the hour")
        time.sleep(SETTLE_SECONDS)
        full = _window(server, client, len(made), seconds)
    finally:
        client.close()
    return empty, full
