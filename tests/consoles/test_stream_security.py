"""The stream's guards: origin rule, token auth, refusals, malformed input, early messages."""
from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from consoles.frames import MAX_CLIENT_MESSAGE
from tests.consoles.node import ConsoleNode
from tests.consoles.sockjs_client import connect


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("path", ["/consoles/sockjs/000/abcdef/websocket", "/consoles/sockjs/websocket"])
async def test_cross_origin_websocket_is_refused(redis_socket, homes, path):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console()
        url = service.url.replace("http", "ws") + path + "?id=" + console.id
        headers = {"Cookie": "user=alice", "Origin": "http://evil.example"}
        with pytest.raises(HTTPClientError) as refused:
            await websocket_connect(HTTPRequest(url, headers=headers))
        assert refused.value.code == 403
        # A page of the site itself (same host:port) is let in.
        own = await websocket_connect(HTTPRequest(url, headers={**headers, "Origin": service.url}))
        own.close()
        assert service.requests[-1].console_id == console.id


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("transport", ["xhr_streaming", "xhr", "xhr_send"])
async def test_cross_origin_xhr_is_refused_without_cors_headers(redis_socket, homes, transport):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console()
        client = AsyncHTTPClient(force_instance=True)
        url = f"{service.url}/consoles/sockjs/000/abcdef/{transport}?id={console.id}"
        with pytest.raises(HTTPClientError) as refused:
            await client.fetch(url, method="POST", body="",
                               headers={"Cookie": "user=alice", "Origin": "http://evil.example"})
        assert refused.value.code == 403
        assert "Access-Control-Allow-Origin" not in refused.value.response.headers
        client.close()
        assert service.requests == []


@pytest.mark.gen_test(timeout=60)
async def test_token_header_is_passed_to_authorize(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(owner="alice")
        client = await connect("raw_websocket", service.url, console.id,
                               headers={"Authorization": "Token alice"})
        setup = await client.next()
        assert setup[1]["owner"] == "alice" and setup[1]["readonly"] is False
        request = service.requests[-1]
        assert request.remote_ip == "127.0.0.1" and request.console_id == console.id
        await client.close()


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("transport", ["websocket", "raw_websocket", "xhr_polling"])
async def test_bad_frames_are_answered_and_the_connection_stays_usable(redis_socket, homes, transport):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console()
        client = await service.attach(console, transport=transport)
        await client.until(lambda m: m[0] == "setup")
        bad = ["not json", "{}", "[]", '"stdin"', "[1, 2]", '["nope"]', '["stdin"]', '["stdin", 5]',
               '["set_size", "a", 3]', '["set_size", 0, 80]', '["set_size", 24, 1001]',
               '["set_size", true, 80]', '["set_size", 24]', "x" * (MAX_CLIENT_MESSAGE + 1)]
        for text in bad:
            await client.send_text(text)
        errors = []
        while len(errors) < len(bad):
            message = await client.until(lambda m: m[0] == "status" and "error" in m[1])
            errors.append(message[1]["error"])
        assert "not valid JSON" in errors[0]
        assert "unknown message type" in errors[5]
        assert "rows must be a whole number from 1 to 1000" in errors[9]
        assert "message too large" in errors[-1]
        await client.type("echo still $((40+2))\n")
        await client.output_until(r"still 42")


@pytest.mark.gen_test(timeout=60)
async def test_non_string_sockjs_messages_are_answered(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console()
        client = await service.attach(console, transport="websocket")
        await client.until(lambda m: m[0] == "setup")
        await client.send_raw_frame(json.dumps([["stdin", "ls\n"]]))
        message = await client.until(lambda m: m[0] == "status" and "error" in m[1])
        assert "JSON text" in message[1]["error"]
        await client.type("echo fine\n")
        await client.output_until(r"\rfine\r\n")


@pytest.mark.gen_test(timeout=60)
async def test_messages_sent_before_authorization_completes_are_kept(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console()
        service.gate = asyncio.Event()
        client = await service.attach(console, transport="websocket")
        await client.type("echo early $((2*3))\n")
        while not service.requests:
            await asyncio.sleep(0.01)
        service.gate.set()
        assert (await client.next())[0] == "setup"
        await client.output_until(r"\rearly 6\r\n")


@pytest.mark.gen_test(timeout=60)
async def test_early_messages_are_bounded(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console()
        service.gate = asyncio.Event()
        client = await service.attach(console, transport="raw_websocket")
        await client.send_text("x" * (MAX_CLIENT_MESSAGE - 100))  # not JSON: answered later
        await client.type("y" * 200)  # past the budget for early messages
        await client.type("echo kept\n")
        while not service.requests:
            await asyncio.sleep(0.01)
        service.gate.set()
        error = await client.until(lambda m: m[0] == "status" and "error" in m[1])
        assert error[1]["error"] == "1 messages sent before the console was attached were dropped"
        error = await client.until(lambda m: m[0] == "status" and "error" in m[1])
        assert "not valid JSON" in error[1]["error"]
        await client.output_until(r"\rkept\r\n")
        assert "y" * 200 not in client.output
