"""Helpers for the web-app tests: a server with a short app timeout, people, visits."""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from tests.client import Client, Response
from tests.ide.test_sharing import Person, person
from tests.server import ServerProcess, unisolated_server

APP_TIMEOUT = 3
IDLE_STOP = 6


@pytest.fixture(scope="module")
def apps_server() -> Iterator[ServerProcess]:
    """An unisolated server whose front gives up on an app after APP_TIMEOUT seconds."""
    with unisolated_server("--webapp-timeout", str(APP_TIMEOUT), "--webapp-idle-stop", str(IDLE_STOP)) as server:
        yield server


def owner(server: ServerProcess, account_type: str = "free") -> Person:
    return person(server, "web", account_type=account_type)


def domain_of(who: Person) -> str:
    return f"{who.name}.localhost"


def apps(who: Person) -> str:
    return who.base() + "webapps/"


async def create_app(who: Person, domain: str | None = None) -> dict[str, Any]:
    response = await who.api.post(apps(who), {"domain_name": domain or domain_of(who),
                                              "python_version": "python311"})
    assert response.status == 201, response.text
    return response.json()


async def patch(client: Client, path: str, body: dict[str, Any]) -> Response:
    return await client.request("PATCH", path, body)


async def visit(server: ServerProcess, host: str, path: str = "/", method: str = "GET",
                headers: dict[str, str] | None = None, body: bytes | None = None,
                timeout: float = 60) -> HTTPResponse:
    """A visitor's request to ``host`` (sent to the server's own address, as a browser resolves *.localhost)."""
    return await AsyncHTTPClient().fetch(
        f"http://127.0.0.1:{server.port}{path}", method=method,
        headers={"Host": f"{host}:{server.port}", **(headers or {})}, body=body,
        allow_nonstandard_methods=True, raise_error=False, follow_redirects=False, request_timeout=timeout)


def www_file(server: ServerProcess, who: Person, domain: str | None = None) -> Path:
    return server.data_dir / "www" / who.name / ((domain or domain_of(who)).replace(".", "_") + "_wsgi.py")


def log_file(server: ServerProcess, who: Person, kind: str, domain: str | None = None) -> Path:
    return server.data_dir / "log" / who.name / f"{domain or domain_of(who)}.{kind}.log"


def write_app(server: ServerProcess, who: Person, source: str, domain: str | None = None) -> None:
    """Replace the WSGI file as the user's own programs would (owned by them)."""
    path = www_file(server, who, domain)
    stat = path.stat()
    path.write_text(source)
    os.chown(path, stat.st_uid, stat.st_gid)


def program(server: ServerProcess, webapp: dict[str, Any]) -> dict[str, str]:
    """The supervisor's record of the app in Redis."""
    with server.redis() as client:
        return client.hgetall(f"ide:program:webapp:{webapp['id']}")  # type: ignore[return-value]


async def eventually(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
