"""Logging in and out through the real pages, and what bad input gets."""
from __future__ import annotations

import pytest

from tests.client import Client


@pytest.mark.gen_test
async def test_login_then_dashboard_then_logout(ide_server):
    name = ide_server.add_user()
    client = Client(ide_server.url)
    response = await client.login(name)
    assert response.headers["Location"] == "/"
    cookie = next(h for h in response.headers.get_list("Set-Cookie") if h.startswith("ide_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    dashboard = await client.get("/")
    assert dashboard.status == 200 and name in dashboard.text and "Dashboard" in dashboard.text
    # This server runs with --sandbox off, and the dashboard says so plainly.
    assert "Sandboxing is off" in dashboard.text
    stolen = dict(client.cookies)
    assert (await client.post("/logout/", form={})).status == 302
    replay = Client(ide_server.url)
    replay.cookies = stolen
    after = await replay.get("/")
    assert after.status == 302 and after.headers["Location"] == "/login/"


@pytest.mark.gen_test
async def test_login_is_case_insensitive(ide_server):
    name = ide_server.add_user()
    client = Client(ide_server.url)
    await client.login(name.upper())
    assert name in (await client.get("/")).text


@pytest.mark.gen_test
async def test_wrong_password_and_unknown_user_get_the_same_answer(ide_server):
    name = ide_server.add_user()
    client = Client(ide_server.url)
    await client.get("/login/")
    wrong = await client.post("/login/", form={"username": name, "password": "nope-nope"})
    unknown = await client.post("/login/", form={"username": "nobody_here", "password": "nope-nope"})
    assert wrong.status == unknown.status == 403
    assert "Wrong username or password." in wrong.text and "Wrong username or password." in unknown.text
    assert "ide_session" not in client.cookies


@pytest.mark.gen_test
async def test_login_without_xsrf_token_is_refused(ide_server):
    name = ide_server.add_user()
    client = Client(ide_server.url)
    response = await client.post("/login/", form={"username": name, "password": "correct horse"}, xsrf=False)
    assert response.status == 403
    assert "_xsrf" in response.text
    assert "ide_session" not in client.cookies


@pytest.mark.gen_test
async def test_failed_logins_slow_the_address_down_for_a_while(ide_server):
    name = ide_server.add_user()
    client = Client(ide_server.url)
    await client.get("/login/")
    for _ in range(5):
        assert (await client.post("/login/", form={"username": name, "password": "wrong-pass"})).status == 403
    blocked = await client.post("/login/", form={"username": name, "password": "correct horse"})
    assert blocked.status == 429 and 1 <= int(blocked.headers["Retry-After"]) <= 2
    assert "Too many failed logins from your address. Try again in" in blocked.text
    # The counters carry a time-to-live: forgotten a day after the last failure.
    result = ide_server.redis_call("TTL", f"ide:loginfail:pair:{name}:127.0.0.1")
    assert 0 < int(result) <= 24 * 3600
    ide_server.redis_call("DEL", f"ide:loginfail:pair:{name}:127.0.0.1", "ide:loginfail:ip:127.0.0.1")
    assert (await client.post("/login/", form={"username": name, "password": "correct horse"})).status == 302


@pytest.mark.gen_test
async def test_next_parameter_cannot_leave_the_site(ide_server):
    name = ide_server.add_user()
    client = Client(ide_server.url)
    await client.get("/login/")
    response = await client.post("/login/", form={"username": name, "password": "correct horse",
                                                  "next": "//evil.example/"})
    assert response.headers["Location"] == "/"


@pytest.mark.gen_test
async def test_signup_is_off_unless_enabled(ide_server):
    client = Client(ide_server.url)
    response = await client.get("/signup/")
    assert response.status == 404
    assert "Sign-up is not enabled" in response.text


@pytest.mark.gen_test
async def test_unknown_page_is_a_clear_404(ide_server):
    response = await Client(ide_server.url).get("/no/such/page")
    assert response.status == 404
    assert "There is no page at this address." in response.text
