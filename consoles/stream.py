"""The console stream over SockJS: attach a connection to a console, dispatch its messages.

Deliberately thin: who may attach (and read-only or not) is decided by the
``authorize`` coroutine the web layer passes in; everything about output,
flow control and sizes lives in :class:`consoles.console.Console`.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from sockjs.tornado import SockJSRouter

from consoles import frames
from consoles.access import Access, AttachRequest
from consoles.console import Console, ConsoleNotRunning
from consoles.pty_channel import InputBufferFull
from consoles.registry import is_console_id
from consoles.sockjs_adapter import ConnectionBase
from consoles.transports import ConsoleRouter, OriginRule, SockJSViewer

if TYPE_CHECKING:
    from consoles.manager import ConsoleManager

log = logging.getLogger(__name__)

REFUSED = "Console not found or access denied"
# Where the console streams are served (a node behind a routing proxy also serves them under its path).
STREAM_PATH = "/consoles/sockjs"
READ_ONLY_NOTICE = "This console is shared with you read-only: what you type is not sent to it."
# Messages kept while authorization is under way (a client has no reason to
# send more before it even got ``setup``); the rest are dropped.
MAX_EARLY_MESSAGES = 64
MAX_EARLY_CHARS = frames.MAX_CLIENT_MESSAGE


Authorizer = Callable[[AttachRequest], Awaitable[Access | None]]


def _request_from(info: Any) -> AttachRequest:
    raw_id = info.get_argument("id") or b""
    console_id = raw_id.decode("utf-8", "replace") if isinstance(raw_id, bytes) else raw_id
    cookies = {name: morsel.value for name, morsel in info.cookies.items()}
    return AttachRequest(console_id=console_id, cookies=cookies, headers=info.headers,
                         remote_ip=info.ip)


class ConsoleConnection(ConnectionBase):
    """One SockJS connection to one console."""

    manager: ClassVar[ConsoleManager]
    authorize: ClassVar[Authorizer]

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self._console: Console | None = None
        self._viewer: SockJSViewer | None = None
        self._early: list[Any] | None = []
        self._early_chars = 0
        self._early_dropped = 0
        self._told_read_only = False

    def on_open(self, info: Any) -> None:
        task = asyncio.ensure_future(self._attach(_request_from(info)))
        task.add_done_callback(_log_failure)

    async def _attach(self, request: AttachRequest) -> None:
        if not is_console_id(request.console_id):
            # Not an id this service makes: refused before anything looks it up.
            self._refuse()
            return
        try:
            access = await type(self).authorize(request)
        except Exception:
            log.exception("authorizing console %r failed", request.console_id)
            access = None
        if self.is_closed:
            return
        console = self.manager.get_live(request.console_id) if access else None
        if access is None or console is None:
            # The same answer for a missing console and someone else's.
            self._refuse()
            return
        self._console = console
        self._viewer = SockJSViewer(self, access)
        console.attach(self._viewer)
        early, self._early = self._early or [], None
        if self._early_dropped:
            self._answer(frames.status(error=f"{self._early_dropped} messages sent before the "
                                             f"console was attached were dropped"))
        for message in early:
            self.on_message(message)

    def _refuse(self) -> None:
        self.send(frames.disconnect(REFUSED).text)
        self.close()

    def on_message(self, message: Any) -> None:
        if self.is_closed:
            return
        if self._console is None or self._viewer is None:
            self._keep_early(message)
            return
        try:
            command = frames.parse_client_message(message)
        except frames.BadMessage as exc:
            self._answer(frames.status(error=str(exc)))
            return
        console, viewer = self._console, self._viewer
        if isinstance(command, frames.Stdin):
            self._type(console, viewer, command.text)
        elif isinstance(command, frames.SetSize):
            console.set_size(viewer, command.rows, command.cols)
        elif isinstance(command, frames.Pause):
            console.pause(viewer)
        else:
            console.resume(viewer)

    def _keep_early(self, message: Any) -> None:
        if self._early is None:
            return
        size = len(message) if isinstance(message, str) else 1
        if len(self._early) < MAX_EARLY_MESSAGES and self._early_chars + size <= MAX_EARLY_CHARS:
            self._early.append(message)
            self._early_chars += size
        else:
            self._early_dropped += 1

    def _type(self, console: Console, viewer: SockJSViewer, text: str) -> None:
        try:
            typed = console.type_from(viewer, text)
        except (ConsoleNotRunning, InputBufferFull) as exc:
            self._answer(frames.status(error=str(exc)))
            return
        if not typed and not self._told_read_only:
            self._told_read_only = True
            self._answer(frames.status(notice="readonly", message=READ_ONLY_NOTICE))

    def _answer(self, frame: frames.Frame) -> None:
        if self._console is not None and self._viewer is not None:
            self._console.tell(self._viewer, frame)

    def on_transport_progress(self) -> None:
        if self._viewer is not None:
            self._viewer.progressed()

    def on_close(self) -> None:
        self._early = None
        if self._console is not None and self._viewer is not None:
            self._console.detach(self._viewer)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("attaching a console stream failed", exc_info=task.exception())


def make_console_router(manager: ConsoleManager, authorize: Authorizer,
                        prefix: str = STREAM_PATH,
                        allowed_origin: OriginRule | None = None) -> SockJSRouter:
    """The SockJS router for console streams; add its ``urls`` to the Tornado application.

    ``authorize`` gets an :class:`AttachRequest` and returns an :class:`Access`
    or None to refuse.  ``allowed_origin(origin, host)`` decides which browser
    origins may connect; by default only the server's own host:port.
    """
    connection = type("BoundConsoleConnection", (ConsoleConnection,),
                      {"manager": manager, "authorize": staticmethod(authorize)})
    return ConsoleRouter(connection, prefix, allowed_origin)
