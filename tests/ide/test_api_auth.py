"""API v0 authentication: tokens, session cookies with XSRF, and refusals."""
from __future__ import annotations

import pytest

from tests.client import Client


@pytest.fixture
def token_user(ide_server):
    name = ide_server.add_user()
    token = ide_server.cli("user", "token", name).stdout.strip()
    return name, token


@pytest.mark.gen_test
async def test_token_is_alone_on_its_line_and_long(ide_server, token_user):
    _, token = token_user
    assert "\n" not in token and len(token) >= 32
    assert int(token, 16).bit_length() > 128


@pytest.mark.gen_test
async def test_token_grants_its_own_user(ide_server, token_user):
    name, token = token_user
    response = await Client(ide_server.url, token=token).get(f"/api/v0/user/{name}/teacher/")
    assert response.status == 200
    assert response.json() == {"teacher": None}


@pytest.mark.gen_test
async def test_missing_token_is_401_with_detail(ide_server, token_user):
    name, _ = token_user
    response = await Client(ide_server.url).get(f"/api/v0/user/{name}/teacher/")
    assert response.status == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response.headers["WWW-Authenticate"].startswith("Token")


@pytest.mark.gen_test
@pytest.mark.parametrize("header", ["Token 0000", "Token ", "Bearer abc", "Token " + "f" * 40, "garbage"])
async def test_wrong_token_is_401(ide_server, token_user, header):
    name, _ = token_user
    response = await Client(ide_server.url).get(f"/api/v0/user/{name}/teacher/",
                                                headers={"Authorization": header})
    assert response.status == 401
    assert response.json() == {"detail": "Invalid token."}


@pytest.mark.gen_test
async def test_token_of_one_user_on_another_users_url_is_403(ide_server, token_user):
    _, token = token_user
    other = ide_server.add_user()
    ide_server.cli("user", "set", other, "--teacher", token_user[0])
    response = await Client(ide_server.url, token=token).get(f"/api/v0/user/{other}/teacher/")
    assert response.status == 403
    assert response.json() == {"detail": "You do not have permission to perform this action."}
    assert token_user[0] not in response.text


@pytest.mark.gen_test
async def test_new_token_revokes_the_old(ide_server, token_user):
    name, old = token_user
    new = ide_server.cli("user", "token", name).stdout.strip()
    assert new != old
    assert (await Client(ide_server.url, token=old).get(f"/api/v0/user/{name}/teacher/")).status == 401
    assert (await Client(ide_server.url, token=new).get(f"/api/v0/user/{name}/teacher/")).status == 200


@pytest.mark.gen_test
async def test_tokens_are_stored_only_as_digests(ide_server, token_user):
    _, token = token_user
    keys = ide_server.redis_call("KEYS", "ide:token:*")
    assert keys and all(token not in key for key in keys)


@pytest.mark.gen_test
async def test_session_cookie_needs_the_xsrf_header_on_writes(ide_server):
    name = ide_server.add_user()
    teacher = ide_server.add_user()
    client = Client(ide_server.url)
    await client.login(name)
    assert (await client.get(f"/api/v0/user/{name}/teacher/")).status == 200
    forged = await client.put(f"/api/v0/user/{name}/teacher/", {"teacher": teacher}, xsrf=False)
    assert forged.status == 403
    assert "XSRF" in forged.json()["detail"] or "_xsrf" in forged.json()["detail"]
    assert (await client.get(f"/api/v0/user/{name}/teacher/")).json() == {"teacher": None}
    ok = await client.put(f"/api/v0/user/{name}/teacher/", {"teacher": teacher})
    assert ok.status == 200 and ok.json() == {"teacher": teacher}


@pytest.mark.gen_test
@pytest.mark.parametrize("body, message", [
    (b"{not json", "The body is not valid JSON"),
    (b"[1, 2]", "The body must be a JSON object."),
    (b"\xff\xfe", "The body is not valid JSON"),
    (b'{"teacher": 5}', 'give the teacher\'s username'),
])
async def test_malformed_bodies_are_400_with_detail(ide_server, token_user, body, message):
    name, token = token_user
    response = await Client(ide_server.url, token=token).put(
        f"/api/v0/user/{name}/teacher/", raw_body=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert message in response.json()["detail"]


@pytest.mark.gen_test
async def test_teacher_endpoint_round_trip(ide_server, token_user):
    name, token = token_user
    teacher = ide_server.add_user("t")
    client = Client(ide_server.url, token=token)
    unknown = await client.put(f"/api/v0/user/{name}/teacher/", {"teacher": "nobody_zz"})
    assert unknown.status == 404 and "nobody_zz" in unknown.json()["detail"]
    answer = await client.put(f"/api/v0/user/{name}/teacher/", {"teacher": teacher.upper()})
    assert answer.json() == {"teacher": teacher}
    assert name in ide_server.redis_call("SMEMBERS", f"ide:teacher:{teacher}:pending")
    deleted = await client.delete(f"/api/v0/user/{name}/teacher/")
    assert deleted.status == 204 and deleted.body == b""
    assert (await client.get(f"/api/v0/user/{name}/teacher/")).json() == {"teacher": None}
    assert name not in ide_server.redis_call("SMEMBERS", f"ide:teacher:{teacher}:pending")
    myself = await client.put(f"/api/v0/user/{name}/teacher/", {"teacher": name})
    assert myself.status == 400 and "own teacher" in myself.json()["detail"]
