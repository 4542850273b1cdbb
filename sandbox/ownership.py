"""Giving files to their user without following the user's symlinks.

The server runs as root and users control the contents of their homes: a
plain ``chown`` of ``home/link/file`` would follow a symlink the user made
to ``/etc`` and hand them a system file.  Every step here is taken relative
to a directory fd, refusing symlinks.

A file with more than one name is never given away either: its other names
may lie outside the home (a hard link to a system file), and a chown acts
on the file, not on the name.
"""
from __future__ import annotations

import os
import posixpath
import stat
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
            _chown_entry(relative.parts[-1], fd, uid, gid)
        else:
            os.fchown(fd, uid, gid)
    finally:
        os.close(fd)


def _chown_entry(name: str, dir_fd: int, uid: int, gid: int) -> None:
    """Give one entry (a symlink itself) unless it is a file with other names."""
    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
        return
    os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)


def chown_tree(top: Path, uid: int, gid: int) -> None:
    """Give ``top`` and everything below it to ``uid``/``gid`` (symlinks themselves,
    files with more than one name kept as they are)."""
    os.chown(top, uid, gid, follow_symlinks=False)
    for _, dirs, files, dir_fd in os.fwalk(top, follow_symlinks=False):
        for name in dirs + files:
            try:
                _chown_entry(name, dir_fd, uid, gid)
            except FileNotFoundError:
                pass  # removed by the user's program meanwhile


def hand_over(directory: Path, uid: int, gid: int) -> None:
    """Make ``directory`` exist, private (0700) and wholly owned by ``uid``.

    Walks the tree only when the top is not theirs yet: new, or made before
    isolation was on.
    """
    directory.mkdir(exist_ok=True, mode=0o700)
    if directory.stat().st_uid != uid:
        chown_tree(directory, uid, gid)
    os.chmod(directory, 0o700)
