"""Our consoles against terminado (and the bare floor), measured in one interleaved run.

    .venv/bin/python bench/bench_consoles.py [--quick] [--baseline-tree PATH] [--output docs/performance.md]

Starts ``ide serve``, terminado and the floor (bench/peer_*.py), each in
its own process on 127.0.0.1, measures all three in rounds that alternate
between them, prints the table, and rewrites the consoles section of
docs/performance.md.  Everything it starts is stopped at the end, on
errors and on Ctrl-C too.  ``--quick`` runs reduced sizes in under two
minutes, as a smoke test.  ``--baseline-tree PATH`` adds a fourth server:
ours as the checkout at PATH has it (e.g. ``git worktree add PATH <commit>``
and ``scripts/setup-env test`` there), measured in the same rounds, with
each of our figures as a ratio to it.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.console_client import BASELINE, OURS  # noqa: E402
from bench.harness import Bench  # noqa: E402
from bench.phase_echo import measure_echo  # noqa: E402
from bench.phase_lifecycle import measure_idle_and_close, measure_spawn  # noqa: E402
from bench.phase_stream import measure_bulk, measure_fan_out, measure_slow_reader  # noqa: E402
from bench.report import Results, goal_lines, references, section, table, write_document  # noqa: E402
from bench.servers import REPO, SourceTree, machine  # noqa: E402
from bench.sizes import FULL, QUICK  # noqa: E402
from bench.workers import stop_on_sigterm  # noqa: E402

Phase = Callable[[Bench], None]
# Each group starts on freshly started servers: memory figures must not inherit
# another measurement's heap, and the last group shares one set of servers.
GROUPS: list[tuple[str, list[tuple[str, Phase]]]] = [
    ("memory per idle console, then closing many", [("idle + close", measure_idle_and_close)]),
    ("slow reader", [("slow reader", measure_slow_reader)]),
    ("latency and throughput", [("spawn", measure_spawn), ("echo", measure_echo),
                                ("bulk", measure_bulk), ("fan-out", measure_fan_out)]),
]


def run(bench: Bench) -> None:
    for group, phases in GROUPS:
        print(f"-- starting fresh servers for: {group}", flush=True)
        bench.fresh_servers()
        for name, phase in phases:
            started = time.monotonic()
            print(f"   {name} ...", end="", flush=True)
            phase(bench)
            print(f" {time.monotonic() - started:.0f} s", flush=True)


def _describe(tree: SourceTree) -> str:
    """The baseline as the report names it: its commit and subject."""
    described = subprocess.run(["git", "-C", str(tree.root), "log", "-1", "--format=%h %s"],
                               capture_output=True, text=True, check=False).stdout.strip()
    return f"`{described[:90]}`" if described else f"the tree at `{tree.root}`"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes, under two minutes: a smoke test")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "performance.md",
                        help="the document whose consoles section is rewritten")
    parser.add_argument("--baseline-tree", type=Path, default=None,
                        help="a checkout of another version of this repository to run as a fourth server")
    args = parser.parse_args()
    baseline = SourceTree.of(args.baseline_tree.resolve()) if args.baseline_tree is not None else None
    sizes = QUICK if args.quick else FULL
    results = Results(sizes, baseline=_describe(baseline) if baseline is not None else None)
    stop_on_sigterm()
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-consoles-") as work_dir:
        bench = Bench(Path(work_dir), sizes, results, baseline)
        try:
            run(bench)
        except BaseException:
            bench.close()
            print("\n".join(["", "What the servers logged:", *bench.server_set.problems]), file=sys.stderr)
            raise
        bench.close()
    for kind, name in ((OURS, "Our server"), (BASELINE, "Ours at the baseline")):
        results.notes += [f"{name} logged {problem.removeprefix(f'{kind}: ')}"
                          for problem in bench.server_set.problems if problem.startswith(f"{kind}:")][:10]
    load_after = os.getloadavg()
    results.notes.append(f"Load average (1 min) {load_before[0]:.1f} before the run and "
                         f"{load_after[0]:.1f} after; the run took {time.monotonic() - started:.0f} s.")
    print()
    print(table(results))
    print(references(results))
    print()
    print("\n".join(goal_lines(results)))
    for note in results.notes:
        print(f"- {note}")
    write_document(args.output, section(results, machine(), args.quick))
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
