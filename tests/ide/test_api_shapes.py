"""Every answer under /api/ is JSON, and every API route works with and without
its trailing slash, as PythonAnywhere's clients expect (``pythonanywhere-core``
removes a student with ``DELETE .../students/<name>``)."""
from __future__ import annotations

import pytest

from tests.client import Client, Response


def _token_client(server, prefix: str, teacher: str | None = None) -> tuple[str, Client]:
    name = server.add_user(prefix, account_type="hacker", teacher=teacher)
    return name, Client(server.url, token=server.cli("user", "token", name).stdout.strip())


def _json_detail(response: Response) -> str:
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:200]
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    return detail


@pytest.mark.gen_test
async def test_routes_answer_without_their_trailing_slash(ide_server):
    name, api = _token_client(ide_server, "slash")
    base = f"/api/v0/user/{name}/"
    for path in ("cpu", "teacher", "consoles", "consoles/shared_with_you", "launchers", "processes",
                 "students"):
        with_slash, without = await api.get(base + path + "/"), await api.get(base + path)
        assert without.status == with_slash.status == 200, (path, without.status, without.text[:200])
        assert type(without.json()) is type(with_slash.json())
    tree = await api.get(base + f"files/tree?path=/home/{name}/")
    assert tree.status == 200 and isinstance(tree.json(), list)
    created = await api.post(base + "consoles", {"executable": "bash"})
    assert created.status == 201, created.text
    console_id = created.json()["id"]
    assert (await api.get(base + f"consoles/{console_id}")).json()["id"] == console_id
    sent = await api.post(base + f"consoles/{console_id}/send_input", {"input": "echo hi\n"})
    assert sent.status == 200
    assert (await api.delete(base + f"consoles/{console_id}")).status == 204


@pytest.mark.gen_test
async def test_a_student_is_removed_the_way_pythonanywhere_core_does_it(ide_server):
    teacher, api = _token_client(ide_server, "teach")
    student = ide_server.add_user("kid", teacher=teacher)
    removed = await api.delete(f"/api/v0/user/{teacher}/students/{student}")
    assert removed.status == 204, removed.text[:300]
    missing = await api.delete(f"/api/v0/user/{teacher}/students/nosuchuser_x9")
    assert missing.status == 404
    assert "not one of your students" in _json_detail(missing)


@pytest.mark.gen_test
async def test_unknown_api_urls_are_json_404s(ide_server):
    name, api = _token_client(ide_server, "lost")
    anonymous = Client(ide_server.url)
    browser = Client(ide_server.url)
    await browser.login(ide_server.add_user("lostb"))
    for client, method, path in [
            (api, "GET", f"/api/v0/user/{name}/no/such/thing/"),
            (api, "DELETE", f"/api/v0/user/{name}/nothing"),
            (anonymous, "GET", "/api/v2/anything"),
            (anonymous, "POST", "/api/"),
            (anonymous, "GET", "/api"),
            # A cookie session without the XSRF header: still a 404, not a form's refusal.
            (browser, "DELETE", f"/api/v0/user/{name}/no/such/thing"),
    ]:
        response = await client.request(method, path, xsrf=False)
        assert response.status == 404, (method, path, response.status, response.text[:200])
        assert _json_detail(response) == "There is no API endpoint at this address."


@pytest.mark.gen_test
async def test_wrong_methods_are_json_405s(ide_server):
    name, api = _token_client(ide_server, "meth")
    for method, path in [("PUT", "cpu/"), ("DELETE", "cpu"), ("PATCH", "consoles/"), ("PUT", "lint")]:
        response = await api.request(method, f"/api/v0/user/{name}/{path}",
                                     body=None if method == "DELETE" else {})
        assert response.status == 405, (method, path, response.status, response.text[:200])
        _json_detail(response)


@pytest.mark.gen_test
async def test_cookie_write_without_xsrf_header_is_a_json_403(ide_server):
    name = ide_server.add_user("cook")
    browser = Client(ide_server.url)
    await browser.login(name)
    for method, path in [("POST", "consoles/"), ("DELETE", "students/somebody"),
                         ("PUT", "teacher"), ("POST", "lint/")]:
        refused = await browser.request(method, f"/api/v0/user/{name}/{path}",
                                        body=None if method == "DELETE" else {}, xsrf=False)
        assert refused.status == 403, (method, path, refused.status)
        assert "X-XSRFToken" in _json_detail(refused)
    allowed = await browser.request("POST", f"/api/v0/user/{name}/lint", body={"code": "x = 1\n"})
    assert allowed.status == 200 and allowed.json() == []
