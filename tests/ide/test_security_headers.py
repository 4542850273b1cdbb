"""Every answer carries the content-security policy, and with --secure-cookies
Strict-Transport-Security too: pages, API answers, errors, static files,
bundles and the console stream's own endpoints."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from ide.assets import AssetManifest
from tests.client import Client
from tests.ide.test_body_limit import read_until_closed, send_headers
from tests.server import ServerProcess, unisolated_server

REQUIRED = ["default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'",
            "form-action 'self'", "frame-ancestors 'self'", "connect-src 'self'", "style-src 'self'"]


@pytest.fixture(scope="module")
def secure_server() -> Iterator[ServerProcess]:
    with unisolated_server("--secure-cookies") as server:
        yield server


async def _answers(server: ServerProcess) -> dict[str, object]:
    """(what, response) for one answer of every kind."""
    name = server.add_user("hdr")
    api = Client(server.url, token=server.cli("user", "token", name).stdout.strip())
    anonymous = Client(server.url)
    bundle = AssetManifest().url("console.js")
    boundary = uuid.uuid4().hex
    return {
        "login page": await anonymous.get("/login/"),
        "redirect": await anonymous.get("/"),
        "page 404": await anonymous.get("/no/such/page"),
        "api 200": await api.get(f"/api/v0/user/{name}/cpu/"),
        "api 401": await anonymous.get(f"/api/v0/user/{name}/cpu/"),
        "api 404": await anonymous.get("/api/v0/nothing"),
        "upload 401": await anonymous.request(
            "POST", f"/api/v0/user/{name}/files/path/home/{name}/x.txt", raw_body=b"--x--",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}),
        "download": await api.get(f"/api/v0/user/{name}/files/path/home/{name}/"),
        "style sheet": await anonymous.get("/static/css/site.css"),
        "bundle": await anonymous.get(bundle),
        "missing static": await anonymous.get("/static/nope.css"),
        "sockjs info": await anonymous.get("/consoles/sockjs/info"),
        "openapi": await anonymous.get("/api/v0/openapi.yaml"),
    }


@pytest.mark.gen_test(timeout=60)
async def test_every_answer_has_the_policy_and_hsts_with_secure_cookies(secure_server):
    for what, response in (await _answers(secure_server)).items():
        headers = response.headers  # type: ignore[attr-defined]
        assert headers.get("Strict-Transport-Security", "").startswith("max-age="), what
        policy = headers.get("Content-Security-Policy", "")
        if what == "download":
            continue  # a user's file gets its own, stricter sandbox policy (below)
        for directive in REQUIRED:
            assert directive in policy, (what, directive, policy)
        assert "unsafe-eval" not in policy
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert headers.get("Referrer-Policy") == "same-origin", what
        assert headers.get("X-Content-Type-Options") == "nosniff", what


@pytest.mark.gen_test(timeout=60)
async def test_no_hsts_without_secure_cookies_but_the_policy_still(ide_server):
    for what, response in (await _answers(ide_server)).items():
        headers = response.headers  # type: ignore[attr-defined]
        assert "Strict-Transport-Security" not in headers, what
        assert "Content-Security-Policy" in headers, what


@pytest.mark.gen_test
async def test_a_users_file_keeps_its_sandbox_policy(ide_server):
    name = ide_server.add_user("hdr")
    home = ide_server.data_dir / "home" / name
    home.mkdir(parents=True, exist_ok=True)
    (home / "page.html").write_text("<script>alert(1)</script>")
    api = Client(ide_server.url, token=ide_server.cli("user", "token", name).stdout.strip())
    response = await api.get(f"/api/v0/user/{name}/files/path/home/{name}/page.html")
    assert response.status == 200
    assert response.headers["Content-Security-Policy"].startswith("sandbox")


def test_a_refused_body_has_them_too(secure_server):
    sock = send_headers(secure_server, "POST", "/login/", 5 * 1024 * 1024)
    with sock:
        head = read_until_closed(sock).partition(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.1 413")
    assert "Strict-Transport-Security: max-age=" in head and "script-src 'self'" in head
