"""Blocking file operations inside a home that never follow a symlink.

Every function walks from the home directory down with ``O_NOFOLLOW`` and
then acts relative to the parent's directory fd.  Callers pass paths that
``PathResolver.real`` already resolved and checked, so a symlink met on the
way means the tree changed in between (a user's program racing the server,
which runs as root): that is refused rather than followed.  Run these in
worker threads, never on the event loop.
"""
from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ide.files.errors import BadPath, FilesError, PathExists, PathForbidden, PathNotFound, TooLarge, WrongKind
from ide.files.paths import HomePath

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
NEW_FILE_MODE = 0o644
NEW_DIR_MODE = 0o755


def translate(error: OSError, path: HomePath) -> FilesError:
    """The user-facing error for an OSError met while working on ``path``."""
    where = path.visible
    if error.errno == errno.ENOENT:
        return PathNotFound(f"No such file or directory: {where}")
    if error.errno == errno.ENOTDIR:
        return WrongKind(f"{where}: a part of this path is a file, not a directory.")
    if error.errno == errno.EISDIR:
        return WrongKind(f"{where} is a directory.")
    if error.errno == errno.ELOOP:
        return PathForbidden(f"{where} changed while it was being opened (a symbolic link appeared); "
                             "try again.")
    if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
        return PathExists(f"{where} already exists.")
    if error.errno == errno.ENAMETOOLONG:
        return BadPath(f"{where}: the name is too long.")
    if error.errno == errno.EINVAL:
        return BadPath(f"{where}: a directory cannot be moved into itself.")
    if error.errno == errno.ENOSPC:
        return TooLarge("The disk is full; the file was not saved.")
    return FilesError(f"{where}: {error.strerror or error}.")


def directory_fd(path: HomePath, create: bool = False, created: list[HomePath] | None = None) -> int:
    """A directory fd for ``path`` (the caller closes it); missing directories
    are made when ``create``, and appended to ``created`` so the caller can
    give them to the user."""
    try:
        fd = os.open(path.home, _DIR_FLAGS)
    except OSError as error:
        raise translate(error, path) from None
    try:
        for depth, part in enumerate(path.parts, start=1):
            try:
                next_fd = _open_child_directory(fd, part, create)
            except OSError as error:
                raise translate(error, path.at(path.parts[:depth])) from None
            if next_fd < 0:
                next_fd = ~next_fd
                if created is not None:
                    created.append(path.at(path.parts[:depth]))
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def open_directory(path: HomePath, create: bool = False,
                   created: list[HomePath] | None = None) -> Iterator[int]:
    """``directory_fd`` as a context manager that closes the fd."""
    fd = directory_fd(path, create, created)
    try:
        yield fd
    finally:
        os.close(fd)


def _open_child_directory(parent_fd: int, name: str, create: bool) -> int:
    """The child's fd, or its bitwise complement when this call made the directory.

    O_NOFOLLOW|O_DIRECTORY on a symlink fails with ENOTDIR, as for a file:
    a symlink is reported as ELOOP so it is told apart from a plain file.
    """
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except NotADirectoryError:
        found = lstat_in(parent_fd, name)
        if found is not None and stat.S_ISLNK(found.st_mode):
            raise OSError(errno.ELOOP, "a symbolic link is in the way", name) from None
        raise
    except FileNotFoundError:
        if not create:
            raise
    try:
        os.mkdir(name, NEW_DIR_MODE, dir_fd=parent_fd)
    except FileExistsError:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    return ~os.open(name, _DIR_FLAGS, dir_fd=parent_fd)


