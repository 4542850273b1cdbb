"""The restart benchmark's figures, its target, and its section of docs/performance.md."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

from bench.report import p50

SECTION = "## Restarts"
READY_TARGET = 2.0
"""Seconds from "Listening on" until every console is listed running and replays on attach."""
HOW = {"kill": "SIGKILL (a crash)", "term": "SIGTERM (a stop, as an upgrade does)"}


@dataclass
class Memory:
    """A process's memory, from /proc/PID/smaps_rollup (psutil), in bytes."""

    rss: int
    pss: int
    uss: int


@dataclass
class Restart:
    """One restart of the server with the consoles open."""

    how: str  # "kill" or "term"
    stop_seconds: float  # signal sent until the old process was gone
    start_seconds: float  # new process started until it printed "Listening on"
    ready: list[float]  # per console, seconds after "Listening on"
    listed: float  # every console listed running, seconds after "Listening on"
    attached: float  # every console replayed on attach, seconds after "Listening on"
    same_programs: bool  # the consoles' processes before and after are the same


@dataclass
class Figures:
    consoles: int
    printing: int
    command: str
    empty_starts: dict[str, list[float]] = field(default_factory=lambda: {"kill": [], "term": []})
    restarts: list[Restart] = field(default_factory=list)
    holder: dict[str, Memory] = field(default_factory=dict)
    server: dict[str, Memory] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _mb(value: int) -> str:
    return f"{value / 1e6:,.1f}"


def _seconds(values: list[float]) -> str:
    return f"{p50(values):.2f} / {max(values):.2f}"


def _restart_rows(figures: Figures) -> list[str]:
    rows = ["| Restart by | rounds | old server gone after | start-up (process to \"Listening on\"), "
            "0 consoles to adopt | start-up, " + f"{figures.consoles} consoles to adopt | every console "
            "listed running | every console replayed on attach | every console both (p50 of consoles) | "
            "same processes |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for how, label in HOW.items():
        runs = [r for r in figures.restarts if r.how == how]
        if not runs:
            continue
        every = [max(r.ready) for r in runs]
        consoles = [value for r in runs for value in r.ready]
        rows.append(f"| {label} | {len(runs)} | {_seconds([r.stop_seconds for r in runs])} s | "
                    f"{_seconds(figures.empty_starts[how])} s | {_seconds([r.start_seconds for r in runs])} s | "
                    f"{_seconds([r.listed for r in runs])} s | {_seconds([r.attached for r in runs])} s | "
                    f"{_seconds(every)} s ({statistics.median(consoles):.2f} s) | "
                    f"{'yes' if all(r.same_programs for r in runs) else '**no**'} |")
    return rows


def _memory_rows(figures: Figures) -> list[str]:
    rows = ["| Process | when | RSS | PSS | USS |", "|---|---|---:|---:|---:|"]
    for name, memories in (("holder", figures.holder), ("server", figures.server)):
        for when, memory in memories.items():
            rows.append(f"| {name} | {when} | {_mb(memory.rss)} MB | {_mb(memory.pss)} MB | {_mb(memory.uss)} MB |")
    return rows


def _target_rows(figures: Figures) -> list[str]:
    rows = ["| Target | measured (worst round) | |", "|---|---:|---|"]
    for how, label in HOW.items():
        runs = [r for r in figures.restarts if r.how == how]
        if runs:
            worst = max(max(r.ready) for r in runs)
            rows.append(f"| {figures.consoles} consoles back within {READY_TARGET:.0f} s of \"Listening on\", "
                        f"after {label} | {worst:.2f} s | {'met' if worst <= READY_TARGET else '**not met**'} |")
    return rows


METHODS = """\
One `ide serve` (unisolated, as the console benchmark runs ours) on 127.0.0.1, with
{consoles} bash consoles of {accounts} hacker accounts opened through the API; each
prints `R42` (typed as `echo R$((6*7))`, so the marker is only in the output), and {printing}
of them keep printing a line every 0.1 s. No page is attached while the server goes
down. In each round the server is sent SIGKILL or SIGTERM (alternating, the order
swapped each round), then `ide serve` is started again on the same data directory and
port 0. "Listening on" is seen in its log within 5 ms (polled). From then, one client
process (apart from the server) polls each account's `GET consoles/` every 20 ms and
attaches a WebSocket to every console at once (`/consoles/sockjs/websocket`, the owner's
token), retrying any refused attach every 20 ms; a console is back once it is listed
with status `running` and its attach got `setup` and a replay holding the marker. Times
are taken on the machine's monotonic clock, shared by both processes. Start-up is from
starting the new process until "Listening on"; with 0 consoles it is measured in the
same way before any console is opened. "Same processes" compares the consoles' process
ids (the holder's children) before and after. Memory is psutil's
`memory_full_info()` (smaps): the holder's with no console and with all of them open,
and the server's with all open before the first restart and after the last. Each cell
is p50 / max over the rounds.
"""


def section(figures: Figures, machine: dict[str, str], accounts: int) -> str:
    date = time.strftime("%Y-%m-%d %H:%M %Z")
    parts = [
        SECTION, "",
        f"Written by `{figures.command}` on {date}.", "",
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}); Python {machine['python']}, "
        f"Tornado {machine['tornado']}.", "",
        f"A crash or a stop of `ide serve` ends no console: the node's holder (sandbox/holder/) is the parent "
        f"of every program and keeps its terminal, and the next server takes them back before it listens. "
        f"{figures.consoles} consoles were open.", "",
        *_restart_rows(figures), "", *_memory_rows(figures), "", "### Target", "", *_target_rows(figures), "",
        "### How it is measured", "",
        METHODS.format(consoles=figures.consoles, accounts=accounts, printing=figures.printing)]
    if figures.notes:
        parts += ["### Notes from this run", "", *[f"- {note}" for note in figures.notes], ""]
    return "\n".join(parts).rstrip() + "\n"
