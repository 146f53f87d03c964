"""CSV export: journal.csv of 1,000,000 entries, rows per second and the server's peak memory, against the
ceiling of PostgreSQL's own `COPY (query) TO STDOUT WITH CSV` of the same rows through asyncpg.

Memory is read from /proc/<pid>/status (VmHWM, the peak resident set) of a fresh server process, once
with 100,000 entries and once with 1,000,000: flat memory means the two peaks are about the same.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import aiohttp

from bench.cases.common import cookie_session, log_in, route_exists, table_sizes
from bench.context import Context
from bench.dataset import BENCH_LOGIN, BENCH_PASSWORD, period
from bench.processes import proxy_env, run_command
from bench.results import BenchResult, Figure

SIZES = (100_000, 1_000_000)
TARGET_RATIO = 0.3
# Flat: the peak at 1M entries within this much of the peak at 100k.
FLAT_TOLERANCE = 1.25
MAX_SECONDS = 240  # a download slower than this is cut off and reported as such
# What COPY (query) TO STDOUT WITH CSV exports: the journal's columns, with the operator's login.
JOURNAL_QUERY = """
    SELECT j.id, j.created_at, j.actor_kind, o.login, j.vk_user_id, j.action, j.community_id,
           j.conversation_id, j.item_id, j.text, j.params, j.outcome, j.outcome_detail, j.outcome_at, j.hash
    FROM journal_entry j LEFT JOIN operator o ON o.id = j.operator_id
    ORDER BY j.id
"""
# A period with nothing in it: asking for it shows whether the route exists without exporting anything.
EMPTY_PERIOD = {"from": "2001-01-01", "to": "2001-01-01"}


async def _copy(context: Context) -> tuple[float, int, int]:
    """Seconds, rows and bytes of COPY of the whole journal through asyncpg."""
    conn = await context.database.connect()
    counted = {"bytes": 0, "lines": 0}

    async def sink(chunk: bytes) -> None:
        counted["bytes"] += len(chunk)
        counted["lines"] += chunk.count(b"\n")

    try:
        started = time.perf_counter()
        await conn.copy_from_query(JOURNAL_QUERY, output=sink, format="csv", header=True)
        return time.perf_counter() - started, counted["lines"] - 1, counted["bytes"]
    finally:
        await conn.close()


async def _download(
    session: aiohttp.ClientSession, url: str, params: dict[str, str]
) -> tuple[float, int, int]:
    """Seconds, data rows and bytes of one streamed download (read in chunks, never held whole)."""
    size = lines = 0
    started = time.perf_counter()
    async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=MAX_SECONDS)) as response:
        if response.status != 200:
            raise RuntimeError(f"journal.csv answered {response.status}: {(await response.read())[:200]!r}")
        async for chunk in response.content.iter_chunked(1 << 16):
            size += len(chunk)
            lines += chunk.count(b"\n")
    return time.perf_counter() - started, lines - 1, size


async def _verify(context: Context) -> str:
    """Whether `proxy journal verify` accepts the generated chain, and how long it took."""
    started = time.perf_counter()
    try:
        output = await run_command(
            [sys.executable, "-m", "proxy", "journal", "verify"], proxy_env(context.database.dsn)
        )
    except RuntimeError as exc:
        return f"`proxy journal verify` on the bench journal did not pass: {exc}"
    seconds = time.perf_counter() - started
    return f"`proxy journal verify` on the bench journal, {seconds:.0f} s: {output.strip().splitlines()[-1]}"


async def run(context: Context) -> BenchResult:
    result = BenchResult("export", "")
    start, end = period()
    params = {"from": (start - timedelta(days=1)).date().isoformat(), "to": end.date().isoformat()}
    rows = [["journal entries", "what", "seconds", "rows", "MB", "rows/s", "server peak RSS (MiB)"]]
    copy: dict[int, float] = {}
    proxy: dict[int, float] = {}
    peak: dict[int, float] = {}
    for size in SIZES:
        await context.dataset.journal(size)
        seconds, count, size_bytes = await _copy(context)
        copy[size] = count / seconds
        rows.append([f"{size:,}", "COPY ... TO STDOUT WITH CSV (asyncpg)", f"{seconds:.2f}", f"{count:,}",
                     f"{size_bytes / 1e6:.0f}", f"{copy[size]:,.0f}", "—"])  # fmt: skip
        async with context.proxy() as server, cookie_session() as session:
            await log_in(session, server.base_url, BENCH_LOGIN, BENCH_PASSWORD)
            url = f"{server.base_url}/audit/journal.csv"
            if not await route_exists(session, "GET", url, params=EMPTY_PERIOD):
                continue
            async with context.profiled(server, f"journal.csv of {size:,} entries"):
                seconds, count, size_bytes = await _download(session, url, params)
            proxy[size] = count / seconds
            peak[size] = server.peak_rss_mib() or 0.0
            rows.append([f"{size:,}", "GET /audit/journal.csv", f"{seconds:.2f}", f"{count:,}",
                         f"{size_bytes / 1e6:.0f}", f"{proxy[size]:,.0f}", f"{peak[size]:.0f}"])  # fmt: skip
    result.notes.append(await _verify(context))
    conn = await context.database.connect()
    try:
        result.tables.append(("Storage at 1M entries", await table_sizes(conn, ["journal_entry"])))
    finally:
        await conn.close()
    big, small = SIZES[-1], SIZES[0]
    missing = "/audit/journal.csv not there yet"
    result.figures.append(
        Figure(
            "journal.csv rows/s, 1M entries",
            proxy.get(big),
            "rows/s",
            ceiling=copy[big],
            ceiling_name="COPY TO STDOUT WITH CSV",
            target=f">= {TARGET_RATIO} of COPY",
            met=(proxy[big] / copy[big] >= TARGET_RATIO) if big in proxy else None,
            note="" if big in proxy else missing,
        )
    )
    result.figures.append(
        Figure(
            "server peak RSS at 1M entries",
            peak.get(big),
            "MiB",
            ceiling=peak.get(small),
            ceiling_name="peak RSS at 100k entries",
            target=f"flat (<= {FLAT_TOLERANCE}x the 100k peak)",
            met=(peak[big] <= FLAT_TOLERANCE * peak[small]) if big in peak and small in peak else None,
            note="" if big in peak else missing,
        )
    )
    result.tables.append(("Each size (a fresh server process for each download)", rows))
    result.notes.append(
        "The journal is generated in bulk with the proxy's own hash function, chained from the entries the "
        "set-up wrote, so it is a valid chain. COPY runs the same rows (joined to the operator's login) "
        "through asyncpg into a byte counter; the download is read in 64 KiB chunks and counted, never kept. "
        f"Period asked for: {params['from']} to {params['to']} (all generated entries)."
    )
    if not proxy:
        result.missing = missing
    return result
