"""Keeping an always-on task's log bounded while the program keeps writing to it.

The program holds its log open for appending, so the log is rotated by
copy-and-truncate: its content goes to ``<log>.1`` (replacing the previous
one) and the log is truncated in place; the program's next write lands at
the new end.  A few lines written between the copy and the truncation can
be lost, the usual price of this method, against restarting the program.
Both files are opened the guarded way (no link followed, only a plain file
of the user's), since the directory is the user's own.
"""
from __future__ import annotations

import os
from pathlib import Path

from sandbox import Identity, SpawnError
from sandbox.background import open_log

ROTATE_AT = 10 * 1024 * 1024
"""Bytes a log may reach before it is rotated."""
_CHUNK = 1024 * 1024


def rotate_if_large(path: Path, identity: Identity, limit: int = ROTATE_AT) -> bool:
    """Rotate ``path`` when it is over ``limit`` bytes; True when it did (blocking)."""
    try:
        if path.lstat().st_size <= limit:
            return False
        source = open_log(path, identity.owner)
    except (OSError, SpawnError):
        return False
    try:
        reading = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        os.close(source)
        return False
    try:
        same = os.fstat(reading)
        checked = os.fstat(source)
        if (same.st_dev, same.st_ino) != (checked.st_dev, checked.st_ino):
            return False  # replaced between the two opens
        old = path.with_name(path.name + ".1")
        try:
            old.unlink()
        except FileNotFoundError:
            pass
        try:
            target = open_log(old, identity.owner)
        except SpawnError:
            return False
        try:
            # Up to the size seen now: a program writing as fast as it can must not keep the copy going.
            offset, end = 0, same.st_size
            while offset < end and (chunk := os.pread(reading, min(_CHUNK, end - offset), offset)):
                os.write(target, chunk)
                offset += len(chunk)
        finally:
            os.close(target)
        os.ftruncate(source, 0)
        return True
    finally:
        os.close(reading)
        os.close(source)
