"""Who a process runs for, and where their files live."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

USERNAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,29}")
"""Usernames as the rest of the service stores them (canonical, lower case)."""


def check_username(username: str) -> str:
    """``username`` if it is a canonical username, else ValueError.

    Usernames become paths, cgroup names and Unix accounts: anything else
    must never reach those.
    """
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValueError(f"invalid username {username!r}: use 1-30 of a-z, 0-9 and _, "
                         "starting with a letter, in lower case")
    return username


@dataclass(frozen=True)
class Identity:
    """A user as the sandbox sees them.

    ``home`` is the host path of the user's home directory; inside the user's
    processes it appears as ``visible_home`` when a mount namespace is in use.
    ``uid``/``gid`` are the user's own Unix account, or None when processes
    run as the server's user (no isolation).
    """

    username: str
    account_type: str
    home: Path
    uid: int | None = None
    gid: int | None = None

    @property
    def owner(self) -> tuple[int, int] | None:
        """(uid, gid) files in the home belong to; None without uid switching."""
        return (self.uid, self.gid) if self.uid is not None and self.gid is not None else None

    @property
    def visible_home(self) -> str:
        return f"/home/{self.username}"


class Places(NamedTuple):
    """A user's own directories, as one side names them (their programs, or the host).

    ``log`` appears as ``/var/log`` to the user, ``www`` as ``/var/www`` (WSGI
    files) and ``run`` holds their web apps' Unix sockets.
    """

    home: str
    log: str
    www: str
    run: str
