"""A classroom: one teacher's broadcast console watched by many students, against terminado.

    .venv/bin/python bench/bench_classroom.py [--quick] [--output docs/performance.md]

A teacher's console prints a timestamped line every 50 ms; 30, 100 and 500
students watch it read-only — on our service each student has an account
and a token of their own and is let in by the broadcast (``{"all_students":
true}``), on terminado every viewer attaches to its ``SingleTermManager``.
Each figure is taken in one run that alternates between the two servers:
lines delivered, p99 delivery latency, server CPU per viewer per line,
server RSS growth, and whether one more viewer that stops reading delays
the others.  Prints the table and rewrites the ``## Classroom`` section of
docs/performance.md (only that section).  Everything it starts is stopped at
the end, on errors and on Ctrl-C too.  ``--quick`` is a smoke test.
"""
from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.console_client import (  # noqa: E402
    OURS,
    TERMINADO,
    Account,
    ConsoleStream,
    Target,
    api_request,
    attach,
    open_shared_viewer,
)
from bench.jobs import collect_lines, fanout_source  # noqa: E402
from bench.report import p99  # noqa: E402
from bench.servers import PEER_SCRIPTS, REPO, RunningServer, machine, start_ours  # noqa: E402
from bench.workers import Control, Worker, Workers, results_after_stragglers, stop_on_sigterm  # noqa: E402
from ide.accounts import AccountStore  # noqa: E402
from ide.class_store import ClassStore  # noqa: E402
from ide.config import Settings  # noqa: E402
from ide.server import Storage  # noqa: E402
from ide.tokens import TokenStore  # noqa: E402

SECTION = "## Classroom"
KINDS = (OURS, TERMINADO)
PASSWORD = secrets.token_hex(16)
TEACHER = "teacher"
RSS_SAMPLE_SECONDS = 0.25
# Students joining at once, per client process.
JOIN_CONCURRENCY = 16


@dataclass(frozen=True)
class Plan:
    viewer_counts: tuple[int, ...]
    lines: int
    # Runs with a stopped reader, each followed by a plain one, at the largest count.
    stall_rounds: int


FULL = Plan(viewer_counts=(30, 100, 500), lines=200, stall_rounds=4)
QUICK = Plan(viewer_counts=(30,), lines=60, stall_rounds=1)


@dataclass(frozen=True)
class Run:
    kind: str
    viewers: int
    stalled: bool
    lost: int
    p99_ms: float
    cpu_us: float
    rss_mb: float


# Client jobs (in their own processes) -------------------------------------------------


async def _join(target: Target, console_id: str | None, account: Account | None) -> ConsoleStream:
    if target.kind == OURS:
        assert console_id is not None and account is not None
        return await attach(target, console_id, account)
    return await open_shared_viewer(target, None)


async def students_watch(control: Control, target: Target, console_id: str | None,
                         students: tuple[Account, ...], count: int, tag: str, lines: int,
                         stall: bool) -> dict[str, Any]:
    """``count`` students watching (each with their own account on ours), plus one that never
    reads if ``stall``; returns every latency (seconds) and each reader's count of lines."""
    gate = asyncio.Semaphore(JOIN_CONCURRENCY)

    async def join(index: int) -> ConsoleStream:
        async with gate:
            return await _join(target, console_id, students[index] if students else None)

    streams = await asyncio.gather(*(join(index) for index in range(count)))
    # It reads nothing: once the client library's small queue is full, the socket stops being read.
    stalled = await join(count) if stall else None
    pattern = re.compile(rf"(?:^|\r){tag} (\d+) (\d+\.\d+)\r?$")
    latencies: list[float] = []
    seen: list[set[int]] = [set() for _ in streams]
    views = asyncio.gather(*(collect_lines(s, pattern, lines, latencies, mine)
                             for s, mine in zip(streams, seen, strict=True)))
    stop = asyncio.ensure_future(control.stop.wait())
    try:
        control.report("ready")
        await asyncio.wait([views, stop], timeout=600 + lines * 0.2, return_when=asyncio.FIRST_COMPLETED)
    finally:
        views.cancel()
        stop.cancel()
        if stalled is not None:
            stalled.socket.transport.abort()
        await asyncio.gather(*(s.detach() for s in streams), return_exceptions=True)
    return {"latencies": latencies, "counts": [len(mine) for mine in seen]}


