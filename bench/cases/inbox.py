"""Inbox: p50 / p99 of the inbox page and its partial with 100,000 open conversations and 20 operators
loading it at once, against the ceiling of /healthz under the same load."""

from __future__ import annotations

import aiohttp

from bench.cases.common import LOAD_HEADER, cookie_session, load_row, log_in
from bench.context import Context
from bench.dataset import BENCH_LOGIN, BENCH_PASSWORD, OPEN_CONVERSATIONS
from bench.load import LoadResult, run_load
from bench.results import BenchResult, Figure

CLIENTS = 20
MAX_REQUESTS = 2_000
MAX_SECONDS = 15.0
# Text every generated conversation's preview starts with: a page that lists conversations shows it.
PREVIEW_MARK = "Здравствуйте, у меня вопрос".encode()


async def _load(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> LoadResult:
    async def get(session: aiohttp.ClientSession, index: int) -> bool:
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            await response.read()
            return response.status == 200

    await run_load(session, get, concurrency=CLIENTS, max_requests=CLIENTS * 5, max_seconds=5)
    return await run_load(
        session, get, concurrency=CLIENTS, max_requests=MAX_REQUESTS, max_seconds=MAX_SECONDS
    )


async def run(context: Context) -> BenchResult:
    await context.dataset.conversations_and_samples()
    result = BenchResult("inbox", "")
    rows = [LOAD_HEADER]
    async with context.proxy() as server, cookie_session(CLIENTS) as session:
        await log_in(session, server.base_url, BENCH_LOGIN, BENCH_PASSWORD)
        health = await _load(session, f"{server.base_url}/healthz")
        rows.append(load_row("GET /healthz (ceiling)", health))
        async with session.get(f"{server.base_url}/", allow_redirects=False) as response:
            page_body = await response.read()
            page_status = response.status
        lists_conversations = page_status == 200 and PREVIEW_MARK in page_body
        page = partial = None
        if lists_conversations:
            async with context.profiled(server, "the inbox page load"):
                page = await _load(session, f"{server.base_url}/")
            rows.append(load_row("GET / (page)", page))
            partial = await _load(session, f"{server.base_url}/", {"HX-Request": "true"})
            rows.append(load_row("GET / with HX-Request (partial)", partial))
    missing = "the inbox page does not list conversations yet"
    for label, measured in (("page", page), ("partial", partial)):
        for quantile in ("p50", "p99"):
            value = getattr(measured, f"{quantile}_ms") if measured else None
            result.figures.append(
                Figure(
                    f"inbox {label} {quantile}, {CLIENTS} operators",
                    value,
                    "ms",
                    ceiling=getattr(health, f"{quantile}_ms"),
                    ceiling_name=f"/healthz {quantile}",
                    note="" if measured else missing,
                )
            )
    result.tables.append(("Every endpoint under the same load", rows))
    result.notes.append(
        f"{OPEN_CONVERSATIONS:,} open conversations waiting for an answer (of 200,000), one community, all "
        f"visible to the logged-in admin. {CLIENTS} concurrent clients share one session cookie, each "
        f"sending its next request when the last one is answered; per endpoint {CLIENTS * 5} warm-up "
        f"requests, then up to {MAX_REQUESTS:,} requests or {MAX_SECONDS:.0f} s. The issue sets no "
        "number here; the ratio to /healthz shows what the page costs beyond the server's floor."
    )
    if not lists_conversations:
        result.missing = f"{missing} (GET / answered {page_status})"
    return result
