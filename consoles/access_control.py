"""Applying changes of access to the connections open on this node, and passing them on.

Access changes must reach every node, since a console's viewers are
connected to the node that runs it: :class:`AccessControl` applies a change
here at once and publishes it on the ``ide:control`` channel, where every
other node's :class:`AccessControl` applies it to the consoles it runs.
Changes travel sealed with the deployment's key (``consoles/signing.py``):
one that no node (or ``ide`` command) of the deployment sealed is ignored.
Whether someone may still attach, and how, is asked of the web layer's
``check`` coroutine, never decided here.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from consoles.access import Access
from consoles.keys import CONTROL_CHANNEL
from consoles.sharing import AccessChange, AccountTypeChange, announce
from consoles.subscription import Subscription

if TYPE_CHECKING:
    from consoles.console import Console
    from consoles.manager import ConsoleManager

log = logging.getLogger(__name__)

AccessCheck = Callable[[str, str, str], Awaitable[Access | None]]
"""``check(username, credential, console_id)``: may this connection stay, and how."""


AccountTypeHook = Callable[[str, str], Awaitable[None]]
"""What else a node does when a user's account type changed: (username, new type)."""


class AccessControl:
    """Applies access changes to the consoles of this node, and passes them on to the other nodes.

    ``check(username, credential, console_id)`` is the web layer's answer to
    "may this connection, opened by this person with this login or token,
    still use this console, and read-only or not" (None: not at all).
    """

    def __init__(self, redis: aioredis.Redis, manager: ConsoleManager, check: AccessCheck,
                 on_account_type: AccountTypeHook | None = None) -> None:
        self._redis = redis
        self._manager = manager
        self._check = check
        self._on_account_type = on_account_type
        self._receiver = manager.node_key.receiver()
        self._subscription = Subscription(redis, CONTROL_CHANNEL, self._received, "console access changes")

    async def publish(self, change: AccessChange) -> int:
        """Apply ``change`` here now, then tell the other nodes; returns the connections changed here."""
        applied = await self.apply(change)
        await announce(self._redis, change, self._manager.node_id, self._manager.node_key)
        return applied

    async def apply(self, change: AccessChange) -> int:
        """Ask again about every affected connection on this node: end it, switch its mode, or keep it."""
        if change.console_id is not None:
            live = self._manager.get_live(change.console_id)
            consoles = [live] if live is not None else []
        elif change.owner is not None:
            consoles = self._manager.live_for(change.owner)
        else:
            consoles = self._manager.live_viewed_by(change.username or "")
        changed = 0
        for console in consoles:
            changed += await self._recheck(console, change)
        return changed

    async def _recheck(self, console: Console, change: AccessChange) -> int:
        logins = sorted((name, credential) for name, credential in console.logins()
                        if name == change.username
                        or (change.username is None and name != console.owner))
        changed = 0
        for name, credential in logins:
            access = await self._check(name, credential, console.id)
            if access is None:
                changed += console.disconnect_user(name, change.reason, credential)
            else:
                changed += console.set_readonly(name, access.readonly, credential)
        return changed

    # Listening to the other nodes ----------------------------------------------

    async def start(self) -> None:
        """Listen for the other nodes' changes; returns once subscribed."""
        await self._subscription.start()

    async def stop(self) -> None:
        await self._subscription.stop()

    async def _received(self, data: str) -> None:
        payload = self._receiver.open(CONTROL_CHANNEL, data)
        if payload is None:
            return
        try:
            message = json.loads(payload)
            kind = message.get("type")
            if kind == "account_type":
                await self._account_type_changed(AccountTypeChange.from_message(message))
                return
            if kind != "access" or message.get("node") == self._manager.node_id:
                return  # another kind of control event, or our own (applied when published)
            change = AccessChange.from_message(message)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring an unreadable control message %.200r: %s", payload, exc)
            return
        try:
            await self.apply(change)
        except Exception:
            log.exception("applying an access change from another node failed")

    async def _account_type_changed(self, change: AccountTypeChange) -> None:
        try:
            await self._manager.account_type_changed(change.username, change.account_type)
            if self._on_account_type is not None:
                await self._on_account_type(change.username, change.account_type)
        except Exception:
            log.exception("applying %s's new account type failed", change.username)
