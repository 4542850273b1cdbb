"""Messages between nodes: only those sealed by the deployment's key, for their channel, just now
and once, are acted on; anything else published on Redis is ignored and logged without its content."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time

import pytest
import redis.asyncio as aioredis

from consoles.keys import CONTROL_CHANNEL
from consoles.node_link import NodeLink, channel_of
from consoles.sharing import AccessChange, announce
from consoles.signing import NodeKey
from tests.consoles.node import DEPLOYMENT_KEY, DEPLOYMENT_SECRET, ConsoleNode, screen_text, wait_for
from tests.consoles.test_sharing_control import TICKER, control_for

OTHER_KEY = NodeKey(b"a secret of some other deployment, or a guess")


def sealed_at(secret: bytes, channel: str, payload: str, timestamp_ms: int) -> str:
    """A message sealed as docs/architecture.md describes it, at any time (written from the
    document, not with the module under test)."""
    nonce = secrets.token_hex(16)
    signed = b"\n".join([b"ide-node-message", b"1", channel.encode(), str(timestamp_ms).encode(),
                         nonce.encode(), payload.encode()])
    mac = hmac.new(secret, signed, hashlib.sha256).hexdigest()
    return json.dumps({"v": 1, "t": timestamp_ms, "n": nonce, "p": payload, "mac": mac})


def input_request(console_id: str, text: str) -> str:
    """A well-formed request to type ``text`` into a console, as a node sends it."""
    return json.dumps({"operation": "input", "console": console_id, "arguments": {"text": text},
                       "reply": "ide:node-reply:" + secrets.token_hex(16), "from": "node-b"})


async def next_published(pubsub: aioredis.client.PubSub) -> str:
    """The next message published on what ``pubsub`` listens to (skipping its confirmations)."""
    async def published() -> str | None:
        message = await pubsub.get_message(timeout=0.1)
        return message["data"] if message and message["type"] == "message" else None
    return await wait_for(published, message="a message on the channel")


def test_the_documented_format_opens_and_any_change_is_refused(caplog):
    now = int(time.time() * 1000)
    receiver = DEPLOYMENT_KEY.receiver()
    assert receiver.open("ide:x", sealed_at(DEPLOYMENT_SECRET, "ide:x", "hello", now)) == "hello"
    assert receiver.open("ide:x", DEPLOYMENT_KEY.seal("ide:x", "sealed here")) == "sealed here"

    good = json.loads(DEPLOYMENT_KEY.seal("ide:x", "pay 1"))
    refused = {
        "tampered": json.dumps({**good, "p": "pay 1000"}),
        "for another channel": DEPLOYMENT_KEY.seal("ide:y", "pay 1"),
        "another key": OTHER_KEY.seal("ide:x", "pay 1"),
        "unsigned": "pay 1",
        "stale": sealed_at(DEPLOYMENT_SECRET, "ide:x", "pay 1", now - 31_000),
        "from the future": sealed_at(DEPLOYMENT_SECRET, "ide:x", "pay 1", now + 31_000),
        "a float timestamp": json.dumps({**good, "t": good["t"] + 0.5}),
    }
    caplog.set_level(logging.WARNING, logger="consoles.signing")
    for what, message in refused.items():
        assert receiver.open("ide:x", message) is None, what
    reasons = [record.getMessage() for record in caplog.records]
    assert all(reason.startswith("ignoring a message on ide:x: ") for reason in reasons)
    assert not any("pay 1" in reason for reason in reasons)  # the content is never logged
    assert "signed 31 s ago, outside the 30 s window" in reasons[4]

    once = DEPLOYMENT_KEY.seal("ide:x", "once")
    assert receiver.open("ide:x", once) == "once"
    assert receiver.open("ide:x", once) is None
    assert caplog.records[-1].getMessage().endswith("a replay of a message already received")
    # Another listener (another node in this process) gets its own copy of a published message.
    assert DEPLOYMENT_KEY.receiver().open("ide:x", once) == "once"
    with pytest.raises(ValueError, match="at least 32 bytes"):
        NodeKey(b"short")


@pytest.mark.gen_test(timeout=60)
async def test_a_request_no_node_sealed_types_nothing_into_a_console(redis_socket, homes, caplog):
    async with ConsoleNode(redis_socket, homes, node_id="node-a") as node_a, \
            ConsoleNode(redis_socket, homes, node_id="node-b") as node_b:
        console = await node_a.start_console(owner="alice")
        record = await node_b.manager.record(console.id)
        attacker = node_b.redis  # anything that reaches Redis
        channel = channel_of("node-a")
        attacks = [input_request(console.id, "echo PWNED$((6*7))\r"),
                   OTHER_KEY.seal(channel, input_request(console.id, "echo PWNED$((6*7))\r")),
                   DEPLOYMENT_KEY.seal(channel_of("node-b"), input_request(console.id, "echo PWNED$((6*7))\r"))]
        for forged in attacks:
            assert await attacker.publish(channel, forged) == 1  # node-a listens, and hears it

        await node_b.manager.send_input(record, "echo GENUINE$((6*7))\r")

        async def genuine_done() -> bool:
            return "GENUINE42" in await node_b.manager.latest_output(record)
        await wait_for(genuine_done, message="the genuine request's output")
        assert "PWNED42" not in screen_text(console, 5000)
        warnings = [r.getMessage() for r in caplog.records if r.name == "consoles.signing"]
        assert warnings == ["ignoring a message on ide:node:node-a: not a signed message"] + [
            "ignoring a message on ide:node:node-a: bad signature (not sealed by a node of this "
            "deployment for this channel)"] * 2


@pytest.mark.gen_test(timeout=60)
async def test_a_captured_request_replayed_is_refused_now_and_later(redis_socket, homes, caplog):
    async with ConsoleNode(redis_socket, homes, node_id="node-a") as node_a, \
            ConsoleNode(redis_socket, homes, node_id="node-b") as node_b:
        console = await node_a.start_console(owner="alice")
        record = await node_b.manager.record(console.id)
        channel = channel_of("node-a")
        eavesdropper = node_b.redis.pubsub()
        await eavesdropper.subscribe(channel)
        try:
            await node_b.manager.send_input(record, "echo RAN$((1+1)) >> ran.log; echo RAN$((2+3))\r")
            await wait_for(lambda: "RAN5" in screen_text(console), message="the genuine run")
            captured = await next_published(eavesdropper)
        finally:
            await eavesdropper.aclose()
        await node_b.redis.publish(channel, captured)  # replayed at once
        payload = json.loads(captured)["p"]
        old = int(time.time() * 1000) - 600_000  # as if captured ten minutes ago
        await node_b.redis.publish(channel, sealed_at(DEPLOYMENT_SECRET, channel, payload, old))

        await node_b.manager.send_input(record, "echo LINES$(wc -l < ran.log)\r")
        await wait_for(lambda: "LINES" in screen_text(console).replace("echo LINES", ""),
                       message="the last genuine run")
        assert "LINES1" in screen_text(console)  # the command ran once, not three times
        warnings = [r.getMessage() for r in caplog.records if r.name == "consoles.signing"]
        assert warnings == ["ignoring a message on ide:node:node-a: a replay of a message already received",
                            "ignoring a message on ide:node:node-a: signed 600 s ago, outside the 30 s window"]


@pytest.mark.gen_test(timeout=30)
async def test_an_answer_pushed_by_anyone_else_is_skipped_for_the_genuine_one(redis_socket, caplog):
    redis = aioredis.Redis(unix_socket_path=redis_socket, decode_responses=True)
    forged_pushed = asyncio.Event()

    async def slow_genuine(operation, console_id, arguments):
        await forged_pushed.wait()
        return "genuine"

    serving = NodeLink(redis, "node-a", DEPLOYMENT_KEY, slow_genuine)
    asking = NodeLink(redis, "node-b", DEPLOYMENT_KEY, slow_genuine, timeout=10)
    eavesdropper = redis.pubsub()
    await eavesdropper.subscribe(channel_of("node-a"))
    await serving.start()

    async def forge() -> None:
        seen = await next_published(eavesdropper)
        reply_key = json.loads(json.loads(seen)["p"])["reply"]  # requests are signed, not secret
        await redis.rpush(reply_key, json.dumps({"result": "forged"}),
                          OTHER_KEY.seal(reply_key, json.dumps({"result": "forged"})))
        forged_pushed.set()

    try:
        forging = asyncio.ensure_future(forge())
        assert await asking.ask("node-a", "output", "0123456789abcdef") == "genuine"
        await forging
        warnings = [r.getMessage() for r in caplog.records if r.name == "consoles.signing"]
        assert len(warnings) == 2 and all(w.startswith("ignoring a message on ide:node-reply:") for w in warnings)
    finally:
        await eavesdropper.aclose()
        await serving.stop()
        await redis.aclose()


@pytest.mark.gen_test(timeout=60)
async def test_an_access_change_no_node_sealed_is_not_applied(redis_socket, homes, caplog):
    async with ConsoleNode(redis_socket, homes) as service:
        control = control_for(service)
        await control.start()
        try:
            console = await service.start_console(owner="alice", argv=TICKER)
            service.shares[(console.id, "bob")] = "ro"
            service.shares[(console.id, "carol")] = "ro"
            bob = await service.attach(console, user="bob")
            carol = await service.attach(console, user="carol")
            for client in (bob, carol):
                await client.output_until(r"tick")
            del service.shares[(console.id, "bob")], service.shares[(console.id, "carol")]

            forged = AccessChange(console_id=console.id, username="bob", reason="forged")
            await service.redis.publish(CONTROL_CHANNEL, forged.to_json("node-x"))
            await service.redis.publish(CONTROL_CHANNEL, OTHER_KEY.seal(CONTROL_CHANNEL, forged.to_json("node-x")))
            # The command line's announcement, signed: applied after the forgeries were read.
            await announce(service.redis, AccessChange(console_id=console.id, username="carol", reason="signed"),
                           "cli:1", DEPLOYMENT_KEY)
            assert (await carol.until_closed())[-1] == ["disconnect", "signed"]
            assert not bob.closed.is_set()
            assert sorted(console.viewers()) == [("bob", True)]
            warnings = [r.getMessage() for r in caplog.records if r.name == "consoles.signing"]
            assert [w.split(": ")[0] for w in warnings] == ["ignoring a message on ide:control"] * 2
        finally:
            await control.stop()
