"""Changing a user's account type, with everything that follows from it.

The type decides a user's limits everywhere: every node gives the programs
the user runs there the new type's network egress at once (a downgrade ends
direct connections already open), and the user's tasks are fitted to the
new type's limits (those over it disabled, not deleted). The page, the API
and the command line all change types through :class:`AccountTypes`, so no
path forgets a consequence.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from consoles.sharing import AccountTypeChange, ControlMessage
from ide.accounts import AccountStore, check_account_type
from ide.webapps.service import APP_LIMITS
from ide.webapps.store import WebappStore
from tasks.always_on import AlwaysOnStore
from tasks.store import TaskStore

Announce = Callable[[ControlMessage], Awaitable[None]]


class AccountTypes:
    def __init__(self, accounts: AccountStore, announce: Announce, tasks: TaskStore, always_on: AlwaysOnStore,
                 webapps: WebappStore) -> None:
        self._accounts = accounts
        self._announce = announce
        self._tasks = tasks
        self._always_on = always_on
        self._webapps = webapps

    async def change(self, name: str, account_type: str) -> None:
        """Record the type, fit the user's tasks and apps to it in Redis, then tell every node,
        which applies what runs there: network egress, and stopping apps disabled here (an
        always-on task's keeping node stops it when told by the task's own channel)."""
        user = await self._accounts.require(name)
        check_account_type(account_type)
        await self._accounts.set_type(user.name, account_type)
        await self._tasks.fit_account_type(user.name, account_type)
        await self._always_on.fit_account_type(user.name, account_type)
        await self._webapps.disable_beyond(user.name, APP_LIMITS.get(account_type, 0))
        await self._announce(AccountTypeChange(username=user.name, account_type=account_type))