# The run ---------------------------------------------------------------------------------


async def _make_class(data_dir: Path, students: int) -> tuple[Account, tuple[Account, ...]]:
    """The teacher and ``students`` students, straight through the account store (scrypt in threads)."""
    storage = Storage(Settings(data_dir=data_dir))
    redis = await storage.open()
    try:
        accounts, tokens, classes = AccountStore(redis), TokenStore(redis), ClassStore(redis)
        await accounts.create(TEACHER, PASSWORD, "hacker")
        gate = asyncio.Semaphore(8)

        async def student(index: int) -> Account:
            async with gate:
                user = await accounts.create(f"student{index}", PASSWORD, "free")
                await classes.name_teacher(user.name, TEACHER, accepted=True)
                return Account(user.name, await tokens.create(user.name))

        return (Account(TEACHER, await tokens.create(TEACHER)),
                tuple(await asyncio.gather(*(student(i) for i in range(students)))))
    finally:
        await storage.close()


def _client_processes(viewers: int) -> int:
    """Enough client processes that their own event loops do not queue up deliveries."""
    return 1 if viewers <= 10 else 2 if viewers <= 100 else 4


class Classroom:
    """Both servers, the class on ours, and the client processes of the current run."""

    def __init__(self) -> None:
        self.workers = Workers()
        self.servers: dict[str, RunningServer] = {}
        self.teacher = Account("", "")
        self.students: tuple[Account, ...] = ()

    def start(self, work_dir: Path, students: int) -> None:
        """Start both servers and make the class; :meth:`close` stops whatever did start."""
        for kind in KINDS:
            (work_dir / kind).mkdir()
        self.servers[OURS] = start_ours(work_dir / OURS)
        self.servers[TERMINADO] = RunningServer(TERMINADO, work_dir / TERMINADO, [
            sys.executable, str(PEER_SCRIPTS[TERMINADO]), "--port", "0"])
        self.teacher, self.students = asyncio.run(_make_class(work_dir / OURS / "data", students))

    def close(self) -> None:
        self.workers.close_all()
        for server in self.servers.values():
            server.stop()

    def measure(self, kind: str, viewers: int, lines: int, stall: bool, tag: str) -> Run:
        server = self.servers[kind]
        target = Target(kind, server.port, (self.teacher,) if kind == OURS else ())
        source = self.workers.start(f"teacher-{kind}", fanout_source, target, tag, lines)
        console_id = source.expect("ready", 120)
        if kind == OURS:
            asyncio.run(api_request(target, self.teacher, "POST", f"/consoles/{console_id}/sharing/",
                                    {"all_students": True}, expect=201))
        rss_before = peak = server.rss_bytes()
        clients = self._students(target, console_id, viewers, tag, lines, stall)
        for client in clients:
            client.expect("ready", 600)
            peak = max(peak, server.rss_bytes())
        cpu_before = server.cpu_seconds()
        source.tell("go")
        deadline = time.monotonic() + lines * 0.2 + 120
        while not source.has_message() and time.monotonic() < deadline:
            time.sleep(RSS_SAMPLE_SECONDS)
            peak = max(peak, server.rss_bytes())
        source.result(60)
        outcomes = results_after_stragglers(clients)
        cpu_used = server.cpu_seconds() - cpu_before
        self.workers.close_all()
        latencies = [latency * 1000 for outcome in outcomes for latency in outcome["latencies"]]
        received = sum(sum(outcome["counts"]) for outcome in outcomes)
        return Run(kind, viewers, stall, lost=viewers * lines - received,
                   p99_ms=p99(latencies) if latencies else float("nan"),
                   cpu_us=cpu_used / ((viewers + 1 + stall) * lines) * 1e6,
                   rss_mb=(peak - rss_before) / 1e6)

    def _students(self, target: Target, console_id: str | None, viewers: int, tag: str,
                  lines: int, stall: bool) -> list[Worker]:
        processes = _client_processes(viewers)
        clients, first = [], 0
        for index in range(processes):
            share = viewers // processes + (1 if index < viewers % processes else 0)
            stalls = stall and index == 0
            accounts = self.students[first:first + share + stalls] if target.kind == OURS else ()
            first += share + stalls
            clients.append(self.workers.start(f"students-{target.kind}-{index}", students_watch, target,
                                              console_id, accounts, share, tag, lines, stalls))
        return clients


