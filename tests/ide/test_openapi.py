"""The OpenAPI document says exactly what the routes do."""
from __future__ import annotations

import pytest
import tornado.web
import yaml

from ide.api.openapi import OPENAPI_FILE
from ide.app import api_routes
from ide.routes import API_PREFIX
from tests.client import Client

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def implemented_methods(handler: type) -> set[str]:
    return {m for m in HTTP_METHODS
            if getattr(handler, m) is not getattr(tornado.web.RequestHandler, m)}


def test_every_route_is_documented_with_its_methods_and_nothing_else():
    document = yaml.safe_load(OPENAPI_FILE.read_text())
    documented = {path: {m for m in item if m in HTTP_METHODS}
                  for path, item in document["paths"].items()}
    routed = {route.template.removeprefix(API_PREFIX): implemented_methods(route.handler_class)
              for route in api_routes(services=None)}  # type: ignore[arg-type]
    assert routed == documented


def test_every_operation_documents_auth_failures():
    document = yaml.safe_load(OPENAPI_FILE.read_text())
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                assert "401" in item[method]["responses"], f"{method.upper()} {path}"


@pytest.mark.gen_test
async def test_document_is_served(ide_server):
    response = await Client(ide_server.url).get("/api/v0/openapi.yaml")
    assert response.status == 200
    assert yaml.safe_load(response.body)["openapi"].startswith("3.")
