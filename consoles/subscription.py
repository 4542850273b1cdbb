"""One Redis pub/sub channel listened to for as long as a node runs, across Redis restarts."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

# How long to wait before subscribing again once Redis went away (seconds).
RESUBSCRIBE_DELAY = 1.0


class Subscription:
    """Hands each message of ``channel`` to ``on_message``, one at a time, in order.

    ``what`` names the channel's purpose in the log when the connection is lost.
    ``on_subscribed`` runs each time the channel is (again) listened to: what
    was published while it was not is lost, and a listener that keeps state
    from the messages starts over there.
    """

    def __init__(self, redis: aioredis.Redis, channel: str, on_message: Callable[[str], Awaitable[None]],
                 what: str, on_subscribed: Callable[[], None] | None = None) -> None:
        self._redis = redis
        self._channel = channel
        self._on_message = on_message
        self._what = what
        self._on_subscribed = on_subscribed
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        """Listen from now on; returns once subscribed."""
        if self._listener is None:
            self._listener = asyncio.ensure_future(self._listen())
        await self._subscribed.wait()

    @property
    def listening(self) -> bool:
        """Whether messages arrive now (False from the loss of the channel until it is back)."""
        return self._subscribed.is_set()

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except asyncio.CancelledError:
                pass
            self._listener = None
            self._subscribed.clear()

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub()
            # redis-py leaves aclose() unannotated; this is the type it has.
            close_pubsub: Callable[[], Awaitable[None]] = pubsub.aclose
            try:
                await pubsub.subscribe(self._channel)
                self._subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self._on_message(message["data"])
                    elif message.get("type") == "subscribe" and self._on_subscribed is not None:
                        # Also after redis-py reconnected by itself, messages lost meanwhile.
                        self._on_subscribed()
            except Exception as exc:  # Redis went away: listen again once it is back
                self._subscribed.clear()
                log.warning("%s: lost the channel %s (%s); retrying", self._what, self._channel, exc)
                await asyncio.sleep(RESUBSCRIBE_DELAY)
            finally:
                await close_pubsub()
