"""Bundles are served by our handler, not Tornado's own static route: content-
hashed names, cached for a year as immutable, gzip-compressed when asked."""
from __future__ import annotations

import gzip
import http.client
import re
from urllib.parse import urlsplit

from ide.assets import DIST_DIR


def _get(server, path: str, **headers: str) -> tuple[http.client.HTTPResponse, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def _bundles_of(server, page: str) -> list[str]:
    _, html = _get(server, page)
    return re.findall(r'src="(/static/js/dist/[^"]+)"', html.decode())


def test_bundles_are_hashed_immutable_and_gzipped(ide_server):
    bundles = _bundles_of(ide_server, "/login/")
    assert bundles
    for path in bundles:
        assert re.fullmatch(r"/static/js/dist/[a-z_]+-[A-Z0-9]{8}\.js", path), path
        on_disk = (DIST_DIR / path.rsplit("/", 1)[1]).read_bytes()
        zipped, body = _get(ide_server, path, **{"Accept-Encoding": "gzip, deflate, br"})
        assert zipped.status == 200
        assert zipped.getheader("Cache-Control") == "public, max-age=31536000, immutable"
        assert zipped.getheader("Content-Encoding") == "gzip"
        assert zipped.getheader("Vary") == "Accept-Encoding"
        assert "javascript" in zipped.getheader("Content-Type")
        assert gzip.decompress(body) == on_disk and len(body) < len(on_disk)
        plain, body = _get(ide_server, path)
        assert plain.getheader("Cache-Control") == "public, max-age=31536000, immutable"
        assert plain.getheader("Content-Encoding") is None and body == on_disk


def test_style_sheets_are_versioned_and_cached(ide_server):
    _, html = _get(ide_server, "/login/")
    sheet = re.search(r'href="(/static/css/site\.css\?v=[0-9a-f]+)"', html.decode())
    assert sheet
    response, _ = _get(ide_server, sheet.group(1))
    assert response.status == 200
    assert "max-age=" in response.getheader("Cache-Control", "")
    missing, _ = _get(ide_server, "/static/js/dist/nothing-AAAAAAAA.js")
    assert missing.status == 404
    escape, _ = _get(ide_server, "/static/../ide/server.py")
    assert escape.status in (403, 404)
    assert urlsplit(sheet.group(1)).path == "/static/css/site.css"
