"""What each account type may use: CPU weight, memory, processes, daily CPU."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TARPIT = "tarpit"
"""The limits entry for the group that over-allowance users are moved to."""

_MIB = 1024 * 1024


@dataclass(frozen=True)
class AccountLimits:
    """Limits for one account type.

    ``cpu_shares`` uses the cgroup v1 scale (2–262144, default 1024) because
    that is what the account plans are written in; cgroup v2 maps it to
    ``cpu.weight``.  ``None`` means no limit.
    """

    cpu_shares: int
    memory_bytes: int | None
    max_pids: int | None
    daily_cpu_seconds: float | None

    def __post_init__(self) -> None:
        if not 2 <= self.cpu_shares <= 262144:
            raise ValueError(f"cpu_shares must be between 2 and 262144, not {self.cpu_shares}")
        if self.memory_bytes is not None and self.memory_bytes < 4 * _MIB:
            raise ValueError(f"memory_bytes must be at least 4 MiB, not {self.memory_bytes}")
        if self.max_pids is not None and self.max_pids < 2:
            raise ValueError(f"max_pids must be at least 2, not {self.max_pids}")
        if self.daily_cpu_seconds is not None and self.daily_cpu_seconds <= 0:
            raise ValueError(f"daily_cpu_seconds must be positive, not {self.daily_cpu_seconds}")


DEFAULT_LIMITS: Mapping[str, AccountLimits] = {
    "anon": AccountLimits(cpu_shares=150, memory_bytes=256 * _MIB, max_pids=64, daily_cpu_seconds=100),
    "free": AccountLimits(cpu_shares=300, memory_bytes=512 * _MIB, max_pids=128, daily_cpu_seconds=100),
    "hacker": AccountLimits(cpu_shares=700, memory_bytes=2048 * _MIB, max_pids=512,
                            daily_cpu_seconds=5000),
    "web_developer": AccountLimits(cpu_shares=700, memory_bytes=2048 * _MIB, max_pids=512,
                                   daily_cpu_seconds=20000),
    TARPIT: AccountLimits(cpu_shares=2, memory_bytes=None, max_pids=None, daily_cpu_seconds=None),
}


def cpu_weight_from_shares(shares: int) -> int:
    """cgroup v2 ``cpu.weight`` (1–10000) for a v1 ``cpu.shares`` value.

    Proportional on the kernel's scale (weight 100 is 1024 shares), so the
    ratios between account types survive: 300/700 becomes 29/68.  The tarpit's
    2 shares round up to weight 1; ``cpu.idle`` does better where it exists.
    """
    return max(1, min(10000, round(shares * 100 / 1024)))


def limits_for(limits: Mapping[str, AccountLimits], account_type: str) -> AccountLimits:
    """The limits of ``account_type``, with an error naming the known types."""
    try:
        return limits[account_type]
    except KeyError:
        known = ", ".join(sorted(t for t in limits if t != TARPIT))
        raise ValueError(f"unknown account type {account_type!r}; configured types: {known}") from None
