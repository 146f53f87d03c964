"""Log in throttling: every attempt is counted before its password is checked, in the database, so that
concurrent guesses cannot slip past the count and every instance shares it (table `login_throttle`,
migration 0010).

Three counters, each a row keyed by what it counts:

- the login from one client address: `PER_ADDRESS_LOGIN_FREE` attempts, then a growing delay;
- the login from anywhere: `PER_LOGIN_FREE` attempts, then a growing delay, so guesses spread over many
  addresses stay few;
- the client address for any login: `PER_ADDRESS_FREE` attempts, then a growing delay (an office behind
  one NAT address is many people: a successful log in gives its attempt back).

A counter past its free attempts refuses (429) until its `not_before`, which each attempt taken then
pushes on by twice the last delay, from 1 s up to `MAX_DELAY_SECONDS`. There is no hard lockout: the
rightful owner waits at most `MAX_DELAY_SECONDS` for a try, while a guesser gets about one guess a
minute per login (docs/security.md, "Guessing passwords"). A counter untouched for `FORGET_AFTER_SECONDS`
starts again; a correct password clears the login's counters.

An attempt is taken with a compare-and-set on the row's `revision`, retried when another attempt changed
the row in between: one statement decides, on PostgreSQL shared by every instance and on SQLite alike.
Addresses come from `web/client_address.py` (X-Forwarded-For only from PROXY_TRUSTED_PROXIES).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

from aiohttp import web

from proxy.db.sql import SqlQuery

PER_ADDRESS_LOGIN_FREE = 5
PER_LOGIN_FREE = 20
PER_ADDRESS_FREE = 20
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0
FORGET_AFTER_SECONDS = 15 * 60
# A compare-and-set lost this many times in a row means a flood on one key: refuse rather than spin.
MAX_TRIES = 50
# Every this many attempts an instance deletes the counters nobody touched for FORGET_AFTER_SECONDS.
PRUNE_EVERY = 200
MAX_KEY_CHARS = 300


def delay_after(attempts: int, free: int) -> float:
    """The wait before the next attempt once `attempts` were taken on a counter allowing `free`."""
    if attempts < free:
        return 0.0
    return min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2.0 ** min(attempts - free, 32))


@dataclass(frozen=True)
class _Counter:
    key: str
    free: int


@dataclass
class LoginThrottle:
    """Counts log in attempts per login, per address and per both; `clock` is seconds since 1970."""

    clock: Callable[[], float] = time.time
    per_address_login_free: int = PER_ADDRESS_LOGIN_FREE
    per_login_free: int = PER_LOGIN_FREE
    per_address_free: int = PER_ADDRESS_FREE

    def __post_init__(self) -> None:
        self._attempts = count(1)

    def _counters(self, login: str, address: str | None) -> list[_Counter]:
        login = login.lower()[:MAX_KEY_CHARS]
        address = address[:64] if address else None
        counters = [_Counter(f"login:{login}", self.per_login_free)]
        if address:
            counters.insert(0, _Counter(f"login@ip:{login}@{address}", self.per_address_login_free))
            counters.append(_Counter(f"ip:{address}", self.per_address_free))
        return counters

    async def take(self, login: str, address: str | None) -> int:
        """Count one attempt before its password is checked: 0 when it may go on, else the seconds to
        wait (the attempt is then not counted)."""
        now = self.clock()
        if next(self._attempts) % PRUNE_EVERY == 0:
            await _prune(now)
        taken: list[_Counter] = []
        for counter in self._counters(login, address):
            wait = await _take(counter, now)
            if wait > 0:
                for earlier in taken:
                    await _give_back(earlier.key)
                return math.ceil(wait)
            taken.append(counter)
        return 0

    async def succeeded(self, login: str, address: str | None) -> None:
        """A correct password: the login's counters start again, and the address gets its attempt back."""
        for counter in self._counters(login, address):
            if counter.key.startswith("ip:"):
                await _give_back(counter.key)
            else:
                q = SqlQuery()
                await q.execute(f"DELETE FROM login_throttle WHERE key = {q.p(counter.key)}")

    async def clear(self) -> None:
        """Forget every counter (tests; an admin's recovery)."""
        await SqlQuery().execute("DELETE FROM login_throttle")


async def _take(counter: _Counter, now: float) -> float:
    for _ in range(MAX_TRIES):
        q = SqlQuery()
        rows = await q.rows(
            "SELECT attempts, not_before, updated_at, revision FROM login_throttle "
            f"WHERE key = {q.p(counter.key)}"
        )
        if not rows:
            q = SqlQuery()
            inserted = await q.rows(
                "INSERT INTO login_throttle (key, attempts, not_before, updated_at, revision) VALUES "
                f"({q.p(counter.key)}, 1, {q.p(now + delay_after(1, counter.free))}, {q.p(now)}, 1) "
                "ON CONFLICT (key) DO NOTHING RETURNING revision"
            )
            if inserted:
                return 0.0
            continue
        row = rows[0]
        if row["not_before"] > now:
            return row["not_before"] - now
        attempts = 1 if row["updated_at"] <= now - FORGET_AFTER_SECONDS else row["attempts"] + 1
        q = SqlQuery()
        changed = await q.execute(
            f"UPDATE login_throttle SET attempts = {q.p(attempts)}, "
            f"not_before = {q.p(now + delay_after(attempts, counter.free))}, updated_at = {q.p(now)}, "
            f"revision = revision + 1 WHERE key = {q.p(counter.key)} AND revision = {q.p(row['revision'])}"
        )
        if changed:
            return 0.0
    return FIRST_DELAY_SECONDS


async def _give_back(key: str) -> None:
    """Undo one counted attempt (its delay, if it set one, stays: it is short and errs on the safe side)."""
    q = SqlQuery()
    await q.execute(
        "UPDATE login_throttle SET attempts = attempts - 1, revision = revision + 1 "
        f"WHERE key = {q.p(key)} AND attempts > 0"
    )


async def _prune(now: float) -> None:
    q = SqlQuery()
    await q.execute(
        f"DELETE FROM login_throttle WHERE updated_at < {q.p(now - FORGET_AFTER_SECONDS)} "
        f"AND not_before < {q.p(now)}"
    )


LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
