"""What a sandbox does to all of a user's processes at once: kill them, remove
the user, read their CPU use, move them into and out of the tarpit.

A base class of :class:`sandbox.spawner.Sandbox`, which sets the attributes
declared here; split off so that each module keeps one job.
"""
from __future__ import annotations

import asyncio
import pwd
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from sandbox.cgroup_files import CgroupError
from sandbox.cgroups import UserCgroups
from sandbox.errors import SandboxError
from sandbox.identity import Identity, check_username
from sandbox.limits import AccountLimits, limits_for
from sandbox.network import NetworkIsolation
from sandbox.network.namespaces import existing as existing_namespaces
from sandbox.process_tree import TARPIT_NICENESS, ProcessTreeUsage
from sandbox.unix_users import delete_unix_user, unix_name

T = TypeVar("T")


class UserOperations:
    homes_dir: Path
    tmp_dir: Path
    log_dir: Path
    www_dir: Path
    run_dir: Path
    uid_prefix: str
    limits: dict[str, AccountLimits]
    _executor: ThreadPoolExecutor
    _guard: threading.Lock
    _user_locks: dict[str, threading.Lock]
    _identities: dict[tuple[str, str], Identity]
    _account_types: dict[str, str]
    _tarpitted: set[str]
    _live_consoles: dict[str, int]
    _trees: ProcessTreeUsage
    _cgroups: UserCgroups | None
    _network: NetworkIsolation | None

    def _own_directories(self, username: str) -> tuple[Path, ...]:
        """The user's home, logs, WSGI files and sockets on the host."""
        return tuple(base / username for base in (self.homes_dir, self.log_dir, self.www_dir, self.run_dir))

    def _live(self, username: str) -> int:
        with self._guard:
            return self._live_consoles.get(username, 0)

    # -- whole users ---------------------------------------------------------

    async def kill_user_processes(self, username: str) -> None:
        """Kill every process of the user, waiting (off the loop) until they are gone."""
        await self._run(self._kill_user_processes_blocking, username)

    def _kill_user_processes_blocking(self, username: str) -> None:
        with self._user_lock(username):
            if self._cgroups is None:
                self._trees.kill(username)
                return
            try:
                self._cgroups.kill(username)
            except CgroupError as exc:
                raise SandboxError(f"could not stop {username}'s processes: {exc}") from None

    async def remove_user(self, username: str, *, delete_home: bool = False) -> None:
        """Kill the user's processes, remove their groups, Unix account and /tmp.

        Their home is kept unless ``delete_home``.
        """
        check_username(username)
        await self.kill_user_processes(username)
        await self._run(self._remove_user_blocking, username, delete_home)

    def _remove_user_blocking(self, username: str, delete_home: bool) -> None:
        with self._user_lock(username):
            if self._cgroups is not None:
                self._cgroups.remove_if_empty(username)
                if self._network is not None:
                    self._network.remove(unix_name(self.uid_prefix, username))
                delete_unix_user(unix_name(self.uid_prefix, username))
                shutil.rmtree(self.tmp_dir / username, ignore_errors=True)
            if delete_home:
                for directory in self._own_directories(username):
                    shutil.rmtree(directory, ignore_errors=True)
            with self._guard:
                for key in [k for k in self._identities if k[0] == username]:
                    del self._identities[key]
                self._account_types.pop(username, None)
                self._tarpitted.discard(username)

    # -- CPU -------------------------------------------------------------------

    async def cpu_usage_seconds(self, username: str) -> float:
        """CPU seconds the user has used since this sandbox started (never decreases)."""
        return await self._run(self._usage_blocking, username)

    def _usage_blocking(self, username: str) -> float:
        with self._user_lock(username):
            if self._cgroups is None:
                return self._trees.usage_seconds(username)
            return self._cgroups.read_usage(username)

    async def active_cpu_usage(self) -> dict[str, float]:
        """:meth:`cpu_usage_seconds` of every user who has run anything, in one job.

        Also removes the groups of users whose consoles have all ended.
        """
        return await self._run(self._active_usage_blocking)

    def _active_usage_blocking(self) -> dict[str, float]:
        if self._cgroups is None:
            return self._trees.usage_of_everyone()
        totals = {}
        for name in self._cgroups.existing_users():
            with self._user_lock(name):
                totals[name] = self._cgroups.read_usage(name)
                if not self._live(name):
                    self._cgroups.remove_if_empty(name)
        for name in self._cgroups.drain_finished():
            totals[name] = self._cgroups.total_seconds(name)
        return totals

    async def enter_tarpit(self, username: str) -> None:
        """Move all the user's processes to the tarpit; new ones start there."""
        await self._run(self._set_tarpit_blocking, username, True)

    async def leave_tarpit(self, username: str) -> None:
        """Give the user their normal CPU share back."""
        await self._run(self._set_tarpit_blocking, username, False)

    def _set_tarpit_blocking(self, username: str, tarpitted: bool) -> None:
        with self._user_lock(username):
            if tarpitted:
                self._tarpitted.add(username)
            else:
                self._tarpitted.discard(username)
            if self._cgroups is None:
                self._trees.renice(username, TARPIT_NICENESS if tarpitted else 0)
                return
            account_type = self._account_types.get(username)
            if account_type is None:
                return  # nothing started since we began: nothing to move
            limits = limits_for(self.limits, account_type)
            try:
                if tarpitted:
                    self._cgroups.move_to_tarpit(username, limits)
                else:
                    self._cgroups.move_out_of_tarpit(username, limits)
            except CgroupError as exc:
                # Back to the old state, so that asking again retries the move.
                (self._tarpitted.discard if tarpitted else self._tarpitted.add)(username)
                raise SandboxError(f"could not move {username}'s processes: {exc}") from None

    async def change_account_type(self, username: str, account_type: str) -> None:
        """Apply what a new account type changes at once: the egress of the user's running
        programs (their next spawn gets the rest)."""
        limits_for(self.limits, account_type)
        if self._network is not None:
            await self._run(self._change_egress_blocking, username, account_type)

    def _change_egress_blocking(self, username: str, account_type: str) -> None:
        assert self._network is not None
        with self._user_lock(username):
            self._network.set_account_type(unix_name(self.uid_prefix, username), account_type)

    async def forget_network(self, username: str) -> None:
        """Remove the user's network namespace, left by programs of an earlier run that
        have all been stopped since (``ide serve --stop-all``)."""
        if self._network is not None:
            await self._run(self._forget_network_blocking, username)

    def _forget_network_blocking(self, username: str) -> None:
        assert self._network is not None
        name = unix_name(self.uid_prefix, username)
        if name not in existing_namespaces(name):
            return  # never made, or already gone
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            return  # no account, so never a namespace
        with self._user_lock(username):
            self._network.network_for(name, uid, "free")  # found again by its name
            self._network.remove(name)

    def is_tarpitted(self, username: str) -> bool:
        return username in self._tarpitted

    def tarpitted_users(self) -> set[str]:
        return set(self._tarpitted)

    def _user_lock(self, username: str) -> threading.Lock:
        with self._guard:
            return self._user_locks.setdefault(username, threading.Lock())

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
