"""The benchmark's figures: what each one is, the table, the targets, docs/performance.md."""
from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.console_client import BASELINE, FLOOR, OURS, TERMINADO
from bench.sizes import WARM_UP_CONSOLES, Sizes

SECTION = "## Consoles against terminado"
SANDBOX_SECTION = "## Sandbox"
DOCUMENT_HEAD = ("# Performance\n\nWhat the service costs, measured on this project's machines by the scripts "
                 "in `bench/`.\n")
# An echo slower than this is a stall a typist notices.
STALL_MS = 100.0


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    digits: int = 1


METRICS = [
    Metric("echo_idle_p50", "Echo, idle: p50", "ms", 2),
    Metric("echo_idle_p99", "Echo, idle: p99", "ms", 2),
    Metric("echo_flood_p50", "Echo, 2 consoles flooding: p50", "ms", 2),
    Metric("echo_flood_p99", "Echo, 2 consoles flooding: p99", "ms", 2),
    Metric("echo_churn_p50", "Echo, 2 opens + 2 closes a second: p50", "ms", 2),
    Metric("echo_churn_p99", "Echo, 2 opens + 2 closes a second: p99", "ms", 2),
    Metric("bulk_rate", "Bulk output: rate at the client", "MB/s"),
    Metric("bulk_cpu", "Bulk output: server CPU per 100 MB", "CPU s", 2),
    Metric("slow_rss", "Slow reader (2 MB/s, flooding console): RSS growth", "MB"),
    Metric("spawn", "Spawn to first prompt: median", "ms"),
    Metric("idle_memory", "Memory per idle console", "KB"),
    Metric("close_time", "Close many consoles: wall time", "s", 2),
    Metric("close_echo_p99", "Close many consoles: echo p99 meanwhile", "ms"),
    Metric("close_echo_max", "Close many consoles: slowest echo meanwhile", "ms"),
]


def fanout_metrics(viewers: int) -> list[Metric]:
    return [Metric(f"fanout{viewers}_p99", f"Fan-out, {viewers} viewers: p99 delivery", "ms"),
            Metric(f"fanout{viewers}_lost", f"Fan-out, {viewers} viewers: lines lost", "lines", 0),
            Metric(f"fanout{viewers}_cpu", f"Fan-out, {viewers} viewers: CPU per viewer per line", "µs", 1)]


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p99(values: list[float]) -> float:
    if len(values) < 2:
        return max(values)
    return statistics.quantiles(values, n=100, method="inclusive")[98]


@dataclass
class Results:
    """Every figure of one run, per server, and the facts around them."""

    sizes: Sizes
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    producer_rate: float | None = None
    bare_pty_rate: float | None = None
    notes: list[str] = field(default_factory=list)
    baseline: str | None = None  # the version that ran as the fourth server (--baseline-tree), if any

    @property
    def kinds(self) -> list[str]:
        return [OURS, *([BASELINE] if self.baseline else []), TERMINADO, FLOOR]

    @property
    def metrics(self) -> list[Metric]:
        return METRICS + [m for viewers in self.sizes.viewer_counts for m in fanout_metrics(viewers)]

    def record(self, key: str, kind: str, value: float) -> None:
        self.values.setdefault(key, {})[kind] = value

    def get(self, key: str, kind: str) -> float | None:
        return self.values.get(key, {}).get(kind)

    def ratio(self, key: str, kind: str = OURS, to: str = TERMINADO) -> float | None:
        value, peer = self.get(key, kind), self.get(key, to)
        if value is None or peer is None or peer == 0:
            return None
        return value / peer


