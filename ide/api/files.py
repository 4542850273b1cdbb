"""``files/``: read, upload, save, delete, list, move and share users' files.

PythonAnywhere's shapes (``files/path``, ``files/tree/``, ``files/sharing/``)
plus what the editor and the directory page need: ``PUT files/path`` with
``If-Match`` for conflict-checked saves, ``POST files/path/<dir>/`` with
several files, ``files/rename/`` and ``files/mkdir/``.
"""
from __future__ import annotations

import stat
from typing import Any

import tornado.ioloop
import tornado.web

from ide.files.content import EDITOR_LIMIT
from ide.files.download import send_download
from ide.files.errors import InvalidRequest, TooLarge
from ide.files.serializers import directory_object
from ide.files.service import FileService
from ide.files.store import FileAccess
from ide.files.upload import MULTIPART_OVERHEAD, UPLOAD_REQUEST_LIMIT, Upload
from ide.web.base import ApiHandler

MiB = 1024 * 1024
JSON_BODY_LIMIT = 2 * EDITOR_LIMIT + MULTIPART_OVERHEAD
"""A PUT's JSON may escape some characters of the editor's text; twice its limit is ample."""


class FilesApiHandler(ApiHandler):
    @property
    def files(self) -> FileService:
        return self.services.files

    async def caller_access(self, owner: str) -> FileAccess:
        self.check_owner(owner)
        assert self.user is not None
        return await self.files.store.access(self.user)

    def _path_in(self, arguments: dict[str, list[bytes]]) -> str | None:
        """The ``path`` argument decoded once and otherwise untouched: Tornado's own
        argument getters turn control characters such as NUL into spaces, hiding them
        from the path checks."""
        raw = arguments.get("path")
        return self.decode_argument(raw[-1], name="path") if raw else None

    def path_argument(self) -> str:
        path = self._path_in(self.request.query_arguments)
        if not path:
            raise InvalidRequest("Give the path as ?path=/home/<you>/...")
        return path

    def body_path(self) -> str:
        """``path`` from a JSON body, or from a form as older clients send it."""
        if self.request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            path: Any = self._path_in(self.request.body_arguments)
        else:
            path = self.json_body().get("path")
        if not isinstance(path, str) or not path:
            raise InvalidRequest('Give the path as {"path": "/home/<you>/..."}.')
        return path

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()


