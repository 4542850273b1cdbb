"""Classes: a student names a teacher, the teacher accepts (or a join link does both at once).

Every operation that changes who is in a class is here, and each one does
everything that change implies, so no caller (API handler, page, command
line) can forget a part of it:

* an accepted membership ends (the student leaves or names another teacher,
  or the teacher removes them): every node re-checks the live console
  connections both ways at once (the student watching the teacher's
  broadcast, the teacher attached to the student's consoles), and the share
  links the teacher made to the student's files are deleted;
* a membership begins (accepted, or joined by link): the same re-check, so
  a teacher already watching a student's console read-only through a share
  may type at once.

Files need nothing more: what a teacher may reach is asked of the class on
every request (``ide.files.store.FileStore.access``).
"""
from __future__ import annotations

from consoles.sharing import AccessChange, Recheck
from ide.accounts import AccountError, AccountStore, canonical_username
from ide.class_store import ClassLinkNotFound, ClassStore, Membership, NominationNotFound, StudentNotFound
from ide.files.shares import FileShares


class Classroom:
    """Who is in whose class, and the consequences of each change."""

    def __init__(self, accounts: AccountStore, store: ClassStore, file_shares: FileShares,
                 recheck: Recheck) -> None:
        self.accounts = accounts
        self.store = store
        self.file_shares = file_shares
        self.recheck = recheck

    # The student's side ------------------------------------------------------

    async def name_teacher(self, student: str, teacher: str | None) -> Membership:
        """``student`` names ``teacher`` (None: leaves their class); pending until the teacher accepts.

        Naming one's current teacher again changes nothing.  Returns the new membership.
        """
        student = (await self.accounts.require(student)).name
        wanted = await self._teacher_for(student, teacher) if teacher else None
        previous = await self.store.name_teacher(student, wanted)
        await self._left(student, previous, wanted)
        return await self.store.membership(student)

    async def join(self, teacher: str, code: str, student: str) -> Membership:
        """``student`` joins ``teacher``'s class by its link: accepted at once. ClassLinkNotFound
        for a wrong or replaced code."""
        teacher = await self.check_link(teacher, code)
        return await self.enrol(teacher, student)

    async def check_link(self, teacher: str, code: str) -> str:
        """The teacher whose class ``code`` opens; ClassLinkNotFound otherwise."""
        user = await self.accounts.get(teacher)
        if user is None or not await self.store.code_matches(user.name, code):
            raise ClassLinkNotFound(teacher)
        return user.name

    async def enrol(self, teacher: str, student: str) -> Membership:
        """Make ``student`` an accepted student of ``teacher`` (a join link; the operator)."""
        student = (await self.accounts.require(student)).name
        teacher = await self._teacher_for(student, teacher)
        previous = await self.store.name_teacher(student, teacher, accepted=True)
        await self._left(student, previous, teacher)
        if previous.accepted_teacher != teacher:
            await self._joined(teacher, student)
        return await self.store.membership(student)

    async def membership(self, student: str) -> Membership:
        return await self.store.membership(student)

    # The teacher's side ------------------------------------------------------

    async def accept(self, teacher: str, student: str) -> str:
        """Accept ``student``'s nomination (accepting twice is fine); NominationNotFound if there is none."""
        name = self._name(student, NominationNotFound)
        accepted_now = await self.store.accept(teacher, name)
        if accepted_now is None:
            raise NominationNotFound(name)
        if accepted_now:
            await self._joined(teacher, name)
        return name

    async def remove(self, teacher: str, student: str) -> None:
        """Remove a student, or decline a nomination; StudentNotFound if ``student`` is neither."""
        name = self._name(student, StudentNotFound)
        was_accepted = await self.store.remove(teacher, name)
        if was_accepted is None:
            raise StudentNotFound(name)
        if was_accepted:
            await self._ended(teacher, name)

    async def students(self, teacher: str) -> list[str]:
        return await self.store.students(teacher)

    async def pending(self, teacher: str) -> list[str]:
        return await self.store.pending(teacher)

    async def join_code(self, teacher: str) -> str:
        return await self.store.class_code(teacher)

    async def new_join_code(self, teacher: str) -> str:
        """A new join link; the old one stops working."""
        return await self.store.new_class_code(teacher)

    # What changes imply ------------------------------------------------------

    async def _teacher_for(self, student: str, teacher: str) -> str:
        name = (await self.accounts.require(teacher)).name
        if name == student:
            raise AccountError("a user cannot be their own teacher")
        return name

    @staticmethod
    def _name(student: str, missing: type[StudentNotFound] | type[NominationNotFound]) -> str:
        try:
            return canonical_username(student)
        except AccountError:
            raise missing(student) from None

    async def _left(self, student: str, previous: Membership, now: str | None) -> None:
        """End what ``previous`` allowed unless the student is still in that same class."""
        if previous.accepted_teacher is not None and previous.accepted_teacher != now:
            await self._ended(previous.accepted_teacher, student)

    async def _ended(self, teacher: str, student: str) -> None:
        await self.file_shares.forget_made_by(student, teacher)
        await self.recheck(AccessChange(owner=teacher, username=student,
                                        reason=f"You are no longer in {teacher}'s class."))
        await self.recheck(AccessChange(owner=student, username=teacher,
                                        reason=f"{student} is no longer your student."))

    async def _joined(self, teacher: str, student: str) -> None:
        # Nobody loses access here; connections already open may gain (read-only → read-write).
        await self.recheck(AccessChange(owner=student, username=teacher,
                                        reason=f"{student} is no longer your student."))
