"""What can go wrong with a file request, each with a message a user can act on.

``ide/web/errors.py`` maps these classes to HTTP statuses.
"""
from __future__ import annotations


class FilesError(Exception):
    """A file request that cannot be done; the message says why and what to do."""


class BadPath(FilesError):
    """The path itself is malformed: NUL bytes, '..', double encoding, too long."""


class PathNotFound(FilesError):
    """No such file, or one in a home the caller may not reach (never saying which)."""


class PathForbidden(FilesError):
    """The path exists in a reachable home but leads somewhere it must not (a symlink outside)."""


class WrongKind(FilesError):
    """A directory where a file was expected, or the other way round."""


class PathExists(FilesError):
    """Something is already there and the request did not ask to replace it."""


class EditConflict(FilesError):
    """The file changed on disk since the editor loaded it."""


class TooLarge(FilesError):
    """A file, upload or piece of code over its size limit."""


class QuotaExceeded(FilesError):
    """The write would take the home over its account type's disk quota."""


class LintUnavailable(FilesError):
    """The checker could not give an answer in time (or crashed on the code)."""


class FileShareNotFound(FilesError):
    """No such share link, withdrawn, or its file is gone."""


class InvalidRequest(FilesError):
    """A request body or argument is missing or has the wrong shape."""
