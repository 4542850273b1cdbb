"""Serves the API's OpenAPI description, kept beside the code it describes."""
from __future__ import annotations

from pathlib import Path

import tornado.web

OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")


class OpenApiHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/yaml; charset=UTF-8")
        self.set_header("Access-Control-Allow-Origin", "*")
        self.finish(OPENAPI_FILE.read_bytes())
