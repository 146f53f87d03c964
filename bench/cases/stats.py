"""Statistics: operators.csv for 100 operators over 1,000,000 reaction samples and 200,000 conversations,
against the ceiling of `SELECT count(*)` over the same samples table."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from bench.cases.common import cookie_session, log_in, route_exists, table_sizes
from bench.context import Context
from bench.dataset import BENCH_LOGIN, BENCH_PASSWORD, period
from bench.results import BenchResult, Figure

REPEATS = 3
TARGET_FACTOR = 5.0


async def _count_seconds(context: Context) -> tuple[float, int]:
    conn = await context.database.connect()
    try:
        await conn.fetchval("SELECT count(*) FROM reaction_sample")  # warm the cache like the export's run
        times = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            rows = await conn.fetchval("SELECT count(*) FROM reaction_sample")
            times.append(time.perf_counter() - started)
        return statistics.median(times), int(rows)
    finally:
        await conn.close()


async def run(context: Context) -> BenchResult:
    await context.dataset.conversations_and_samples()
    result = BenchResult("stats", "")
    scan, rows = await _count_seconds(context)
    start, end = period()
    # A day either side, so the team's time zone cannot cut off the first or last hours.
    query = {"from": (start - timedelta(days=1)).date().isoformat(), "to": end.date().isoformat()}
    csv_times: list[float] = []
    lines = 0
    async with context.proxy() as server, cookie_session() as session:
        await log_in(session, server.base_url, BENCH_LOGIN, BENCH_PASSWORD)
        url = f"{server.base_url}/stats/operators.csv"
        if await route_exists(session, "GET", url, params={"from": "2001-01-01", "to": "2001-01-01"}):
            async with context.profiled(server, "operators.csv downloads"):
                for _ in range(REPEATS + 1):  # the first one warms the server and the cache
                    started = time.perf_counter()
                    async with session.get(url, params=query) as response:
                        body = await response.read()
                        if response.status != 200:
                            raise RuntimeError(f"operators.csv answered {response.status}: {body[:200]!r}")
                    csv_times.append(time.perf_counter() - started)
                    lines = body.count(b"\n")
    csv_seconds = statistics.median(csv_times[1:]) if csv_times else None
    result.figures.append(
        Figure(
            "operators.csv, 100 operators, 1M samples",
            csv_seconds,
            "s",
            ceiling=scan,
            ceiling_name="SELECT count(*) FROM reaction_sample",
            target=f"<= {TARGET_FACTOR:g}x the scan",
            met=(csv_seconds / scan <= TARGET_FACTOR) if csv_seconds is not None else None,
            note="" if csv_seconds is not None else "/stats/operators.csv not there yet",
        )
    )
    result.notes.append(
        f"count(*) counted {rows:,} samples; median of {REPEATS} runs after one warm-up, through asyncpg. "
        f"operators.csv: median of {REPEATS} downloads after one warm-up, period {query['from']} to "
        f"{query['to']} (all generated history), logged in as an admin who sees every operator"
        + (f"; the file had {lines - 1} data rows." if csv_times else ".")
    )
    conn = await context.database.connect()
    try:
        tables = ["reaction_sample", "conversation", "conversation_close"]
        result.tables.append(("Storage of the data set", await table_sizes(conn, tables)))
    finally:
        await conn.close()
    if csv_times:
        result.tables.append(
            (
                "Every download (s)",
                [["run", "seconds"]] + [[str(i), f"{t:.3f}"] for i, t in enumerate(csv_times)],
            )
        )
    else:
        result.missing = "/stats/operators.csv not there yet"
    return result
