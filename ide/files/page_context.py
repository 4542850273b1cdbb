"""What the file pages' templates receive (``templates/files/*.html``).

Built here, apart from the handlers, so the contexts can be tested without
HTTP and the template authors have one place that defines them.
"""
from __future__ import annotations

import posixpath
from typing import Any

from ide.files.content import EditorText, language_of, python_hashbang
from ide.files.home_io import DirectoryEntry
from ide.files.quota import Usage
from ide.files.serializers import api_base, breadcrumbs, entry_object, file_api_url, lint_url, page_url
from ide.files.share_files import SharedFile
from ide.files.shares import FileShare
from ide.files.store import FileAccess, Located

DEFAULT_PYTHON = "python3"


def run_description(visible: str, text: str | None, default_python: str | None,
                    newest_python: str | None) -> dict[str, Any]:
    """How Save & Run starts the file: through the consoles API, in the file's directory.

    The interpreter is the file's Python hashbang if it has one, else the
    user's chosen default, else the newest Python 3 installed.  The file is
    named relative to the working directory: console arguments are passed
    as they are, and only an isolated console sees homes at ``/home/<user>``
    (the working directory itself is mapped in every mode).
    """
    executable = python_hashbang(text) or default_python or newest_python or DEFAULT_PYTHON
    name = posixpath.basename(visible)
    return {"executable": executable, "arguments": ["-i", f"./{name}" if name.startswith("-") else name],
            "working_directory": posixpath.dirname(visible)}


def directory_context(access: FileAccess, located: Located, entries: list[DirectoryEntry],
                      usage: Usage, upload_limit: int) -> dict[str, Any]:
    owner = access.user.name
    directory = located.given
    return {
        "owner": owner,
        "path": directory.visible + "/",
        "breadcrumbs": breadcrumbs(owner, directory, is_file=False),
        "entries": [entry_object(owner, directory, entry) for entry in entries],
        "usage": {"used_bytes": usage.used_bytes, "quota_bytes": usage.quota_bytes},
        "upload_limit_bytes": upload_limit,
        "api_base": api_base(owner),
        "homes": access.homes,
    }


def editor_context(access: FileAccess, located: Located, text: EditorText, share: FileShare | None,
                   newest_python: str | None) -> dict[str, Any]:
    owner = access.user.name
    path = located.given
    return {
        "owner": owner,
        "path": path.visible,
        "breadcrumbs": breadcrumbs(owner, path, is_file=True),
        "content": text.content,
        "etag": text.etag,
        "size": text.size,
        "lossy": text.lossy,
        "too_big": text.too_big,
        "binary": text.binary,
        "download_url": page_url(owner, path.visible),
        "language": language_of(path.name, text.content),
        "api_base": api_base(owner),
        "file_api_url": file_api_url(owner, path.visible),
        "lint_url": lint_url(owner),
        "share_url": share.url if share is not None else None,
        "run": run_description(path.visible, text.content, access.user.default_python, newest_python),
    }


def share_context(shared: SharedFile, logged_in: bool, copied: str | None) -> dict[str, Any]:
    share = shared.share
    name = posixpath.basename(share.path)
    return {
        "owner": share.owner,
        "path": share.path,
        "filename": name,
        "content": shared.text.content,
        "too_big": shared.text.too_big,
        "binary": shared.text.binary,
        "language": language_of(name, shared.text.content),
        "can_copy": logged_in,
        "copy_url": share.url,
        "copied": copied,
    }
