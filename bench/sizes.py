"""How big each measurement is: the full run, and --quick for a smoke test."""
from __future__ import annotations

from dataclasses import dataclass

CONSOLES_PER_ACCOUNT = 20  # a hacker account's limit on our service
# Consoles opened before the memory baseline, so first-use costs (imports, pools) are not counted.
WARM_UP_CONSOLES = 5
# Our accounts by role, so that clients running at the same time never share a console limit;
# the first account (0) serves the measurements that run one console at a time.
PROBE_ACCOUNT, FLOOD_ACCOUNT, CHURN_ACCOUNT = 1, 2, 3


@dataclass(frozen=True)
class Sizes:
    echo_samples: int
    echo_rounds: int
    bulk_source_bytes: int
    bulk_rounds: int
    slow_rate: float
    slow_seconds: float
    spawns: int
    spawn_rounds: int
    idle_consoles: int
    closes: int
    viewer_counts: tuple[int, ...]
    fanout_lines: int
    fanout_rounds: int

    @property
    def bulk_output_bytes(self) -> int:
        """What ``base64`` prints for the source: 4 characters per 3 bytes, a newline every 76."""
        characters = 4 * -(-self.bulk_source_bytes // 3)
        return characters + -(-characters // 76)

    @property
    def accounts(self) -> int:
        """Enough for the close test (plus its echo console's account), and one per role."""
        return max(CHURN_ACCOUNT + 1, -(-self.closes // CONSOLES_PER_ACCOUNT) + 1)


FULL = Sizes(echo_samples=1000, echo_rounds=5, bulk_source_bytes=75_000_000, bulk_rounds=5,
             slow_rate=2e6, slow_seconds=15, spawns=20, spawn_rounds=4, idle_consoles=100, closes=200,
             viewer_counts=(10, 100, 500), fanout_lines=200, fanout_rounds=2)
QUICK = Sizes(echo_samples=100, echo_rounds=2, bulk_source_bytes=7_500_000, bulk_rounds=1,
              slow_rate=2e6, slow_seconds=5, spawns=6, spawn_rounds=2, idle_consoles=20, closes=40,
              viewer_counts=(50,), fanout_lines=60, fanout_rounds=1)
