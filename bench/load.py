"""A bounded load generator: N concurrent senders, at most `max_requests` and `max_seconds`."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

# One request: given the session and the request's sequence number, True when the answer was right.
RequestFn = Callable[[aiohttp.ClientSession, int], Awaitable[bool]]


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (0 < fraction <= 1) of unsorted values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


@dataclass
class LoadResult:
    concurrency: int
    completed: int = 0
    failed: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # CPU milliseconds per answered request, by who spent them (filled by benchmarks that measure it).
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.completed / self.elapsed if self.elapsed else 0.0

    @property
    def p50_ms(self) -> float | None:
        value = percentile(self.latencies, 0.50)
        return None if value is None else value * 1000

    @property
    def p99_ms(self) -> float | None:
        value = percentile(self.latencies, 0.99)
        return None if value is None else value * 1000


def client_session(concurrency: int, **kwargs: object) -> aiohttp.ClientSession:
    """A session with one keep-alive connection per sender, never reaching past 127.0.0.1."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30), **kwargs)  # type: ignore[arg-type]


async def run_load(
    session: aiohttp.ClientSession,
    request: RequestFn,
    *,
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    first_index: int = 0,
) -> LoadResult:
    """Run `concurrency` senders until `max_requests` are sent or `max_seconds` have passed."""
    result = LoadResult(concurrency)
    counter = itertools.count(first_index)
    last_index = first_index + max_requests
    deadline = time.perf_counter() + max_seconds

    async def sender() -> None:
        while True:
            index = next(counter)
            if index >= last_index or time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            try:
                ok = await request(session, index)
            except (TimeoutError, aiohttp.ClientError) as exc:
                ok = False
                if len(result.errors) < 5:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
            if ok:
                result.completed += 1
                result.latencies.append(time.perf_counter() - started)
            else:
                result.failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    return result
