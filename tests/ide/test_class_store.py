"""Class membership in Redis: each change keeps the student's field and the teacher's sets in step."""
from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from ide.class_store import ClassStore, Membership


@pytest.fixture
def store(redis_server: str) -> ClassStore:
    return ClassStore(aioredis.Redis(unix_socket_path=redis_server, decode_responses=True))


async def sets(store: ClassStore, teacher: str) -> tuple[list[str], list[str]]:
    return await store.students(teacher), await store.pending(teacher)


@pytest.mark.gen_test
async def test_naming_accepting_changing_and_removing(store: ClassStore):
    redis = store.redis
    await redis.delete("ide:user:cs_kid", *(f"ide:teacher:{t}:{s}" for t in ("cs_t1", "cs_t2")
                                           for s in ("students", "pending")))
    assert await store.name_teacher("cs_kid", "cs_t1") == Membership(None, False)
    assert await store.membership("cs_kid") == Membership("cs_t1", False)
    assert await sets(store, "cs_t1") == ([], ["cs_kid"])
    assert not await store.is_student("cs_t1", "cs_kid")

    assert await store.accept("cs_t2", "cs_kid") is None  # named someone else
    assert await store.accept("cs_t1", "cs_kid") is True
    assert await store.accept("cs_t1", "cs_kid") is False
    assert await sets(store, "cs_t1") == (["cs_kid"], [])
    # Naming the same teacher again keeps the acceptance.
    assert await store.name_teacher("cs_kid", "cs_t1") == Membership("cs_t1", True)
    assert await store.membership("cs_kid") == Membership("cs_t1", True)

    # Another teacher: out of the first class at once, pending in the second.
    assert await store.name_teacher("cs_kid", "cs_t2") == Membership("cs_t1", True)
    assert await sets(store, "cs_t1") == ([], [])
    assert await sets(store, "cs_t2") == ([], ["cs_kid"])
    assert await store.remove("cs_t1", "cs_kid") is None
    assert await store.remove("cs_t2", "cs_kid") is False  # declined
    assert await store.membership("cs_kid") == Membership(None, False)

    # Joining by link: accepted at once, also over a pending request.
    await store.name_teacher("cs_kid", "cs_t2")
    assert await store.name_teacher("cs_kid", "cs_t2", accepted=True) == Membership("cs_t2", False)
    assert await sets(store, "cs_t2") == (["cs_kid"], [])
    assert await store.remove("cs_t2", "cs_kid") is True
    assert await sets(store, "cs_t2") == ([], []) and await store.membership("cs_kid") == Membership(None, False)
    await redis.aclose()


@pytest.mark.gen_test
async def test_join_codes(store: ClassStore):
    await store.redis.delete("ide:user:cs_t3")
    code = await store.class_code("cs_t3")
    assert code == await store.class_code("cs_t3") and len(code) >= 16
    assert await store.code_matches("cs_t3", code)
    new = await store.new_class_code("cs_t3")
    assert new != code and await store.code_matches("cs_t3", new)
    assert not await store.code_matches("cs_t3", code)
    assert not await store.code_matches("cs_t3", "")
    assert not await store.code_matches("cs_nobody", code)
    await store.redis.aclose()
