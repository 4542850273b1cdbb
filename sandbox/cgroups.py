"""Per-user cgroups under ``<own group>/<base>`` in every hierarchy.

Shape, in each hierarchy the sandbox uses::

    <own>/<base>/<user>              the user's processes, limits by account type
    <own>/<base>/_tarpit             CPU tarpit (v1: only the cpu hierarchy)
    <own>/<base>/_tarpit/<user>      a tarpitted user's processes
    <own>/<base>/_server             v2 only: the server, if it had to leave <own>

Names starting with ``_`` cannot be usernames, so they never collide.  Nothing
outside ``<own>/<base>`` is created or written, except that cgroup v2 needs
``<own>/cgroup.subtree_control`` to hand controllers down.

Not thread-safe per user: callers serialise the calls made for one user.
"""
from __future__ import annotations

import errno
import os
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sandbox.cgroup_files import CgroupError, CgroupFiles, V1Files, V2Files, move_pid, read_pids, write_value
from sandbox.cgroup_layout import CgroupLayout, Hierarchy
from sandbox.cpu_counter import CpuCounter
from sandbox.limits import AccountLimits

TARPIT_GROUP = "_tarpit"
SERVER_GROUP = "_server"
V2_CONTROLLERS = frozenset({"cpu", "memory", "pids"})
_MOVE_PASSES = 50


@dataclass(frozen=True)
class _Tree:
    """One hierarchy with the sandbox's base group in it."""

    hierarchy: Hierarchy
    base: Path
    controllers: frozenset[str]
    holds_tarpit: bool
    accounts: bool


def _check_base_name(base_name: str) -> PurePosixPath:
    base = PurePosixPath(base_name)
    if base.is_absolute() or not base.parts or any(p in ("", ".", "..") or p.startswith("_")
                                                    for p in base.parts):
        raise ValueError(f"cgroup base {base_name!r} must be a relative name such as 'ide' "
                         "(no '..', no parts starting with '_')")
    return base


def _rmdir(path: Path) -> bool:
    """Remove an empty group; False if it still has processes or children."""
    try:
        path.rmdir()
    except FileNotFoundError:
        return True
    except OSError as exc:
        if exc.errno in (errno.EBUSY, errno.ENOTEMPTY):
            return False
        raise CgroupError(f"cannot remove {path}: {exc.strerror or exc}") from None
    return True


