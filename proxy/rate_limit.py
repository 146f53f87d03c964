"""Networks' rate limits held across instances: each token's sliding window of call starts lives in PostgreSQL.

A network counts calls per token (VK: 20 a second for a community token, 3 for a user token), whichever
instance makes them. Each instance's own limiter would let two instances make 40 calls a second on one
token, so on PostgreSQL every client takes its limiter from here (the connector asks `SharedRateLimits`
with the token, its kind and its limit; the app installs it on its `Connections`): before a call it books a start time with
`proxy_rate_reserve` (migration 0004), one statement that locks the token's row, reads the database's
clock, books the earliest start at least (period + margin) / limit after the token's previous one, so
there are at most `limit` starts in any `period + margin` seconds, and returns the wait; the caller
sleeps that long. Even spacing, not bursts of `limit` at once, because calls that leave together are
delayed unevenly on their way (worker threads, a busy event loop) and VK counts their arrival. Tokens do not wait for each other (one row each), so ten
communities still send ten times as much. The rows are keyed by a hash of the token, never the token.

The bookings use a small pool of their own, outside the ORM: a booking must commit at once, whatever
transaction the caller is in. If PostgreSQL cannot be reached the limiter falls back to this process's
own limiter (logged once per outage), so a client keeps VK's limit on its own instance at least.
SQLite runs one process: the in-process limiter is already the only one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from proxy.connectors.base import Limiter

log = logging.getLogger(__name__)

PERIOD_SECONDS = 1.0
# Widens the window like the in-process limiter: our clock and VK's differ by the network's jitter.
MARGIN_SECONDS = 0.1
POOL_SIZE = 4
BOOKING_TIMEOUT_SECONDS = 5.0


def token_key(token: str, kind: str) -> str:
    """The row key of a token: its kind and a hash (the table never holds a usable token)."""
    return f"{kind}:{hashlib.sha256(token.encode()).hexdigest()[:40]}"


class SharedRateLimiter:
    """One token's limiter, shared by every instance through the database (connectors.base.Limiter)."""

    def __init__(
        self, limits: SharedRateLimits, key: str, limit: int, fallback: Limiter, period: float = PERIOD_SECONDS
    ) -> None:
        self._limits = limits
        self.key = key
        self.limit = limit
        self.period = period
        self._fallback = fallback

    async def acquire(self) -> None:
        """Book this call's start in the token's shared window and wait for it."""
        try:
            wait = await self._limits.reserve(self.key, self.limit, self.period)
        except Exception as exc:  # the database is away: pace this instance's own calls at least
            self._limits.booking_failed(exc)
            await self._fallback.acquire()
            return
        if wait > 0:
            await asyncio.sleep(wait)


class SharedRateLimits:
    """The limiters of every token on one database (connectors.base.SharedLimits; the app installs them
    with `Connections.use_shared_limits`)."""

    def __init__(self, pool: Any, *, period: float = PERIOD_SECONDS, margin: float = MARGIN_SECONDS) -> None:
        self._pool = pool
        self.period = period
        self.margin = margin
        self._limiters: dict[str, SharedRateLimiter] = {}
        self._failing = False

    def limiter(
        self, token: str, kind: str, limit: int, fallback: Limiter, *, period: float | None = None
    ) -> SharedRateLimiter:
        """The shared limiter of a token, `limit` calls in any `period` seconds (default: this store's,
        a second); `fallback` paces this instance alone while the database is away."""
        key = token_key(token, kind)
        limiter = self._limiters.get(key)
        if limiter is None:
            window = self.period if period is None else period
            limiter = self._limiters[key] = SharedRateLimiter(self, key, limit, fallback, window)
        return limiter

    async def reserve(self, key: str, limit: int, period: float | None = None) -> float:
        """Book a start in the window of `key`; seconds to wait for it."""
        window = self.period if period is None else period
        async with asyncio.timeout(BOOKING_TIMEOUT_SECONDS):  # waiting for a pooled connection too
            wait = await self._pool.fetchval(
                "SELECT proxy_rate_reserve($1, $2, $3, $4)", key, limit, window, self.margin
            )
        if self._failing:
            self._failing = False
            log.warning("shared VK rate limits are back in the database")
        return float(wait)

    def booking_failed(self, exc: BaseException) -> None:
        if not self._failing:
            self._failing = True
            log.warning(
                "booking a VK call in the shared rate limit failed (%s: %s); "
                "limiting this instance's calls on its own until the database answers",
                type(exc).__name__, exc,
            )  # fmt: skip
