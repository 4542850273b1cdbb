"""Who a console is shared with: by name (read-only or read-write) or with a teacher's class.

Only the owner changes it; each change publishes the re-check of open
connections itself (``ConsoleAccessPolicy.recheck``), so a revoked viewer is
disconnected at once on whichever node runs the console.
"""
from __future__ import annotations

from typing import Any

from consoles import ConsoleManager, ConsoleRecord
from consoles.sharing import MODES, AccessChange, ShareModeInvalid
from ide.accounts import AccountError, AccountStore, canonical_username
from ide.console_policy import ConsoleAccessPolicy
from ide.console_service import ConsoleNotFound
from ide.serializers import share_object

# The last segment of the URL that ends a broadcast; so no share may use it as a name.
CLASS_SEGMENT = "all_students"


class NotConsoleOwner(Exception):
    def __init__(self, owner: str) -> None:
        super().__init__(f"Only {owner}, who owns this console, can change who it is shared with.")


class NotATeacher(Exception):
    def __init__(self) -> None:
        super().__init__("Only teachers can share with all their students, and you have no students "
                         "yet: accept those who named you as their teacher, or give your class the "
                         "link on your Students page.")


class ShareNotFound(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(f"This console is not shared with {what}.")


class ConsoleSharing:
    """Who a console is shared with, changed only by its owner."""

    def __init__(self, manager: ConsoleManager, accounts: AccountStore, policy: ConsoleAccessPolicy) -> None:
        self.manager = manager
        self.accounts = accounts
        self.policy = policy

    async def owned(self, caller: str, console_id: str) -> ConsoleRecord:
        """The caller's console; 404 for consoles they cannot see, 403 for those they only use."""
        record = await self.manager.record(console_id)
        if record is None:
            raise ConsoleNotFound()
        if record.owner != caller:
            if await self.policy.access_for(caller, console_id) is None:
                raise ConsoleNotFound()
            raise NotConsoleOwner(record.owner)
        return record

    async def describe(self, caller: str, console_id: str) -> dict[str, Any]:
        record = await self.owned(caller, console_id)
        shares = await self.policy.shares.shares(record.id)
        return {"shares": [share_object(name, mode) for name, mode in shares.items()],
                "all_students": await self.policy.shares.is_broadcast(record.id)}

    async def share(self, caller: str, console_id: str, username: str, mode: object) -> tuple[str, bool]:
        """Share with ``username`` in ``mode``: the sharee's name, and True when the share is new."""
        record = await self.owned(caller, console_id)
        if not isinstance(mode, str) or mode not in MODES:
            raise ShareModeInvalid(mode)
        sharee = (await self.accounts.require(username)).name
        if sharee == caller:
            raise AccountError("You own this console already: share it with someone else.")
        if sharee == CLASS_SEGMENT:
            raise AccountError(f"A user named {CLASS_SEGMENT} cannot be given a share: the name "
                               f"stands for all your students in sharing URLs.")
        previous = await self.policy.shares.share(record.id, sharee, mode)
        if previous != mode:
            # Someone watching through a broadcast may type now; a typist may only watch.
            await self.policy.recheck(AccessChange(
                console_id=record.id, username=sharee,
                reason=f"{caller} stopped sharing this console with you."))
        return sharee, previous is None

    async def revoke(self, caller: str, console_id: str, username: str) -> None:
        """Withdraw a share; that person's open connections end unless another rule lets them stay."""
        record = await self.owned(caller, console_id)
        sharee = canonical_username(username)
        if not await self.policy.shares.revoke(record.id, sharee):
            raise ShareNotFound(sharee)
        await self.policy.recheck(AccessChange(
            console_id=record.id, username=sharee,
            reason=f"{caller} stopped sharing this console with you."))

    async def broadcast(self, caller: str, console_id: str) -> bool:
        """Share read-only with every student of the caller, now and while it lasts; True if new."""
        record = await self.owned(caller, console_id)
        if not await self.policy.is_teacher(caller):
            raise NotATeacher()
        return await self.policy.shares.start_broadcast(record.id)

    async def end_broadcast(self, caller: str, console_id: str) -> None:
        """Stop sharing with the class; the students it let in are disconnected."""
        record = await self.owned(caller, console_id)
        if not await self.policy.shares.end_broadcast(record.id):
            raise ShareNotFound("your students")
        await self.policy.recheck(AccessChange(
            console_id=record.id, reason=f"{caller} stopped sharing this console with the class."))
