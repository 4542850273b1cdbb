"""The figures of ``bench_front.py``, its targets, and its section of docs/performance.md."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

MIB = 1 << 20


@dataclass
class Figures:
    seconds: float
    connections: int
    rounds: int
    machine: dict[str, str]
    nginx_version: str = ""
    before: str = ""
    """What the "before" rows ran (an earlier version's front), or empty without them."""
    app: dict[str, dict[str, object]] = field(default_factory=dict)
    static: dict[str, dict[str, object]] = field(default_factory=dict)
    cold_starts: list[float] = field(default_factory=list)
    rss_one: int = 0
    rss_many: int = 0
    apps: int = 0
    problems: list[str] = field(default_factory=list)
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)
    """CPU seconds of each process during each row ("app front": {"ide serve": …})."""
    load: list[float] = field(default_factory=list)
    """The machine's 1-minute load average after each throughput row (other work included)."""

    def per_app_mib(self) -> float:
        return (self.rss_many - self.rss_one) / max(1, self.apps - 1) / MIB

    def targets(self) -> list[tuple[str, str, bool]]:
        """(target, measured, met) for each."""
        rows = []
        app, static = self.app, self.static
        if {"front", "direct"} <= app.keys():
            rate = _f(app["front"], "rate") / _f(app["direct"], "rate")
            p99 = _f(app["front"], "p99_ms") / _f(app["direct"], "p99_ms")
            rows.append(("app: front's requests/s ≥ 0.7× direct", f"{rate:.2f}×", rate >= 0.7))
            rows.append(("app: front's p99 ≤ 2× direct", f"{p99:.2f}×", p99 <= 2.0))
        if {"front", "nginx"} <= static.keys():
            rate = _f(static["front"], "rate") / _f(static["nginx"], "rate")
            p99 = _f(static["front"], "p99_ms") / _f(static["nginx"], "p99_ms")
            rows.append(("static: front's requests/s ≥ 0.3× nginx", f"{rate:.2f}×", rate >= 0.3))
            rows.append(("static: front's p99 ≤ 3× nginx", f"{p99:.2f}×", p99 <= 3.0))
        if self.cold_starts:
            median = statistics.median(self.cold_starts)
            rows.append(("cold start of a Flask app, median ≤ 1 s", f"{median:.2f} s", median <= 1.0))
        if self.apps:
            per_app = self.per_app_mib()
            rows.append(("server memory per running app ≤ 1 MB", f"{per_app * MIB / 1e6:.2f} MB", per_app * MIB <= 1e6))
        return rows

    def all_met(self) -> bool:
        return all(met for _, _, met in self.targets())


def _f(figures: dict[str, object], key: str) -> float:
    value = figures[key]
    assert isinstance(value, (int, float))
    return float(value)


def _row(label: str, figures: dict[str, object], reference: dict[str, object] | None) -> str:
    rate, p50, p99 = _f(figures, "rate"), _f(figures, "p50_ms"), _f(figures, "p99_ms")
    ratio = (f"{rate / _f(reference, 'rate'):.2f}× | {p99 / _f(reference, 'p99_ms'):.2f}×"
             if reference is not None else "1 | 1")
    errors = int(_f(figures, "errors"))
    statuses = figures["statuses"]
    assert isinstance(statuses, dict)
    other = sum(count for status, count in statuses.items() if str(status) != "200")
    return (f"| {label} | {rate:.0f} | {p50:.2f} | {p99:.2f} | {ratio} | "
            f"{errors + other} |")


def _per_request(figures: Figures, row: str, process: str) -> float | None:
    group, name = row.split(" ", 1)
    results = figures.app if group == "app" else figures.static
    if row not in figures.cpu or name not in results:
        return None
    return figures.cpu[row][process] / _f(results[name], "requests") * 1e6


def _cause(figures: Figures) -> list[str]:
    """What bounds the front, from the CPU it spent per request."""
    front = _per_request(figures, "app front", "ide serve")
    app = _per_request(figures, "app direct", "gunicorn")
    proxy = _per_request(figures, "app nginx", "nginx")
    static = _per_request(figures, "static front", "ide serve")
    static_nginx = _per_request(figures, "static nginx", "nginx")
    if None in (front, app, proxy, static, static_nginx):
        return []
    assert front and app and proxy and static and static_nginx
    return [
        f"What bounds the front: it is one Python process, so one core at most, and it spent {front:.0f} µs "
        f"of CPU per proxied request (reading the visitor's request, a new connection to the app, which "
        f"gunicorn's sync worker closes after each answer, reading the answer, writing it on), against "
        f"{proxy:.0f} µs for nginx and {app:.0f} µs for the app's own gunicorn worker; a 20 KB static "
        f"file cost it {static:.0f} µs, nginx {static_nginx:.0f} µs. At those costs the front alone "
        f"tops out near {1e6 / front:.0f} proxied and {1e6 / static:.0f} static requests/s on a whole "
        f"core, and here it shares two cores with the app, the client and everything else running.",
        "",
    ]


