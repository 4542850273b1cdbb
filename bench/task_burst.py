"""Many scheduled runs due in one minute on our server: when each started, how often, and echo meanwhile.

The tasks are put straight into the server's Redis with
:class:`tasks.store.TaskStore` (set-up, not what is measured), hourly at
the minute ``due``.  The server runs with ``--adjustable-clock``: the
clock offset in Redis is set so that its scheduler reads ``due`` one
second later, and ``ide:tasks`` wakes it.  Each run's command prints
``$EPOCHREALTIME`` first (bash reads it as it writes the line, in
microseconds), so a run's start delay is that stamp minus the real instant
the scheduler's clock read ``due``; the log's own header line, in whole
seconds, is checked against it.
"""
from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import redis
import redis.asyncio as aioredis

from bench.console_client import OURS, Account, Target
from bench.servers import RunningServer
from bench.typing_probe import echo_probe
from bench.workers import Worker, Workers
from consoles.keys import CLOCK_OFFSET, TASKS_CHANNEL
from tasks.fields import TaskFields
from tasks.store import TaskStore
from tasks.timing import Timing

COMMAND = "echo $EPOCHREALTIME; echo $RANDOM; sleep 2"
LEAD = 1.0
"""The clock is set this long before the due minute."""
ECHO_SECONDS = 25.0
"""How long echo is timed, idle and from the clock change on."""
FINISH_TIMEOUT = 180.0
_HEADER = re.compile(r"^--- (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC: started ", re.M)
_FOOTER = re.compile(r"^--- (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC: finished, exit status (-?\d+)", re.M)
STAMP = re.compile(r"^(\d{9,}\.\d{6})$", re.M)


def redis_socket(server: RunningServer) -> str:
    """The Unix socket of the server's embedded Redis, from the configuration it wrote."""
    config = (server.work_dir / "data" / "redis" / "redis.conf").read_text()
    found = re.search(r"^unixsocket (.+)$", config, re.M)
    if found is None:
        raise RuntimeError("the server's Redis has no Unix socket")
    return found.group(1)


async def _insert(socket: str, owners: list[str], per_owner: int, timing_of: list[Timing],
                  command: str) -> list[tuple[str, int, float | None]]:
    client = aioredis.Redis(unix_socket_path=socket, decode_responses=True)
    store = TaskStore(client)
    made = []
    try:
        for index, owner in enumerate(owners):
            for n in range(per_owner):
                timing = timing_of[(index * per_owner + n) % len(timing_of)]
                task = await store.create(owner, "web_developer", TaskFields(command, "bench", True, timing))
                made.append((owner, task.id, task.next_due))
    finally:
        await client.aclose()
    return made


def insert_tasks(server: RunningServer, owners: list[str], per_owner: int, timings: list[Timing],
                 command: str = COMMAND) -> list[tuple[str, int, float | None]]:
    """``per_owner`` tasks for each owner, their timings taken in turn: (owner, id, next due) each."""
    return asyncio.run(_insert(redis_socket(server), owners, per_owner, timings, command))