def _declared_length(handler: tornado.web.RequestHandler) -> int | None:
    try:
        return int(handler.request.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


@tornado.web.stream_request_body
class FilePathHandler(FilesApiHandler):
    """``files/path<abs path>``: uploads stream to temp files as they arrive;
    other methods' bodies are small and kept in memory up to a limit."""

    upload: Upload | None = None
    body: bytearray

    async def prepare(self) -> None:
        await super().prepare()
        self.body = bytearray()
        if self.request.method == "POST":
            await self._start_upload()
        else:
            self._limit_body(JSON_BODY_LIMIT, "a save sends at most the editor's 5 MB of text; "
                                              "upload bigger files with POST.")

    def _limit_body(self, limit: int, advice: str) -> None:
        length = _declared_length(self)
        if length is not None and length > limit:
            raise TooLarge(f"The request is {length // MiB} MB; {advice}")
        self.request.connection.set_max_body_size(limit)  # type: ignore[union-attr]

    async def _start_upload(self) -> None:
        path = self.path_kwargs["path"]
        store = self.files.store
        # Whose home it is comes first: only then may the body exceed the server's small cap.
        access = await self.caller_access(self.path_kwargs["owner"])
        if path.endswith("/"):
            self._limit_body(UPLOAD_REQUEST_LIMIT, f"send at most {UPLOAD_REQUEST_LIMIT // MiB} MB "
                                                   "per request.")
        else:
            self._limit_body(store.upload_file_limit + MULTIPART_OVERHEAD,
                             f"files are limited to {store.upload_file_limit // MiB} MB; nothing was saved.")
        self.upload = await store.start_upload(access, path, self.request.headers.get("Content-Type", ""))

    async def data_received(self, chunk: bytes) -> None:
        if self.upload is not None:
            await self.upload.feed(chunk)
        else:
            self.body += chunk

    def on_finish(self) -> None:
        self._abort_upload()

    def on_connection_close(self) -> None:
        self._abort_upload()
        super().on_connection_close()

    def _abort_upload(self) -> None:
        if self.upload is not None:
            tornado.ioloop.IOLoop.current().spawn_callback(self.upload.abort)

    async def get(self, owner: str, path: str) -> None:
        store = self.files.store
        access = await self.caller_access(owner)
        located, info = await store.status(access, path)
        if stat.S_ISDIR(info.st_mode):
            listing = directory_object(f"{self.request.protocol}://{self.request.host}", access.user.name,
                                       located.given, await store.list_directory(located))
            self.write_json(listing)
            return
        await send_download(self, await store.open_download(located), attachment=False)

    async def post(self, owner: str, path: str) -> None:
        assert self.upload is not None
        saved = await self.files.store.commit_upload(self.upload)
        created = any(new for _, new in saved)
        if path.endswith("/"):
            self.write_json({"files": [{"path": p.visible, "created": new} for p, new in saved]},
                            201 if created else 200)
        else:
            self.write_json({"path": saved[0][0].visible, "created": created}, 201 if created else 200)

    async def put(self, owner: str, path: str) -> None:
        access = await self.caller_access(owner)
        self.request.body = bytes(self.body)
        text = self.json_body().get("content")
        if not isinstance(text, str):
            raise InvalidRequest('Send the text to save as {"content": "..."}.')
        saved = await self.files.store.save_text(access, path, text, self.request.headers.get("If-Match"))
        self.set_header("ETag", saved.etag)
        self.write_json({"path": saved.path.visible, "etag": saved.etag, "created": saved.created},
                        201 if saved.created else 200)

    async def delete(self, owner: str, path: str) -> None:
        await self.files.store.delete(await self.caller_access(owner), path)
        self.no_content()


class FileTreeHandler(FilesApiHandler):
    async def get(self, owner: str) -> None:
        access = await self.caller_access(owner)
        self.write_json(await self.files.store.tree(access, self.path_argument()))


class FileSharingHandler(FilesApiHandler):
    async def post(self, owner: str) -> None:
        access = await self.caller_access(owner)
        share, created = await self.files.sharing.share(access, self.body_path())
        self.write_json({"url": share.url}, 201 if created else 200)

    async def get(self, owner: str) -> None:
        """With ``?path=``, that file's link; without, every link to the caller's files, whoever made it."""
        access = await self.caller_access(owner)
        if self._path_in(self.request.query_arguments) is None:
            links = await self.files.sharing.of_home(access.user)
            self.write_json({"shares": [{"path": link.path, "url": link.url, "creator": link.creator}
                                        for link in links]})
            return
        share = await self.files.sharing.find(access, self.path_argument())
        self.write_json({"url": share.url})

    async def delete(self, owner: str) -> None:
        access = await self.caller_access(owner)
        await self.files.sharing.unshare(access, self.path_argument())
        self.no_content()


class FileRenameHandler(FilesApiHandler):
    async def post(self, owner: str) -> None:
        access = await self.caller_access(owner)
        body = self.json_body()
        source, target, overwrite = body.get("from"), body.get("to"), body.get("overwrite", False)
        if not isinstance(source, str) or not isinstance(target, str) or not isinstance(overwrite, bool):
            raise InvalidRequest('Give {"from": "/home/...", "to": "/home/...", "overwrite": false}.')
        moved = await self.files.store.rename(access, source, target, overwrite)
        self.write_json({"path": moved.given.visible})


class FileMkdirHandler(FilesApiHandler):
    async def post(self, owner: str) -> None:
        access = await self.caller_access(owner)
        located, created = await self.files.store.make_directory(access, self.body_path())
        self.write_json({"path": located.given.visible + "/"}, 201 if created else 200)
