"""Sharing files by link: who may share what, what a link shows, and copying
a shared file into one's own home."""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from ide.accounts import AccountStore, User
from ide.files import home_io
from ide.files.content import EditorText
from ide.files.errors import FilesError, FileShareNotFound, TooLarge, WrongKind
from ide.files.paths import HomePath
from ide.files.shares import FileShare, FileShares
from ide.files.store import FileAccess, FileStore, Located

_COPY_CHUNK = 1 << 20
_MAX_COPY_SUFFIX = 1000


@dataclass(frozen=True)
class SharedFile:
    """What a share link shows now: the share, where its file is, and its text."""

    share: FileShare
    located: Located
    text: EditorText


def copy_names(name: str) -> Iterator[str]:
    """``name``, then ``stem (1).ext``, ``stem (2).ext``, ... for a copy that never overwrites."""
    yield name
    stem, extension = os.path.splitext(name)
    for number in range(1, _MAX_COPY_SUFFIX):
        yield f"{stem} ({number}){extension}"


class SharedFiles:
    def __init__(self, store: FileStore, shares: FileShares, accounts: AccountStore) -> None:
        self.store = store
        self.shares = shares
        self.accounts = accounts

    async def share(self, access: FileAccess, visible: str) -> tuple[FileShare, bool]:
        """The file's link, made unless it existed (True when made now)."""
        located, info = await self.store.status(access, visible)
        if not stat.S_ISREG(info.st_mode):
            raise WrongKind(f"Only files can be shared; {located.given.visible} is not a file.")
        if located.identity.uid is not None and info.st_uid != located.identity.uid:
            raise home_io.not_owned(located.given)
        return await self.shares.share(located.given.owner, located.given.visible, access.user.name)

    async def of_home(self, user: User) -> list[FileShare]:
        """Every link to ``user``'s files, including those their teacher made: theirs to revoke."""
        return await self.shares.of_home(user.name)

    async def link_of(self, located: Located) -> FileShare | None:
        """The link of a file as it was asked for, if it is shared."""
        return await self.shares.find(located.given.owner, located.given.visible)

    async def find(self, access: FileAccess, visible: str) -> FileShare:
        given = access.resolver.parse(visible)
        share = await self.shares.find(given.owner, given.visible)
        if share is None:
            raise FileShareNotFound(f"{given.visible} is not shared.")
        return share

    async def unshare(self, access: FileAccess, visible: str) -> None:
        given = access.resolver.parse(visible)
        if not await self.shares.unshare(given.owner, given.visible):
            raise FileShareNotFound(f"{given.visible} is not shared.")

    async def open(self, owner: str, token: str) -> SharedFile:
        """The file behind a link, read now; FileShareNotFound once withdrawn or gone."""
        share = await self.shares.lookup(token)
        user = await self.accounts.get(owner) if share is not None and share.owner == owner else None
        if share is None or user is None or not await self._creator_may_still(share):
            raise FileShareNotFound("This share link does not exist, or its owner stopped sharing the file.")
        try:
            located = await self.store.locate(self.store.own_access(user), share.path)
            text = await self.store.read_for_editor(located)
        except FilesError:
            raise FileShareNotFound("The shared file no longer exists.") from None
        return SharedFile(share, located, text)

    async def _creator_may_still(self, share: FileShare) -> bool:
        """Whether whoever made the link still reaches the file.

        Ending a class deletes the teacher's links (``ide.classes``); asking
        again here keeps a link from serving when it escaped that deletion: a
        teacher's request that passed its access check just before the class
        ended and stored its link just after, or a failure between the steps.
        """
        return share.creator == share.owner or await self.store.classes.is_student(share.creator, share.owner)

    async def copy_to(self, shared: SharedFile, viewer: User) -> HomePath:
        """Copy a shared file into ``viewer``'s home under a name not taken yet."""
        limit = self.store.upload_file_limit
        if shared.text.size > limit:
            raise TooLarge(f"The shared file is over the {limit // (1 << 20)} MB limit for copies.")
        home = await self.store.locate(self.store.own_access(viewer), f"/home/{viewer.name}")
        await self.store.usage.check(home.home, home.account_type, shared.text.size)

        def copy() -> HomePath:
            source_fd, _ = home_io.open_file(shared.located.path, shared.located.identity.uid)
            try:
                with home_io.open_directory(home.path) as dir_fd:
                    temp = home_io.TempFile(dir_fd, shared.located.path.name, home.identity.owner)
                    try:
                        while chunk := os.read(source_fd, _COPY_CHUNK):
                            if temp.size + len(chunk) > limit:
                                raise TooLarge("The shared file grew over the copy limit while being copied.")
                            temp.write(chunk)
                        name = temp.link_as_new(copy_names(shared.located.path.name))
                    except BaseException:
                        temp.discard()
                        raise
            finally:
                os.close(source_fd)
            return home.path.child(name)

        copied = await self.store.run_blocking(home.path, copy)
        self.store.usage.grow(viewer.name, shared.text.size)
        return copied
