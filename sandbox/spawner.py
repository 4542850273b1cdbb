"""The one entry point through which users' programs start."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sandbox.cgroup_files import CgroupError
from sandbox.cgroups import UserCgroups
from sandbox.child_setup import (
    LIBRARY_TARGET,
    LOG_TARGET,
    RUN_TARGET,
    WWW_TARGET,
    ChildSetup,
    PrivateMounts,
    WorkingDirectory,
)
from sandbox.command import find_program, isolating_argv, user_environment, working_directory_in_a_home
from sandbox.errors import IsolationUnavailable, NetworkIsolationUnavailable, SpawnError
from sandbox.held_programs import HeldPrograms
from sandbox.holder import HolderClient
from sandbox.host import HostCapabilities, current_user, detect_host
from sandbox.identity import Identity, Places, check_username
from sandbox.limits import DEFAULT_LIMITS, TARPIT, AccountLimits, limits_for
from sandbox.network import NetworkError, NetworkIsolation, NetworkSettings, start_network
from sandbox.ownership import chown_inside, hand_over
from sandbox.places import UserPlaces
from sandbox.process import SandboxedProcess
from sandbox.process_tree import TARPIT_NICENESS, ProcessTreeUsage
from sandbox.rlimits import fallback_rlimits, isolated_rlimits, processes_of_uid
from sandbox.status import ISOLATION_CHOICES, SandboxStatus, full_status, limited_status
from sandbox.unix_users import (
    MAX_UNIX_NAME,
    SHARED_ACCOUNT,
    UnixUserError,
    ensure_shared_account,
    ensure_unix_user,
    unix_name,
)

log = logging.getLogger(__name__)


_UID_PREFIX = re.compile(r"[a-z_][a-z0-9_-]*")
_WORKERS = 4


class Sandbox(UserPlaces, HeldPrograms):
    """Starts users' programs on PTYs, isolated as far as the host allows.

    ``homes_dir`` holds one directory per user (``<data-dir>/home``);
    ``tmp_dir`` (default ``<data-dir>/tmp``) one private ``/tmp`` per user;
    beside them ``log/``, ``www/`` and ``run/`` hold each user's
    ``/var/log``, ``/var/www`` and web-app socket directory, and ``holder/``
    (unless ``holder_dir`` says where) the node's holder.
    ``isolation`` is ``"off"`` (plain processes, for tests and development),
    ``"rlimits"``, ``"full"`` (own uid, cgroups, namespaces, or fail) or
    ``"auto"`` (full when running as root on a capable kernel, else rlimits).
    With ``network``, full isolation also gives each user their own network
    namespace behind the server's firewall (or fails, like the rest of it).

    As root, programs must never keep root.  ``"auto"`` then means full
    isolation or an :class:`IsolationUnavailable` naming what is missing,
    unless ``shared_account``: then unisolated programs (any mode short of
    full) run as the unprivileged account ``<uid_prefix>all-users``, which
    owns every home.  ``"off"`` or ``"rlimits"`` as root without
    ``shared_account`` keep root: only for tests that run a sandbox inside
    their own process; ``ide serve`` never makes one.

    Blocking work runs on the sandbox's own worker threads, never the caller's
    event loop.
    """

    def __init__(self, homes_dir: Path, *, isolation: str = "off", cgroup_base: str | None = None,
                 uid_prefix: str = "ide-", limits: Mapping[str, AccountLimits] | None = None,
                 tmp_dir: Path | None = None, host: HostCapabilities | None = None,
                 shared_account: bool = False, network: NetworkSettings | None = None,
                 library: Path | None = None, holder_dir: Path | None = None) -> None:
        if isolation not in ISOLATION_CHOICES:
            raise ValueError(f"isolation must be one of {', '.join(ISOLATION_CHOICES)}, not {isolation!r}")
        if not _UID_PREFIX.fullmatch(uid_prefix) or len(uid_prefix) > MAX_UNIX_NAME - 10:
            raise ValueError(f"uid_prefix {uid_prefix!r} must be up to {MAX_UNIX_NAME - 10} characters "
                             "of a-z, 0-9, _ and -, not starting with a digit or -")
        # Absolute: the child binds these after it has changed into "/".
        self.homes_dir = Path(homes_dir).absolute()
        self.tmp_dir = Path(tmp_dir).absolute() if tmp_dir is not None else self.homes_dir.parent / "tmp"
        self.log_dir, self.www_dir, self.run_dir = (self.homes_dir.parent / name for name in ("log", "www", "run"))
        self.uid_prefix = uid_prefix
        # A directory of the server's that isolated programs see read-only at LIBRARY_TARGET.
        self.library = Path(library).resolve() if library is not None else None
        self.limits: dict[str, AccountLimits] = dict(DEFAULT_LIMITS if limits is None else limits)
        self.limits.setdefault(TARPIT, DEFAULT_LIMITS[TARPIT])
        self._executor = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="sandbox")
        # The parent of every program started here, which outlives this process (sandbox/holder/).
        self.holder = HolderClient(Path(holder_dir) if holder_dir is not None else self.homes_dir.parent / "holder")
        self._releases: set[Future[None]] = set()
        self._guard = threading.Lock()
        self._user_locks: dict[str, threading.Lock] = {}
        self._identities: dict[tuple[str, str], Identity] = {}
        self._account_types: dict[str, str] = {}
        self._tarpitted: set[str] = set()
        self._live_consoles: dict[str, int] = {}
        self._trees = ProcessTreeUsage()
        self._cgroups: UserCgroups | None = None
        self._tools: dict[str, str | None] = {}
        self._shared: tuple[int, int] | None = None
        self._network: NetworkIsolation | None = None
        self._status = self._choose_isolation(isolation, cgroup_base or "ide", host, shared_account, network)

    def _choose_isolation(self, isolation: str, cgroup_base: str, host: HostCapabilities | None,
                          shared_account: bool, network: NetworkSettings | None) -> SandboxStatus:
        if isolation in ("off", "rlimits"):
            if shared_account and os.geteuid() == 0:
                return self._use_shared_account(isolation, ())
            return limited_status(isolation, current_user())
        host = host or detect_host()
        problems = host.full_isolation_problems
        if not problems and host.layout is not None:
            try:
                cgroups = UserCgroups(host.layout, cgroup_base, self.limits[TARPIT].cpu_shares)
                cgroups.setup()
                self._prepare_directories()
                self._make_mount_points()
            except (CgroupError, OSError) as exc:
                problems = [f"cgroups unusable: {exc}"]
            else:
                try:
                    self._network = start_network(network, self.uid_prefix, cgroup_base) if network else None
                except NetworkIsolationUnavailable:
                    cgroups.teardown()
                    raise
                self._cgroups, self._tools = cgroups, host.tools
                return full_status(isolation, host.user, cgroups.version, cgroups.controllers,
                                   self._network.summary if self._network else None)
        if isolation == "full" or (host.is_root and not shared_account):
            raise IsolationUnavailable("full isolation is not possible here: " + "; ".join(problems)
                                       + " (run `ide sandbox check` for details)")
        if host.is_root:
            return self._use_shared_account(isolation, problems)
        return limited_status(isolation, host.user, problems)

    def _use_shared_account(self, isolation: str, problems: Sequence[str]) -> SandboxStatus:
        """Run every unisolated program as ``<uid_prefix>all-users`` (root only)."""
        self._prepare_directories()
        name = self.uid_prefix + SHARED_ACCOUNT
        self._shared = ensure_shared_account(name, self.homes_dir)
        return limited_status(isolation, name, problems)

    def _prepare_directories(self) -> None:
        # 0711: users may reach their own home by its host path, never list others.
        for directory in (self.homes_dir, self.tmp_dir, self.log_dir, self.www_dir, self.run_dir):
            directory.mkdir(parents=True, exist_ok=True)
            os.chmod(directory, 0o711)

    @staticmethod
    def _make_mount_points() -> None:
        # Empty directories the namespaces bind users' own ones onto.
        for target in (LOG_TARGET, WWW_TARGET, RUN_TARGET, LIBRARY_TARGET):
            os.makedirs(target, mode=0o755, exist_ok=True)

    @property
    def isolated(self) -> bool:
        """True when users run as their own uid in cgroups and namespaces."""
        return self._cgroups is not None

    @property
    def network(self) -> NetworkIsolation | None:
        """Users' network namespaces and the server's firewall, when users have them."""
        return self._network

    @property
    def _drops_root(self) -> bool:
        return self._cgroups is not None or self._shared is not None

    def status(self) -> SandboxStatus:
        """What isolation is in use, with a sentence saying so."""
        return self._status

    # -- users and their files ---------------------------------------------

    def identity(self, username: str, account_type: str) -> Identity:
        """The identity of a user, creating their home (and Unix account) on first use.

        The first call for a user in an isolated sandbox runs ``useradd``
        (about 10 ms, once per user); later calls are answered from memory.
        """
        key = (username, account_type)
        with self._guard:
            known = self._identities.get(key)
        if known is not None:
            return known
        check_username(username)
        limits_for(self.limits, account_type)
        home = self.homes_dir / username
        if self._shared is not None:
            uid, gid = self._shared
            for directory in self._own_directories(username):
                hand_over(directory, uid, gid)
            identity = Identity(username=username, account_type=account_type, home=home, uid=uid, gid=gid)
        elif self._cgroups is None:
            for directory in self._own_directories(username):
                directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            identity = Identity(username=username, account_type=account_type, home=home)
        else:
            try:
                uid, gid = ensure_unix_user(unix_name(self.uid_prefix, username), home=f"/home/{username}")
            except UnixUserError as exc:
                raise SpawnError(f"could not create the Unix account for {username}: {exc}") from None
            for directory in (*self._own_directories(username), self.tmp_dir / username):
                hand_over(directory, uid, gid)
            identity = Identity(username=username, account_type=account_type, home=home, uid=uid, gid=gid)
        with self._guard:
            self._identities[key] = identity
            self._account_types[username] = account_type
        return identity

    def places(self, identity: Identity) -> Places:
        """Where the user's programs find their places: as named when isolated, else on the host."""
        return self.visible_places(identity) if self.isolated else self.host_places(identity)

    def chown_to(self, identity: Identity, path: Path) -> None:
        """Make a file the server wrote inside the user's home theirs.

        A no-op without uid switching.  Never follows symlinks, and refuses
        paths outside the home.
        """
        if identity.uid is not None and identity.gid is not None:
            chown_inside(identity.home, path, identity.uid, identity.gid)

    def program_search_path(self) -> str:
        """The PATH users' programs get: where to look for console kinds."""
        return user_environment("-", "/", self._drops_root)["PATH"]

    def environment(self, identity: Identity, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """What the user's programs start with; HOME is where they see their home."""
        home = identity.visible_home if self.isolated else str(identity.home)
        proxy = self._network.proxy_environment() if self._network is not None else {}
        return user_environment(identity.username, home, self._drops_root, {**proxy, **(extra or {})})

    # -- spawning ------------------------------------------------------------

    async def spawn(self, identity: Identity, argv: Sequence[str], cwd: str,
                    env: Mapping[str, str] | None = None,
                    rows: int = 24, cols: int = 80, program_id: str | None = None,
                    meta: Mapping[str, str] | None = None) -> SandboxedProcess:
        """Start ``argv`` on a new PTY as a session leader in ``cwd``.

        ``cwd`` (and a path in ``argv[0]``) are paths as the user sees them;
        ``cwd`` must be in a home, and is entered with the program's own
        identity (never as root).  The node's holder forks it and stays its
        parent; ``program_id`` names it there (a console's id), so a server
        that starts again finds it, with ``meta``.  Raises
        :class:`SpawnError` with a message a user can act on.
        """
        if not argv:
            raise SpawnError("nothing to run: the command is empty")
        return await self._run(self._spawn_blocking, identity, list(argv), cwd,
                               self.environment(identity, env), rows, cols, program_id or os.urandom(8).hex(),
                               dict(meta or {}))

    def _spawn_blocking(self, identity: Identity, argv: list[str], cwd: str, env: dict[str, str],
                        rows: int, cols: int, program_id: str, meta: dict[str, str]) -> SandboxedProcess:
        with self.starting(identity, argv, cwd, env) as (wrapped, setup):
            pid, master = self.start_held(identity, program_id, "pty", wrapped, env, setup, argv[0],
                                          rows=rows, cols=cols, meta=meta)
        os.set_blocking(master, False)
        return SandboxedProcess(program_id, pid, master, self, on_reaped=self.reaped_callback(identity))

    @contextlib.contextmanager
    def starting(self, identity: Identity, argv: list[str], cwd: str,
                 env: dict[str, str]) -> Iterator[tuple[list[str], ChildSetup]]:
        """The argv and child set-up that run ``argv`` isolated as ``identity``.

        The one construction every kind of start shares (PTY or not): the
        caller starts the child inside the ``with`` (the user's lock is held,
        so their cgroups cannot be removed meanwhile), then calls
        :meth:`started`.  Blocking: call off the event loop.
        """
        username = identity.username
        limits = limits_for(self.limits, identity.account_type)
        visible_cwd, host_cwd = working_directory_in_a_home(cwd, self.homes_dir)
        host_program = self.host_path(identity, argv[0]) if "/" in argv[0] else None
        if not find_program(argv[0], env["PATH"], host_program):
            raise SpawnError(f"{argv[0]}: command not found")
        with self._user_lock(username):
            if self._cgroups is not None:
                yield self._isolated_plan(identity, argv, visible_cwd, limits)
                return
            # The child would look the program up on the server's PATH.
            program = str(host_program) if host_program is not None else shutil.which(
                argv[0], path=env["PATH"]) or argv[0]
            uid = self._shared[0] if self._shared is not None else os.geteuid()
            rlimits = (fallback_rlimits(limits, processes_of_uid(uid))
                       if self._status.mode == "rlimits" else [])
            niceness = TARPIT_NICENESS if username in self._tarpitted else 0
            yield [program, *argv[1:]], ChildSetup(rlimits=rlimits, niceness=niceness, run_as=self._shared,
                                                   cwd=WorkingDirectory(str(host_cwd), visible_cwd))

    def _isolated_plan(self, identity: Identity, argv: list[str], cwd: str,
                       limits: AccountLimits) -> tuple[list[str], ChildSetup]:
        setup = self._isolated_setup(identity, limits)
        assert identity.uid is not None and identity.gid is not None
        wrapped = isolating_argv(argv, cwd=cwd, unshare=str(self._tools["unshare"]),
                                 setpriv=str(self._tools["setpriv"]), uid=identity.uid, gid=identity.gid)
        return wrapped, setup

    def _isolated_setup(self, identity: Identity, limits: AccountLimits) -> ChildSetup:
        """What every isolated child does before it runs the user's program (caller holds the
        user's lock): cgroups, rlimits, the user's network namespace, private mounts."""
        assert self._cgroups is not None and identity.uid is not None
        name = identity.username
        try:
            procs = self._cgroups.join_targets(identity.username, limits,
                                               identity.username in self._tarpitted)
            network = (self._network.network_for(unix_name(self.uid_prefix, identity.username),
                                                 identity.uid, identity.account_type).path
                       if self._network is not None else None)
        except (CgroupError, NetworkError) as exc:
            raise SpawnError(f"could not set up the sandbox of {identity.username}: {exc}") from None
        return ChildSetup(
            cgroup_procs=procs, rlimits=isolated_rlimits(limits, self._cgroups.controllers), network=network,
            mounts=PrivateMounts(home_source=identity.home, home_target=identity.visible_home,
                                 tmp_source=self.tmp_dir / name, log_source=self.log_dir / name,
                                 www_source=self.www_dir / name, run_source=self.run_dir / name,
                                 library_source=self.library))

    # -- plumbing --------------------------------------------------------------

    async def close(self) -> None:
        """Remove the sandbox's empty groups and stop its worker threads.

        The holder exits if it keeps no program; otherwise it stays, with
        them, for the next server of this node.
        """
        await self._released()
        await self._run(self.holder.close, True)
        if self._cgroups is not None:
            all_gone = await self._run(self._cgroups.teardown)
            if not all_gone:
                log.warning("sandbox cgroups left in place: some users still have processes")
            if self._network is not None:
                busy = {unix_name(self.uid_prefix, name) for name in self._cgroups.existing_users()}
                if not await self._run(self._network.close, busy):
                    log.warning("network namespaces left in place: some users still have processes")
        self._executor.shutdown(wait=False)
