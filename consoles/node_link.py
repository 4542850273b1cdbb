"""Requests from one node to another about the consoles the other one runs.

A console's terminal and scrollback live in the memory of the node that
started it, but a request about it (close it, type into it, read its screen)
may reach any node of the deployment.  That node publishes the request on
the owning node's channel in Redis; the owner acts and pushes its answer onto
a list made for that one request, which the asking node pops with a timeout.
Nobody subscribed, or no answer in time, means the owner is down: the caller
is told so instead of waiting.

Requests and answers travel sealed with the deployment's key
(``consoles/signing.py``), each for the channel or list it is sent on: a
request or an answer that no node of the deployment sealed there is ignored
(the asker keeps waiting for the genuine answer).
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, cast

import redis.asyncio as aioredis

from consoles.keys import NODE_CHANNEL_PREFIX, NODE_REPLY_PREFIX
from consoles.signing import NodeKey
from consoles.subscription import Subscription

log = logging.getLogger(__name__)

# How long a node waits for another's answer (seconds).  The work asked for
# is an IOLoop turn or two on the other side.
ANSWER_TIMEOUT = 5.0
# An answer nobody popped (the asker gave up) expires after this long (seconds).
REPLY_TTL = 60

# What the owning node runs for a request: (operation, console id, arguments) -> a JSON-able result.
RequestHandler = Callable[[str, str, dict[str, Any]], Awaitable[Any]]


class NodeUnavailable(Exception):
    """The node running a console did not answer.

    ``listening`` is False when it was not even subscribed: it is down, and
    its programs with it (a node that stops kills its consoles).
    """

    def __init__(self, node: str, listening: bool) -> None:
        self.node = node
        self.listening = listening
        super().__init__(f"The server running this console ({node}) is not answering; "
                         f"try again in a moment.")


class RemoteError(Exception):
    """The other node refused the request; ``kind`` names the error it raised there."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


def channel_of(node: str) -> str:
    return NODE_CHANNEL_PREFIX + node


class NodeLink:
    """This node's end: asks other nodes, and answers their requests with ``handler``."""

    def __init__(self, redis: aioredis.Redis, node_id: str, key: NodeKey, handler: RequestHandler,
                 refusals: tuple[type[Exception], ...] = (), timeout: float = ANSWER_TIMEOUT) -> None:
        self._redis = redis
        self._node_id = node_id
        self._key = key
        self._receiver = key.receiver()
        self._handler = handler
        # Errors ``handler`` raises to refuse a request: answers, not failures to log.
        self._refusals = refusals
        self._timeout = timeout
        self._subscription = Subscription(redis, channel_of(node_id), self._received, "node requests")
        # Requests being answered (the loop keeps only weak references to tasks).
        self._answering: set[asyncio.Task[None]] = set()

    # Asking ------------------------------------------------------------------

    async def ask(self, node: str, operation: str, console_id: str, **arguments: Any) -> Any:
        """Run ``operation`` on ``node``'s console; its result, or the error it raised there.

        Raises :class:`NodeUnavailable` when the node is not listening or
        does not answer in time, :class:`RemoteError` when it refused.
        """
        reply_key = NODE_REPLY_PREFIX + secrets.token_hex(16)
        request = json.dumps({"operation": operation, "console": console_id, "arguments": arguments,
                              "reply": reply_key, "from": self._node_id})
        if await self._redis.publish(channel_of(node), self._key.seal(channel_of(node), request)) == 0:
            raise NodeUnavailable(node, listening=False)
        reply = json.loads(await self._answer_on(reply_key, node))
        if "error" in reply:
            raise RemoteError(str(reply["error"]), str(reply.get("message", "")))
        return reply.get("result")

    async def _answer_on(self, reply_key: str, node: str) -> str:
        """The first answer on ``reply_key`` sealed by a node of this deployment; anything
        else pushed there (by whatever saw the request go by) is skipped."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while (left := deadline - loop.time()) > 0:
            # A timeout of 0 would make BLPOP wait for ever.
            popped = await self._redis.blpop([reply_key], timeout=max(left, 0.01))
            if popped is None:
                break
            payload = self._receiver.open(reply_key, cast(str, popped[1]))  # decode_responses
            if payload is not None:
                return payload
        raise NodeUnavailable(node, listening=True)

    # Answering ---------------------------------------------------------------

    async def start(self) -> None:
        """Answer other nodes' requests from now on; returns once subscribed."""
        await self._subscription.start()

    async def stop(self) -> None:
        await self._subscription.stop()

    async def _received(self, data: str) -> None:
        # Answered concurrently: a slow request does not hold up the next.
        task = asyncio.ensure_future(self._answer(data))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, data: str) -> None:
        payload = self._receiver.open(channel_of(self._node_id), data)
        if payload is None:
            return
        try:
            request = json.loads(payload)
            operation, console_id = str(request["operation"]), str(request["console"])
            arguments, reply_key = dict(request.get("arguments") or {}), str(request["reply"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring an unreadable node request %.200r: %s", payload, exc)
            return
        if not reply_key.startswith(NODE_REPLY_PREFIX):
            log.warning("ignoring a node request with a foreign reply key %.100r", reply_key)
            return
        try:
            reply: dict[str, Any] = {"result": await self._handler(operation, console_id, arguments)}
        except Exception as exc:
            if isinstance(exc, self._refusals):
                reply = {"error": type(exc).__name__, "message": str(exc)}
            else:
                log.exception("answering %s on console %s for node %s failed", operation, console_id,
                              request.get("from"))
                reply = {"error": "failure", "message": "The server running this console failed to do "
                                                        "that; the failure has been logged there."}
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.rpush(reply_key, self._key.seal(reply_key, json.dumps(reply)))
                pipe.expire(reply_key, REPLY_TTL)
                await pipe.execute()
        except Exception:
            log.exception("sending the answer to node %s failed", request.get("from"))
