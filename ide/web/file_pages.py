"""The Files pages: directory listings, downloads, the editor, share links.

``/user/<u>/files/<abs path>`` always has the logged-in user as ``<u>``; a
teacher reaches a student's files by path (``/user/<teacher>/files/home/<student>/``),
as in the API.  A URL naming someone else as ``<u>`` redirects to the same
path under the caller's name, where access is checked against the path.
"""
from __future__ import annotations

import stat
from urllib.parse import urlencode

from ide.files.download import send_download
from ide.files.page_context import directory_context, editor_context, share_context
from ide.files.serializers import page_url
from ide.files.service import FileService
from ide.files.store import FileAccess, Located
from ide.serializers import editor_webapp
from ide.web.base import PageHandler
from ide.web.console_pages import UserPageHandler

_HOME_ALIASES = ("", "/", "/home", "/home/")


class FilesPage(UserPageHandler):
    @property
    def files(self) -> FileService:
        return self.services.files

    async def get(self, owner: str, path: str) -> None:
        me = self.current_user
        assert me is not None and self.user is not None
        if owner != me:
            uri = self.request.uri or self.request.path
            self.redirect(uri.replace(f"/user/{owner}/", f"/user/{me}/", 1))
            return
        if path in _HOME_ALIASES:
            self.redirect(page_url(me, f"/home/{me}", directory=True))
            return
        access = await self.files.store.access(self.user)
        located, info = await self.files.store.status(access, path)
        if stat.S_ISDIR(info.st_mode):
            await self._directory(access, located, path.endswith("/"))
        elif "edit" in self.request.query_arguments:
            await self._editor(access, located)
        else:
            await send_download(self, await self.files.store.open_download(located), attachment=True)

    async def _directory(self, access: FileAccess, located: Located, slashed: bool) -> None:
        if not slashed:  # relative links and the breadcrumbs expect the trailing slash
            self.redirect(page_url(access.user.name, located.given.visible, directory=True))
            return
        store = self.files.store
        entries = await store.list_directory(located)
        self.render_page("files/directory.html", **directory_context(
            access, located, entries, await store.usage_of(located), store.upload_file_limit))

    async def _editor(self, access: FileAccess, located: Located) -> None:
        text = await self.files.store.read_for_editor(located)
        share = await self.files.sharing.link_of(located)
        assert self.user is not None
        webapp = await self.services.webapps.app_of_file(self.user.name, located.given.visible)
        self.render_page("files/editor.html", **editor_context(
            access, located, text, share, self._newest_python()),
            webapp=editor_webapp(self.user.name, webapp) if webapp is not None else None)

    def _newest_python(self) -> str | None:
        """The program of the "Python 3" console kind (the newest python3.x installed)."""
        for kind in self.services.console_service.kinds:
            if kind.key == "python3":
                return kind.argv[0]
        return None


class SharePage(PageHandler):
    """A shared file, read-only, for anyone with the link; logged-in viewers may copy it."""

    async def prepare(self) -> None:
        await super().prepare()
        self.set_header("X-Robots-Tag", "noindex")
        owner = self.path_kwargs.get("owner", "")
        if owner != owner.lower() and self.request.method == "GET":
            self.redirect(self.request.path.replace(f"/user/{owner}/", f"/user/{owner.lower()}/", 1),
                          permanent=True)

    async def get(self, owner: str, token: str) -> None:
        shared = await self.services.files.sharing.open(owner, token)
        self.render_page("files/share.html", **share_context(shared, self.user is not None, None))

    async def post(self, owner: str, token: str) -> None:
        """Copy to my files (XSRF-checked like every form post)."""
        if self.user is None:
            self.redirect(self.get_login_url() + "?" + urlencode({"next": self.request.path}))
            return
        sharing = self.services.files.sharing
        shared = await sharing.open(owner, token)
        copied = await sharing.copy_to(shared, self.user)
        self.render_page("files/share.html", **share_context(shared, True, copied.visible))
