"""What every measurement shares: the sizes of this run, the servers, the client processes."""
from __future__ import annotations

from pathlib import Path

from bench.console_client import KINDS
from bench.report import Results
from bench.servers import RunningServer, ServerSet, SourceTree
from bench.sizes import Sizes
from bench.workers import Workers


class Bench:
    """The servers and client processes of one run; :meth:`close` stops every one of them."""

    def __init__(self, work_dir: Path, sizes: Sizes, results: Results, baseline: SourceTree | None = None) -> None:
        self.sizes = sizes
        self.results = results
        self.server_set = ServerSet(work_dir, sizes.accounts, baseline)
        self.workers = Workers()

    @property
    def servers(self) -> dict[str, RunningServer]:
        return self.server_set.servers

    def fresh_servers(self) -> None:
        self.workers.close_all()
        self.server_set.start()

    def order(self, round_index: int) -> list[str]:
        """The servers in a different order each round, so none is always measured first."""
        kinds = [kind for kind in KINDS if kind in self.servers]
        shift = round_index % len(kinds)
        return kinds[shift:] + kinds[:shift]

    def close(self) -> None:
        self.workers.close_all()
        self.server_set.stop()
