"""One Unix account per user, made and removed through the system's own tools."""
from __future__ import annotations

import hashlib
import pwd
import subprocess
import threading
import time
from pathlib import Path

from sandbox.command import world_searchable
from sandbox.errors import IsolationUnavailable, SandboxError

MAX_UNIX_NAME = 32
"""useradd refuses longer names on this platform."""
SHARED_ACCOUNT = "all-users"
"""After the uid prefix: the one account unisolated programs run as when the
server is root.  A username cannot contain '-', so no user's own account
(``unix_name``) can ever be this one."""

_ALREADY_EXISTS = 9
_LOCK_BUSY = (1, 10)  # cannot lock /etc/passwd or /etc/group: another tool holds it
_RETRIES = 20

_lock = threading.Lock()


class UnixUserError(SandboxError):
    """Creating or removing a Unix account failed; the message says how."""


def unix_name(prefix: str, username: str) -> str:
    """The Unix account name for ``username``, at most 32 characters.

    Names too long for the prefix are cut and given a hash suffix; the ``-``
    in it cannot occur in a username, so a cut name never equals a whole one.
    """
    name = prefix + username
    if len(name) <= MAX_UNIX_NAME:
        return name
    digest = hashlib.sha256(username.encode()).hexdigest()[:8]
    return f"{prefix}{username[:MAX_UNIX_NAME - len(prefix) - 9]}-{digest}"


def lookup(name: str) -> tuple[int, int] | None:
    """(uid, gid) of an existing account, or None."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def ensure_unix_user(name: str, home: str) -> tuple[int, int]:
    """Create the system account ``name`` (with its own group) unless it exists.

    Blocks for the few milliseconds ``useradd`` takes, once per user.
    """
    found = lookup(name)
    if found:
        return found
    with _lock:
        for _ in range(_RETRIES):
            result = _run(["useradd", "--system", "--no-create-home", "--user-group",
                           "--shell", "/usr/sbin/nologin", "--home-dir", home, name])
            if result.returncode in (0, _ALREADY_EXISTS):
                break
            if result.returncode not in _LOCK_BUSY:
                raise UnixUserError(f"useradd {name} failed: {result.stderr.strip()}")
            time.sleep(0.05)  # another node or tool holds the lock
        else:
            raise UnixUserError(f"useradd {name}: /etc/passwd stayed locked: {result.stderr.strip()}")
    found = lookup(name)
    if found is None:  # e.g. a leftover group of that name made useradd give up
        raise UnixUserError(f"useradd {name} did not create the account: {result.stderr.strip()}")
    return found


def delete_unix_user(name: str) -> None:
    """Remove the account and its group; nothing to do if it does not exist."""
    if lookup(name) is None:
        return
    with _lock:
        for _ in range(_RETRIES):
            result = _run(["userdel", name])
            if result.returncode == 0 or lookup(name) is None:
                return
            if result.returncode not in _LOCK_BUSY:
                raise UnixUserError(f"userdel {name} failed: {result.stderr.strip()}")
            time.sleep(0.05)
    raise UnixUserError(f"userdel {name}: /etc/passwd stayed locked: {result.stderr.strip()}")


def ensure_shared_account(name: str, homes_dir: Path) -> tuple[int, int]:
    """(uid, gid) of the account all unisolated programs run as, made if needed.

    It reaches the homes by their host paths, so every directory above
    ``homes_dir`` must let others search it.
    """
    try:
        found = ensure_unix_user(name, home=str(homes_dir))
    except UnixUserError as exc:
        raise IsolationUnavailable(f"cannot make the account {name} that unisolated programs "
                                   f"run as: {exc}") from None
    if not world_searchable(homes_dir):
        raise IsolationUnavailable(
            f"programs would run as {name}, who cannot reach {homes_dir}: a directory above it "
            "lacks search permission for others (chmod o+x it, or move the data directory)")
    return found