def _number(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def table(results: Results) -> str:
    kinds = results.kinds
    ratios = [(OURS, TERMINADO), (FLOOR, TERMINADO), *([(OURS, BASELINE)] if results.baseline else [])]
    names = {BASELINE: "ours at baseline"}
    header = [names.get(kind, kind) for kind in kinds] + [f"{names.get(a, a)} ÷ {names.get(b, b)}" for a, b in ratios]
    lines = [f"| Measurement | unit | {' | '.join(header)} |", "|---|---|" + "---:|" * len(header)]
    for metric in results.metrics:
        if metric.key not in results.values:
            continue
        cells = [_number(results.get(metric.key, kind), metric.digits) for kind in kinds]
        cells += [_ratio(results.ratio(metric.key, a, b)) for a, b in ratios]
        lines.append(f"| {metric.label} | {metric.unit} | {' | '.join(cells)} |")
    return "\n".join(lines)


def references(results: Results) -> str:
    """The bulk producer's own speeds, which bound every server's."""
    if results.producer_rate is None or results.bare_pty_rate is None:
        return ""
    return (f"For reference, the bulk producer alone (to /dev/null) ran at {results.producer_rate:,.1f} MB/s, "
            f"and on a bare PTY read in a tight loop by one process (no server) at "
            f"{results.bare_pty_rate:,.1f} MB/s: the producer's own rate in a terminal, which the "
            f"target below measures ours against.")


@dataclass(frozen=True)
class Goal:
    text: str
    check: Callable[[Results], tuple[float | None, bool]]
    unit: str = "×"  # of the measured value: a ratio unless said otherwise

    def shown(self, value: float) -> str:
        return f"{value:,.2f}×" if self.unit == "×" else f"{value:,.2f} {self.unit}"


def _relative(key: str, limit: float, at_most: bool = True,
              to: str = TERMINADO) -> Callable[[Results], tuple[float | None, bool]]:
    def check(results: Results) -> tuple[float | None, bool]:
        ratio = results.ratio(key, OURS, to)
        return ratio, ratio is not None and (ratio <= limit if at_most else ratio >= limit)
    return check


def _absolute(key: str, limit: float) -> Callable[[Results], tuple[float | None, bool]]:
    def check(results: Results) -> tuple[float | None, bool]:
        value = results.get(key, OURS)
        return value, value is not None and value <= limit
    return check


def _versus_producer(results: Results) -> tuple[float | None, bool]:
    """Ours against the producer's own rate in a terminal: a bare PTY read in a tight loop.

    To /dev/null the producer runs ten times faster than any PTY carries
    here, so that speed bounds nothing a console server does.
    """
    rate = results.get("bulk_rate", OURS)
    if rate is None or not results.bare_pty_rate:
        return None, False
    return rate / results.bare_pty_rate, rate >= 0.9 * results.bare_pty_rate


def goals(results: Results) -> list[Goal]:
    closes = results.sizes.closes
    most = max(results.sizes.viewer_counts)
    return [
        Goal("Idle echo p99 ≤ 0.75× terminado's", _relative("echo_idle_p99", 0.75)),
        Goal("Echo p99 beside 2 floods ≤ 0.85× terminado's", _relative("echo_flood_p99", 0.85)),
        Goal("Echo p99 during churn ≤ 0.1× terminado's", _relative("echo_churn_p99", 0.1)),
        Goal("Bulk rate ≥ 1.2× terminado's", _relative("bulk_rate", 1.2, at_most=False)),
        Goal("Bulk rate ≥ 0.9× the producer's own rate on a bare PTY", _versus_producer),
        Goal("Server CPU per 100 MB ≤ 0.6× terminado's", _relative("bulk_cpu", 0.6)),
        Goal("Slow reader: RSS growth ≤ 5 MB", _absolute("slow_rss", 5.0), "MB"),
        Goal("≤ 45 KB per idle console", _absolute("idle_memory", 45.0), "KB"),
        Goal(f"{closes} consoles closed in ≤ 1 s", _absolute("close_time", 1.0), "s"),
        Goal(f"No stall while closing them: echo p99 meanwhile ≤ {STALL_MS:.0f} ms",
             _absolute("close_echo_p99", STALL_MS), "ms"),
        Goal(f"{most} viewers: no line lost", _absolute(f"fanout{most}_lost", 0), "lines"),
        Goal(f"{most} viewers: p99 delivery ≤ 0.8× terminado's", _relative(f"fanout{most}_p99", 0.8)),
        Goal(f"{most} viewers: server CPU ≤ 0.7× terminado's", _relative(f"fanout{most}_cpu", 0.7)),
    ] + (_baseline_goals(most) if results.baseline else [])


# What the node's holder and the scrollback file may cost against the server that forked its programs itself.
BASELINE_MARGIN = 0.05


def _baseline_goals(most: int) -> list[Goal]:
    up, down = 1 + BASELINE_MARGIN, 1 - BASELINE_MARGIN
    return [Goal(f"{text} within {BASELINE_MARGIN:.0%} of the baseline's", _relative(key, limit, at_most, BASELINE))
            for text, key, limit, at_most in (
                ("Idle echo p50", "echo_idle_p50", up, True), ("Idle echo p99", "echo_idle_p99", up, True),
                ("Bulk rate", "bulk_rate", down, False),
                (f"{most} viewers: p99 delivery", f"fanout{most}_p99", up, True),
                ("Memory per idle console", "idle_memory", up, True))]


def goal_lines(results: Results) -> list[str]:
    lines = []
    for goal in goals(results):
        value, met = goal.check(results)
        if value is None:
            lines.append(f"| {goal.text} | – | not measured |")
        else:
            lines.append(f"| {goal.text} | {goal.shown(value)} | {'met' if met else '**not met**'} |")
    return ["| Target (ours) | measured | |", "|---|---:|---|", *lines]


METHODS = """\
Every server runs in its own process on 127.0.0.1; every client runs in other
processes, and a load (floods, churn, viewers) runs in a process apart from the one
that times echoes. The servers are measured in one run, in rounds that alternate
between them, so that noise from the machine falls on all three; memory figures come
from freshly started servers. CPU is user + system time (psutil) of the server process,
all its threads, and for ours of its embedded Redis and of the node's holder (the small
process that forks the consoles' programs and keeps their terminals) too; the shells it
runs are never counted. RSS likewise. MB is 10^6 bytes. The three servers start bash with the same
environment (an empty home, the same PATH, TERM and locale). Ours runs with
`--sandbox off`, as the peers have no sandbox.

- **Echo**: a console runs `cat >/dev/null`, so the terminal itself echoes and nothing
  else prints. One key is sent as `["stdin", key]` (raw text on the floor) and timed
  until its echo arrives; then the next, after a gap of 4–16 ms (Enter every 32 keys
  keeps the line short). One key in flight at a time means a stall shows as one slow
  key; a stall every half second (churn) still lands on about one key in forty, inside
  p99. *Idle*: nothing else runs. *Flooding*: two other consoles of the same server run
  `yes`, read at full speed by another client process. *Churn*: another client opens a
  console (to its first prompt) and closes the oldest twice a second, keeping four.
  {echo}
- **Bulk output**: `head -c {bulk_source} /dev/urandom | base64` (about {bulk_mb:.0f} MB)
  in a console, timed from Enter until a marker printed after it arrives; the rate is
  the producer's output size over that time. Server CPU is counted over the same span
  and scaled to 100 MB. For reference, in the same rounds: the producer alone (the same
  command to /dev/null), and the producer on a bare PTY that one process reads in a
  blocking loop (the most a PTY carries on this machine, whatever the server). Median
  of {bulk_rounds} rounds.
- **Slow reader**: a console runs `yes`; its one client reads {slow_rate:.0f} MB/s of it for
  {slow_seconds:.0f} s, pausing after each message as needed. The figure is the peak server
  RSS (sampled every 0.25 s) minus the RSS just before.
- **Spawn to first prompt**: from the create request (ours: `POST .../consoles/`, then
  the WebSocket; the peers: opening the WebSocket) until bash's prompt has arrived.
  Median of {spawns}.
- **Memory per idle console**: {idle} consoles opened after {warm_up} for warm-up, each with a
  WebSocket attached (terminado's consoles live only as long as theirs) and at its
  prompt; (RSS after − RSS before) ÷ {idle}.
- **Close many consoles**: the same servers, {closes} consoles open, all closed at once
  (ours: {closes} `DELETE` requests at the same time, any that fail sent again; terminado
  and the floor: their WebSockets closed, which hangs up the terminal), timed until the
  last close call returned and every process of those consoles was gone (exited and
  reaped). Meanwhile another console's echo is timed as above; a stall is an echo
  slower than {stall:.0f} ms, which a typist notices.
- **Fan-out**: one console prints `tag n $EPOCHREALTIME` every 50 ms ({lines} lines;
  `$EPOCHREALTIME` is read by bash as it writes the line); N viewers (ours: the owner's
  token attached N times; terminado: `SingleTermManager`; the floor: one shared PTY),
  spread over one to four client processes, note when each line arrives. Delivery is
  arrival minus the stamp; lost lines are those a viewer never got. CPU is the server's
  over the run divided by (N + 1 connections, counting the one that typed the command)
  × lines. Rounds per N: {fanout_rounds}. With 500 viewers the server and four client
  processes share two CPUs, so p99 there moves between runs more than other figures.

terminado never sets TCP_NODELAY on its WebSocket (the floor and sockjs-tornado do):
keys typed faster than their echoes return can find its echoes held by Nagle's
algorithm until the next key arrives. The one-key-at-a-time echo probe does not provoke
this, so the echo figures are the mechanisms' own speed.
"""


def _methods(results: Results) -> str:
    sizes = results.sizes
    return METHODS.format(
        echo=f"{sizes.echo_samples} keys per server and scenario, in {sizes.echo_rounds} rounds.",
        bulk_source=sizes.bulk_source_bytes, bulk_mb=sizes.bulk_output_bytes / 1e6,
        bulk_rounds=sizes.bulk_rounds, slow_rate=sizes.slow_rate / 1e6, slow_seconds=sizes.slow_seconds,
        spawns=sizes.spawns, idle=sizes.idle_consoles, closes=sizes.closes, lines=sizes.fanout_lines,
        stall=STALL_MS, fanout_rounds=sizes.fanout_rounds, warm_up=WARM_UP_CONSOLES)


def section(results: Results, machine: dict[str, str], quick: bool) -> str:
    date = time.strftime("%Y-%m-%d %H:%M %Z")
    baseline = ([f"Ours at baseline is `ide serve` from a checkout of {results.baseline}, with its own "
                 "virtualenv, on a data directory of its own, measured in the same rounds "
                 "(`--baseline-tree`).", ""] if results.baseline else [])
    parts = [
        SECTION, "",
        "Written by `bench/bench_consoles.py`" + (" --quick (reduced sizes: a smoke test, not figures "
                                                  "to quote)" if quick else "") + f" on {date}.",
        "",
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}); Python {machine['python']}, "
        f"Tornado {machine['tornado']}, terminado {machine['terminado']}.",
        "",
        "Ours is `ide serve`; terminado is its `TermSocket` with `UniqueTermManager` and "
        "`SingleTermManager`, untuned; the floor is bash on a PTY streamed raw over a Tornado "
        "WebSocket with nothing else (no JSON, no buffering): the speed of the bare mechanism.",
        "", *baseline, table(results), "", references(results), "", "### Targets", "", *goal_lines(results), "",
        "### How each figure is measured", "", _methods(results)]
    if results.notes:
        parts += ["### Notes from this run", "", *[f"- {note}" for note in results.notes], ""]
    return "\n".join(parts).rstrip() + "\n"