class UserCgroups:
    """Creates, fills, limits, measures, kills and removes users' groups."""

    def __init__(self, layout: CgroupLayout, base_name: str, tarpit_shares: int) -> None:
        base = _check_base_name(base_name)
        self.version = layout.version
        self._files: CgroupFiles = V1Files() if layout.version == 1 else V2Files()
        self._tarpit_shares = tarpit_shares
        self._trees = tuple(self._make_tree(h, base) for h in layout.hierarchies)
        if not any(t.accounts for t in self._trees) or not any(t.holds_tarpit for t in self._trees):
            raise CgroupError("cgroups need CPU accounting and the cpu controller "
                              f"(found: {', '.join(sorted(layout.controllers)) or 'none'})")
        self._base_parts = len(base.parts)
        self._counters: dict[str, CpuCounter] = {}
        self._finished: set[str] = set()
        self._finished_lock = threading.Lock()  # the one piece shared across users
        self._applied: dict[Path, AccountLimits] = {}
        self._evacuated_server = False
        self._enabled_on_own: frozenset[str] = frozenset()

    def _make_tree(self, hierarchy: Hierarchy, base: PurePosixPath) -> _Tree:
        if self.version == 2:
            return _Tree(hierarchy, hierarchy.own / base, hierarchy.controllers & V2_CONTROLLERS,
                         holds_tarpit=True, accounts=True)
        return _Tree(hierarchy, hierarchy.own / base, hierarchy.controllers,
                     holds_tarpit="cpu" in hierarchy.controllers,
                     accounts="cpuacct" in hierarchy.controllers)

    @property
    def controllers(self) -> frozenset[str]:
        """The controllers whose limits are applied."""
        found: set[str] = set()
        for tree in self._trees:
            found |= tree.controllers
        return frozenset(found)

    # -- the base ---------------------------------------------------------

    def setup(self) -> None:
        """Create the base and the tarpit in every hierarchy."""
        for tree in self._trees:
            if tree.hierarchy.read_only:
                raise CgroupError(f"{tree.hierarchy.mount} is mounted read-only")
            try:
                tree.base.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CgroupError(f"cannot create {tree.base}: {exc.strerror or exc}") from None
            if self.version == 2:
                self._delegate(tree)
            if tree.holds_tarpit:
                tarpit = tree.base / TARPIT_GROUP
                tarpit.mkdir(exist_ok=True)
                self._files.make_tarpit(tarpit, self._tarpit_shares)
                if self.version == 2:
                    self._enable(tarpit, tree.controllers)

    def _delegate(self, tree: _Tree) -> None:
        """Hand the v2 controllers down from the server's own group to the base.

        A v2 group holding processes cannot pass controllers to children (the
        root excepted), so the server's processes move into ``<base>/_server``.
        """
        own = tree.hierarchy.own
        enabled = set((own / "cgroup.subtree_control").read_text().split())
        missing = tree.controllers - enabled
        if missing:
            if own != tree.hierarchy.mount and read_pids(own):
                server = tree.base / SERVER_GROUP
                server.mkdir(exist_ok=True)
                self._move_all(own, server, what="the server's processes")
                self._evacuated_server = True
            self._enable(own, missing)
            self._enabled_on_own = frozenset(missing)
        self._enable(tree.base, tree.controllers)

    @staticmethod
    def _enable(group: Path, controllers: Iterable[str]) -> None:
        wanted = " ".join(f"+{c}" for c in sorted(controllers))
        if wanted:
            write_value(group / "cgroup.subtree_control", wanted)

    def teardown(self, grace: float = 3.0) -> bool:
        """Remove the base where no user has processes left; True if all is gone.

        Processes killed just before (the server's consoles at shutdown) take
        a moment to leave their groups: wait up to ``grace`` seconds for them.
        Runs on a worker thread, so waiting here blocks no event loop.
        """
        deadline = time.monotonic() + grace
        remaining = list(self.existing_users())
        while remaining:
            remaining = [name for name in remaining if not self.remove_if_empty(name)]
            if not remaining or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        all_gone = True
        for tree in self._trees:
            if tree.holds_tarpit and not _rmdir(tree.base / TARPIT_GROUP):
                all_gone = False
                continue
            if self._evacuated_server:
                self._return_server(tree)
            for level in range(self._base_parts):
                group = tree.base.parents[level - 1] if level else tree.base
                if not _rmdir(group):
                    all_gone = False
                    break
        return all_gone

    def _return_server(self, tree: _Tree) -> None:
        # Undo _delegate: controllers off from the bottom up, then move back.
        own = tree.hierarchy.own
        write_value(tree.base / "cgroup.subtree_control",
                    " ".join(f"-{c}" for c in sorted(tree.controllers)))
        if self._enabled_on_own:
            write_value(own / "cgroup.subtree_control",
                        " ".join(f"-{c}" for c in sorted(self._enabled_on_own)))
        self._move_all(tree.base / SERVER_GROUP, own, what="the server's processes")
        _rmdir(tree.base / SERVER_GROUP)
        self._evacuated_server = False

    # -- one user's groups ------------------------------------------------

    def _groups(self, tree: _Tree, username: str) -> tuple[Path, ...]:
        if tree.holds_tarpit:
            return tree.base / username, tree.base / TARPIT_GROUP / username
        return (tree.base / username,)

    def join_targets(self, username: str, limits: AccountLimits, tarpitted: bool) -> list[Path]:
        """Create the user's groups as needed; the ``cgroup.procs`` files to join."""
        targets = []
        for tree in self._trees:
            group = tree.base / TARPIT_GROUP / username if tarpitted and tree.holds_tarpit \
                else tree.base / username
            self._ensure(tree, group, username, limits)
            targets.append(group / "cgroup.procs")
        return targets

    def _ensure(self, tree: _Tree, group: Path, username: str, limits: AccountLimits) -> None:
        try:
            self._mkdir(group)
        except FileExistsError:
            if self._applied.get(group) == limits:
                return
        else:
            if tree.accounts:
                self._counters.setdefault(username, CpuCounter()).start(str(group))
        self._files.apply_limits(group, limits, tree.controllers)
        self._applied[group] = limits

    def _mkdir(self, group: Path) -> None:
        """Make a group; the base is made again if someone removed it meanwhile."""
        try:
            group.mkdir()
        except FileNotFoundError:
            self.setup()
            group.mkdir()
        except FileExistsError:
            raise
        except OSError as exc:
            raise CgroupError(f"cannot create {group}: {exc.strerror or exc}") from None

    def existing_groups(self, username: str) -> list[Path]:
        return [g for tree in self._trees for g in self._groups(tree, username) if g.is_dir()]

    def pids(self, username: str) -> set[int]:
        """Every process the user has, in any of their groups."""
        found: set[int] = set()
        for tree in self._trees:
            for group in self._groups(tree, username):
                found.update(read_pids(group))
        return found

    def existing_users(self) -> set[str]:
        """Users who have groups now (in the accounting hierarchy)."""
        names: set[str] = set()
        for tree in self._trees:
            if tree.accounts:
                for parent in (tree.base, tree.base / TARPIT_GROUP):
                    try:
                        names.update(e.name for e in os.scandir(parent)
                                     if e.is_dir() and not e.name.startswith("_"))
                    except FileNotFoundError:
                        pass
        return names

    # -- tarpit -----------------------------------------------------------

    def _tarpit_tree(self) -> _Tree:
        return next(t for t in self._trees if t.holds_tarpit)

    def move_to_tarpit(self, username: str, limits: AccountLimits) -> None:
        """Move every process of the user into their tarpit group."""
        tree = self._tarpit_tree()
        target = tree.base / TARPIT_GROUP / username
        self._ensure(tree, target, username, limits)
        self._move_all(tree.base / username, target, what=f"{username}'s processes")

    def move_out_of_tarpit(self, username: str, limits: AccountLimits) -> None:
        """Move the user's processes back to their normal group."""
        tree = self._tarpit_tree()
        target = tree.base / username
        self._ensure(tree, target, username, limits)
        self._move_all(tree.base / TARPIT_GROUP / username, target, what=f"{username}'s processes")

    @staticmethod
    def _move_all(source: Path, target: Path, *, what: str) -> None:
        # A process forking while its siblings move can leave a child behind
        # in the source: repeat until the source stays empty.
        for _ in range(_MOVE_PASSES):
            pids = read_pids(source)
            if not pids:
                return
            for pid in pids:
                move_pid(pid, target)
        raise CgroupError(f"could not move {what} from {source} to {target}: "
                          f"processes kept appearing after {_MOVE_PASSES} passes")

    # -- killing and removing ----------------------------------------------

    def kill(self, username: str, timeout: float = 10.0) -> None:
        """SIGKILL every process of the user and wait until none is left.

        Blocks (up to ``timeout``): call it from a worker thread.  The group is
        frozen first where a freezer exists, so a fork bomb cannot outrun it.
        """
        frozen = self._freeze(username)
        try:
            for group in self.existing_groups(username):
                if (group / "cgroup.kill").exists():
                    write_value(group / "cgroup.kill", "1")
            for pid in self.pids(username):
                _sigkill(pid)
        finally:
            if frozen is not None:
                write_value(frozen / "freezer.state", "THAWED")
        deadline = time.monotonic() + timeout
        while pids := self.pids(username):
            if time.monotonic() > deadline:
                raise CgroupError(f"processes of {username} still running after SIGKILL: "
                                  f"{sorted(pids)[:10]}")
            for pid in pids:
                _sigkill(pid)
            time.sleep(0.01)

    def _freeze(self, username: str) -> Path | None:
        tree = next((t for t in self._trees if "freezer" in t.controllers), None)
        if tree is None or not (tree.base / username).is_dir():
            return None
        group = tree.base / username
        write_value(group / "freezer.state", "FROZEN")
        deadline = time.monotonic() + 2.0
        while (group / "freezer.state").read_text().strip() != "FROZEN":
            if time.monotonic() > deadline:
                break  # a task in uninterruptible sleep: kill what we can anyway
            time.sleep(0.002)
        return group

    def read_usage(self, username: str) -> float:
        """Read the user's CPU counters; their total CPU seconds since we started."""
        counter = self._counters.setdefault(username, CpuCounter())
        for tree in self._trees:
            if tree.accounts:
                for group in self._groups(tree, username):
                    usage = self._files.usage_ns(group)
                    if usage is not None:
                        counter.observe(str(group), usage)
        return counter.total_seconds

    def total_seconds(self, username: str) -> float:
        """The total from the last reading, without touching the files."""
        counter = self._counters.get(username)
        return counter.total_seconds if counter else 0.0

    def drain_finished(self) -> set[str]:
        """Users whose groups were removed since the last call (their totals are final)."""
        with self._finished_lock:
            finished, self._finished = self._finished, set()
        return finished

    def remove_if_empty(self, username: str) -> bool:
        """Remove the user's groups if none holds a process; True if gone.

        The counters are read first, so no CPU time is lost with the group.
        """
        if self.pids(username):
            return False
        self.read_usage(username)
        counter = self._counters.get(username)
        for tree in self._trees:
            for group in reversed(self._groups(tree, username)):
                if not _rmdir(group):
                    return False
                self._applied.pop(group, None)
                if counter is not None:
                    counter.forget(str(group))
        with self._finished_lock:
            self._finished.add(username)
        return True


def _sigkill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
