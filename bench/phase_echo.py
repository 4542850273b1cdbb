"""Keystroke echo: idle, beside two flooding consoles, and during console churn."""
from __future__ import annotations

import time

from bench import jobs
from bench.harness import Bench
from bench.report import p50, p99
from bench.sizes import CHURN_ACCOUNT, FLOOD_ACCOUNT, PROBE_ACCOUNT
from bench.typing_probe import echo_probe
from bench.workers import Worker

SCENARIOS = ("idle", "flood", "churn")
FLOODING_CONSOLES = 2
CHURN_PER_SECOND = 2.0
CHURN_POPULATION = 4
# Let the first churn tick land before echoes are timed.
CHURN_SETTLE = 0.5


def _start_load(bench: Bench, scenario: str, kind: str) -> Worker | None:
    target = bench.servers[kind].target
    if scenario == "flood":
        load = bench.workers.start(f"flood-{kind}", jobs.flood, target, FLOOD_ACCOUNT, FLOODING_CONSOLES)
    elif scenario == "churn":
        load = bench.workers.start(f"churn-{kind}", jobs.churn, target, CHURN_ACCOUNT,
                                   CHURN_PER_SECOND, CHURN_POPULATION)
    else:
        return None
    load.expect("ready", 180)
    if scenario == "churn":
        time.sleep(CHURN_SETTLE)
    return load


def measure_echo(bench: Bench) -> None:
    """Rounds alternate servers and scenarios; one echo console per server stays open throughout."""
    sizes = bench.sizes
    probes = {kind: bench.workers.start(f"echo-{kind}", echo_probe, server.target, PROBE_ACCOUNT)
              for kind, server in bench.servers.items()}
    for probe in probes.values():
        probe.expect("ready", 120)
    samples: dict[str, dict[str, list[float]]] = {s: {k: [] for k in probes} for s in SCENARIOS}
    per_round = -(-sizes.echo_samples // sizes.echo_rounds)
    for round_index in range(sizes.echo_rounds):
        for kind in bench.order(round_index):
            for scenario in SCENARIOS:
                load = _start_load(bench, scenario, kind)
                probes[kind].tell("measure", (per_round, 300))
                taken = probes[kind].expect("samples", 400)
                samples[scenario][kind] += [latency * 1000 for _, latency in taken]
                if load is not None:
                    load.tell("stop")
                    load.result(180)
    for probe in probes.values():
        probe.tell("quit")
        probe.result(60)
    for scenario, by_kind in samples.items():
        for kind, values in by_kind.items():
            bench.results.record(f"echo_{scenario}_p50", kind, p50(values))
            bench.results.record(f"echo_{scenario}_p99", kind, p99(values))