def run_all(classroom: Classroom, plan: Plan) -> list[Run]:
    """Every count on both servers, alternating; then, at the largest, stalled and plain runs in turn."""
    runs: list[Run] = []

    def once(kind: str, viewers: int, stall: bool) -> None:
        tag = f"CLS{len(runs)}{kind[0].upper()}"
        print(f"   {kind}: {viewers} students{' + 1 stalled' if stall else ''} ...", end="", flush=True)
        started = time.monotonic()
        runs.append(classroom.measure(kind, viewers, plan.lines, stall, tag))
        print(f" {time.monotonic() - started:.0f} s", flush=True)

    for index, viewers in enumerate(plan.viewer_counts):
        for kind in (KINDS if index % 2 == 0 else KINDS[::-1]):
            once(kind, viewers, stall=False)
    most = max(plan.viewer_counts)
    for round_index in range(plan.stall_rounds):
        order = KINDS if round_index % 2 == 0 else KINDS[::-1]
        for kind in order:
            once(kind, most, stall=True)
        for kind in order[::-1]:
            once(kind, most, stall=False)
    return runs


# The report ------------------------------------------------------------------------------


def _pick(runs: list[Run], kind: str, viewers: int, stalled: bool) -> list[Run]:
    return [r for r in runs if r.kind == kind and r.viewers == viewers and r.stalled == stalled]


def _cell(value: float | None, digits: int) -> str:
    return "–" if value is None or value != value else f"{value:,.{digits}f}"


def _ratio(ours: float | None, peer: float | None) -> str:
    return "–" if ours is None or not peer else f"{ours / peer:.2f}×"


def figures(runs: list[Run], plan: Plan) -> list[tuple[str, str, dict[str, float], int]]:
    """(label, unit, value per server, digits) for every row of the table."""
    rows = []
    for viewers in plan.viewer_counts:
        first = {kind: _pick(runs, kind, viewers, False)[0] for kind in KINDS}
        rows += [(f"{viewers} students: p99 delivery", "ms", {k: r.p99_ms for k, r in first.items()}, 1),
                 (f"{viewers} students: lines lost", "lines", {k: float(r.lost) for k, r in first.items()}, 0),
                 (f"{viewers} students: CPU per viewer per line", "µs", {k: r.cpu_us for k, r in first.items()}, 1),
                 (f"{viewers} students: RSS growth", "MB", {k: r.rss_mb for k, r in first.items()}, 1)]
    most = max(plan.viewer_counts)
    plain = {kind: _median_p99(runs, kind, most, False) for kind in KINDS}
    stalled = {kind: _median_p99(runs, kind, most, True) for kind in KINDS}
    plain_runs, stalled_runs = (len(_pick(runs, OURS, most, flag)) for flag in (False, True))
    rows += [(f"{most} students, median of {plain_runs} runs: p99 delivery", "ms", plain, 1),
             (f"{most} students + 1 that stops reading, median of {stalled_runs} runs: p99 of the others",
              "ms", stalled, 1),
             (f"{most} students + 1 that stops reading: lines lost by the others", "lines",
              {k: float(sum(r.lost for r in _pick(runs, k, most, True))) for k in KINDS}, 0),
             ("Stopped reader: p99 of the others ÷ p99 without it", "×",
              {k: stalled[k] / plain[k] for k in KINDS}, 2)]
    return rows


def _median_p99(runs: list[Run], kind: str, viewers: int, stalled: bool) -> float:
    return statistics.median(r.p99_ms for r in _pick(runs, kind, viewers, stalled))


def table(rows: list[tuple[str, str, dict[str, float], int]]) -> str:
    lines = ["| Measurement | unit | ours | terminado | ours ÷ terminado |", "|---|---|---:|---:|---:|"]
    for label, unit, values, digits in rows:
        ours, peer = values.get(OURS), values.get(TERMINADO)
        lines.append(f"| {label} | {unit} | {_cell(ours, digits)} | {_cell(peer, digits)} | "
                     f"{_ratio(ours, peer) if unit != '×' else '–'} |")
    return "\n".join(lines)


