"""Valid callbacks during a wrong-secret flood: their p50 and p99 without and with 48 senders of wrong
secrets hitting the same community, in the same run.

A refused callback writes nothing: it is counted in memory and journaled once a minute with its count
(proxy/refusals.py). The flood comes from a process of its own (bench/flood.py), so that its client work
does not delay the measured senders' event loop. Rounds alternate between "alone" and "flooded" so that
both see the same load from the rest of the (shared) machine; each figure pools the rounds' latencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from bench.cases.common import LOAD_HEADER, load_row, ms
from bench.context import Context
from bench.dataset import BENCH_GROUP_ID, BENCH_SECRET
from bench.events import callback_body
from bench.load import LoadResult, client_session, percentile, run_load
from bench.processes import REPO
from bench.results import BenchResult, Figure

VALID_SENDERS = 8
FLOOD_SENDERS = 48
ROUNDS = 3  # of each: alone, flooded
MAX_REQUESTS = 3_000  # valid callbacks per round; a round also stops after MAX_SECONDS
MAX_SECONDS = 10.0
WARMUP = 200
RAMP_SECONDS = 1.0  # the flood runs this long before the valid senders start
CEILING_FACTOR = 2.0  # the target: p99 during the flood at most twice the p99 without it
# Event ids of their own per round and condition, never stored before (bench/cases/ingest.py uses
# bases up to 10,000,000 + 6,200 x rounds).
BASE = 20_000_000


async def _valid(base_url: str, first_index: int) -> LoadResult:
    url = f"{base_url}/callback/vk/{BENCH_GROUP_ID}"

    async def post(session: aiohttp.ClientSession, index: int) -> bool:
        body = callback_body(index, BENCH_GROUP_ID, BENCH_SECRET, run="f")
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
            return response.status == 200 and await response.text() == "ok"

    async with client_session(VALID_SENDERS) as session:
        return await run_load(
            session,
            post,
            concurrency=VALID_SENDERS,
            max_requests=MAX_REQUESTS,
            max_seconds=MAX_SECONDS,
            first_index=first_index,
        )


@contextlib.asynccontextmanager
async def _flood(base_url: str) -> AsyncIterator[dict[str, Any]]:
    """bench/flood.py running for the block; the dict gets its answer counts and duration at the end."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.flood", "--url", f"{base_url}/callback/vk/{BENCH_GROUP_ID}",
        "--group-id", str(BENCH_GROUP_ID), "--senders", str(FLOOD_SENDERS),
        cwd=REPO, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    outcome: dict[str, Any] = {}
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if line.strip() != b"flooding":
            raise RuntimeError(f"the flood did not start: {line!r}")
        await asyncio.sleep(RAMP_SECONDS)
        yield outcome
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        out = await asyncio.wait_for(process.stdout.read(), 60)
        await process.wait()
        lines = out.decode().strip().splitlines()
        if lines:
            outcome.update(json.loads(lines[-1]))


def _pooled(runs: list[LoadResult]) -> LoadResult:
    pooled = LoadResult(VALID_SENDERS)
    for run in runs:
        pooled.completed += run.completed
        pooled.failed += run.failed
        pooled.elapsed += run.elapsed
        pooled.latencies += run.latencies
    return pooled


async def _journaled_refusals(context: Context) -> tuple[int, int]:
    """(callback.bad_secret journal entries, the refusals they count) in the bench database."""
    conn = await context.database.connect()
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS entries, coalesce(sum((params::jsonb ->> 'count')::bigint), 0) AS refusals "
            "FROM journal_entry WHERE action = 'callback.bad_secret'"
        )
    finally:
        await conn.close()
    return int(row["entries"]), int(row["refusals"])


