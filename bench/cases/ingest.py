"""Ingest: Callback API events accepted end to end (POST -> committed -> "ok"), against the ceiling of a
minimal aiohttp handler doing one asyncpg INSERT of the raw body per request."""

from __future__ import annotations

import aiohttp

from bench.cases.common import LOAD_HEADER, load_row, route_exists
from bench.context import Context
from bench.dataset import BENCH_GROUP_ID, BENCH_SECRET
from bench.events import callback_body
from bench.load import LoadResult, client_session, run_load
from bench.processes import python_module_server
from bench.results import BenchResult, Figure

CONCURRENCY = (1, 8, 64)
MAX_REQUESTS = 6_000  # per level; a level also stops after MAX_SECONDS
MAX_SECONDS = 12.0
WARMUP = 200
TARGET_RATIO = 0.5
PATIENCE_MS = 1000  # "well under a second": VK waits for the answer and retries what it did not get


async def _load(base_url: str, concurrency: int, run: str) -> LoadResult:
    url = f"{base_url}/callback/vk/{BENCH_GROUP_ID}"

    async def post(session: aiohttp.ClientSession, index: int) -> bool:
        body = callback_body(index, BENCH_GROUP_ID, BENCH_SECRET, run=run)
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
            return response.status == 200 and await response.text() == "ok"

    async with client_session(concurrency) as session:
        await run_load(session, post, concurrency=concurrency, max_requests=WARMUP, max_seconds=5,
                       first_index=10_000_000)  # fmt: skip
        return await run_load(
            session, post, concurrency=concurrency, max_requests=MAX_REQUESTS, max_seconds=MAX_SECONDS
        )


async def run(context: Context) -> BenchResult:
    await context.dataset.base()
    result = BenchResult("ingest", "")
    rows = [LOAD_HEADER]
    ceiling: dict[int, LoadResult] = {}
    async with python_module_server(
        "ceiling", "bench.ceiling_app", ["--dsn", context.database.dsn], context.log_dir
    ) as server:
        for concurrency in CONCURRENCY:
            ceiling[concurrency] = await _load(server.base_url, concurrency, f"c{concurrency}")
            rows.append(load_row("ceiling: aiohttp + one asyncpg INSERT", ceiling[concurrency]))

    proxy: dict[int, LoadResult] = {}
    async with context.proxy() as server:
        async with aiohttp.ClientSession() as session:
            probe = callback_body(0, BENCH_GROUP_ID, BENCH_SECRET, run="probe")
            present = await route_exists(
                session, "POST", f"{server.base_url}/callback/vk/{BENCH_GROUP_ID}", data=probe
            )
        if present:
            for concurrency in CONCURRENCY:
                if concurrency == CONCURRENCY[-1]:
                    async with context.profiled(server, f"ingest at {concurrency} senders"):
                        proxy[concurrency] = await _load(server.base_url, concurrency, f"p{concurrency}")
                else:
                    proxy[concurrency] = await _load(server.base_url, concurrency, f"p{concurrency}")
                rows.append(load_row("proxy: POST /callback/vk/{group_id}", proxy[concurrency]))

    missing_note = "POST /callback/vk/{group_id} not there yet"
    for concurrency in CONCURRENCY:
        measured = proxy.get(concurrency)
        result.figures.append(
            Figure(
                f"events/s, {concurrency} sender{'s' if concurrency > 1 else ''}",
                measured.rate if measured else None,
                "events/s",
                ceiling=ceiling[concurrency].rate,
                ceiling_name="aiohttp + asyncpg INSERT",
                target=f">= {TARGET_RATIO} of ceiling" if concurrency == 64 else "",
                met=(measured.rate / ceiling[concurrency].rate >= TARGET_RATIO)
                if measured and concurrency == 64
                else None,
                note="" if measured else missing_note,
            )
        )
    for concurrency in CONCURRENCY:
        measured = proxy.get(concurrency)
        p99 = measured.p99_ms if measured else None
        result.figures.append(
            Figure(
                f"p99 latency, {concurrency} sender{'s' if concurrency > 1 else ''}",
                p99,
                "ms",
                ceiling=ceiling[concurrency].p99_ms,
                ceiling_name="aiohttp + asyncpg INSERT",
                target=f"< {PATIENCE_MS} ms" if concurrency == 64 else "",
                met=(p99 < PATIENCE_MS) if p99 is not None and concurrency == 64 else None,
                note="" if measured else missing_note,
            )
        )
    result.tables.append(("Every load level (p50 and p99 of the answered requests)", rows))
    result.notes.append(
        f"Each level: {WARMUP} warm-up requests, then up to {MAX_REQUESTS:,} requests or {MAX_SECONDS:.0f} s, "
        "whichever comes first. Bodies follow the shapes of the VK samples (message_new, wall_reply_new), "
        'each with its own event_id, from 5,000 distinct authors; an answer counts only when it is 200 "ok".'
    )
    if not proxy:
        result.missing = missing_note
    return result
