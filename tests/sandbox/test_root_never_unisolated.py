"""As root, users' programs never keep root: full isolation, a refusal, or one
unprivileged account for everyone when that was asked for."""
from __future__ import annotations

import pwd
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from sandbox import IsolationUnavailable, Sandbox, SpawnError
from sandbox.cgroup_layout import detect_layout
from sandbox.host import HostCapabilities, detect_host
from sandbox.unix_users import delete_unix_user
from tests.sandbox.conftest import needs_root
from tests.sandbox.leftovers import TEST_UID_PREFIX
from tests.sandbox.ptys import read_to_end, run, run_script, wait_exit
from tests.server import reachable_dir

pytestmark = needs_root

SHARED = TEST_UID_PREFIX + "all-users"


def host_without_setpriv() -> HostCapabilities:
    """This host as it is, except that ``setpriv`` is not installed."""
    real = detect_host()
    return HostCapabilities(is_root=True, user="root", layout=detect_layout(), cgroup_problem=None,
                            tools={**real.tools, "setpriv": None})


@pytest.fixture
def reachable_home() -> Iterator[Path]:
    data = reachable_dir("ide-sandbox-test-")
    try:
        yield data / "home"
        delete_unix_user(SHARED)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def test_auto_refuses_as_root_when_a_requirement_is_missing(tmp_path: Path, cgroup_base: str) -> None:
    with pytest.raises(IsolationUnavailable, match="missing programs: setpriv"):
        Sandbox(tmp_path / "home", isolation="auto", host=host_without_setpriv(), uid_prefix=TEST_UID_PREFIX)
    # A base group that cannot be made (its parent is a file) is a missing requirement too.
    with pytest.raises(IsolationUnavailable, match="cgroups unusable: cannot create .*cgroup.procs"):
        Sandbox(tmp_path / "home", isolation="auto", cgroup_base="cgroup.procs/ide",
                uid_prefix=TEST_UID_PREFIX)


def test_unisolated_programs_run_as_the_shared_account(reachable_home: Path) -> None:
    sandbox = Sandbox(reachable_home, isolation="auto", host=host_without_setpriv(),
                      uid_prefix=TEST_UID_PREFIX, shared_account=True)
    try:
        shared = pwd.getpwnam(SHARED)
        assert sandbox.status().summary == (
            f"Sandboxing is off: missing programs: setpriv; processes run as {SHARED} with rlimits only.")
        alice = sandbox.identity("alice", "free")
        assert (alice.uid, alice.gid) == (shared.pw_uid, shared.pw_gid)
        assert alice.home.stat().st_uid == shared.pw_uid
        status, output = run_script(sandbox, alice, "id -u; id -G; pwd; grep NoNewPrivs /proc/self/status; "
                                    "echo hi > note; ls $HOME")
        assert status == 0, output
        lines = output.split()
        assert lines[:2] == [str(shared.pw_uid), str(shared.pw_gid)]
        assert str(alice.home) in lines and "note" in lines and lines[lines.index("NoNewPrivs:") + 1] == "1"
        assert (alice.home / "note").stat().st_uid == shared.pw_uid
        # Looked up on the users' PATH, not the server's (root's may hold /root/... entries).
        assert all(not entry.startswith("/root") for entry in sandbox.program_search_path().split(":"))
        python = run(sandbox.spawn(alice, ["python3", "-c", "print(6 * 7)"], alice.visible_home))
        assert "42" in read_to_end(python) and wait_exit(python) == 0
    finally:
        run(sandbox.close())


def test_the_shared_account_enters_directories_as_itself(reachable_home: Path) -> None:
    sandbox = Sandbox(reachable_home, isolation="off", uid_prefix=TEST_UID_PREFIX, shared_account=True)
    try:
        bob = sandbox.identity("bob", "free")
        locked = bob.home / "locked"
        locked.mkdir(mode=0o700)  # root's, as a host (or a hard-linked-in tree) might leave it
        with pytest.raises(SpawnError, match="working directory /home/bob/locked cannot be entered: "
                                             "Permission denied"):
            run(sandbox.spawn(bob, ["pwd"], "/home/bob/locked"))
        with pytest.raises(SpawnError, match="working directory /home/bob/missing does not exist"):
            run(sandbox.spawn(bob, ["pwd"], "/home/bob/missing"))
        # The children that gave up are reaped at once, not left as zombies of the account.
        assert [child for child in psutil.Process().children() if child.uids().real == bob.uid] == []
    finally:
        run(sandbox.close())


def test_the_shared_account_needs_a_reachable_data_directory(tmp_path: Path) -> None:
    # pytest's temporary directories are private to root: the account could not reach a home there.
    try:
        with pytest.raises(IsolationUnavailable, match=f"programs would run as {SHARED}, who cannot reach"):
            Sandbox(tmp_path / "home", isolation="off", uid_prefix=TEST_UID_PREFIX, shared_account=True)
    finally:
        delete_unix_user(SHARED)


def test_check_report_says_a_root_server_would_refuse(tmp_path: Path) -> None:
    from sandbox.check import report
    text = report(tmp_path / "home", host=host_without_setpriv())
    assert text.splitlines()[-1].startswith("will use (isolation=auto): nothing; as root the server "
                                            "refuses to start without full isolation")
    assert subprocess.run(["id", "-u", SHARED], capture_output=True).returncode != 0
