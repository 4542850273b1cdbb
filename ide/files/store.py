"""Users' files as the API and the pages use them: every request resolved
against who is asking, the blocking work done in threads, saves serialised
per file, quotas enforced, new files given to their user."""
from __future__ import annotations

import asyncio
import os
import stat
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import redis.asyncio as aioredis

from ide.accounts import AccountStore, User
from ide.class_store import ClassStore
from ide.files import home_io
from ide.files.content import EDITOR_LIMIT, EditorText, editor_text, etag_matches, etag_of
from ide.files.errors import EditConflict, InvalidRequest, PathForbidden, PathNotFound, TooLarge, WrongKind
from ide.files.paths import HomePath, PathResolver
from ide.files.quota import HomeUsage, Usage
from ide.files.shares import FileShares
from ide.files.upload import UPLOAD_FILE_LIMIT, Upload, UploadReceiver
from sandbox import LOG_TARGET as LOG_PLACE
from sandbox import WWW_TARGET as WWW_PLACE
from sandbox import Identity, Sandbox

T = TypeVar("T")
TREE_LIMIT = 1000


@dataclass(frozen=True)
class FileAccess:
    """A caller and the homes they may reach (their own, plus their students')."""

    user: User
    resolver: PathResolver

    @property
    def homes(self) -> list[str]:
        """The visible home directories the caller can reach, their own first."""
        others = sorted(self.resolver.reachable - {self.user.name})
        return [f"/home/{name}/" for name in (self.user.name, *others)]


@dataclass(frozen=True)
class Located:
    """A path as asked (``given``) and as it really is on disk (``path``), with its home's owner."""

    given: HomePath
    path: HomePath
    identity: Identity
    account_type: str

    @property
    def home(self) -> HomePath:
        return self.path.at(())


@dataclass(frozen=True)
class Download:
    """A file to send: ``data`` (with its ``etag``) when small, else an open ``fd`` to stream."""

    name: str
    size: int
    data: bytes | None = None
    etag: str | None = None
    fd: int | None = None


@dataclass(frozen=True)
class Saved:
    """A finished save: the path as asked, the new version's etag, whether the file is new."""

    path: HomePath
    etag: str
    created: bool


