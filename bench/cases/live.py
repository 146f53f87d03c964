"""Live updates: time from a callback's "ok" to the SSE message at 50 connected clients, two instances."""

from __future__ import annotations

from bench.context import Context
from bench.results import BenchResult, FeatureMissing


async def run(context: Context) -> BenchResult:
    raise FeatureMissing("the /live SSE endpoint is not there yet")
