"""The files feature's URLs, for ``ide/app.py`` to include."""
from __future__ import annotations

from typing import Any

from ide.api.files import FileMkdirHandler, FilePathHandler, FileRenameHandler, FileSharingHandler, FileTreeHandler
from ide.api.lint import LintHandler
from ide.routes import USER_API, Route
from ide.web.file_pages import FilesPage, SharePage


def file_routes(services: Any) -> tuple[list[Route], list[Route]]:
    """(API routes, page routes); every API template is described in openapi.yaml."""
    kwargs = {"services": services}
    api = [
        Route(USER_API + "/files/path{path}", FilePathHandler, kwargs),
        Route(USER_API + "/files/tree/", FileTreeHandler, kwargs),
        Route(USER_API + "/files/sharing/", FileSharingHandler, kwargs),
        Route(USER_API + "/files/rename/", FileRenameHandler, kwargs),
        Route(USER_API + "/files/mkdir/", FileMkdirHandler, kwargs),
        Route(USER_API + "/lint/", LintHandler, kwargs),
    ]
    pages = [
        Route("/user/{owner}/files{path}", FilesPage, kwargs),
        Route("/user/{owner}/shares/{token}/", SharePage, kwargs),
    ]
    return api, pages
