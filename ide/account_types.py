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

Announce = Callable[[ControlMessage], Awaitable[None]]


class AccountTypes:
    def __init__(self, accounts: AccountStore, announce: Announce) -> None:
        self._accounts = accounts
        self._announce = announce

    async def change(self, name: str, account_type: str) -> None:
        user = await self._accounts.require(name)
        check_account_type(account_type)
        await self._accounts.set_type(user.name, account_type)
        await self._announce(AccountTypeChange(username=user.name, account_type=account_type))
