"""Where the web layer leans on Tornado's internals.

The only module of ``ide`` that touches a private name of Tornado
(``tests/consoles/test_no_private_reaches.py`` enforces that;
``tests/consoles/test_library_contracts.py`` pins what it relies on, and
``docs/architecture.md``, "Reaching into libraries", lists it).
"""
from __future__ import annotations

from typing import Any

import tornado.web


def streams_body(delegate: Any) -> bool:
    """Whether the handler that ``Application.find_handler`` chose reads its body as a stream.

    Relies on: the ``stream_request_body`` attribute of the object
    ``find_handler`` returns (Tornado's private ``_HandlerDelegate``), set from
    the handler class's ``@stream_request_body``.  Why: a request declaring a
    body over the cap goes to a 413 before a byte of it is read, unless its
    handler streams (and caps) the body itself.
    """
    return bool(delegate.stream_request_body)


class ExceptionHookHandler(tornado.web.RequestHandler):
    """A request handler that may answer an exception itself before Tornado does.

    Relies on: ``RequestHandler._handle_request_exception(e)``, which
    Tornado calls for every exception a handler method raises (there is no
    public hook before it turns anything but an ``HTTPError`` into a logged
    500), and ``RequestHandler._finished``.  Why: a domain error (a missing
    file, a refused share) is the user's mistake, not the server's, and is
    answered with its 4xx in one place (``ide/web/errors.py``) instead of
    being caught in every handler.
    """

    def answer_exception(self, e: BaseException) -> bool:
        """Answer ``e`` and return True, or return False to leave it to Tornado."""
        return False

    def is_finished(self) -> bool:
        """Whether the answer has been sent (``finish`` called)."""
        return self._finished

    def _handle_request_exception(self, e: BaseException) -> None:
        if not self.answer_exception(e):
            super()._handle_request_exception(e)