def _epoch(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class RunLog:
    """What one task's log says: a (header time, stamp) per start, and each footer's exit status."""

    starts: list[tuple[float, float | None]]
    exit_statuses: list[int]

    @classmethod
    def read(cls, path: Path) -> RunLog:
        text = path.read_text(errors="replace") if path.exists() else ""
        starts = []
        headers = list(_HEADER.finditer(text))
        for index, header in enumerate(headers):
            end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
            stamp = STAMP.search(text, header.end(), end)
            starts.append((_epoch(header.group(1)), float(stamp.group(1)) if stamp else None))
        return cls(starts, [int(m.group(2)) for m in _FOOTER.finditer(text)])


@dataclass
class Burst:
    """One due minute's runs, as measured."""

    label: str
    tasks: int
    start_counts: dict[int, int] = field(default_factory=dict)
    """How many logs have that many ``started`` lines for this minute (exactly one each is right)."""
    delays: list[float] = field(default_factory=list)
    """Seconds from the clock reading the minute to each run's first line (its stamp)."""
    header_delays: list[float] = field(default_factory=list)
    """The same from the log headers (whole seconds, so each up to 1 s early)."""
    failed: int = 0
    echo_idle: list[float] = field(default_factory=list)
    echo_burst: list[float] = field(default_factory=list)
    span: float = 0.0
    """From the minute until the last run's footer (whole seconds, rounded up)."""
    server_cpu: float = 0.0
    machine_busy: float = 0.0
    """The share of all CPUs busy (any process) from the clock change until the logs were read."""
    machine_busy_idle: float = 0.0
    """The same while echo was timed idle, just before."""


def busy_share(before: Any, after: Any) -> float:
    """The share of the machine's CPU time that was not idle between two ``psutil.cpu_times()``."""
    total = sum(after) - sum(before)
    idle = (after.idle - before.idle) + (after.iowait - before.iowait)
    return 1.0 - idle / total if total > 0 else 0.0


class BurstRunner:
    """Our server with tasks due at one minute, an echo probe on one console, and the clock seam."""

    def __init__(self, server: RunningServer, workers: Workers, probe_account: Account,
                 tasks: list[tuple[str, int, float | None]]) -> None:
        self.server = server
        self.tasks = tasks
        self._redis = redis.Redis(unix_socket_path=redis_socket(server), decode_responses=True)
        self._probe: Worker = workers.start("echo-tasks", echo_probe, Target(OURS, server.port, (probe_account,)), 0)
        self._probe.expect("ready", 120)

    def close(self) -> None:
        self._probe.tell("quit")
        self._probe.result(60)
        self._redis.close()

    def idle_echo(self) -> tuple[list[float], float]:
        """Echo latencies (ms) over :data:`ECHO_SECONDS` with nothing else going on, and how busy the machine was."""
        machine_before = psutil.cpu_times()
        self._probe.tell("measure", (10**6, ECHO_SECONDS))
        samples = self._probe.expect("samples", ECHO_SECONDS + 120)
        return [latency * 1000 for _, latency in samples], busy_share(machine_before, psutil.cpu_times())

    def start_echo(self) -> None:
        """Start timing echo for :data:`ECHO_SECONDS`; :meth:`echo_between` collects it."""
        self._probe.tell("measure", (10**6, ECHO_SECONDS))
        time.sleep(0.5)  # the probe is typing

    def echo_between(self, first: float, last: float) -> list[float]:
        """The latencies (ms) of the keys sent from ``first`` to ``last`` (epoch seconds)."""
        samples = self._probe.expect("samples", ECHO_SECONDS + 120)
        shift = time.monotonic() - time.time()
        return [latency * 1000 for sent, latency in samples if first + shift <= sent <= last + shift]

    def _log(self, owner: str, task_id: int) -> Path:
        return self.server.work_dir / "data" / "log" / owner / f"schedule-log-{task_id}.log"

    def run(self, label: str, due: float, nth: int) -> Burst:
        """Time echo idle, then make ``due`` come and time the ``nth`` run of every task."""
        burst = Burst(label, len(self.tasks))
        burst.echo_idle, burst.machine_busy_idle = self.idle_echo()
        cpu_before = self.server.cpu_seconds()
        machine_before = psutil.cpu_times()
        self.start_echo()
        offset = (due - LEAD) - time.time()
        self._redis.set(CLOCK_OFFSET, repr(offset))
        self._redis.publish(TASKS_CHANNEL, "clock")
        reads_due = due - offset  # the real instant the scheduler's clock reads `due`
        logs = self._wait_finished(nth)
        burst.server_cpu = self.server.cpu_seconds() - cpu_before
        last_footer = 0.0
        for run_log in logs:
            burst.start_counts[len(run_log.starts)] = burst.start_counts.get(len(run_log.starts), 0) + 1
            if len(run_log.starts) < nth:
                continue
            header, stamp = run_log.starts[nth - 1]
            burst.header_delays.append(header - reads_due)
            if stamp is not None:
                burst.delays.append(stamp - reads_due)
            if len(run_log.exit_statuses) >= nth:
                burst.failed += run_log.exit_statuses[nth - 1] != 0
        for owner, task_id, _ in self.tasks:
            footers = _FOOTER.findall(self._log(owner, task_id).read_text(errors="replace"))
            if len(footers) >= nth:
                last_footer = max(last_footer, _epoch(footers[nth - 1][0]) + 1)
        burst.span = last_footer - reads_due
        burst.machine_busy = busy_share(machine_before, psutil.cpu_times())
        burst.echo_burst = self.echo_between(reads_due, last_footer)
        # Counted per minute: a log with runs of earlier minutes counts them too.
        burst.start_counts = {count - (nth - 1): logs for count, logs in burst.start_counts.items()}
        return burst

    def _wait_finished(self, nth: int) -> list[RunLog]:
        """Every task's log once each has ``nth`` footers (or the timeout has passed)."""
        deadline = time.monotonic() + FINISH_TIMEOUT
        while True:
            logs = [RunLog.read(self._log(owner, task_id)) for owner, task_id, _ in self.tasks]
            if all(len(log.exit_statuses) >= nth for log in logs) or time.monotonic() > deadline:
                time.sleep(3)  # a run started twice would show by now
                return [RunLog.read(self._log(owner, task_id)) for owner, task_id, _ in self.tasks]
            time.sleep(1)
