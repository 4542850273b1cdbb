"""A console's life: spawn to first prompt, its memory while idle, and closing many at once."""
from __future__ import annotations

import statistics
import time

from bench import jobs
from bench.harness import Bench
from bench.report import p99
from bench.servers import still_there
from bench.sizes import CONSOLES_PER_ACCOUNT, WARM_UP_CONSOLES
from bench.typing_probe import echo_probe
from bench.workers import Worker

OPEN_BATCH = 20
SETTLE_SECONDS = 1.0
CLOSE_TIMEOUT = 300.0
POLL_SECONDS = 0.02


def measure_spawn(bench: Bench) -> None:
    sizes = bench.sizes
    per_round = -(-sizes.spawns // sizes.spawn_rounds)
    timings: dict[str, list[float]] = {kind: [] for kind in bench.servers}
    for round_index in range(sizes.spawn_rounds):
        for kind in bench.order(round_index):
            worker = bench.workers.start(f"spawn-{kind}", jobs.spawn_to_prompt,
                                         bench.servers[kind].target, per_round)
            timings[kind] += worker.result(120 + per_round * 30)
    for kind, values in timings.items():
        bench.results.record("spawn", kind, statistics.median(values) * 1000)


def _open(holders: dict[str, Worker], order: list[str], count: int) -> None:
    for kind in order:
        holders[kind].tell("open", count)
    for kind in order:
        holders[kind].expect("held", 120 + count * 5)


def measure_idle_and_close(bench: Bench) -> None:
    """On fresh servers: RSS per idle console, then all of them (and more) closed at once."""
    sizes = bench.sizes
    holders = {kind: bench.workers.start(f"hold-{kind}", jobs.hold, server.target, CONSOLES_PER_ACCOUNT)
               for kind, server in bench.servers.items()}
    _open(holders, bench.order(0), WARM_UP_CONSOLES)
    time.sleep(SETTLE_SECONDS)
    before = {kind: server.rss_bytes() for kind, server in bench.servers.items()}
    opened = 0
    while opened < sizes.idle_consoles:
        batch = min(OPEN_BATCH, sizes.idle_consoles - opened)
        _open(holders, bench.order(opened // OPEN_BATCH), batch)
        opened += batch
    time.sleep(SETTLE_SECONDS)
    for kind, server in bench.servers.items():
        growth = server.rss_bytes() - before[kind]
        bench.results.record("idle_memory", kind, growth / sizes.idle_consoles / 1000)
    _open(holders, bench.order(1), sizes.closes - sizes.idle_consoles - WARM_UP_CONSOLES)
    for kind in bench.order(2):
        _close_all(bench, kind, holders[kind])


def _close_all(bench: Bench, kind: str, holder: Worker) -> None:
    """Close every held console while another console's echo is timed; wait for their processes."""
    server = bench.servers[kind]
    shells = server.shells()
    probe_account = -(-bench.sizes.closes // CONSOLES_PER_ACCOUNT)
    probe = bench.workers.start(f"close-echo-{kind}", echo_probe, server.target, probe_account)
    probe.expect("ready", 120)
    probe.tell("measure", (10**6, CLOSE_TIMEOUT + 60))
    time.sleep(0.5)
    holder.tell("close")
    started = time.monotonic()
    deadline = started + CLOSE_TIMEOUT
    while shells and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        shells = still_there(shells)
    gone = time.monotonic()
    closed = holder.result(CLOSE_TIMEOUT)
    probe.tell("stop")
    samples = probe.expect("samples", 120)
    probe.tell("quit")
    probe.result(60)
    if shells:
        bench.results.notes.append(f"{kind}: {len(shells)} console processes were still there "
                                   f"{CLOSE_TIMEOUT:.0f} s after closing")
    if closed["failed"]:
        bench.results.notes.append(f"{kind}: {closed['failed']} close requests failed while closing "
                                   f"{bench.sizes.closes} consoles at once; they were sent again, all at "
                                   f"once, until none failed (counted in the time). The first failure: "
                                   f"{closed['first_failure']}")
    end = max(gone, closed["finished"])
    during = [latency * 1000 for at, latency in samples if at + latency >= closed["started"] and at <= end]
    bench.results.record("close_time", kind, end - closed["started"])
    if during:
        bench.results.record("close_echo_p99", kind, p99(during))
        bench.results.record("close_echo_max", kind, max(during))