def _read_sections(path: Path) -> tuple[str, list[str]]:
    """The document's head (title and introduction) and its ``## `` sections, in order."""
    existing = path.read_text() if path.exists() else ""
    head, *sections = re.split(r"(?m)^(?=## )", existing)
    return (head if head.strip() else DOCUMENT_HEAD), sections


def _put_section(sections: list[str], heading: str, text: str, first: bool) -> list[str]:
    """``sections`` with the one under ``heading`` replaced by ``text`` (added first or last when none is)."""
    ours = [index for index, block in enumerate(sections) if block.startswith(heading + "\n")]
    if not ours:
        return [text, *sections] if first else [*sections, text]
    return [text if index == ours[0] else block for index, block in enumerate(sections) if index not in ours[1:]]


def _write_sections(path: Path, head: str, sections: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(block.strip("\n") + "\n" for block in [head, *sections]))


def replace_section(path: Path, heading: str, text: str) -> None:
    """Put ``text`` in ``path`` in place of the section under ``heading`` (at the end when there is none)."""
    head, sections = _read_sections(path)
    _write_sections(path, head, _put_section(sections, heading, text, first=False))


def write_document(path: Path, console_section: str) -> None:
    """Put ``console_section`` in ``path`` in place of the old one, keeping every other section.

    The ``## Sandbox`` section belongs to bench_sandbox.py's figures: kept
    as it is, or started with one line saying so when the file has none.
    """
    head, sections = _read_sections(path)
    sections = _put_section(sections, SECTION, console_section, first=True)
    if not any(text.startswith(SANDBOX_SECTION) for text in sections):
        sections.append(f"{SANDBOX_SECTION}\n\nThe cost of isolation, measured by `bench/bench_sandbox.py`.\n")
    _write_sections(path, head, sections)
