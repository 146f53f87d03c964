"""An instance's own pacing of a network's calls: at most `limit` call starts within any `period` seconds.

Every network states its limits as calls per period (VK: 20 a second per community token; Telegram: 30
a second per bot, one a second per chat, 20 a minute per group). On PostgreSQL the shared limiter
(proxy/rate_limit.py) holds them across instances and falls back to this one while the database is away.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most `limit` call starts within any `period` seconds.

    A token bucket of capacity `limit` would allow up to twice `limit` calls in one second (a full
    bucket plus the refill), which VK counts as a violation; a sliding window of start times does not.
    `margin` widens the window to absorb network jitter between our clock and VK's.
    Reservations are made under a thread lock and never awaited, so one limiter can be shared by
    clients on different event loops.
    """

    def __init__(
        self,
        limit: int,
        period: float = 1.0,
        *,
        margin: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.period = period
        self.margin = margin
        self._clock = clock
        self._starts: deque[float] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Book the next free start time; returns how long to wait for it."""
        with self._lock:
            now = self._clock()
            start = max(now, self._starts[-1]) if self._starts else now
            if len(self._starts) == self.limit:
                start = max(start, self._starts[0] + self.period + self.margin)
            self._starts.append(start)
            return start - now

    async def acquire(self) -> None:
        """Wait for this caller's turn."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)