def lstat_in(dir_fd: int, name: str) -> os.stat_result | None:
    """The entry's own status (a symlink is not followed), or None if absent."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def status(path: HomePath) -> os.stat_result:
    """The status of ``path`` (a resolved path: a symlink here is refused)."""
    if path.is_home:
        with open_directory(path) as fd:
            return os.fstat(fd)
    with open_directory(path.parent) as fd:
        found = lstat_in(fd, path.name)
    if found is None:
        raise PathNotFound(f"No such file or directory: {path.visible}")
    if stat.S_ISLNK(found.st_mode):
        raise translate(OSError(errno.ELOOP, "symlink"), path)
    return found


def open_file(path: HomePath, owner_uid: int | None) -> tuple[int, os.stat_result]:
    """A read-only fd for a regular file and its status; the caller closes the fd.

    ``owner_uid`` is the uid the home's owner runs as (None without uid
    switching).  The server reads as root, so the kernel's permission checks
    say nothing here; the file must belong to that uid instead, which is
    what the user's own programs could read (an owner may always chmod).
    That refuses a hard link to someone else's file however it got into
    the home, and needs no rule on the link count: every name of a file
    has the one owner.
    """
    if path.is_home:
        raise WrongKind(f"{path.visible} is a directory.")
    with open_directory(path.parent) as dir_fd:
        try:
            fd = os.open(path.name, _READ_FLAGS, dir_fd=dir_fd)
        except OSError as error:
            raise translate(error, path) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise WrongKind(f"{path.visible} is a directory.")
        raise WrongKind(f"{path.visible} is not a regular file.")
    if owner_uid is not None and info.st_uid != owner_uid:
        os.close(fd)
        raise not_owned(path)
    os.set_blocking(fd, True)
    return fd, info


def not_owned(path: HomePath) -> PathForbidden:
    return PathForbidden(f"{path.visible} belongs to another account, not to {path.owner}; "
                         "it cannot be opened or shared here.")


def read_prefix(fd: int, limit: int) -> bytes:
    """Up to ``limit`` bytes from the start of an open file."""
    pieces: list[bytes] = []
    remaining = limit
    while remaining > 0:
        piece = os.pread(fd, min(remaining, 1 << 20), limit - remaining)
        if not piece:
            break
        pieces.append(piece)
        remaining -= len(piece)
    return b"".join(pieces)


def read_file(path: HomePath, limit: int, owner_uid: int | None) -> tuple[bytes, os.stat_result]:
    """The whole content of a file of at most ``limit`` bytes, else TooLarge."""
    fd, info = open_file(path, owner_uid)
    try:
        if info.st_size > limit:
            raise TooLarge(f"{path.visible} is {info.st_size} bytes; over the {limit} byte limit.")
        data = read_prefix(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise TooLarge(f"{path.visible} grew past the {limit} byte limit while being read.")
    return data, info


@dataclass(frozen=True)
class DirectoryEntry:
    """One name in a directory listing; symlinks report what they point to when inside the home."""

    name: str
    is_directory: bool
    size: int
    modified: float


def list_directory(path: HomePath, home_real: str) -> list[DirectoryEntry]:
    """The entries of a directory, directories first, then by name."""
    entries: list[DirectoryEntry] = []
    with open_directory(path) as fd:
        directory_real = os.path.join(home_real, *path.parts)
        with os.scandir(fd) as scan:
            for item in scan:
                info = item.stat(follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    info = _link_target_status(fd, item.name, directory_real, home_real) or info
                entries.append(DirectoryEntry(item.name, stat.S_ISDIR(info.st_mode), info.st_size,
                                              info.st_mtime))
    entries.sort(key=lambda e: (not e.is_directory, e.name.lower(), e.name))
    return entries


def _link_target_status(dir_fd: int, name: str, directory_real: str,
                        home_real: str) -> os.stat_result | None:
    """What a symlink points to, only when that stays inside the home (else None).

    A link swapped while this looks is shown as the link itself."""
    try:
        target = os.path.realpath(os.path.join(directory_real, name))
        if target != home_real and not target.startswith(home_real + os.sep):
            return None
        return os.stat(name, dir_fd=dir_fd)
    except OSError:
        return None


def walk_tree(path: HomePath, limit: int) -> list[str]:
    """Visible paths below a directory, directories ending in '/', at most ``limit``.

    Each directory's entries come sorted, before those of its subdirectories.
    """
    found: list[str] = []
    with open_directory(path) as fd:
        for top, dirs, files, _ in os.fwalk(".", dir_fd=fd, follow_symlinks=False):
            dirs.sort()
            prefix = path.visible if top == "." else f"{path.visible}/{top[2:]}"
            for name in sorted([d + "/" for d in dirs] + files, key=lambda n: n.rstrip("/")):
                found.append(f"{prefix}/{name}")
                if len(found) >= limit:
                    return found
    return found


def usage_bytes(path: HomePath) -> int:
    """The total size of the regular files below ``path`` (symlinks not followed)."""
    total = 0
    with open_directory(path) as fd:
        for _, _, files, dir_fd in os.fwalk(".", dir_fd=fd, follow_symlinks=False):
            for name in files:
                try:
                    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    total += info.st_size
    return total


def make_directory(path: HomePath, created: list[HomePath]) -> bool:
    """Make ``path`` and its missing parents; False when it already was a directory."""
    with open_directory(path.parent if not path.is_home else path, create=True, created=created) as fd:
        if path.is_home:
            return False
        try:
            os.mkdir(path.name, NEW_DIR_MODE, dir_fd=fd)
        except FileExistsError:
            existing = lstat_in(fd, path.name)
            if existing is not None and stat.S_ISDIR(existing.st_mode):
                return False
            raise PathExists(f"{path.visible} already exists and is not a directory.") from None
    created.append(path)
    return True


def remove(path: HomePath) -> None:
    """Delete a file, a symlink (not what it points to) or a directory with its contents."""
    if path.is_home:
        raise PathForbidden(f"{path.visible} is a home directory; it cannot be deleted.")
    with open_directory(path.parent) as fd:
        found = lstat_in(fd, path.name)
        if found is None:
            raise PathNotFound(f"No such file or directory: {path.visible}")
        try:
            if stat.S_ISDIR(found.st_mode):
                shutil.rmtree(path.name, dir_fd=fd)
            else:
                os.unlink(path.name, dir_fd=fd)
        except OSError as error:
            raise translate(error, path) from None


def rename(source: HomePath, target: HomePath, overwrite: bool) -> None:
    """Move ``source`` to ``target`` (both resolved, the last components not followed)."""
    if source.is_home or target.is_home:
        raise PathForbidden("A home directory cannot be moved or replaced.")
    if target.is_within(source):
        raise BadPath(f"{source.visible} cannot be moved into itself.")
    with open_directory(source.parent) as source_fd, open_directory(target.parent) as target_fd:
        if lstat_in(source_fd, source.name) is None:
            raise PathNotFound(f"No such file or directory: {source.visible}")
        if not overwrite and lstat_in(target_fd, target.name) is not None:
            raise PathExists(f"{target.visible} already exists; ask to overwrite it, or choose "
                             "another name.")
        try:
            os.rename(source.name, target.name, src_dir_fd=source_fd, dst_dir_fd=target_fd)
        except OSError as error:
            raise translate(error, target) from None


def tree_paths(path: HomePath) -> Iterator[HomePath]:
    """``path`` and, for a directory, everything below it (symlinks not followed)."""
    yield path
    with open_directory(path.parent) as fd:
        found = lstat_in(fd, path.name)
    if found is None or not stat.S_ISDIR(found.st_mode):
        return
    with open_directory(path) as fd:
        for top, dirs, files, _ in os.fwalk(".", dir_fd=fd, follow_symlinks=False):
            below = () if top == "." else tuple(top[2:].split("/"))
            for name in dirs + files:
                yield path.at((*path.parts, *below, name))


class TempFile:
    """A new file beside its final place, moved over it only once complete.

    The name is hidden and random, in the same directory as the target so
    the final ``os.replace`` is atomic: readers see the old file or the new
    one, never a half-written one.  ``owner`` (uid, gid) is given the file
    before it takes its name, so it never appears as the server's.
    ``discard`` removes it on any failure.
    """

    def __init__(self, dir_fd: int, final_name: str, owner: tuple[int, int] | None) -> None:
        self.dir_fd = dir_fd
        self.final_name = final_name
        self.owner = owner
        self.name = f".{final_name[:200]}.{secrets.token_hex(6)}.part"
        self.fd = os.open(self.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                          0o600, dir_fd=dir_fd)
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
            self.size += written

    def replace_target(self) -> bool:
        """Move into place keeping the old file's mode; True when the target is new."""
        existing = lstat_in(self.dir_fd, self.final_name)
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise WrongKind(f"{self.final_name} is a directory; it cannot be replaced by a file.")
        mode = stat.S_IMODE(existing.st_mode) if existing is not None and stat.S_ISREG(existing.st_mode) \
            else NEW_FILE_MODE
        self._finish(mode)
        os.replace(self.name, self.final_name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        os.fsync(self.dir_fd)
        return existing is None

    def link_as_new(self, names: Iterator[str]) -> str:
        """Give the file the first of ``names`` not taken yet (never replacing one)."""
        self._finish(NEW_FILE_MODE)
        for name in names:
            try:
                os.link(self.name, name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd,
                        follow_symlinks=False)
            except FileExistsError:
                continue
            os.unlink(self.name, dir_fd=self.dir_fd)
            os.fsync(self.dir_fd)
            return name
        raise PathExists(f"No free name for a copy of {self.final_name}.")

    def _finish(self, mode: int) -> None:
        if self.owner is not None:
            os.fchown(self.fd, *self.owner)
        os.fchmod(self.fd, mode)
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1

    def discard(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        try:
            os.unlink(self.name, dir_fd=self.dir_fd)
        except FileNotFoundError:
            pass
