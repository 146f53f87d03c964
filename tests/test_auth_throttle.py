"""The log in throttle: counted before the password is checked, so concurrent guesses cannot race past it;
shared by every instance through the database; a growing delay rather than a lockout of the rightful
owner; per address only from the real client address.

The throttle's clock is replaced where the delay is what is tested, so no assertion depends on how fast
the machine is.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from aiohttp.test_utils import TestClient

from proxy import accounts
from proxy.models import JournalEntry, Role
from proxy.runtime.app import create_app
from proxy.settings import Settings
from web.throttle import (
    LOGIN_THROTTLE,
    MAX_DELAY_SECONDS,
    PER_ADDRESS_FREE,
    PER_ADDRESS_LOGIN_FREE,
    delay_after,
)

PASSWORD = "correct horse battery"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def owner(client: TestClient):
    return await accounts.create_operator("olga", PASSWORD, Role.OPERATOR)


@pytest.fixture
def clock(client: TestClient) -> FakeClock:
    fake = FakeClock()
    client.server.app[LOGIN_THROTTLE].clock = fake
    return fake


async def attempt(client: TestClient, login: str, password: str, **headers: str) -> int:
    response = await client.post(
        "/login", data={"login": login, "password": password}, headers=headers, allow_redirects=False
    )
    return response.status


async def test_forty_concurrent_wrong_passwords_get_at_most_the_limit_checked(client, owner) -> None:
    statuses = await asyncio.gather(*(attempt(client, "olga", f"wrong-{n}") for n in range(40)))
    assert statuses.count(401) <= PER_ADDRESS_LOGIN_FREE, statuses
    assert statuses.count(401) + statuses.count(429) == 40, statuses
    assert await JournalEntry.filter(action="auth.login_failed").count() == statuses.count(401)


async def test_the_right_password_waits_seconds_not_minutes(client, owner, clock) -> None:
    for n in range(PER_ADDRESS_LOGIN_FREE):
        assert await attempt(client, "olga", f"wrong-{n}") == 401
    response = await client.post("/login", data={"login": "olga", "password": PASSWORD}, allow_redirects=False)
    assert response.status == 429
    assert "Слишком много неудачных попыток" in await response.text()
    assert response.headers["Retry-After"] == "1"
    clock.now += 1
    assert await attempt(client, "olga", PASSWORD) == 302
    assert await JournalEntry.filter(action="auth.login_throttled").count() == 1


async def test_the_delay_grows_with_each_failure_up_to_a_minute(client, owner, clock) -> None:
    for _n in range(PER_ADDRESS_LOGIN_FREE):
        assert await attempt(client, "olga", "wrong") == 401
    waits = []
    for _ in range(9):
        refused = await client.post("/login", data={"login": "olga", "password": "wrong"}, allow_redirects=False)
        assert refused.status == 429
        waits.append(int(refused.headers["Retry-After"]))
        clock.now += waits[-1]
        assert await attempt(client, "olga", "wrong") == 401
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    # The owner is never locked out for longer than that: after the last delay, the right password works.
    clock.now += MAX_DELAY_SECONDS
    assert await attempt(client, "olga", PASSWORD) == 302


def test_delays_are_one_second_doubling_to_a_minute() -> None:
    free = PER_ADDRESS_LOGIN_FREE
    assert [delay_after(n, free) for n in range(free - 1, free + 8)] == [0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert delay_after(10**9, free) == MAX_DELAY_SECONDS


async def test_one_address_guessing_many_logins_is_slowed(client, owner, clock) -> None:
    for n in range(PER_ADDRESS_FREE):
        assert await attempt(client, f"guess{n}", "wrong") == 401
    assert await attempt(client, "olga", PASSWORD) == 429


async def test_an_office_behind_one_address_logs_in_all_day(client, owner, clock) -> None:
    for n in range(PER_ADDRESS_FREE * 2):
        assert await attempt(client, "olga", PASSWORD) == 302, n
        client.session.cookie_jar.clear()


async def test_a_forged_forwarded_for_is_ignored_without_trusted_proxies(client, owner, clock) -> None:
    for n in range(PER_ADDRESS_LOGIN_FREE):
        assert await attempt(client, "olga", "wrong", **{"X-Forwarded-For": f"203.0.113.{n}"}) == 401
    assert await attempt(client, "olga", PASSWORD, **{"X-Forwarded-For": "203.0.113.99"}) == 429
    ips = {entry.params["ip"] for entry in await JournalEntry.filter(action="auth.login_failed")}
    assert ips == {"127.0.0.1"}


@pytest.fixture
async def behind_proxy(aiohttp_client, settings: Settings, owner) -> TestClient:
    """The app behind a load balancer at 127.0.0.1, listed in PROXY_TRUSTED_PROXIES."""
    trusted = Settings.from_env({"PROXY_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}).trusted_proxies
    app = create_app(dataclasses.replace(settings, trusted_proxies=trusted))
    client = await aiohttp_client(app)
    app[LOGIN_THROTTLE].clock = FakeClock()
    return client


async def test_behind_a_trusted_proxy_each_client_is_counted_apart(behind_proxy) -> None:
    guesser = {"X-Forwarded-For": "203.0.113.7, 10.1.2.3"}
    colleague = {"X-Forwarded-For": "198.51.100.20"}
    for _n in range(PER_ADDRESS_LOGIN_FREE):
        assert await attempt(behind_proxy, "olga", "wrong", **guesser) == 401
    assert await attempt(behind_proxy, "olga", "wrong", **guesser) == 429
    # The same login from the owner's own address is not held up by the guesser's failures.
    assert await attempt(behind_proxy, "olga", PASSWORD, **colleague) == 302
    ips = {entry.params["ip"] for entry in await JournalEntry.filter(action="auth.login_failed")}
    assert ips == {"203.0.113.7"}


async def test_instances_share_the_count(aiohttp_client, client, settings, owner) -> None:
    other_instance = await aiohttp_client(create_app(settings))
    clock = FakeClock()
    client.server.app[LOGIN_THROTTLE].clock = clock
    other_instance.server.app[LOGIN_THROTTLE].clock = clock
    for n in range(PER_ADDRESS_LOGIN_FREE):
        assert await attempt(client if n % 2 else other_instance, "olga", "wrong") == 401
    assert await attempt(other_instance, "olga", PASSWORD) == 429
    assert await attempt(client, "olga", PASSWORD) == 429
