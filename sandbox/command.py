"""Turning what the user asked to run into what the kernel is asked to run."""
from __future__ import annotations

import os
import posixpath
import shutil
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from sandbox.errors import SpawnError
from sandbox.identity import USERNAME_PATTERN

_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def find_program(program: str, search_path: str, host_file: Path | None) -> bool:
    """Whether ``program`` can be started: a path to an executable file, or
    a name found on ``search_path``.  ``host_file`` is where a path-like
    ``program`` lives on the host (it may differ from what the user sees)."""
    if "/" in program:
        target = host_file if host_file is not None else Path(program)
        return target.is_file() and os.access(target, os.X_OK)
    return shutil.which(program, path=search_path) is not None


def working_directory_in_a_home(cwd: str, homes_dir: Path) -> tuple[str, Path]:
    """``cwd`` normalised, and where it is on the host; SpawnError unless it
    lies in a home (``/home/<name>/…``).

    Only the name is mapped here: whose homes a caller may use is the
    caller's decision, and the directory is entered without root.
    """
    parts = posixpath.normpath(cwd).split("/")
    if (not cwd.startswith("/") or len(parts) < 3 or parts[1] != "home"
            or not USERNAME_PATTERN.fullmatch(parts[2]) or ".." in parts):
        raise SpawnError(f"working directory {cwd} is not inside a home (/home/<user>/...)")
    return "/".join(parts), homes_dir.joinpath(*parts[2:])


_INIT_SCRIPT = (
    'cd -- "$1" 2>/dev/null || { '
    'if [ -d "$1" ]; then echo "working directory $1 cannot be entered: permission denied" >&2; '
    'else echo "working directory $1 does not exist" >&2; fi; exit 1; }; '
    'shift; "$@"; exit $?')
_INIT_SHELL = ("/bin/sh", "-c", _INIT_SCRIPT, "sh")
"""The namespace's PID 1: enters the working directory as the user, runs the
program as its child and exits with its status.  ``unshare`` cannot pass on
a child's death by SIGKILL (it fails re-raising it and exits 1), but a shell
reports it as 137 like any other; the program also keeps normal signal
handling, which a PID 1 would lose, and orphans are reaped."""


def isolating_argv(argv: Sequence[str], *, cwd: str, unshare: str, setpriv: str, uid: int,
                   gid: int) -> list[str]:
    """``argv`` run as ``uid`` in a fresh PID namespace, started in ``cwd``.

    ``unshare --fork`` stays outside as the session leader holding the
    namespace; ``--kill-child`` and ``--pdeathsig`` (``setpriv`` clears the
    former when it changes uid) make sure the namespace dies with it, and the
    kernel then kills everything inside, daemons included.  ``cwd`` (as the
    user sees it) is entered by the init shell, after ``setpriv`` gave up
    root, so only a directory the user may enter can be the start.
    """
    return [unshare, "--pid", "--fork", "--kill-child", "--mount-proc", "--",
            setpriv, f"--reuid={uid}", f"--regid={gid}", "--init-groups", "--no-new-privs",
            "--bounding-set=-all", "--pdeathsig=KILL", "--", *_INIT_SHELL, cwd, *argv]


def world_searchable(directory: Path) -> bool:
    try:
        return all(os.stat(d).st_mode & stat.S_IXOTH for d in (directory, *directory.parents))
    except OSError:
        return False


def search_path_for_users(server_path: str) -> str:
    """The server's PATH without directories other users cannot reach.

    A root server's PATH often holds ``/root/...`` entries: left in, a user's
    ``python3`` would resolve there and fail with "Permission denied".
    """
    kept = [entry for entry in server_path.split(os.pathsep)
            if entry and Path(entry).is_absolute() and world_searchable(Path(entry))]
    return os.pathsep.join(dict.fromkeys(kept)) or _DEFAULT_PATH


def user_environment(username: str, home: str, isolated: bool,
                     extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a user's program starts with (``extra`` wins)."""
    server_path = os.environ.get("PATH", _DEFAULT_PATH)
    env = {
        "PATH": search_path_for_users(server_path) if isolated else server_path,
        "HOME": home,
        "USER": username,
        "LOGNAME": username,
        "SHELL": "/bin/bash",
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
    }
    env.update(extra or {})
    return env
