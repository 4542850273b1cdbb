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


class HashedAssetHandler(StaticFileHandler):
    """Serves bundles whose names change with their content: cache for a year,
    and send the ``.gz`` file built next to each one when the client takes gzip."""

    _gzipped = False

    def get_cache_time(self, path: str, modified: Any, mime_type: str) -> int:
        return 365 * 24 * 3600

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "public, max-age=31536000, immutable")
        self.set_header("Vary", "Accept-Encoding")
        if self._gzipped:
            self.set_header("Content-Encoding", "gzip")

    async def get(self, path: str, include_body: bool = True) -> None:
        accepts_gzip = "gzip" in self.request.headers.get("Accept-Encoding", "")
        if accepts_gzip and not path.endswith(".gz") and os.path.isfile(
                os.path.join(self.root, path + ".gz")):
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
