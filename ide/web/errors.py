"""The one place where domain errors become HTTP statuses."""
from __future__ import annotations

import http.client

from tornado.web import HTTPError

from consoles import (
    ConsoleLimitReached,
    ConsoleNotRunning,
    InputBufferFull,
    LauncherInvalid,
    LauncherNotFound,
    ProcessNotYours,
)
from consoles.node_link import NodeUnavailable, RemoteError
from consoles.sharing import ConsoleGone, ShareModeInvalid
from ide.accounts import AccountError, UserExists, UserNotFound
from ide.class_store import NotInClass
from ide.console_service import ConsoleNotFound, ConsoleRequestInvalid
from ide.console_sharing import NotATeacher, NotConsoleOwner, ShareNotFound
from ide.files.errors import (
    EditConflict,
    FilesError,
    FileShareNotFound,
    LintUnavailable,
    PathExists,
    PathForbidden,
    PathNotFound,
    QuotaExceeded,
    TooLarge,
)
from ide.login_throttle import TooManyAttempts
from ide.webapps.errors import StaticMappingNotFound, WebappInvalid, WebappNotFound
from sandbox import SpawnError
from tasks.always_on import AlwaysOnNotFound
from tasks.store import TaskNotFound
from tasks.timing import TaskInvalid

# Most specific first: the first matching class wins.
_STATUS_BY_ERROR: list[tuple[type[Exception], int]] = [
    (UserNotFound, 404),
    (UserExists, 409),
    (AccountError, 400),
    (TooManyAttempts, 429),
    (ConsoleNotFound, 404),
    (ProcessNotYours, 404),
    (ConsoleLimitReached, 403),
    (ConsoleNotRunning, 409),
    (InputBufferFull, 409),
    (NodeUnavailable, 503),
    (RemoteError, 502),
    (ConsoleRequestInvalid, 400),
    (LauncherInvalid, 400),
    (LauncherNotFound, 404),
    (SpawnError, 400),
    (NotConsoleOwner, 403),
    (NotATeacher, 403),
    (ShareNotFound, 404),
    (NotInClass, 404),
    (ConsoleGone, 404),
    (ShareModeInvalid, 400),
    (PathNotFound, 404),
    (FileShareNotFound, 404),
    (PathForbidden, 403),
    (PathExists, 409),
    (EditConflict, 409),
    (TooLarge, 413),
    (QuotaExceeded, 507),
    (LintUnavailable, 503),
    (TaskNotFound, 404),
    (AlwaysOnNotFound, 404),
    (TaskInvalid, 400),  # TaskLimitReached too: the message says to delete one or upgrade
    (WebappNotFound, 404),
    (StaticMappingNotFound, 404),
    (WebappInvalid, 400),
    (FilesError, 400),  # malformed paths and bodies, a file where a directory was meant
]


def status_for(error: BaseException) -> int | None:
    if isinstance(error, HTTPError):
        return error.status_code
    for cls, status in _STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return None


def message_for(status: int, error: BaseException | None) -> str:
    """A sentence a user can act on, never a traceback."""
    if isinstance(error, HTTPError):
        if error.log_message:
            return error.log_message % error.args if error.args else error.log_message
        return error.reason or http.client.responses.get(status, "Error")
    if error is not None and status_for(error) is not None:
        return str(error)
    if status >= 500:
        return "Something went wrong on the server; it has been logged."
    return http.client.responses.get(status, "Error")
