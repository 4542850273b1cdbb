"""The console stream serves what its enabled transports need, and nothing else:
no iframe page (which loads a script from a CDN and can be framed by anyone),
no chunking test, no greeting."""
from __future__ import annotations

import pytest

from tests.client import Client


@pytest.mark.gen_test
@pytest.mark.parametrize("method, path", [
    ("GET", "/consoles/sockjs/iframe.html"),
    ("GET", "/consoles/sockjs/iframe-abc.html"),
    ("GET", "/consoles/sockjs/iframe-0.3.4.html"),
    ("POST", "/consoles/sockjs/chunking_test"),
    ("GET", "/consoles/sockjs/"),
    ("GET", "/consoles/sockjs"),
    ("GET", "/consoles/sockjs/000/abcdefgh/htmlfile?c=x"),
    ("GET", "/consoles/sockjs/000/abcdefgh/jsonp?c=x"),
    ("GET", "/consoles/sockjs/000/abcdefgh/eventsource"),
    ("POST", "/consoles/sockjs/000/abcdefgh/jsonp_send"),
])
async def test_unused_sockjs_endpoints_are_gone(ide_server, method, path):
    response = await Client(ide_server.url).request(method, path, xsrf=False)
    assert response.status == 404, (path, response.status, response.text[:200])
    assert "sockjs" not in response.text.lower() and "cdn" not in response.text.lower()


@pytest.mark.gen_test
async def test_info_is_still_served(ide_server):
    response = await Client(ide_server.url).get("/consoles/sockjs/info")
    assert response.status == 200 and response.json()["websocket"] is True
