"""The URLs of files and the one shape of each file resource, shared by the
API and the pages."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ide.files.content import opens_in_editor
from ide.files.home_io import DirectoryEntry
from ide.files.paths import HomePath
from ide.routes import API_PREFIX
from ide.serializers import iso_time


def api_base(owner: str) -> str:
    return f"{API_PREFIX}/user/{owner}/"


def file_api_url(owner: str, visible: str, directory: bool = False) -> str:
    """``/api/v0/user/<owner>/files/path/home/...``: the API URL of a file or directory."""
    return f"{api_base(owner)}files/path{quote(visible)}{'/' if directory else ''}"


def page_url(owner: str, visible: str, directory: bool = False, edit: bool = False) -> str:
    """The page of a file (a download, or the editor with ``edit``) or of a directory listing."""
    url = f"/user/{owner}/files{quote(visible)}"
    if directory:
        return url + "/"
    return url + "?edit" if edit else url


def lint_url(owner: str) -> str:
    return f"{api_base(owner)}lint/"


def breadcrumbs(owner: str, path: HomePath, is_file: bool) -> list[dict[str, str]]:
    """``[{name, url}]`` from the home down to ``path`` (a file's last crumb opens the editor)."""
    crumbs = [{"name": path.visible_home, "url": page_url(owner, path.visible_home, directory=True)}]
    for depth in range(1, len(path.parts) + 1):
        step = path.at(path.parts[:depth])
        last_file = is_file and depth == len(path.parts)
        crumbs.append({"name": step.name,
                       "url": page_url(owner, step.visible, directory=not last_file, edit=last_file)})
    return crumbs


def entry_object(owner: str, directory: HomePath, entry: DirectoryEntry) -> dict[str, Any]:
    """One directory entry as the directory page shows it."""
    visible = f"{directory.visible}/{entry.name}"
    kind = "directory" if entry.is_directory else "file"
    if entry.is_directory:
        url = page_url(owner, visible, directory=True)
    else:
        url = page_url(owner, visible, edit=opens_in_editor(entry.name))
    return {"name": entry.name, "type": kind, "size": entry.size, "modified": iso_time(entry.modified),
            "url": url, "download_url": page_url(owner, visible),
            "api_url": file_api_url(owner, visible, directory=entry.is_directory)}


def directory_object(site: str, owner: str, directory: HomePath,
                     entries: list[DirectoryEntry]) -> dict[str, dict[str, str]]:
    """PythonAnywhere's directory listing: ``{name: {"type", "url"}}`` with full API URLs."""
    return {entry.name: {"type": "directory" if entry.is_directory else "file",
                         "url": site + file_api_url(owner, f"{directory.visible}/{entry.name}",
                                                    directory=entry.is_directory)}
            for entry in entries}
