"""Receiving uploads: streamed into hidden temp files beside their targets,
moved into place only when the whole request arrived within its limits.

Two shapes, both ``multipart/form-data``:

* to a file path, PythonAnywhere's way: the field ``content`` holds the bytes
  (its file name is ignored);
* to a directory path (ending in ``/``): every file part is saved in that
  directory under the name the client gave, so one request uploads several
  files.

Any failure (a file over the size limit, the quota, a malformed body, the
client going away) discards every temp file: nothing half-written remains.
"""
from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass

from ide.files import home_io
from ide.files.errors import FilesError, QuotaExceeded, TooLarge, WrongKind
from ide.files.multipart import MultipartError, MultipartParser, PartInfo, boundary_of
from ide.files.paths import HomePath, check_name

MiB = 1024 * 1024
UPLOAD_FILE_LIMIT = 100 * MiB
UPLOAD_REQUEST_LIMIT = 1024 * MiB
MULTIPART_OVERHEAD = 64 * 1024
"""Room for boundaries and part headers when judging a single file's request by its length."""
CONTENT_FIELD = "content"


@dataclass
class ReceivedFile:
    target: HomePath
    temp: home_io.TempFile
    replaced_size: int


class _Sink:
    def __init__(self, receiver: UploadReceiver, received: ReceivedFile) -> None:
        self.receiver = receiver
        self.received = received

    def write(self, data: bytes) -> None:
        self.receiver.account(self.received, len(data))
        self.received.temp.write(data)

    def close(self) -> None:
        self.receiver.completed.append(self.received)


class UploadReceiver:
    """One upload in progress; every method blocks (call them from a worker thread).

    ``directory`` is where the files go (its fd stays open for the whole
    upload); ``target_name`` is the file name for a single-file upload, None
    for a directory upload; ``owner`` is the (uid, gid) the files are given.
    ``allowance`` is how many bytes the home's quota still has room for.
    """

    def __init__(self, content_type: str, directory: HomePath, target_name: str | None,
                 owner: tuple[int, int] | None, *, file_limit: int = UPLOAD_FILE_LIMIT,
                 allowance: int, account_type: str = "") -> None:
        self.parser = MultipartParser(boundary_of(content_type), self._start_part)
        self.directory = directory
        self.target_name = target_name
        self.owner = owner
        self.file_limit = file_limit
        self.allowance = allowance
        self.account_type = account_type
        self.created_directories: list[HomePath] = []
        self.dir_fd = home_io.directory_fd(directory, create=True, created=self.created_directories)
        self.completed: list[ReceivedFile] = []
        self._open: list[ReceivedFile] = []
        self._added = 0

    def _start_part(self, info: PartInfo) -> _Sink | None:
        if self.target_name is not None:
            if info.name != CONTENT_FIELD:
                return None
            name = self.target_name
        else:
            if not info.filename:
                return None
            name = check_name(info.filename.replace("\\", "/").rsplit("/", 1)[-1])
        existing = home_io.lstat_in(self.dir_fd, name)
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise WrongKind(f"{self.directory.child(name).visible} is a directory; "
                            "a file cannot replace it.")
        replaced = existing.st_size if existing is not None and stat.S_ISREG(existing.st_mode) else 0
        received = ReceivedFile(self.directory.child(name), home_io.TempFile(self.dir_fd, name, self.owner),
                                replaced)
        self._open.append(received)
        return _Sink(self, received)

    def account(self, received: ReceivedFile, size: int) -> None:
        """Refuse the next ``size`` bytes if they break the per-file limit or the quota."""
        if received.temp.size + size > self.file_limit:
            raise TooLarge(f"{received.target.name} is over the {self.file_limit // MiB} MB upload limit; "
                           "nothing was saved.")
        self._added += size
        credit = sum(r.replaced_size for r in self._open)
        if self._added - credit > self.allowance:
            raise QuotaExceeded(f"This upload does not fit in {self.directory.visible_home}'s disk quota "
                                f"({self.account_type} account); nothing was saved. Delete some files "
                                "first.")

    def feed(self, chunk: bytes) -> None:
        try:
            self.parser.feed(chunk)
        except OSError as error:  # the disk is full, the directory went away, ...
            raise home_io.translate(error, self.directory) from None

    def finish(self) -> None:
        """The body is complete: check it was well-formed and had something to save."""
        self.parser.finish()
        if not self.completed:
            if self.target_name is not None:
                raise MultipartError(f"The upload has no '{CONTENT_FIELD}' field holding the file.")
            raise MultipartError("The upload has no files in it.")

    def commit(self) -> list[tuple[HomePath, bool]]:
        """Move every received file into place; (path, created) for each."""
        saved = []
        for received in self.completed:
            try:
                saved.append((received.target, received.temp.replace_target()))
            except OSError as error:
                raise home_io.translate(error, received.target) from None
        self._open.clear()
        return saved

    @property
    def net_growth(self) -> int:
        return self._added - sum(r.replaced_size for r in self.completed)

    def discard(self) -> None:
        for received in self._open:
            received.temp.discard()
        self._open.clear()
        self.close()

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1


class Upload:
    """The async face of an UploadReceiver: its blocking steps run one at a
    time in a worker thread; a failure is kept and raised once the body has
    been read (so the client hears it), and cleans up at once."""

    def __init__(self, receiver: UploadReceiver) -> None:
        self.receiver = receiver
        self.error: FilesError | None = None
        self._lock = asyncio.Lock()
        self._done = False

    async def feed(self, chunk: bytes) -> None:
        if self.error is not None or self._done:
            return
        async with self._lock:
            try:
                await asyncio.to_thread(self.receiver.feed, chunk)
            except FilesError as error:
                self.error = error
                await asyncio.to_thread(self.receiver.discard)
                self._done = True

    async def finish(self) -> UploadReceiver:
        """The receiver, ready to commit; raises the upload's error if it failed."""
        if self.error is None:
            async with self._lock:
                try:
                    await asyncio.to_thread(self.receiver.finish)
                except FilesError as error:
                    self.error = error
                    await asyncio.to_thread(self.receiver.discard)
                    self._done = True
        if self.error is not None:
            raise self.error
        return self.receiver

    async def commit(self) -> list[tuple[HomePath, bool]]:
        async with self._lock:
            try:
                return await asyncio.to_thread(self.receiver.commit)
            finally:
                await asyncio.to_thread(self.receiver.discard)
                self._done = True

    async def abort(self) -> None:
        """Remove whatever was received (the request failed or the client left)."""
        async with self._lock:
            if not self._done:
                self._done = True
                await asyncio.to_thread(self.receiver.discard)
