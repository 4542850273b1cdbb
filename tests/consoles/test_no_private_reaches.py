"""Only the adapter modules touch other libraries' private names (docs/architecture.md,
"Reaching into libraries")."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from tests.consoles.private_reaches import Reach, Scanner

REPO = Path(__file__).resolve().parents[2]
ADAPTERS = ("consoles/sockjs_adapter.py", "ide/web/tornado_adapter.py")


@pytest.fixture(scope="module")
def reaches() -> list[Reach]:
    return Scanner(REPO, ("consoles", "ide", "sandbox")).reaches()


def test_only_the_adapters_reach_into_libraries(reaches):
    assert [str(reach) for reach in reaches if reach.path not in ADAPTERS] == []


def test_the_adapters_are_where_the_reaches_are(reaches):
    # The rule is only as good as the scanner: it does see the adapters' reaches.
    assert {reach.path for reach in reaches} == set(ADAPTERS)


def test_every_kind_of_reach_is_found(tmp_path, monkeypatch):
    package = tmp_path / "reachpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "ours.py").write_text(textwrap.dedent('''
        import tornado.web
        from sockjs.tornado import SockJSRouter
        from tornado.websocket import _PerMessageDeflateCompressor


        class Router(SockJSRouter):
            def rewrite(self):
                self._transport_urls = []


        class Handler(tornado.web.RequestHandler):
            def _handle_request_exception(self, e):
                if self._finished:
                    return
                super()._handle_request_exception(e)


        class Own:
            def __init__(self):
                self._mine = 1

            def read(self, other):
                return other._mine


        def compressed(connection):
            return getattr(connection, "_compressor", None) is not None


        def patch():
            tornado.web.RequestHandler.clear = None
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        found = {(reach.line, reach.what)
                 for reach in Scanner(tmp_path, ("reachpkg",)).reaches()}
    finally:
        for name in [name for name in sys.modules if name.startswith("reachpkg")]:
            del sys.modules[name]
    assert found == {
        (4, "imports tornado.websocket._PerMessageDeflateCompressor"),
        (9, "Router uses the library's self._transport_urls"),
        (13, "Handler overrides the library's _handle_request_exception"),
        (14, "Handler uses the library's self._finished"),
        (16, "Handler uses the library's super()._handle_request_exception"),
        (28, "reads connection._compressor"),
        (32, "patches tornado.web.RequestHandler.clear"),
    }
