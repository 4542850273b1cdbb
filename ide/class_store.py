"""Who is in whose class, in Redis: every change one atomic step.

Keys (docs/architecture.md):

* ``ide:user:<student>`` field ``teacher`` — the teacher the student named,
  whether accepted yet or not;
* ``ide:teacher:<name>:students`` — set of the *accepted* students;
* ``ide:teacher:<name>:pending`` — set of those who named the teacher and
  wait for the teacher to accept;
* ``ide:user:<teacher>`` field ``class_code`` — the secret in the class's
  join link.

A student is in at most one of a teacher's two sets, and only while their
``teacher`` field names that teacher; each change below is one Lua script so
that racing requests (a student leaving while the teacher accepts) cannot
leave the sets and the field disagreeing.  Access rules ask only the
accepted set: naming someone a teacher grants nothing until they accept.
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from consoles.keys import pending_key, students_key, user_key

CODE_BYTES = 12
"""96 random bits: a class's join link cannot be guessed."""
CODE_FIELD = "class_code"


class NotInClass(LookupError):
    """A class relation that does not exist (maps to 404)."""


class StudentNotFound(NotInClass):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not one of your students, and has not asked to join your class.")


class NominationNotFound(NotInClass):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} has not asked to join your class (they name you as their teacher "
                         f"on their Account page), or has withdrawn.")


class ClassLinkNotFound(NotInClass):
    def __init__(self, teacher: str) -> None:
        super().__init__(f"This class link is not valid: {teacher} may have made a new one. "
                         f"Ask them for the current link.")


@dataclass(frozen=True)
class Membership:
    """A student's teacher (None: none named) and whether that teacher has accepted them."""

    teacher: str | None
    accepted: bool

    @property
    def accepted_teacher(self) -> str | None:
        """The teacher whose class this is, if accepted: the one who has access to the student."""
        return self.teacher if self.accepted else None


_SETS = """
local function students(t) return ARGV[1] .. t .. ARGV[2] end
local function pending(t) return ARGV[1] .. t .. ARGV[3] end
"""

# Name KEYS[1]'s teacher ARGV[5] ('' clears it), pending unless ARGV[6] == '1'.
# Answers the previous {teacher, accepted}; naming the same teacher again keeps an acceptance.
_NAME = _SETS + """
local old = redis.call('HGET', KEYS[1], 'teacher') or ''
local was = 0
if old ~= '' then
  was = redis.call('SISMEMBER', students(old), ARGV[4])
  if old == ARGV[5] and (was == 1 or ARGV[6] == '0') then return {old, was} end
  redis.call('SREM', students(old), ARGV[4])
  redis.call('SREM', pending(old), ARGV[4])
end
if ARGV[5] == '' then
  redis.call('HDEL', KEYS[1], 'teacher')
elseif ARGV[6] == '1' then
  redis.call('HSET', KEYS[1], 'teacher', ARGV[5])
  redis.call('SADD', students(ARGV[5]), ARGV[4])
else
  redis.call('HSET', KEYS[1], 'teacher', ARGV[5])
  redis.call('SADD', pending(ARGV[5]), ARGV[4])
end
return {old, was}
"""

# Teacher ARGV[5] accepts ARGV[4] (user hash KEYS[1]): 1 moved now, 2 accepted already, 0 nothing pending.
_ACCEPT = _SETS + """
if redis.call('HGET', KEYS[1], 'teacher') ~= ARGV[5] then return 0 end
if redis.call('SISMEMBER', students(ARGV[5]), ARGV[4]) == 1 then return 2 end
return redis.call('SMOVE', pending(ARGV[5]), students(ARGV[5]), ARGV[4])
"""

# Teacher ARGV[5] drops ARGV[4] (user hash KEYS[1]), accepted or pending: {was accepted, was anything}.
_REMOVE = _SETS + """
local accepted = redis.call('SREM', students(ARGV[5]), ARGV[4])
local pending_ = redis.call('SREM', pending(ARGV[5]), ARGV[4])
local named = 0
if redis.call('HGET', KEYS[1], 'teacher') == ARGV[5] then
  redis.call('HDEL', KEYS[1], 'teacher')
  named = 1
end
local any = 0
if accepted + pending_ + named > 0 then any = 1 end
return {accepted, any}
"""


class ClassStore:
    """The Redis side of classes; ``ide.classes.Classroom`` adds what each change must end or begin."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        prefix, students_suffix = students_key("\n").split("\n")
        pending_suffix = pending_key("\n").split("\n")[1]
        self._affixes = [prefix, students_suffix, pending_suffix]
        self._name = redis.register_script(_NAME)
        self._accept = redis.register_script(_ACCEPT)
        self._remove = redis.register_script(_REMOVE)

    async def membership(self, student: str) -> Membership:
        teacher = cast(str | None, await self.redis.hget(user_key(student), "teacher")) or None
        if teacher is None:
            return Membership(None, False)
        return Membership(teacher, await self.is_student(teacher, student))

    async def is_student(self, teacher: str, student: str) -> bool:
        """True when ``teacher`` has accepted ``student``: the one question every access rule asks."""
        return bool(await self.redis.sismember(students_key(teacher), student))

    async def has_students(self, teacher: str) -> bool:
        return bool(await self.redis.scard(students_key(teacher)))

    async def students(self, teacher: str) -> list[str]:
        """The accepted students, by name."""
        return sorted(cast(set[str], await self.redis.smembers(students_key(teacher))))

    async def pending(self, teacher: str) -> list[str]:
        """Those who named ``teacher`` and wait to be accepted, by name."""
        return sorted(cast(set[str], await self.redis.smembers(pending_key(teacher))))

    async def name_teacher(self, student: str, teacher: str | None, accepted: bool = False) -> Membership:
        """Set (None: clear) ``student``'s teacher, pending unless ``accepted``; the previous membership.

        Naming the same teacher again keeps an acceptance; ``accepted`` turns
        a pending nomination into an accepted one.
        """
        old, was = cast(list[str | int], await self._name(
            keys=[user_key(student)],
            args=[*self._affixes, student, teacher or "", "1" if accepted else "0"]))
        return Membership(str(old) or None, bool(int(was)))

    async def accept(self, teacher: str, student: str) -> bool | None:
        """Accept a pending nomination: True if accepted now, False if it was already, None if none."""
        answer = int(await self._accept(keys=[user_key(student)], args=[*self._affixes, student, teacher]))
        return {0: None, 1: True, 2: False}[answer]

    async def remove(self, teacher: str, student: str) -> bool | None:
        """End ``student``'s membership or nomination: whether they had been accepted, None if neither."""
        accepted, found = cast(list[int], await self._remove(
            keys=[user_key(student)], args=[*self._affixes, student, teacher]))
        return bool(accepted) if found else None

    async def class_code(self, teacher: str) -> str:
        """The secret of ``teacher``'s join link, made on first use."""
        await self.redis.hsetnx(user_key(teacher), CODE_FIELD, secrets.token_urlsafe(CODE_BYTES))
        return str(await self.redis.hget(user_key(teacher), CODE_FIELD))

    async def new_class_code(self, teacher: str) -> str:
        """Replace the join link's secret: the old link stops working at once."""
        code = secrets.token_urlsafe(CODE_BYTES)
        await self.redis.hset(user_key(teacher), CODE_FIELD, code)
        return code

    async def code_matches(self, teacher: str, code: str) -> bool:
        stored = cast(str | None, await self.redis.hget(user_key(teacher), CODE_FIELD))
        return bool(stored) and hmac.compare_digest(str(stored).encode(), code.encode())