class FileStore:
    def __init__(self, sandbox: Sandbox, accounts: AccountStore, redis: aioredis.Redis, *,
                 usage: HomeUsage | None = None, upload_file_limit: int = UPLOAD_FILE_LIMIT) -> None:
        self.sandbox = sandbox
        self.accounts = accounts
        self.homes_dir = Path(sandbox.homes_dir)
        self.shares = FileShares(redis)
        self.classes = ClassStore(redis)
        self.usage = usage or HomeUsage()
        self.upload_file_limit = upload_file_limit
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # -- who may reach what -------------------------------------------------

    async def access(self, user: User) -> FileAccess:
        """What ``user`` may reach: their home and, as a teacher, their accepted students'.

        Asked on every request, so a student who leaves the class is out of
        reach at once, on every node.
        """
        students = await self.classes.students(user.name)
        return FileAccess(user, PathResolver(self.homes_dir, user.name, students, self.places(user.name)))

    def own_access(self, user: User) -> FileAccess:
        """Only ``user``'s own home (to show a file they shared, to anyone)."""
        return FileAccess(user, PathResolver(self.homes_dir, user.name, (), self.places(user.name)))

    def places(self, username: str) -> dict[str, tuple[Path, bool]]:
        """The user's logs (read and delete only) and WSGI files, named as in their sandbox."""
        host = self.sandbox.host_places_of(username)
        return {LOG_PLACE: (Path(host.log), False), WWW_PLACE: (Path(host.www), True)}

    @staticmethod
    def check_writable(located: Located) -> None:
        if not located.path.writable:
            raise PathForbidden(f"{located.given.visible}: files under {located.path.visible_home} can be "
                                "read and deleted here, not written.")

    async def locate(self, access: FileAccess, visible: str, follow_final: bool = True) -> Located:
        given = access.resolver.parse(visible)
        if given.owner == access.user.name:
            account_type = access.user.account_type
        else:
            owner = await self.accounts.get(given.owner)
            if owner is None:
                raise PathNotFound(f"No such file or directory: {visible}")
            account_type = owner.account_type
        identity = await self.run_blocking(given, self.sandbox.identity, given.owner, account_type)
        # realpath fails when a link is swapped while it resolves (EINVAL, ENOENT, ...).
        real = await self.run_blocking(given, PathResolver.real, given, follow_final)
        return Located(given, real, identity, account_type)

    @staticmethod
    async def run_blocking(path: HomePath, function: Callable[..., T], *args: object) -> T:
        """``function(*args)`` in a worker thread, its OSErrors told as FilesErrors about ``path``.

        Users' programs change their homes while the server works in them:
        every OSError met there is the user's path, never a server fault.
        """
        try:
            return await asyncio.to_thread(function, *args)
        except OSError as error:
            raise home_io.translate(error, path) from None

    def _lock(self, path: HomePath) -> asyncio.Lock:
        key = str(path.host)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def give(self, identity: Identity, paths: list[HomePath]) -> None:
        """Make files the server wrote in a home belong to its user (blocking)."""
        for path in paths:
            self.sandbox.chown_to(identity, path.host)

    # -- reading ----------------------------------------------------------------

    async def status(self, access: FileAccess, visible: str) -> tuple[Located, os.stat_result]:
        located = await self.locate(access, visible)
        return located, await self.run_blocking(located.path, home_io.status, located.path)

    async def list_directory(self, located: Located) -> list[home_io.DirectoryEntry]:
        def listing() -> list[home_io.DirectoryEntry]:
            return home_io.list_directory(located.path, os.path.realpath(located.path.home))
        return await self.run_blocking(located.path, listing)

    async def tree(self, access: FileAccess, visible: str) -> list[str]:
        """Up to 1000 visible paths below a directory, directories ending in '/'."""
        located, info = await self.status(access, visible)
        if not stat.S_ISDIR(info.st_mode):
            raise WrongKind(f"{located.given.visible} is not a directory.")
        return await self.run_blocking(located.path, home_io.walk_tree, located.path, TREE_LIMIT)

    async def read_for_editor(self, located: Located) -> EditorText:
        def read() -> EditorText:
            fd, info = home_io.open_file(located.path, located.identity.uid)
            try:
                if info.st_size > EDITOR_LIMIT:
                    return editor_text(None, info.st_size)
                data = home_io.read_prefix(fd, EDITOR_LIMIT + 1)
            finally:
                os.close(fd)
            return editor_text(data if len(data) <= EDITOR_LIMIT else None, len(data))
        return await self.run_blocking(located.path, read)

    async def open_download(self, located: Located) -> Download:
        """The file's bytes if it is small enough for the editor, else an fd to stream."""
        def open_it() -> Download:
            fd, info = home_io.open_file(located.path, located.identity.uid)
            try:
                if info.st_size <= EDITOR_LIMIT:
                    data = home_io.read_prefix(fd, EDITOR_LIMIT + 1)  # pread: the offset stays at 0
                    if len(data) <= EDITOR_LIMIT:
                        os.close(fd)
                        return Download(located.path.name, len(data), data=data, etag=etag_of(data))
            except BaseException:
                os.close(fd)
                raise
            return Download(located.path.name, info.st_size, fd=fd)
        return await self.run_blocking(located.path, open_it)

    async def usage_of(self, located: Located) -> Usage:
        return await self.usage.usage(located.home, located.account_type)

    # -- writing -------------------------------------------------------------------

    async def save_text(self, access: FileAccess, visible: str, text: str,
                        if_match: str | None) -> Saved:
        """Save the editor's text atomically; with ``if_match``, only over the version it loaded.

        Saves of one file are serialised, so of two racing saves that loaded
        the same version exactly one wins and the other gets EditConflict.
        """
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequest("The text contains characters that cannot be saved "
                                 "(lone surrogates).") from None
        if len(data) > EDITOR_LIMIT:
            raise TooLarge(f"The text is {len(data)} bytes; the editor saves up to {EDITOR_LIMIT} bytes. "
                           "Upload larger files instead.")
        located = await self.locate(access, visible)
        self.check_writable(located)
        path = located.path
        async with self._lock(path):
            current_size, current_etag = await self.run_blocking(path, _current_version, located,
                                                                 if_match is not None)
            if if_match is not None and not etag_matches(if_match, current_etag):
                raise EditConflict(_conflict_message(located.given.visible, current_size))
            await self.usage.check(located.home, located.account_type, len(data) - (current_size or 0))
            created, etag = await self.run_blocking(path, self._write_whole, located, data)
        self.usage.grow(path.owner, len(data) - (current_size or 0))
        return Saved(located.given, etag, created)

    def _write_whole(self, located: Located, data: bytes) -> tuple[bool, str]:
        """Write ``data`` over the file atomically; (created, the new etag)."""
        made: list[HomePath] = []
        with home_io.open_directory(located.path.parent, create=True, created=made) as fd:
            temp = home_io.TempFile(fd, located.path.name, located.identity.owner)
            try:
                temp.write(data)
                created = temp.replace_target()
            except BaseException:
                temp.discard()
                raise
        self.give(located.identity, made)
        return created, etag_of(data)

    async def start_upload(self, access: FileAccess, visible: str, content_type: str) -> Upload:
        """Begin receiving a multipart upload to a file path, or into a directory (path ending in '/')."""
        into_directory = visible.endswith("/")
        located = await self.locate(access, visible)
        self.check_writable(located)
        if located.path.is_home and not into_directory:
            raise WrongKind(f"{located.given.visible} is a directory; POST to a file path, or to a "
                            "directory path ending in '/' to upload files into it.")
        allowance = await self.usage.allowance(located.home, located.account_type)
        directory, name = (located.path, None) if into_directory else (located.path.parent, located.path.name)

        def receive() -> UploadReceiver:
            return UploadReceiver(content_type, directory, name, located.identity.owner,
                                  file_limit=self.upload_file_limit,
                                  allowance=allowance, account_type=located.account_type)
        receiver = await self.run_blocking(directory, receive)
        await self.run_blocking(directory, self.give, located.identity, receiver.created_directories)
        return Upload(receiver)

    async def commit_upload(self, upload: Upload) -> list[tuple[HomePath, bool]]:
        """Put a completely received upload's files in place; (path, created) for each."""
        receiver = await upload.finish()
        locks = [self._lock(received.target) for received in receiver.completed]
        for lock in sorted(set(locks), key=id):
            await lock.acquire()
        try:
            saved = await upload.commit()
        finally:
            for lock in set(locks):
                lock.release()
        self.usage.grow(receiver.directory.owner, receiver.net_growth)
        return saved

    async def make_directory(self, access: FileAccess, visible: str) -> tuple[Located, bool]:
        """Make a directory and its missing parents; False when it already existed."""
        located = await self.locate(access, visible)
        self.check_writable(located)

        def make() -> bool:
            made: list[HomePath] = []
            created = home_io.make_directory(located.path, made)
            self.give(located.identity, made)
            return created
        return located, await self.run_blocking(located.path, make)

    async def delete(self, access: FileAccess, visible: str) -> Located:
        """Delete a file, a symlink itself, or a directory with everything in it."""
        located = await self.locate(access, visible, follow_final=False)
        await self.run_blocking(located.path, home_io.remove, located.path)
        self.usage.forget(located.path.owner)
        await self.shares.forget_under(located.given.owner, located.given.visible)
        return located

    async def rename(self, access: FileAccess, source: str, target: str, overwrite: bool) -> Located:
        """Move within and between reachable homes; refuses to replace unless ``overwrite``."""
        moving = await self.locate(access, source, follow_final=False)
        destination = await self.locate(access, target, follow_final=False)
        for located in (moving, destination):
            self.check_writable(located)
        await self.run_blocking(destination.path, home_io.rename, moving.path, destination.path, overwrite)
        if moving.path.owner != destination.path.owner and destination.identity.uid is not None:
            await self.run_blocking(destination.path, lambda: self.give(
                destination.identity, list(home_io.tree_paths(destination.path))))
        for owner in {moving.path.owner, destination.path.owner}:
            self.usage.forget(owner)
        await self.shares.forget_under(moving.given.owner, moving.given.visible)
        return destination


def _current_version(located: Located, want_etag: bool) -> tuple[int | None, str | None]:
    """(size, etag) of the file now on disk, (None, None) if there is none.

    The etag is only computed when asked, and never for files the editor
    could not have loaded (so a save over one with If-Match conflicts).
    """
    try:
        fd, info = home_io.open_file(located.path, located.identity.uid)
    except PathNotFound:
        return None, None
    try:
        if not want_etag or info.st_size > EDITOR_LIMIT:
            return info.st_size, None
        return info.st_size, etag_of(home_io.read_prefix(fd, EDITOR_LIMIT + 1))
    finally:
        os.close(fd)


def _conflict_message(visible: str, current_size: int | None) -> str:
    if current_size is None:
        return (f"{visible} was deleted or moved on disk since you opened it. Save again without "
                "the version check to create it anew.")
    return (f"{visible} changed on disk since you opened it. Reload to see the new version, or save "
            "again without the version check (If-Match) to overwrite it.")
