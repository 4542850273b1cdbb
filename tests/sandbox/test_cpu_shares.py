"""CPU shares by account type and the tarpit, measured with busy loops on one core.

Each test runs two busy loops for a few seconds; the share each user gets is
read from their CPU counters, so the result does not depend on wall-clock
timing, only on both loops competing for core 0 throughout.
"""
from __future__ import annotations

import time

import pytest

from sandbox import Identity, Sandbox, SandboxedProcess
from tests.sandbox.conftest import UserFactory, needs_root
from tests.sandbox.ptys import run, wait_exit, wait_for

pytestmark = [needs_root, pytest.mark.cpu_split]

BUSY_LOOP = ["taskset", "-c", "0", "bash", "-c", "while :; do :; done"]
MEASURE_CPU_SECONDS = 2.5
"""CPU time the pair must use between the two readings (about 2.5 s of wall time)."""
DEADLINE = 8.0


def _busy(sandbox: Sandbox, identity: Identity) -> SandboxedProcess:
    return run(sandbox.spawn(identity, BUSY_LOOP, identity.visible_home))


def _usage(sandbox: Sandbox, *names: str) -> list[float]:
    return [run(sandbox.cpu_usage_seconds(name)) for name in names]


def _wait_running(sandbox: Sandbox, *names: str) -> None:
    wait_for(lambda: all(u > 0.05 for u in _usage(sandbox, *names)), "the loops to run")


def _split(sandbox: Sandbox, first: str, second: str) -> tuple[float, float]:
    """CPU used by each user while both compete."""
    start = _usage(sandbox, first, second)
    deadline = time.monotonic() + DEADLINE
    while True:
        now = _usage(sandbox, first, second)
        used = [b - a for a, b in zip(start, now, strict=True)]
        if sum(used) >= MEASURE_CPU_SECONDS or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sum(used) > 0.5, f"the loops hardly ran: {used}"
    return used[0], used[1]


def _stop(*consoles: SandboxedProcess) -> None:
    for console in consoles:
        console.kill()
    for console in consoles:
        wait_exit(console)


def test_free_and_paying_users_split_a_core_30_70(isolated: Sandbox, make_user: UserFactory) -> None:
    free, paying = make_user("sbxt_free", "free"), make_user("sbxt_paying", "hacker")
    consoles = _busy(isolated, free), _busy(isolated, paying)
    try:
        _wait_running(isolated, "sbxt_free", "sbxt_paying")
        free_used, paying_used = _split(isolated, "sbxt_free", "sbxt_paying")
    finally:
        _stop(*consoles)
    share = 100 * free_used / (free_used + paying_used)
    assert abs(share - 30) <= 10, f"free user got {share:.1f}% of the core"


def test_tarpitted_user_gets_almost_nothing_next_to_a_paying_one(isolated: Sandbox,
                                                                 make_user: UserFactory) -> None:
    slow, paying = make_user("sbxt_slow", "free"), make_user("sbxt_paying2", "hacker")
    consoles = _busy(isolated, slow), _busy(isolated, paying)
    try:
        _wait_running(isolated, "sbxt_slow", "sbxt_paying2")
        run(isolated.enter_tarpit("sbxt_slow"))
        assert isolated.is_tarpitted("sbxt_slow")
        slow_used, paying_used = _split(isolated, "sbxt_slow", "sbxt_paying2")
    finally:
        _stop(*consoles)
        run(isolated.leave_tarpit("sbxt_slow"))
    share = 100 * slow_used / (slow_used + paying_used)
    assert share < 2, f"tarpitted user got {share:.2f}% of the core"


def _rate(sandbox: Sandbox, name: str, seconds: float) -> float:
    """Share of a core the user's processes got over ``seconds`` of wall time."""
    before, started = _usage(sandbox, name)[0], time.monotonic()
    wait_for(lambda: time.monotonic() - started >= seconds, f"{seconds} s to pass", step=0.1)
    return (_usage(sandbox, name)[0] - before) / (time.monotonic() - started)


def test_tarpitted_user_alone_gets_most_of_the_core(isolated: Sandbox, make_user: UserFactory) -> None:
    alone = make_user("sbxt_alone", "free")
    run(isolated.enter_tarpit("sbxt_alone"))
    console = _busy(isolated, alone)  # started while tarpitted: goes straight there
    try:
        _wait_running(isolated, "sbxt_alone")
        tarpitted = _rate(isolated, "sbxt_alone", 1.5)
        run(isolated.leave_tarpit("sbxt_alone"))
        normal = _rate(isolated, "sbxt_alone", 1.5)
    finally:
        _stop(console)
        run(isolated.leave_tarpit("sbxt_alone"))
    # Most of the core; or, if other work on this machine holds core 0, about
    # as much as the same loop gets outside the tarpit.
    assert tarpitted > 0.5 or tarpitted > 0.7 * normal, (
        f"alone in the tarpit: {100 * tarpitted:.0f}% of the core, outside it: {100 * normal:.0f}%")