def section(figures: Figures) -> str:
    m = figures.machine
    app, static = figures.app, figures.static
    lines = [
        "## Web apps behind the front",
        "",
        f"Written by `bench/bench_front.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}); Python {m['python']}, Tornado {m['tornado']}; "
        f"{figures.nginx_version}.",
        "",
        "```sh",
        (f"git archive {figures.before} | tar -x -C /tmp/before  # the earlier version, for its rows\n"
         if figures.before else "")
        + ".venv/bin/python bench/bench_front.py"
        + (f" --seconds {figures.seconds:g}" if figures.seconds != 20 else "")
        + (f" --connections {figures.connections}" if figures.connections != 50 else "")
        + (f" --before /tmp/before --before-label {figures.before}" if figures.before else ""),
        "```",
        "",
        f"{figures.connections} keep-alive clients, {figures.seconds:g} s per row in all, in rounds of "
        f"{figures.seconds / max(1, figures.rounds):g} s that take turns between the rows of a table "
        "(`bench/http_load.py`, one process; the same client for every row). The machine's 1-minute "
        f"load average after each round (everything running on it, on {m['cpus']} CPUs): "
        f"{', '.join(f'{value:.1f}' for value in figures.load)}.",
        "",
        "| what | requests/s | p50 ms | p99 ms | rate ÷ reference | p99 ÷ reference | errors or non-200 |",
        "|---|---|---|---|---|---|---|",
    ]
    if "direct" in app:
        lines.append(_row("hello app, direct on its Unix socket (reference)", app["direct"], None))
    if "front" in app:
        lines.append(_row("hello app through our front", app["front"], app.get("direct")))
    if "nginx" in app:
        lines.append(_row("hello app through nginx", app["nginx"], app.get("direct")))
    if "before" in app:
        lines.append(_row(f"hello app through the front of {figures.before}", app["before"], app.get("direct")))
    if "nginx" in static:
        lines.append(_row("20 KB static file, nginx (reference)", static["nginx"], None))
    if "front" in static:
        lines.append(_row("20 KB static file, our front", static["front"], static.get("nginx")))
    if "before" in static:
        lines.append(_row(f"20 KB static file, the front of {figures.before}", static["before"], static.get("nginx")))
    lines.append("")
    if figures.cpu:
        processes = ["ide serve", "nginx", "gunicorn"] + (["before"] if figures.before else [])
        names = {"ide serve": "`ide serve`", "before": f"`ide serve` of {figures.before}"}
        lines += ["CPU per request (user + system, µs) of each process while each row ran:", "",
                  "| row | " + " | ".join(names.get(process, process) for process in processes) + " |",
                  "|---|" + "---|" * len(processes)]
        for row, spent in figures.cpu.items():
            group, name = row.split(" ", 1)
            requests = _f((app if group == "app" else static)[name], "requests")
            lines.append(f"| {group}, {name} | " + " | ".join(
                f"{spent[process] / requests * 1e6:.0f}" for process in processes) + " |")
        lines.append("")
    lines += _cause(figures)
    if figures.cold_starts:
        ordered = sorted(figures.cold_starts)
        lines.append(f"Cold start of a stopped Flask app to its first answer through the front "
                     f"({len(ordered)} times): median {statistics.median(ordered):.2f} s, "
                     f"min {ordered[0]:.2f} s, max {ordered[-1]:.2f} s.")
        lines.append("")
    if figures.apps:
        lines.append(f"`ide serve`'s own RSS: {figures.rss_one / MIB:.1f} MiB with 1 running app, "
                     f"{figures.rss_many / MIB:.1f} MiB with {figures.apps}: "
                     f"{figures.per_app_mib() * 1024:.0f} KiB per app.")
        lines.append("")
    lines += ["| target | measured | met |", "|---|---|---|"]
    lines += [f"| {target} | {measured} | {'yes' if met else '**no**'} |"
              for target, measured, met in figures.targets()]
    lines.append("")
    if figures.problems:
        lines.append("Errors in the server's log during the run: " + "; ".join(figures.problems[:5]) + ".")
        lines.append("")
    lines += [
        "How each is measured: every row's client (`bench/http_load.py`) keeps its connections open "
        "and sends the next request as soon as the answer is complete; a server that closes the "
        "connection gets a new one, whose connect time counts in that request's latency. Each target has "
        "a 2 s warm-up first. nginx (one worker, no access log) proxies to the same gunicorn socket "
        "over pooled keep-alive connections and serves the same file with `sendfile`. A cold start is "
        "timed from the request sent to the front, right after the app was disabled (which stops it) "
        "and enabled again, until its answer. Memory is the RSS of the `ide serve` process alone "
        "(the apps run in their own processes, in their users' groups) after each app answered "
        "requests through the front.",
    ]
    return "\n".join(lines) + "\n"
