"""The Account page: API token shown once, revoked; password; default Python; teacher."""
from __future__ import annotations

import re

import pytest

from tests.client import Client


async def _account_post(client: Client, **form: str):
    return await client.post("/account/", form=form)


@pytest.mark.gen_test
async def test_token_is_shown_once_and_works_then_revoked(ide_server):
    name = ide_server.add_user()
    client = Client(ide_server.url)
    await client.login(name)
    created = await _account_post(client, action="create_token")
    token = re.search(r'<code class="token" id="api-token">([0-9a-f]+)</code>', created.text).group(1)
    again = await client.get("/account/")
    assert token not in again.text and "You have an API token" in again.text
    api = Client(ide_server.url, token=token)
    assert (await api.get(f"/api/v0/user/{name}/teacher/")).status == 200
    revoked = await _account_post(client, action="revoke_token")
    assert "API token revoked." in revoked.text
    assert (await api.get(f"/api/v0/user/{name}/teacher/")).status == 401


@pytest.mark.gen_test
async def test_account_page_needs_login_and_xsrf(ide_server):
    anonymous = await Client(ide_server.url).get("/account/")
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/login/")
    name = ide_server.add_user()
    client = Client(ide_server.url)
    await client.login(name)
    forged = await client.post("/account/", form={"action": "create_token"}, xsrf=False)
    assert forged.status == 403
    assert "You have no API token" in (await client.get("/account/")).text


@pytest.mark.gen_test
async def test_password_change_ends_other_sessions(ide_server):
    name = ide_server.add_user()
    laptop, phone = Client(ide_server.url), Client(ide_server.url)
    await laptop.login(name)
    await phone.login(name)
    wrong = await _account_post(laptop, action="password", current="bad-password",
                                password="new password 1", password2="new password 1")
    assert wrong.status == 400 and "The current password is wrong." in wrong.text
    short = await _account_post(laptop, action="password", current="correct horse",
                                password="short", password2="short")
    assert short.status == 400 and "at least 8 characters" in short.text
    changed = await _account_post(laptop, action="password", current="correct horse",
                                  password="new password 1", password2="new password 1")
    assert changed.status == 200 and "Password changed" in changed.text
    assert (await laptop.get("/")).status == 200
    assert (await phone.get("/")).status == 302
    await Client(ide_server.url).login(name, "new password 1")


@pytest.mark.gen_test
async def test_teacher_and_default_python_are_saved(ide_server):
    name = ide_server.add_user()
    teacher = ide_server.add_user("t")
    client = Client(ide_server.url)
    await client.login(name)
    unknown = await _account_post(client, action="teacher", teacher="nobody_zz")
    assert unknown.status == 400 and "no user named" in unknown.text
    saved = await _account_post(client, action="teacher", teacher=teacher)
    assert f"Teacher saved: {teacher} has to accept you" in saved.text and f'value="{teacher}"' in saved.text
    assert f"<strong>{teacher}</strong> (pending)" in saved.text
    bogus = await _account_post(client, action="python", default_python="/bin/sh")
    assert bogus.status == 400 and "is not installed here" in bogus.text
