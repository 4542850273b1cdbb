"""Fixtures for sandbox tests: one isolated sandbox per session, users made
and removed per test, and a check that nothing is left on the host."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from sandbox import DEFAULT_LIMITS, AccountLimits, Identity, Sandbox
from tests.sandbox.leftovers import TEST_UID_PREFIX, HostSnapshot, cgroup_base_for_tests
from tests.sandbox.ptys import run

MIB = 1024 * 1024
TEST_LIMITS = {
    **DEFAULT_LIMITS,
    # Small enough to hit quickly, for the fork bomb and the memory hog.
    "tiny": AccountLimits(cpu_shares=150, memory_bytes=64 * MIB, max_pids=64, daily_cpu_seconds=100),
}

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root (cgroups, uids, namespaces)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cpu_split: measures CPU shares with busy loops (about 5 s each)")


@pytest.fixture(scope="session")
def cgroup_base() -> str:
    return cgroup_base_for_tests()


@pytest.fixture(scope="session", autouse=True)
def host_left_clean(cgroup_base: str) -> Iterator[None]:
    """Every cgroup, Unix user and mount the tests create must be gone at the end."""
    snapshot = HostSnapshot.take()
    yield
    assert snapshot.leftovers(cgroup_base) == []


@pytest.fixture(scope="session")
def isolated(tmp_path_factory: pytest.TempPathFactory, cgroup_base: str) -> Iterator[Sandbox]:
    """A fully isolated sandbox (root only), closed at the end of the session."""
    if os.geteuid() != 0:
        pytest.skip("isolation needs root (cgroups, uids, namespaces)")
    data = tmp_path_factory.mktemp("isolated")
    sandbox = Sandbox(data / "home", isolation="full", cgroup_base=cgroup_base,
                      uid_prefix=TEST_UID_PREFIX, limits=TEST_LIMITS)
    yield sandbox
    run(sandbox.close())


class UserFactory(Protocol):
    def __call__(self, name: str, account_type: str = "free") -> Identity: ...


@pytest.fixture
def make_user(isolated: Sandbox) -> Iterator[UserFactory]:
    """Make test users in the isolated sandbox; all are removed after the test."""
    made: list[str] = []

    def make(name: str, account_type: str = "free") -> Identity:
        assert name.startswith("sbxt_"), "test usernames start with sbxt_ so cleanup is safe"
        made.append(name)
        return isolated.identity(name, account_type)

    yield make
    for name in made:
        run(isolated.remove_user(name, delete_home=True))


@pytest.fixture
def plain_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox(tmp_path / "home", isolation="off")
    yield sandbox
    run(sandbox.close())
