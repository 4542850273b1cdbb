"""Ending a credential ends what it opened: logins, API calls and live console streams.

Each test attacks with an old credential after the change: a tab logged in
before a password change, a stream opened before logout, a script holding a
revoked token.
"""
from __future__ import annotations

import pytest

from tests.client import Client
from tests.consoles.sockjs_client import ConsoleClient, connect

PASSWORD = "correct horse"
NEW_PASSWORD = "battery staple"


def cookie_header(client: Client) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}


async def logged_in(server, name: str, password: str = PASSWORD) -> Client:
    client = Client(server.url)
    await client.login(name, password)
    return client


async def start_console(client: Client, owner: str) -> str:
    response = await client.post(f"/api/v0/user/{owner}/consoles/", {"executable": "bash"})
    assert response.status == 201, response.text
    return response.json()["id"]


async def stream(server, console_id: str, headers: dict[str, str],
                 transport: str = "websocket") -> ConsoleClient:
    client = await connect(transport, server.url, console_id, headers=headers)
    first = await client.until(lambda m: m[0] in ("setup", "disconnect"))
    assert first[0] == "setup", first
    return client


async def still_typing(client: ConsoleClient, marker: str) -> None:
    await client.type(f"echo {marker}$((6*7))\r")
    await client.output_until(f"{marker}42")


async def ended(client: ConsoleClient) -> str:
    messages = await client.until_closed()
    assert messages[-1][0] == "disconnect", messages[-3:]
    return messages[-1][1]


async def change_password(client: Client, revoke_token: bool) -> None:
    form = {"action": "password", "current": PASSWORD, "password": NEW_PASSWORD,
            "password2": NEW_PASSWORD}
    if revoke_token:
        form["revoke_token"] = "on"
    response = await client.post("/account/", form=form)
    assert response.status == 200 and "Password changed" in response.text, response.text[:500]


@pytest.mark.gen_test(timeout=120)
async def test_a_password_change_ends_the_other_tabs_sessions_and_streams_at_once(ide_server):
    name = ide_server.add_user("pw")
    old_tab, this_tab = await logged_in(ide_server, name), await logged_in(ide_server, name)
    console = await start_console(this_tab, name)
    old_stream = await stream(ide_server, console, cookie_header(old_tab))
    old_polling = await stream(ide_server, console, cookie_header(old_tab), transport="xhr_polling")
    this_stream = await stream(ide_server, console, cookie_header(this_tab), transport="xhr_streaming")
    await still_typing(old_stream, "BEFORE")

    await change_password(this_tab, revoke_token=False)

    assert "password was changed" in await ended(old_stream)
    assert "password was changed" in await ended(old_polling)
    await still_typing(this_stream, "AFTER")
    # The old tab's cookie opens nothing any more.
    assert (await old_tab.get("/account/")).status == 302
    assert (await old_tab.get(f"/api/v0/user/{name}/consoles/")).status == 401
    refused = await connect("websocket", ide_server.url, console, headers=cookie_header(old_tab))
    assert (await ended(refused)) == "Console not found or access denied"


@pytest.mark.gen_test(timeout=120)
async def test_a_password_change_can_revoke_the_token_and_its_streams(ide_server):
    name = ide_server.add_user("pwt")
    token = ide_server.cli("user", "token", name).stdout.strip()
    script = Client(ide_server.url, token=token)
    tab = await logged_in(ide_server, name)
    console = await start_console(script, name)
    script_stream = await stream(ide_server, console, {"Authorization": f"Token {token}"})
    tab_stream = await stream(ide_server, console, cookie_header(tab))

    await change_password(tab, revoke_token=True)

    assert "password was changed" in await ended(script_stream)
    assert (await script.get(f"/api/v0/user/{name}/consoles/")).status == 401
    await still_typing(tab_stream, "KEPT")


@pytest.mark.gen_test(timeout=120)
async def test_keeping_the_token_on_a_password_change_keeps_its_streams(ide_server):
    name = ide_server.add_user("pwk")
    token = ide_server.cli("user", "token", name).stdout.strip()
    script = Client(ide_server.url, token=token)
    tab = await logged_in(ide_server, name)
    console = await start_console(script, name)
    script_stream = await stream(ide_server, console, {"Authorization": f"Token {token}"})

    await change_password(tab, revoke_token=False)

    await still_typing(script_stream, "TOKEN")
    assert (await script.get(f"/api/v0/user/{name}/consoles/")).status == 200


@pytest.mark.gen_test(timeout=120)
async def test_the_cli_password_reset_ends_every_session_token_and_stream(ide_server):
    name = ide_server.add_user("cli")
    token = ide_server.cli("user", "token", name).stdout.strip()
    script = Client(ide_server.url, token=token)
    tab = await logged_in(ide_server, name)
    console = await start_console(tab, name)
    tab_stream = await stream(ide_server, console, cookie_header(tab))
    script_stream = await stream(ide_server, console, {"Authorization": f"Token {token}"},
                                 transport="xhr_streaming")

    ide_server.cli("user", "set", name, "--password", NEW_PASSWORD)

    assert "password was changed" in await ended(tab_stream)
    assert "password was changed" in await ended(script_stream)
    assert (await tab.get(f"/api/v0/user/{name}/consoles/")).status == 401
    assert (await script.get(f"/api/v0/user/{name}/consoles/")).status == 401
    assert (await logged_in(ide_server, name, NEW_PASSWORD)).cookies


@pytest.mark.gen_test(timeout=120)
async def test_logout_ends_the_streams_of_that_login_only(ide_server):
    name = ide_server.add_user("out")
    leaving, staying = await logged_in(ide_server, name), await logged_in(ide_server, name)
    console = await start_console(staying, name)
    leaving_stream = await stream(ide_server, console, cookie_header(leaving))
    staying_stream = await stream(ide_server, console, cookie_header(staying))
    stolen_cookie = cookie_header(leaving)

    assert (await leaving.post("/logout/", form={})).status == 302

    assert await ended(leaving_stream) == "You logged out."
    await still_typing(staying_stream, "STAYING")
    refused = await connect("xhr_streaming", ide_server.url, console, headers=stolen_cookie)
    assert (await ended(refused)) == "Console not found or access denied"


@pytest.mark.gen_test(timeout=120)
async def test_revoking_or_replacing_a_token_ends_what_it_opened(ide_server):
    name = ide_server.add_user("tok")
    tab = await logged_in(ide_server, name)
    for action in ("create_token", "revoke_token"):
        token = ide_server.cli("user", "token", name).stdout.strip()
        console = await start_console(Client(ide_server.url, token=token), name)
        script_stream = await stream(ide_server, console, {"Authorization": f"Token {token}"})
        tab_stream = await stream(ide_server, console, cookie_header(tab))
        response = await tab.post("/account/", form={"action": action})
        assert response.status == 200, response.text[:300]
        assert "token" in await ended(script_stream)
        await still_typing(tab_stream, "TAB")
        assert (await Client(ide_server.url, token=token).get(
            f"/api/v0/user/{name}/consoles/")).status == 401
        await tab.delete(f"/api/v0/user/{name}/consoles/{console}/")
