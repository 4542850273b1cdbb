"""Restarts: how soon a killed or stopped server has every console back, and what the holder costs.

    .venv/bin/python bench/bench_restarts.py [--consoles 200] [--rounds 3] [--output docs/performance.md]

One ``ide serve`` on 127.0.0.1 with ``--consoles`` bash consoles open (a
few printing); in each round it is sent SIGKILL or SIGTERM and started
again on the same data directory.  Measured: from the new process printing
"Listening on" until every console is listed running by the API and a
WebSocket attach gets its ``setup`` and the scrollback replay; start-up
time with 0 and with all the consoles to take back; the node's holder's
memory.  Prints the figures and rewrites the section ``## Restarts`` of
docs/performance.md.  Everything it starts is stopped at the end, on
errors and on Ctrl-C too.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import replace_section  # noqa: E402
from bench.restart_client import restart_client  # noqa: E402
from bench.restart_report import SECTION, Figures, Memory, Restart, section  # noqa: E402
from bench.servers import REPO, OurServer, machine, make_account, start_ours  # noqa: E402
from bench.sizes import CONSOLES_PER_ACCOUNT  # noqa: E402
from bench.workers import Worker, Workers, stop_on_sigterm  # noqa: E402

PRINTING = 5
OPEN_TIMEOUT = 600.0
CHECK_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0


def _memory(process: psutil.Process | None) -> Memory:
    if process is None:
        raise RuntimeError("the node's holder is not running")
    info = process.memory_full_info()
    return Memory(info.rss, info.pss, info.uss)


def _restart(server: OurServer, how: str) -> tuple[OurServer, float]:
    """Stop ``server`` by SIGKILL or SIGTERM and start it again; the new one and how long the old took to go."""
    sent = time.monotonic()
    if how == "kill":
        server.crash()
    else:
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(STOP_TIMEOUT)
    gone = time.monotonic() - sent
    started = start_ours(server.work_dir)
    started.accounts = server.accounts
    return started, gone


def _programs(server: OurServer) -> set[int]:
    """The consoles' programs (the holder's children; not what they start, e.g. the printers' ``sleep``)."""
    holder = server.holder()
    return {process.pid for process in holder.children()} if holder is not None else set()


def _checked(client: Worker, server: OurServer) -> tuple[list[float], float, float]:
    """Per console, when it was back; when every one was listed running; when every one had replayed.

    In seconds after the server printed "Listening on".
    """
    client.tell("check", server.port)
    times = client.expect("checked", CHECK_TIMEOUT)
    return ([at - server.listening for at in times["ready"]], times["listed"] - server.listening,
            times["attached"] - server.listening)


def run(work_dir: Path, consoles: int, rounds: int, figures: Figures) -> None:
    accounts = -(-consoles // CONSOLES_PER_ACCOUNT)
    server = start_ours(work_dir)
    workers = Workers()
    try:
        with ThreadPoolExecutor(4) as pool:
            server.accounts = tuple(pool.map(lambda n: make_account(work_dir, f"restart{n}"), range(accounts)))
        print(f"-- start-up with no console to adopt, {rounds} rounds", flush=True)
        for round_index in range(rounds):
            for how in ("kill", "term") if round_index % 2 == 0 else ("term", "kill"):
                server, _ = _restart(server, how)
                figures.empty_starts[how].append(server.listening - server.started)
        figures.holder["no console"] = _memory(server.holder())
        print(f"-- opening {consoles} consoles", flush=True)
        opening = time.monotonic()
        client = workers.start("restart-client", restart_client, server.target, consoles, PRINTING,
                               CONSOLES_PER_ACCOUNT)
        client.expect("opened", OPEN_TIMEOUT)
        print(f"   opened in {time.monotonic() - opening:.0f} s", flush=True)
        _checked(client, server)  # every console answers as it should before any restart
        programs = _programs(server)
        if len(programs) < consoles:
            raise RuntimeError(f"{len(programs)} console processes found under the holder, {consoles} expected")
        figures.holder[f"{consoles} consoles"] = _memory(server.holder())
        figures.server[f"{consoles} consoles, before the first restart"] = _memory(server.main)
        for round_index in range(rounds):
            for how in ("kill", "term") if round_index % 2 == 0 else ("term", "kill"):
                server, gone = _restart(server, how)
                ready, listed, attached = _checked(client, server)
                figures.restarts.append(Restart(how, gone, server.listening - server.started, ready, listed,
                                                attached, _programs(server) == programs))
                print(f"   {how}: start-up {server.listening - server.started:.2f} s, every console back "
                      f"{max(ready):.2f} s after \"Listening on\"", flush=True)
        figures.server[f"{consoles} consoles, after the last restart"] = _memory(server.main)
        figures.holder[f"{consoles} consoles, after the restarts"] = _memory(server.holder())
        client.tell("quit")
        client.result(60)
    finally:
        workers.close_all()
        server.stop()
        problems = server.problems()
        figures.notes += [f"The server logged {line}" for line in problems[:10]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consoles", type=int, default=200, help="consoles open while the server restarts")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each one SIGKILL and one SIGTERM")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "performance.md",
                        help="the document whose restarts section is rewritten")
    args = parser.parse_args()
    stop_on_sigterm()
    figures = Figures(args.consoles, PRINTING, " ".join(["bench/bench_restarts.py", *sys.argv[1:]]))
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-restarts-") as work_dir:
        run(Path(work_dir), args.consoles, args.rounds, figures)
    figures.notes.append(f"Load average (1 min) {load_before[0]:.1f} before the run and "
                         f"{os.getloadavg()[0]:.1f} after; the run took {time.monotonic() - started:.0f} s.")
    text = section(figures, machine(), -(-args.consoles // CONSOLES_PER_ACCOUNT))
    print(text)
    replace_section(args.output, SECTION, text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
