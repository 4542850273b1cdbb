"""Rotating a program's logs when it starts: ``x.log`` → ``x.log.1`` → ``x.log.2.gz`` → …

The logs live in the user's own directory, which their programs may fill
with links: every step works relative to the directory's descriptor, never
follows a symbolic link, and compresses only a plain file of the user's
with one name.  Blocking: the supervisor runs it on its own threads.
"""
from __future__ import annotations

import gzip
import os
import stat
from pathlib import Path

ROTATE_AT = 10 * 1024 * 1024
"""A log this large (bytes) is rotated at the program's next start."""
KEEP = 5
"""Rotated generations kept: ``.1`` and ``.2.gz`` … ``.5.gz``."""
_CHUNK = 1 << 20


def rotate(path: Path, owner: tuple[int, int] | None, rotate_at: int = ROTATE_AT, keep: int = KEEP) -> bool:
    """Rotate ``path`` if it has grown to ``rotate_at`` bytes; True when it did."""
    try:
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        current = _plain_file(directory, path.name, owner)
        if current is None or current.st_size < rotate_at:
            return False
        name = path.name
        for generation in range(keep - 1, 1, -1):
            _move(directory, f"{name}.{generation}.gz", f"{name}.{generation + 1}.gz")
        if _plain_file(directory, f"{name}.1", owner) is not None:
            _compress(directory, f"{name}.1", f"{name}.2.gz", owner)
        os.replace(name, f"{name}.1", src_dir_fd=directory, dst_dir_fd=directory)
        return True
    finally:
        os.close(directory)


def _plain_file(directory: int, name: str, owner: tuple[int, int] | None) -> os.stat_result | None:
    try:
        info = os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or (owner is not None and info.st_uid != owner[0]):
        return None
    return info


def _move(directory: int, source: str, target: str) -> None:
    try:
        os.replace(source, target, src_dir_fd=directory, dst_dir_fd=directory)
    except FileNotFoundError:
        pass


def _compress(directory: int, source: str, target: str, owner: tuple[int, int] | None) -> None:
    temporary = f".{target}.partial"
    try:
        os.unlink(temporary, dir_fd=directory)  # whatever the user left there, link or not
    except FileNotFoundError:
        pass
    reader = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
    try:
        writer = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                         dir_fd=directory)
        if owner is not None:
            os.fchown(writer, *owner)
        with os.fdopen(writer, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="") as packed:
            while chunk := os.read(reader, _CHUNK):
                packed.write(chunk)
    finally:
        os.close(reader)
    os.replace(temporary, target, src_dir_fd=directory, dst_dir_fd=directory)
    os.unlink(source, dir_fd=directory)
