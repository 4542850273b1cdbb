"""gunicorn as a web app runs it: this file's text is the program the app's own Python runs (``-c``).

It runs in the user's sandbox, under their interpreter and virtualenv, so
it imports nothing of ours and only the standard library and gunicorn
(found through ``IDE_GUNICORN_SITE``, appended to ``sys.path`` after
everything else, so the app's virtualenv wins).  It adds two things to
plain gunicorn, both in the worker, once the app is loaded:

- **Ready marks**: an empty file named by the worker's pid in
  ``IDE_READY_DIR``, so a reload is known to be done when every new worker
  has loaded the new code (not merely been forked; a worker that cannot
  import the app never marks itself, and gunicorn then stops).
- **Incidents**: an exception that escapes the app (not an app answering
  500 itself) is written to stderr, which is the app's error log, between
  two lines naming a random incident id; the answer is a bare 500 with
  ``X-Ide-App-Error: <id>``, which the front replaces with its own error
  page (the traceback from the log for the app's owner only).
"""
import os
import secrets
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

StartResponse = Callable[..., Any]
Wsgi = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

INCIDENT_HEADER = "X-Ide-App-Error"
INCIDENT_START = "--- error in the web app, incident {incident}: {request} ---\n"
INCIDENT_END = "--- end of incident {incident} ---\n"


def record_incident(environ: dict[str, Any], exc_info: Any) -> str:
    """Write the traceback to the error log in one write; returns the incident id."""
    kind, value, frames = exc_info  # the first frame is this wrapper's: the app's start below it
    incident = secrets.token_hex(16)
    request = f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '')}"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    block = (stamp + " " + INCIDENT_START.format(incident=incident, request=request)
             + "".join(traceback.format_exception(kind, value, frames.tb_next or frames))
             + INCIDENT_END.format(incident=incident))
    os.write(2, block.encode(errors="replace"))
    return incident


def failed(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    incident = record_incident(environ, sys.exc_info())
    start_response("500 Internal Server Error",
                   [("Content-Type", "text/plain; charset=utf-8"), (INCIDENT_HEADER, incident)], sys.exc_info())
    return [b"Internal Server Error\n"]


class Answer:
    """The app's answer with its first piece already taken (an app that raises while making
    it is still marked); passes ``close`` on, as WSGI requires."""

    def __init__(self, first: bytes | None, rest: Iterator[bytes], result: Iterable[bytes]) -> None:
        self.first, self.rest, self.result = first, rest, result

    def __iter__(self) -> Iterator[bytes]:
        if self.first is not None:
            yield self.first
        yield from self.rest

    def close(self) -> None:
        close_result(self.result)


def close_result(result: Iterable[bytes]) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


def marking(app: Wsgi) -> Wsgi:
    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            result = app(environ, start_response)
        except Exception:
            return failed(environ, start_response)
        rest = iter(result)
        try:
            first = next(rest, None)
        except Exception:
            close_result(result)
            return failed(environ, start_response)
        return Answer(first, rest, result)
    return application


def main() -> None:
    sys.path.append(os.environ["IDE_GUNICORN_SITE"])
    ready_dir = os.environ["IDE_READY_DIR"]
    # A new start is a new PID namespace: marks of the last one could name reused pids.
    shutil.rmtree(ready_dir, ignore_errors=True)
    os.makedirs(ready_dir, exist_ok=True)
    from gunicorn.app.wsgiapp import WSGIApplication  # type: ignore[import-untyped]

    class MarkedApplication(WSGIApplication):  # type: ignore[misc]
        def load_wsgiapp(self) -> Wsgi:
            loaded = marking(super().load_wsgiapp())
            with open(os.path.join(ready_dir, str(os.getpid())), "w"):
                pass
            return loaded

    sys.argv[0] = "gunicorn"
    MarkedApplication("%(prog)s [OPTIONS] [APP_MODULE]", prog="gunicorn").run()


if __name__ == "__main__":  # as ``python -c``
    main()