def goal_lines(runs: list[Run], plan: Plan) -> list[str]:
    most = max(plan.viewer_counts)
    ours, peer = (_pick(runs, kind, most, False)[0] for kind in KINDS)
    plain = _median_p99(runs, OURS, most, False)
    stalled = _median_p99(runs, OURS, most, True)
    stalled_lost = sum(r.lost for r in _pick(runs, OURS, most, True))
    checks = [
        (f"{most} students: every line reaches every student", float(ours.lost), ours.lost == 0),
        (f"{most} students: p99 ≤ 0.8× terminado's", ours.p99_ms / peer.p99_ms, ours.p99_ms <= 0.8 * peer.p99_ms),
        (f"{most} students: CPU ≤ 0.7× terminado's", ours.cpu_us / peer.cpu_us, ours.cpu_us <= 0.7 * peer.cpu_us),
        (f"{most} students: RSS growth ≤ 100 MB", ours.rss_mb, ours.rss_mb <= 100),
        ("A student who stops reading: the others' p99 within 10%", stalled / plain,
         stalled <= 1.1 * plain and stalled_lost == 0),
    ]
    return ["| Target (ours) | measured | |", "|---|---:|---|",
            *[f"| {text} | {value:,.2f} | {'met' if met else '**not met**'} |" for text, value, met in checks]]


METHODS = """\
- The teacher's console runs `echo "tag n $EPOCHREALTIME"` every 50 ms ({lines} lines); on ours
  it is a bash console of the teacher's, shared with the class by `POST .../sharing/
  {{"all_students": true}}`, and every student attaches through the raw SockJS WebSocket with
  their own account's token, read-only; on terminado every viewer opens its `/shared`
  (`SingleTermManager`) socket. Students are spread over one to four client processes.
- Delivery is the arrival time minus the stamp; lines lost are those a student never got.
  CPU is the server's (user + system, all threads, and ours' embedded Redis) over the run,
  divided by the connections (the teacher's counted) × lines. RSS growth is the peak during
  the run (sampled every 0.25 s) minus the RSS just before the students joined.
- The stopped reader is one more student whose client never reads: its socket stops being
  read once the client library's small queue is full. Runs with it alternate with plain runs
  of the same size ({stall_rounds} of each, besides the first plain one), and the medians of
  their p99s are compared: on a shared machine one run's p99 swings by more than 10%.
- Servers are measured alternately in one run, each in its own process on 127.0.0.1; ours
  runs `ide serve --sandbox off` (terminado has no sandbox).
"""


def section(runs: list[Run], plan: Plan, quick: bool) -> str:
    info = machine()
    return "\n".join([
        SECTION, "",
        "Written by `bench/bench_classroom.py`" + (" --quick (a smoke test, not figures to quote)"
                                                   if quick else "") + f" on {time.strftime('%Y-%m-%d %H:%M %Z')}.",
        "",
        f"Machine: {info['cpus']} CPUs ({info['cpu_model']}); Python {info['python']}, "
        f"Tornado {info['tornado']}, terminado {info['terminado']}.", "",
        table(figures(runs, plan)), "", "### Targets", "", *goal_lines(runs, plan), "",
        "### How it is measured", "", METHODS.format(lines=plan.lines, stall_rounds=plan.stall_rounds)]).rstrip() + "\n"


def write_section(path: Path, text: str) -> None:
    """Replace (or append) the ``## Classroom`` section of ``path``; every other section stays."""
    existing = path.read_text() if path.exists() else ("# Performance\n\nWhat the service costs, measured "
                                                       "on one machine by the scripts in `bench/`.\n\n")
    pieces = re.split(r"(?m)^(?=## )", existing)
    kept = [piece for piece in pieces if not piece.startswith(SECTION + "\n")]
    body = "".join(piece if piece.endswith("\n\n") else piece.rstrip("\n") + "\n\n" for piece in kept)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body + text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 students, 60 lines: a smoke test")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "performance.md",
                        help="the document whose Classroom section is rewritten")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    stop_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="bench-classroom-") as work_dir:
        print(f"-- starting both servers and a class of {max(plan.viewer_counts) + 1} students", flush=True)
        classroom = Classroom()
        try:
            classroom.start(Path(work_dir), max(plan.viewer_counts) + 1)
            runs = run_all(classroom, plan)
        finally:
            classroom.close()
    text = section(runs, plan, args.quick)
    print()
    print(table(figures(runs, plan)))
    print()
    print("\n".join(goal_lines(runs, plan)))
    write_section(args.output, text)
    print(f"\nwrote the Classroom section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