async def run(context: Context) -> BenchResult:
    await context.dataset.base()
    result = BenchResult("flood", "")
    rows = [[*LOAD_HEADER, "flood: refused per second"]]
    alone: list[LoadResult] = []
    flooded: list[LoadResult] = []
    refused = seconds = 0.0
    other_answers: dict[str, int] = {}
    entries_before, _ = await _journaled_refusals(context)
    async with context.proxy() as server:
        async with client_session(VALID_SENDERS) as session:  # warm-up: connections, caches, statements
            url = f"{server.base_url}/callback/vk/{BENCH_GROUP_ID}"
            for index in range(WARMUP):
                body = callback_body(BASE - WARMUP + index, BENCH_GROUP_ID, BENCH_SECRET, run="f")
                async with session.post(url, data=body) as response:
                    await response.read()
        for round_number in range(ROUNDS):
            first = BASE + round_number * 2 * MAX_REQUESTS
            run_alone = await _valid(server.base_url, first)
            alone.append(run_alone)
            rows.append([*load_row(f"valid callbacks alone (round {round_number + 1})", run_alone), "—"])
            async with (
                context.profiled(server, "valid callbacks during the flood")
                if round_number == ROUNDS - 1
                else contextlib.nullcontext(),
                _flood(server.base_url) as outcome,
            ):
                run_flooded = await _valid(server.base_url, first + MAX_REQUESTS)
            flooded.append(run_flooded)
            statuses = dict(outcome.get("statuses", {}))
            round_refused = statuses.pop("403", 0)
            refused += round_refused
            seconds += outcome.get("seconds", 0.0)
            for status, count in {**statuses, **outcome.get("errors", {})}.items():
                other_answers[status] = other_answers.get(status, 0) + count
            rate = round_refused / outcome["seconds"] if outcome.get("seconds") else 0.0
            rows.append(
                [*load_row(f"valid callbacks during the flood (round {round_number + 1})", run_flooded), f"{rate:,.0f}"]
            )
        entries_during, _ = await _journaled_refusals(context)
    entries_after, counted = await _journaled_refusals(context)

    without, during = _pooled(alone), _pooled(flooded)
    senders = f"{VALID_SENDERS} valid senders, {FLOOD_SENDERS} flooding"
    p99_ratio = during.p99_ms / without.p99_ms if during.p99_ms and without.p99_ms else None
    result.figures = [
        Figure(
            f"valid-callback p50 during the flood, {senders}",
            during.p50_ms,
            "ms",
            ceiling=without.p50_ms,
            ceiling_name="p50 without the flood, same run",
        ),
        Figure(
            f"valid-callback p99 during the flood, {senders}",
            during.p99_ms,
            "ms",
            ceiling=without.p99_ms,
            ceiling_name="p99 without the flood, same run",
            target=f"<= {CEILING_FACTOR:g}x the p99 without the flood",
            met=p99_ratio <= CEILING_FACTOR if p99_ratio is not None else None,
        ),
        Figure("wrong-secret callbacks refused per second during the flood", refused / seconds if seconds else None,
               "requests/s"),  # fmt: skip
        Figure("journal rows written while the flood ran", entries_during - entries_before, "rows", target="0",
               met=entries_during == entries_before),  # fmt: skip
    ]
    result.tables.append(("Every round (p50 and p99 of the answered valid callbacks)", rows))
    result.tables.append(
        (
            "Both conditions, all rounds pooled",
            [
                ["valid callbacks", "answered", "failed", "p50 ms", "p99 ms", "p99.9 ms"],
                ["alone", f"{without.completed:,}", str(without.failed), ms(without.p50_ms), ms(without.p99_ms),
                 ms(_p999(without))],
                ["during the flood", f"{during.completed:,}", str(during.failed), ms(during.p50_ms),
                 ms(during.p99_ms), ms(_p999(during))],
            ],
        )
    )  # fmt: skip
    result.notes.append(
        f"Each of {ROUNDS} rounds: {VALID_SENDERS} senders post valid callbacks (the ingest benchmark's bodies, "
        f"each a message or comment never stored before) for up to {MAX_REQUESTS:,} requests or "
        f"{MAX_SECONDS:.0f} s, first alone, then while {FLOOD_SENDERS} other senders (bench/flood.py, a process "
        f"of its own, one keep-alive connection each) post wrong secrets to the same community as fast as "
        f"they are answered, starting {RAMP_SECONDS:g} s before the valid senders. One proxy instance, workers "
        f"off; {WARMUP} valid callbacks warm it up first. The figures pool the rounds of each condition."
    )
    result.notes.append(
        f"The flood got {refused:,.0f} answers 403 in all"
        + (f" and these others: {other_answers}" if other_answers else "")
        + f". Journal rows written while it ran: {entries_during - entries_before}. When the proxy stopped "
        f"(workers off, so no task journals a window as it ends) it journaled its counts: "
        f"{entries_after - entries_before} callback.bad_secret entries, one per minute window, counting "
        f"{counted:,} refusals: the answers above plus the requests in flight when each round's flood was "
        f"stopped ({FLOOD_SENDERS} a round), which the proxy refused but the flood no longer read."
    )
    return result


def _p999(run: LoadResult) -> float | None:
    value = percentile(run.latencies, 0.999)
    return None if value is None else value * 1000
