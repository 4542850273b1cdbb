"""What a user's process does between fork and exec, while still root.

Joining the cgroups has to happen here: a process placed from the parent
after the spawn returns has already had the chance to fork outside them.
Everything is computed before the fork, so the child only makes system
calls (the server has threads; after fork only the forking one exists).

The working directory is entered only after root is given up (here for an
unisolated child, by the namespace's init shell for an isolated one), so
the kernel checks the user's own permissions: a root ``chdir`` would let a
user start in any directory of the host, ``/proc/<pid>/cwd`` of someone
else's program included.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_CLONE_NEWNS = 0x00020000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000
_PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(None, use_errno=True)
_unshare = _libc.unshare
_unshare.argtypes = [ctypes.c_int]
_mount = _libc.mount
_mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_prctl = _libc.prctl
_setns = _libc.setns
_setns.argtypes = [ctypes.c_int, ctypes.c_int]
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _checked(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


LOG_TARGET = "/var/log"
WWW_TARGET = "/var/www"
RUN_TARGET = "/run/webapp"
"""Where a user's logs, WSGI files and web-app sockets appear inside their namespace."""
LIBRARY_TARGET = "/run/ide-library"
"""Where a directory of the server's own that programs need (the web-app server's
packages) appears, read-only, wherever the server is installed (under /tmp or /home
it would be hidden)."""
_MS_RDONLY = 0x1
_MS_REMOUNT = 0x20


