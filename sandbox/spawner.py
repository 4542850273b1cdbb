"""The one entry point through which users' programs start."""
from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from ptyprocess import PtyProcess

from sandbox.identity import Identity
from sandbox.process import SandboxedProcess


class SpawnError(Exception):
    """The program could not be started; the message is for the user."""


def _child_setup() -> None:
    # Python ignores SIGPIPE and that would survive exec: `yes | head -1`
    # must end with 141 as in any terminal.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)


class Sandbox:
    """Starts users' programs on PTYs.

    ``homes_dir`` holds one directory per user (``<data-dir>/home``).
    """

    def __init__(self, homes_dir: Path) -> None:
        self.homes_dir = homes_dir

    def identity(self, username: str, account_type: str) -> Identity:
        """The identity of a user, creating their home on first use."""
        home = self.homes_dir / username
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        return Identity(username=username, account_type=account_type, home=home)

    def host_path(self, identity: Identity, path: str) -> Path:
        """Map a path as the user sees it (``/home/<u>/…``) to the host."""
        visible = identity.visible_home
        if path == visible or path.startswith(visible + "/"):
            return identity.home / path[len(visible):].lstrip("/")
        return Path(path)

    def environment(self, identity: Identity, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(identity.home),
            "USER": identity.username,
            "LOGNAME": identity.username,
            "SHELL": "/bin/bash",
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
        }
        env.update(extra or {})
        return env

    async def spawn(self, identity: Identity, argv: Sequence[str], cwd: str,
                    env: Mapping[str, str] | None = None,
                    rows: int = 24, cols: int = 80) -> SandboxedProcess:
        """Start ``argv`` on a new PTY as a session leader in ``cwd``.

        ``cwd`` is a path as the user sees it.  Raises :class:`SpawnError`
        with a message a user can act on.
        """
        host_cwd = self.host_path(identity, cwd)
        if not host_cwd.is_dir():
            raise SpawnError(f"working directory {cwd} does not exist")
        try:
            pty = PtyProcess.spawn(list(argv), cwd=str(host_cwd),
                                   env=self.environment(identity, env),
                                   dimensions=(rows, cols), preexec_fn=_child_setup)
        except FileNotFoundError:
            raise SpawnError(f"{argv[0]}: command not found") from None
        except OSError as exc:
            raise SpawnError(f"could not start {argv[0]}: {exc.strerror or exc}") from None
        os.set_blocking(pty.fd, False)
        return SandboxedProcess(pty)
