"""Giving files to their user without following the user's symlinks.

The server runs as root and users control the contents of their homes: a
plain ``chown`` of ``home/link/file`` would follow a symlink the user made
to ``/etc`` and hand them a system file.  Every step here is taken relative
to a directory fd, refusing symlinks.
"""
from __future__ import annotations

import os
import posixpath
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def chown_inside(home: Path, path: Path, uid: int, gid: int) -> None:
    """Give ``path``, which must lie inside ``home``, to ``uid``/``gid``."""
    normal = Path(posixpath.normpath(path))
    try:
        relative = normal.relative_to(home)
    except ValueError:
        raise ValueError(f"{path} is outside the user's home {home}") from None
    fd = os.open(home, _DIR_FLAGS)
    try:
        for part in relative.parts[:-1]:
            next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        if relative.parts:
            os.chown(relative.parts[-1], uid, gid, dir_fd=fd, follow_symlinks=False)
        else:
            os.fchown(fd, uid, gid)
    finally:
        os.close(fd)


def chown_tree(top: Path, uid: int, gid: int) -> None:
    """Give ``top`` and everything below it to ``uid``/``gid`` (symlinks themselves)."""
    os.chown(top, uid, gid, follow_symlinks=False)
    for _, dirs, files, dir_fd in os.fwalk(top, follow_symlinks=False):
        for name in dirs + files:
            os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)


def hand_over(directory: Path, uid: int, gid: int) -> None:
    """Make ``directory`` exist, private (0700) and wholly owned by ``uid``.

    Walks the tree only when the top is not theirs yet: new, or made before
    isolation was on.
    """
    directory.mkdir(exist_ok=True, mode=0o700)
    if directory.stat().st_uid != uid:
        chown_tree(directory, uid, gid)
    os.chmod(directory, 0o700)