@dataclass(frozen=True)
class PrivateMounts:
    """A user's view of the file system: only their own home, /tmp and web places.

    ``/home`` becomes an empty tmpfs holding just ``/home/<user>`` (their
    data directory bound there) and ``/tmp`` is their own directory.  Their
    own log, WSGI-file and socket directories appear at :data:`LOG_TARGET`,
    :data:`WWW_TARGET` and :data:`RUN_TARGET` (the host's ``/var/log`` is
    hidden); the mount points exist on the host (``Sandbox`` makes them).
    """

    home_source: Path
    home_target: str
    tmp_source: Path
    log_source: Path | None = None
    www_source: Path | None = None
    run_source: Path | None = None
    library_source: Path | None = None

    def describe(self) -> dict[str, str | None]:
        return {name: None if value is None else str(value) for name, value in asdict(self).items()}

    @classmethod
    def from_description(cls, description: dict[str, Any]) -> PrivateMounts:
        paths = {name: None if description.get(name) is None else Path(description[name])
                 for name in ("log_source", "www_source", "run_source", "library_source")}
        return cls(home_source=Path(description["home_source"]), home_target=str(description["home_target"]),
                   tmp_source=Path(description["tmp_source"]), **paths)

    def apply(self) -> None:
        """Enter a new mount namespace and build the view (child only)."""
        _checked(_unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        # Private first, so nothing below propagates back to the host.
        _checked(_mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "making / private")
        # Before /home and /tmp are covered: the sources may lie below either.
        for source, target in ((self.log_source, LOG_TARGET), (self.www_source, WWW_TARGET),
                               (self.run_source, RUN_TARGET)):
            if source is not None:
                _checked(_mount(bytes(source), target.encode(), None, _MS_BIND, None),
                         f"binding {source} on {target}")
        if self.library_source is not None:
            library = LIBRARY_TARGET.encode()
            _checked(_mount(bytes(self.library_source), library, None, _MS_BIND | _MS_REC, None),
                     f"binding {self.library_source} on {LIBRARY_TARGET}")
            _checked(_mount(None, library, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV,
                            None), f"making {LIBRARY_TARGET} read-only")
        _checked(_mount(b"tmpfs", b"/home", b"tmpfs", _MS_NOSUID | _MS_NODEV, b"mode=755,size=1m"),
                 "mounting a tmpfs on /home")
        os.mkdir(self.home_target, 0o755)
        _checked(_mount(bytes(self.home_source), self.home_target.encode(), None, _MS_BIND | _MS_REC,
                        None), f"binding {self.home_source} on {self.home_target}")
        _checked(_mount(bytes(self.tmp_source), b"/tmp", None, _MS_BIND, None),
                 f"binding {self.tmp_source} on /tmp")


def join_network(namespace: Path) -> None:
    """Enter the network namespace bound at ``namespace`` (child only, still root).

    The child opens it itself: ptyprocess closes every inherited descriptor
    before the setup runs.
    """
    try:
        fd = os.open(namespace, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise RuntimeError(f"the sandbox could not be set up: the network namespace {namespace}: "
                           f"{exc.strerror}") from None
    try:
        _checked(_setns(fd, _CLONE_NEWNET), "setns(CLONE_NEWNET)")
    except OSError as exc:
        raise RuntimeError(f"the sandbox could not be set up: {exc.strerror}") from None
    finally:
        os.close(fd)


Rlimit = tuple[int, int, int]
"""(resource.RLIMIT_*, soft, hard)"""


@dataclass(frozen=True)
class WorkingDirectory:
    """Where the program starts: ``host`` is entered, ``shown`` names it in errors.

    Failures are RuntimeErrors: ptyprocess re-raises an exception from the
    child by its built-in class name, and this one means "the setup refused".
    """

    host: str
    shown: str

    def enter(self) -> None:
        try:
            os.chdir(self.host)
        except (FileNotFoundError, NotADirectoryError):
            raise RuntimeError(f"working directory {self.shown} does not exist") from None
        except OSError as exc:
            raise RuntimeError(f"working directory {self.shown} cannot be entered: "
                                   f"{exc.strerror}") from None


class ChildSetup:
    """The ``preexec_fn`` of a spawn: cgroups, rlimits, niceness, network
    namespace, mounts, giving up root, then the working directory.

    ``run_as`` (uid, gid) makes the child that account for good before
    anything else happens as it; ``cwd`` is entered after that (None when
    the program's own wrapper enters it).
    """

    def __init__(self, *, cgroup_procs: Sequence[Path] = (), rlimits: Sequence[Rlimit] = (),
                 niceness: int = 0, mounts: PrivateMounts | None = None,
                 run_as: tuple[int, int] | None = None, cwd: WorkingDirectory | None = None,
                 network: Path | None = None) -> None:
        self._cgroup_procs = [bytes(p) for p in cgroup_procs]
        self._rlimits = list(rlimits)
        self._niceness = niceness
        self._mounts = mounts
        self._run_as = run_as
        self._cwd = cwd
        self._network = network

    def describe(self) -> dict[str, Any]:
        """The set-up as plain data, for the node's holder, which forks the child."""
        return {"cgroup_procs": [procs.decode() for procs in self._cgroup_procs],
                "rlimits": [list(limit) for limit in self._rlimits], "niceness": self._niceness,
                "mounts": self._mounts.describe() if self._mounts is not None else None,
                "run_as": list(self._run_as) if self._run_as is not None else None,
                "cwd": [self._cwd.host, self._cwd.shown] if self._cwd is not None else None,
                "network": str(self._network) if self._network is not None else None}

    @classmethod
    def from_description(cls, description: dict[str, Any]) -> ChildSetup:
        mounts, run_as, cwd, network = (description.get(name) for name in ("mounts", "run_as", "cwd", "network"))
        return cls(cgroup_procs=[Path(procs) for procs in description.get("cgroup_procs", [])],
                   rlimits=[(int(which), int(soft), int(hard))
                            for which, soft, hard in description.get("rlimits", [])],
                   niceness=int(description.get("niceness", 0)),
                   mounts=PrivateMounts.from_description(mounts) if mounts is not None else None,
                   run_as=(int(run_as[0]), int(run_as[1])) if run_as is not None else None,
                   cwd=WorkingDirectory(str(cwd[0]), str(cwd[1])) if cwd is not None else None,
                   network=Path(network) if network is not None else None)

    def __call__(self) -> None:
        # Python ignores SIGPIPE and that would survive exec: `yes | head -1`
        # must end with 141 as in any terminal.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        pid = str(os.getpid()).encode()
        for procs in self._cgroup_procs:
            try:
                fd = os.open(procs, os.O_WRONLY)
                try:
                    os.write(fd, pid)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise RuntimeError(f"the sandbox could not be set up: joining {procs.decode()}: "
                                   f"{exc.strerror}") from None
        for which, soft, hard in self._rlimits:
            resource.setrlimit(which, (soft, hard))
        if self._niceness:
            os.setpriority(os.PRIO_PROCESS, 0, self._niceness)
        if self._network is not None:
            join_network(self._network)
        if self._mounts is not None:
            try:
                self._mounts.apply()
            except OSError as exc:
                # Not an OSError for the parent: ptyprocess re-raises it by class, and a
                # FileNotFoundError would read as "command not found".
                raise RuntimeError(f"the sandbox could not be set up: {exc.strerror}") from None
        if self._run_as is not None:
            uid, gid = self._run_as
            os.setgroups([gid])
            os.setgid(gid)
            os.setuid(uid)  # as root this sets the real, effective and saved uid: no way back
            _checked(_prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        if self._cwd is not None:
            self._cwd.enter()
