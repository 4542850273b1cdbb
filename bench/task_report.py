"""The scheduled tasks benchmark's figures, its targets, and its section of docs/performance.md."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench.peer_cron import CronBurst
from bench.report import p50, p99
from bench.task_burst import COMMAND, ECHO_SECONDS, LEAD, Burst
from bench.task_idle import IdleWindow

START_TARGET = 10.0
ECHO_TARGET = 2.0
IDLE_TARGET = 0.01


@dataclass
class Figures:
    command: str
    bursts: list[Burst] = field(default_factory=list)
    cron: CronBurst | None = None
    cron_unavailable: str | None = None
    idle: tuple[IdleWindow, IdleWindow] | None = None
    leftovers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _once(burst: Burst) -> int:
    return burst.start_counts.get(1, 0)


def _burst_rows(burst: Burst) -> list[str]:
    idle99, busy99 = p99(burst.echo_idle), p99(burst.echo_burst)
    others = ", ".join(f"{logs} with {count}" for count, logs in sorted(burst.start_counts.items()) if count != 1)
    return [
        f"| {burst.label} | runs started exactly once | {_once(burst)} of {burst.tasks}"
        + (f" ({others})" if others else "") + " |",
        f"| | runs that failed (exit status ≠ 0) | {burst.failed} |",
        f"| | start delay p50 / p99 / max | {p50(burst.delays):.2f} / {p99(burst.delays):.2f} / "
        f"{max(burst.delays):.2f} s |",
        f"| | start delay from the log headers (whole seconds) | {min(burst.header_delays):.1f} to "
        f"{max(burst.header_delays):.1f} s |",
        f"| | minute to last run finished | {burst.span:.0f} s |",
        f"| | server CPU over the minute's runs (with Redis) | {burst.server_cpu:.2f} CPU s |",
        f"| | the machine's CPUs busy meanwhile (every process), and while echo was timed idle | "
        f"{burst.machine_busy * 100:.0f}%, {burst.machine_busy_idle * 100:.0f}% |",
        f"| | echo idle just before: p50 / p99 | {p50(burst.echo_idle):.2f} / {idle99:.2f} ms "
        f"({len(burst.echo_idle)} keys) |",
        f"| | echo during the runs: p50 / p99 | {p50(burst.echo_burst):.2f} / {busy99:.2f} ms "
        f"({len(burst.echo_burst)} keys) |",
        f"| | echo p99 during ÷ idle | {busy99 / idle99:.2f}× |",
    ]


def _targets(figures: Figures) -> list[str]:
    lines = ["| Target | run | measured | |", "|---|---|---:|---|"]
    for burst in figures.bursts:
        ratio = p99(burst.echo_burst) / p99(burst.echo_idle)
        lines += [
            f"| every run starts within {START_TARGET:.0f} s of its minute | {burst.label} | "
            f"max {max(burst.delays):.2f} s | {_met(max(burst.delays) <= START_TARGET)} |",
            f"| every run exactly once | {burst.label} | {_once(burst)} of {burst.tasks} | "
            f"{_met(_once(burst) == burst.tasks)} |",
            f"| echo p99 during the runs ≤ {ECHO_TARGET:.0f}× idle | {burst.label} | {ratio:.2f}× | "
            f"{_met(ratio <= ECHO_TARGET)} |"]
    if figures.idle is not None:
        extra = figures.idle[1].share_of_core - figures.idle[0].share_of_core
        lines.append(f"| scheduler CPU with {figures.idle[1].tasks:,} idle tasks ≤ 1% of a core | idle | "
                     f"{extra * 100:+.3f}% (total {figures.idle[1].share_of_core * 100:.3f}%) | "
                     f"{_met(figures.idle[1].share_of_core <= IDLE_TARGET)} |")
    return lines


def _idle_rows(idle: tuple[IdleWindow, IdleWindow]) -> list[str]:
    rows = ["| tasks | window | server + Redis CPU | share of a core | Redis commands served |",
            "|---:|---:|---:|---:|---|"]
    for window in idle:
        commands = ", ".join(f"{name} {calls}" for name, calls in sorted(window.redis_commands.items())) or "none"
        rows.append(f"| {window.tasks:,} | {window.seconds:.0f} s | {window.cpu:.3f} s | "
                    f"{window.share_of_core * 100:.3f}% | {commands} |")
    difference = idle[1].cpu - idle[0].cpu
    rows.append(f"| difference | | {difference:+.3f} s | {difference / idle[1].seconds * 100:+.3f}% | |")
    return rows


def _cron_lines(figures: Figures) -> list[str]:
    cron = figures.cron
    if cron is None:
        return [f"No peer ran beside ours for this figure: {figures.cron_unavailable}."]
    if not cron.delays:
        return [f"{cron.version} `crond -f`: none of the lines ran."]
    echo = ""
    if cron.echo_idle and cron.echo_burst:
        echo = (f" Meanwhile echo on our unisolated server, which had nothing else to do: p50 / p99 "
                f"{p50(cron.echo_burst):.2f} / {p99(cron.echo_burst):.2f} ms ({len(cron.echo_burst)} keys), "
                f"against {p50(cron.echo_idle):.2f} / {p99(cron.echo_idle):.2f} ms idle just before: "
                f"{p99(cron.echo_burst) / p99(cron.echo_idle):.2f}× (the machine's CPUs "
                f"{cron.machine_busy * 100:.0f}% busy, {cron.machine_busy_idle * 100:.0f}% while idle echo was timed).")
    return [
        f"**Peer**: the same {len(cron.delays)} commands as crontab lines of 10 throwaway Unix accounts "
        f"(50 each), run by {cron.version} `crond -f -c DIR` (its own spool directory, nothing of the "
        f"system's) at a real minute: {cron.runs} runs; start delay p50 / p99 / max "
        f"{p50(cron.delays):.2f} / {p99(cron.delays):.2f} / {max(cron.delays):.2f} s after the minute. "
        "crond has no sandbox and no record of runs, like the unisolated rows' programs but "
        "without a server around them, and no clock seam: its minute is the real one." + echo]


def section(figures: Figures, machine: dict[str, str]) -> str:
    parts = [
        "## Scheduled tasks", "",
        f"Written by `bench/bench_tasks.py` on {time.strftime('%Y-%m-%d %H:%M %Z')}.", "",
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}); Python {machine['python']}, "
        f"Tornado {machine['tornado']}.", "",
        "```sh", f".venv/bin/python {figures.command}", "```", "",
        "### 500 runs due in the same minute", "",
        "| run | measurement | value |", "|---|---|---|",
        *[row for burst in figures.bursts for row in _burst_rows(burst)], "",
        *_cron_lines(figures), "",
    ]
    if figures.idle is not None:
        parts += ["### The scheduler while nothing is due", "", *_idle_rows(figures.idle), ""]
    parts += ["### Targets", "", *_targets(figures), "", "### How it is measured", "", _methods(), ""]
    notes = list(figures.notes)
    if figures.leftovers:
        notes.append("Left on the host after the isolated run: " + "; ".join(figures.leftovers))
    if notes:
        parts += ["### Notes from this run", "", *[f"- {note}" for note in notes], ""]
    return "\n".join(parts).rstrip() + "\n"


def _methods() -> str:
    return f"""- **Runs due in one minute**: 10 web_developer accounts (made with `ide user add`) with
  50 tasks each (their limit), hourly at one minute D, put into the server's Redis with
  `tasks.store.TaskStore` (the same calls the API makes). Each runs `{COMMAND}`.
  The server runs with `--adjustable-clock`; the bench sets `ide:clock:offset` so that the
  scheduler's clock reads D − {LEAD:.0f} s and publishes on `ide:tasks` to wake it. A run's
  start delay is the stamp its command prints first (`$EPOCHREALTIME`, read by bash as it
  writes the line) minus the real instant the scheduler's clock read D; the header line
  its log gets before the program starts (`--- <time> UTC: started`) is checked against it,
  in whole seconds, so those delays read up to 1 s early. "Exactly once" counts, in each of
  the 500 logs, the `started` lines for that minute, read 3 s after the last run ended.
  Then the clock moves to D + 1 h − {LEAD:.0f} s and the same is measured again
  ("an hour later"). *Unisolated*: `--sandbox off --unsafe-no-isolation`, as the console
  bench runs ours (as root, every program then runs as one unprivileged account).
  *Isolated*: `--sandbox full` with a throwaway `--uid-prefix` and `--cgroup-base`: each
  run gets its user's Unix account, cgroups and namespaces, as in production; the first
  run also creates the 10 Unix accounts; accounts, groups and cgroups are removed after.
- **Echo**: the console bench's probe (`bench/typing_probe.py`): one console of another
  account runs `cat >/dev/null` and one key at a time is timed until its echo arrives,
  4–16 ms apart, from a client process of its own. *Idle*: {ECHO_SECONDS:.0f} s just before the
  clock moves. *During*: the keys sent from the instant the clock read D until the last
  run's footer (rounded up to the second).
- **Idle scheduler**: a fresh server (unisolated, real clock) settles for 20 s, then its CPU
  (user + system of the server process, all threads, and its embedded Redis; psutil) is
  read over a window with no tasks; then 10,000 tasks (200 owners × 50, put in Redis as
  above, daily at hours two or more hours ahead, so none is due within the hour) are
  inserted, the server settles 20 s more, and the same window is read again. Redis's
  `INFO commandstats` over each window (less the bench's own two INFO calls) shows what
  the server asked of it."""
