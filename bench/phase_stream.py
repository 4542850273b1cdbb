"""Output at volume: bulk throughput, a slow reader, and one console fanned out to many viewers."""
from __future__ import annotations

import os
import select
import statistics
import subprocess
import time
from dataclasses import dataclass, field

from bench import jobs
from bench.harness import Bench
from bench.report import p99
from bench.workers import Worker, results_after_stragglers

RSS_SAMPLE_SECONDS = 0.25
PTY_READ_TIMEOUT = 60.0


def _producer_command(source_bytes: int) -> str:
    return f"head -c {source_bytes} /dev/urandom | base64"


def _producer_seconds(source_bytes: int) -> float:
    """The bulk command on its own, writing to /dev/null."""
    started = time.monotonic()
    subprocess.run(["bash", "-c", f"{_producer_command(source_bytes)} > /dev/null"], check=True, timeout=600)
    return time.monotonic() - started


def _bare_pty_seconds(source_bytes: int) -> float:
    """The bulk command writing to a PTY that this process reads in a blocking loop.

    No server, no event loop: the most a PTY carries on this machine, the
    ceiling for any console server.
    """
    master, slave = os.openpty()
    producer = subprocess.Popen(["bash", "-c", _producer_command(source_bytes)], stdin=slave, stdout=slave,
                                stderr=slave, start_new_session=True)
    os.close(slave)
    started = time.monotonic()
    try:
        while select.select([master], [], [], PTY_READ_TIMEOUT)[0]:
            try:
                if not os.read(master, 1 << 20):
                    break
            except OSError:  # EIO: the producer has exited and closed the PTY
                break
        else:
            raise RuntimeError(f"the bare PTY went silent for {PTY_READ_TIMEOUT:.0f} s")
        return time.monotonic() - started
    finally:
        os.close(master)
        producer.kill()
        producer.wait(60)


def measure_bulk(bench: Bench) -> None:
    sizes = bench.sizes
    megabytes = sizes.bulk_output_bytes / 1e6
    rates: dict[str, list[float]] = {kind: [] for kind in bench.servers}
    cpu: dict[str, list[float]] = {kind: [] for kind in bench.servers}
    producer: list[float] = []
    bare_pty: list[float] = []
    for round_index in range(sizes.bulk_rounds):
        producer.append(megabytes / _producer_seconds(sizes.bulk_source_bytes))
        bare_pty.append(megabytes / _bare_pty_seconds(sizes.bulk_source_bytes))
        for kind in bench.order(round_index):
            server = bench.servers[kind]
            worker = bench.workers.start(f"bulk-{kind}", jobs.bulk, server.target, sizes.bulk_source_bytes)
            worker.expect("ready", 120)
            cpu_before = server.cpu_seconds()
            worker.tell("go")
            run = worker.result(660)
            cpu_used = server.cpu_seconds() - cpu_before
            if run["characters"] < sizes.bulk_output_bytes:
                raise RuntimeError(f"{kind} delivered {run['characters']} characters of bulk output, "
                                   f"fewer than the {sizes.bulk_output_bytes} produced")
            rates[kind].append(megabytes / run["seconds"])
            cpu[kind].append(cpu_used * 100 / megabytes)
    for kind in bench.servers:
        bench.results.record("bulk_rate", kind, statistics.median(rates[kind]))
        bench.results.record("bulk_cpu", kind, statistics.median(cpu[kind]))
    bench.results.producer_rate = statistics.median(producer)
    bench.results.bare_pty_rate = statistics.median(bare_pty)


def measure_slow_reader(bench: Bench) -> None:
    """On fresh servers: peak RSS growth while one client reads a flood slowly."""
    sizes = bench.sizes
    for kind in bench.order(0):
        server = bench.servers[kind]
        worker = bench.workers.start(f"slow-{kind}", jobs.slow_reader, server.target,
                                     sizes.slow_rate, sizes.slow_seconds)
        worker.expect("ready", 120)
        before = peak = server.rss_bytes()
        worker.tell("go")
        deadline = time.monotonic() + sizes.slow_seconds + 120
        while not worker.has_message() and time.monotonic() < deadline:
            time.sleep(RSS_SAMPLE_SECONDS)
            peak = max(peak, server.rss_bytes())
        worker.result(120)
        bench.results.record("slow_rss", kind, (peak - before) / 1e6)


def _client_processes(viewers: int) -> int:
    """Enough client processes that their own event loops do not queue up deliveries."""
    return 1 if viewers <= 10 else 2 if viewers <= 100 else 4


@dataclass
class _FanOut:
    """One server's fan-out figures for one number of viewers, summed over rounds."""

    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    cpu_seconds: float = 0.0
    deliveries: int = 0


def _fan_out_once(bench: Bench, kind: str, viewers: int, tag: str, totals: _FanOut) -> None:
    lines = bench.sizes.fanout_lines
    server = bench.servers[kind]
    source = bench.workers.start(f"fanout-source-{kind}", jobs.fanout_source, server.target, tag, lines)
    console_id = source.expect("ready", 120)
    processes = _client_processes(viewers)
    clients: list[Worker] = []
    for index in range(processes):
        share = viewers // processes + (1 if index < viewers % processes else 0)
        clients.append(bench.workers.start(f"viewers-{kind}-{index}", jobs.fanout_viewers, server.target,
                                           console_id, share, tag, lines))
    for client in clients:
        client.expect("ready", 300)
    cpu_before = server.cpu_seconds()
    source.tell("go")
    source.result(lines * 0.2 + 120)
    outcomes = results_after_stragglers(clients)
    totals.cpu_seconds += server.cpu_seconds() - cpu_before
    totals.latencies += [latency * 1000 for outcome in outcomes for latency in outcome["latencies"]]
    totals.lost += viewers * lines - sum(sum(outcome["counts"]) for outcome in outcomes)
    # The source's own connection is served like a viewer's.
    totals.deliveries += (viewers + 1) * lines


def measure_fan_out(bench: Bench) -> None:
    """Each number of viewers in rounds that alternate the servers."""
    results = bench.results
    for count_index, viewers in enumerate(bench.sizes.viewer_counts):
        totals = {kind: _FanOut() for kind in bench.servers}
        for round_index in range(bench.sizes.fanout_rounds):
            for kind in bench.order(count_index + round_index):
                _fan_out_once(bench, kind, viewers, f"FAN{viewers}R{round_index}{kind[0].upper()}",
                              totals[kind])
        for kind, total in totals.items():
            results.record(f"fanout{viewers}_lost", kind, total.lost)
            if total.latencies:
                results.record(f"fanout{viewers}_p99", kind, p99(total.latencies))
            results.record(f"fanout{viewers}_cpu", kind, total.cpu_seconds / total.deliveries * 1e6)
