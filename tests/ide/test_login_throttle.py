"""Password guessing is slowed down per address, and nobody can lock a user out:
the right password from an address that has not failed for that account
always gets in."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from ide.login_throttle import FREE_PER_ACCOUNT, FREE_PER_ADDRESS, FREE_PER_PAIR, LoginThrottle, TooManyAttempts
from tests.client import Client
from tests.server import ServerProcess, unisolated_server


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def guess(throttle: LoginThrottle, clock: Clock, user: str, address: str) -> int | None:
    """One wrong password, as the login page handles it: the Retry-After of a
    refusal, or None when the guess was let through (and failed)."""
    try:
        await throttle.check(user, address)
    except TooManyAttempts as exc:
        return exc.retry_after
    await throttle.failed(user, address)
    return None


@pytest.mark.gen_test
async def test_an_address_is_slowed_down_more_and_more_and_alice_still_gets_in(redis_server):
    async with aioredis.Redis(unix_socket_path=redis_server, decode_responses=True) as redis:
        clock = Clock()
        throttle = LoginThrottle(redis, clock=clock)
        user, attacker = "alice_t1", "198.51.100.7"
        await redis.delete(*throttle._keys(user, attacker), *throttle._keys(user, "b-address"))
        waits: list[int] = []
        let_through = 0
        while let_through < 50:
            retry_after = await guess(throttle, clock, user, attacker)
            if retry_after is not None:
                waits.append(retry_after)
                clock.now += retry_after  # the attacker waits exactly as told
                continue
            let_through += 1
            if let_through >= FREE_PER_PAIR:
                # Right after a failure, the next try has to wait.
                with pytest.raises(TooManyAttempts):
                    await throttle.check(user, attacker)
        assert waits == sorted(waits) and waits[-1] >= 2 ** 10 and waits[0] == 1
        # Alice, at once, from another address: never refused.
        await throttle.check(user, "b-address")
        await throttle.succeeded(user, "b-address")
        with pytest.raises(TooManyAttempts) as refused:
            await throttle.check(user, attacker)
        assert refused.value.retry_after >= 2 ** 10
        assert "Try again in" in str(refused.value)


@pytest.mark.gen_test
async def test_guessing_spread_over_many_addresses_is_bounded_per_account(redis_server):
    async with aioredis.Redis(unix_socket_path=redis_server, decode_responses=True) as redis:
        clock = Clock()
        throttle = LoginThrottle(redis, clock=clock)
        user = "alice_t2"
        addresses = [f"2001:db8::{n:x}" for n in range(FREE_PER_ACCOUNT + 10)]
        for address in addresses + ["fresh"]:
            await redis.delete(*throttle._keys(user, address))
        for address in addresses:
            assert await guess(throttle, clock, user, address) is None
        # Every address that has failed for alice now waits, though each failed only once...
        clock.now += 1
        for address in addresses:
            with pytest.raises(TooManyAttempts):
                await throttle.check(user, address)
        # ...while an address that never failed for her goes straight to the password check,
        await throttle.check(user, "fresh")
        # and so does any of them once it has waited.
        clock.now += 2 ** 10
        await throttle.check(user, addresses[0])


@pytest.mark.gen_test
async def test_one_address_guessing_many_accounts_is_bounded_per_address(redis_server):
    async with aioredis.Redis(unix_socket_path=redis_server, decode_responses=True) as redis:
        clock = Clock()
        throttle = LoginThrottle(redis, clock=clock)
        address = "198.51.100.99"
        users = [f"victim_t3_{n}" for n in range(FREE_PER_ADDRESS + 1)]
        for user in users:
            await redis.delete(*throttle._keys(user, address))
        for user in users[:FREE_PER_ADDRESS]:
            assert await guess(throttle, clock, user, address) is None
        assert await guess(throttle, clock, users[-1], address) == 1


@pytest.fixture(scope="module")
def proxied_server() -> Iterator[ServerProcess]:
    """Behind a (pretend) proxy: the client address comes from X-Real-Ip."""
    with unisolated_server("--trust-proxy-headers") as server:
        yield server


@pytest.mark.gen_test(timeout=120)
async def test_fifty_wrong_passwords_from_one_address_do_not_lock_alice_out(proxied_server):
    alice = proxied_server.add_user("alice")
    attacker = Client(proxied_server.url)
    await attacker.get("/login/", headers={"X-Real-Ip": "127.0.0.21"})
    statuses: list[int] = []
    retry_afters: list[int] = []
    for _ in range(50):
        response = await attacker.post("/login/", form={"username": alice, "password": "guess"},
                                       headers={"X-Real-Ip": "127.0.0.21"})
        statuses.append(response.status)
        if response.status == 429:
            retry_afters.append(int(response.headers["Retry-After"]))
            assert "Too many failed logins from your address" in response.text
    assert set(statuses) == {403, 429} and statuses[:FREE_PER_PAIR] == [403] * FREE_PER_PAIR
    assert statuses[-1] == 429 and all(wait >= 1 for wait in retry_afters)

    real = Client(proxied_server.url)
    await real.get("/login/", headers={"X-Real-Ip": "127.0.0.22"})
    response = await real.post("/login/", form={"username": alice, "password": "correct horse"},
                               headers={"X-Real-Ip": "127.0.0.22"})
    assert response.status == 302 and "ide_session" in real.cookies

    # The attacker's address stays slowed, even with the right password.
    again = await attacker.post("/login/", form={"username": alice, "password": "correct horse"},
                                headers={"X-Real-Ip": "127.0.0.21"})
    assert again.status == 429 and int(again.headers["Retry-After"]) >= 1
