"""Front-end bundles: content-hashed names from esbuild's manifest, served
pre-compressed with year-long cache lifetimes."""
from __future__ import annotations

import json
import mimetypes
import os
from pathlib import Path
from typing import Any

from tornado.web import StaticFileHandler

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "static"
DIST_DIR = STATIC_DIR / "js" / "dist"
DIST_URL = "/static/js/dist/"
DIST_PREFIX = "js/dist/"
"""Where the bundles are, relative to STATIC_DIR."""
YEAR = 365 * 24 * 3600


class MissingBundle(Exception):
    pass


class AssetManifest:
    """Maps logical bundle names (``console.js``) to their hashed URLs."""

    def __init__(self, dist_dir: Path = DIST_DIR) -> None:
        self.dist_dir = dist_dir
        manifest = dist_dir / "manifest.json"
        try:
            self._names: dict[str, str] = json.loads(manifest.read_text())
        except FileNotFoundError:
            raise MissingBundle(f"the front-end bundles are not built ({manifest} is missing): "
                                "run `npm ci && npm run build`") from None

    def url(self, name: str) -> str:
        try:
            return DIST_URL + self._names[name]
        except KeyError:
            raise MissingBundle(f"no bundle named {name!r} in {self.dist_dir}/manifest.json; "
                                "run `npm run build`") from None


class StaticHandler(StaticFileHandler):
    """Everything under ``/static/``; Tornado's ``static_handler_class``, so
    that no route of Tornado's own serves these files first.

    Bundles (``js/dist/``) have names that change with their content: they
    are cached for a year, immutable, and the ``.gz`` file built next to each
    one is sent to clients that take gzip.  Other files (the style sheets)
    are linked with ``static_url``'s ``?v=<hash>`` and cached as Tornado does.
    """

    _gzipped = False
    _original_path = ""

    @staticmethod
    def _is_bundle(path: str) -> bool:
        return path.startswith(DIST_PREFIX)

    def get_cache_time(self, path: str, modified: Any, mime_type: str) -> int:
        if self._is_bundle(path):
            return YEAR
        return super().get_cache_time(path, modified, mime_type)

    def set_extra_headers(self, path: str) -> None:
        if not self._is_bundle(path):
            return
        self.set_header("Cache-Control", f"public, max-age={YEAR}, immutable")
        self.set_header("Vary", "Accept-Encoding")
        if self._gzipped:
            self.set_header("Content-Encoding", "gzip")

    async def get(self, path: str, include_body: bool = True) -> None:
        accepts_gzip = "gzip" in self.request.headers.get("Accept-Encoding", "")
        if (self._is_bundle(path) and accepts_gzip and not path.endswith(".gz")
                and os.path.isfile(os.path.join(self.root, path + ".gz"))):
            self._gzipped = True
            self._original_path = path
            path += ".gz"
        await super().get(path, include_body)

    def get_content_type(self) -> str:
        if self._gzipped:
            mime, _ = mimetypes.guess_type(self._original_path)
            return (mime or "application/octet-stream") + (
                "; charset=UTF-8" if mime and ("javascript" in mime or mime.startswith("text/")) else "")
        return super().get_content_type()
