"""Outbox, click to VK: from the operator's POST that queues a reply to its VK call arriving at VK, while
VK's echo of every reply comes back to the proxy as the outbox records it (tests/test_lock_order.py).

One proxy instance with its outbox worker on the bench database. The VK emulator runs in this process,
so that it stamps each call's arrival on the clock the clicks are timed with; it enforces VK's 20 calls
a second per token and posts every event (the members' messages and comments, then the echoes of the
replies) to the proxy's Callback endpoint. 40 dialogs and 40 wall comment threads get five replies each
(200 messages.send, 200 wall.createComment, all on the one community token), clicked through the web
form at a steady pace below the token's limit, so the figure is the proxy's own path: the action's
transaction, the worker's wake-up and claim, the shared rate limit, the VK call.

The baseline is what no proxy can beat: the same VK client library calling the emulator directly
(groups.getById on the same token, one call at a time), from call to arrival. VK's own rate limit adds
a floor of its own under load: one token's calls are at least 50 ms apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from bench.cases.common import cookie_session, log_in, ms
from bench.context import Context
from bench.dataset import BENCH_LOGIN, BENCH_PASSWORD
from bench.load import percentile
from bench.processes import free_port, proxy_env, run_command
from bench.results import BenchResult, Figure

GROUP_ID = 300_000_001  # the emulator's default ids are the bench community's
SECRET = "bench-reply-secret"
CONVERSATIONS = 40  # dialogs, and as many wall comment threads
REPLIES_EACH = 5
CLICKS_PER_SECOND = 16.0  # 80 % of VK's 20 calls a second per token
OPERATORS = 16  # browser connections the clicks come from (a click never waits for another's answer)
BASELINE_CALLS = 100
VK_LIMIT_RPS = 20
MAX_SECONDS = 120.0
STAMPED = ("messages.send", "wall.createComment", "groups.getById")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Arrivals:
    """When each accepted VK call of interest reached the emulator, by its text (or method, in order)."""

    def __init__(self) -> None:
        self.by_text: dict[str, float] = {}
        self.baseline: list[float] = []

    @web.middleware
    async def stamp(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived = time.perf_counter()
        response = await handler(request)
        method = request.match_info.get("name")
        if (
            method in STAMPED
            and isinstance(response, web.Response)
            and b'"error"' not in (response.body or b"")
        ):
            if method == "groups.getById":
                self.baseline.append(arrived)
            else:
                params = {**request.query, **(await request.post())}
                self.by_text.setdefault(str(params.get("message", "")), arrived)
        return response


@contextlib.asynccontextmanager
async def _emulator(state: Any, port: int, arrivals: Arrivals) -> AsyncIterator[Any]:
    from proxy.connectors.vk.emulator import create_emulator_app

    app = create_emulator_app(state)
    app.middlewares.append(arrivals.stamp)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield app
    finally:
        await runner.cleanup()


async def _baseline(base_url: str, token: str, arrivals: Arrivals) -> list[float]:
    """Call-to-arrival times of direct calls through the proxy's VK client, one at a time."""
    from proxy.connectors.vk.client import VkClient
    from proxy.connectors.vk.transport import emulator_session

    client = VkClient(token, kind="community", session=emulator_session(base_url))
    times = []
    for _ in range(BASELINE_CALLS):
        sent = time.perf_counter()
        await client.call("groups.getById", group_id=GROUP_ID)
        times.append(arrivals.baseline[-1] - sent)
        await asyncio.sleep(1 / CLICKS_PER_SECOND)
    return times


async def _deadlocks(context: Context) -> int:
    conn = await context.database.connect()
    try:
        return int(
            await conn.fetchval("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )
    finally:
        await conn.close()


async def _backends_gone(context: Context) -> None:
    """A backend adds its deadlocks to pg_stat_database as it exits, before it leaves pg_stat_activity."""
    conn = await context.database.connect()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and await conn.fetchval(  # noqa: ASYNC110 - polls PostgreSQL
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ):
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def run(context: Context) -> BenchResult:
    from proxy import outbox  # noqa: F401 - the feature under test; ImportError says it is missing
    from proxy.connectors.vk.emulator import CallbackConfig, EmulatorState

    await context.dataset.base()
    result = BenchResult("reply", "")
    arrivals = Arrivals()
    state = EmulatorState()
    group = state.add_group("Bench replies", group_id=GROUP_ID)
    post = state.add_post(group, "Пост для ответов")
    members = [state.add_user("Участник", str(n)) for n in range(CONVERSATIONS)]
    emulator_port = free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    server = context.proxy(PROXY_WORKERS="true", PROXY_VK_API_BASE=emulator_url)
    group.callback = CallbackConfig(f"{server.base_url}/callback/vk/{GROUP_ID}", SECRET, "conf")

    token_file = context.log_dir / f"token-{GROUP_ID}"
    token_file.write_text(group.community_token)
    await run_command(
        [sys.executable, "-m", "proxy", "community", "add", "--group-id", str(GROUP_ID), "--name", group.name,
         "--secret", SECRET, "--confirmation", "conf", "--community-token-file", str(token_file)],
        proxy_env(context.database.dsn),
    )  # fmt: skip
    measured = await _measure(context, state, group, post, members, server, emulator_port, arrivals)
    return _report(result, *measured)


async def _measure(
    context: Context,
    state: Any,
    group: Any,
    post: Any,
    members: list[Any],
    server: Any,
    port: int,
    arrivals: Arrivals,
) -> tuple[list[float], list[float], list[float], dict[str, Any]]:
    """The baseline, then the clicks: (baseline, click to arrival, POST answer times, what was stored)."""
    from proxy.connectors.vk.emulator import DELIVERY_KEY

    conn = await context.database.connect()
    try:
        community_id = await conn.fetchval("SELECT id FROM community WHERE vk_group_id = $1", GROUP_ID)
        deadlocks_before = await _deadlocks(context)
        async with _emulator(state, port, arrivals) as emulator, server:
            for n, member in enumerate(members):
                state.set_messages_allowed(group, member.id, True)
                state.incoming_message(group, member.id, f"Вопрос в личке {n}")
                state.create_comment(group, "wall", post.id, member.id, f"Вопрос под постом {n}")
            conversation_ids = await _conversations(conn, community_id, 2 * CONVERSATIONS)
            baseline = await _baseline(f"http://127.0.0.1:{port}", group.community_token, arrivals)
            clicks, answers = await _click(server.base_url, conversation_ids)
            deadline = time.monotonic() + MAX_SECONDS
            while time.monotonic() < deadline and not clicks.keys() <= arrivals.by_text.keys():  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            # Every row recorded, and every echo taken in (or given up by the emulator's retry schedule).
            recorded_deadline = time.monotonic() + 30
            while time.monotonic() < recorded_deadline and await conn.fetchval(  # noqa: ASYNC110
                "SELECT count(*) FROM outbox WHERE community_id = $1 AND status <> 'sent'", community_id
            ):
                await asyncio.sleep(0.2)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(MAX_SECONDS):
                    await emulator[DELIVERY_KEY].wait_idle()
        await _backends_gone(context)
        row = await conn.fetchrow(
            """
            SELECT count(*) FILTER (WHERE status = 'sent') AS sent,
                   count(*) FILTER (WHERE status <> 'sent') AS unsent
            FROM outbox WHERE community_id = $1
            """,
            community_id,
        )
        items = await conn.fetchval(
            "SELECT count(DISTINCT outbox_row_id) FROM item WHERE community_id = $1 AND direction = 'out'",
            community_id,
        )
        outside = await conn.fetchval(
            "SELECT count(*) FROM journal_entry WHERE community_id = $1 AND action = 'vk.reply'", community_id
        )
        deadlocks = await _deadlocks(context) - deadlocks_before
    finally:
        await conn.close()
    latencies = [
        arrivals.by_text[text] - clicked for text, clicked in clicks.items() if text in arrivals.by_text
    ]
    posted = [c.text for c in group.comments.values() if c.from_id == group.owner_id]
    posted += [m.text for m in group.messages.values() if m.out]
    facts = {
        "clicked": len(clicks),
        "arrived": len(latencies),
        "posted": len(posted),
        "posted_once": len(set(posted)) == len(posted),
        "sent": int(row["sent"]),
        "unsent": int(row["unsent"]),
        "items": int(items),
        "outside": int(outside),
        "deadlocks": deadlocks,
        "refused": sum(1 for c in state.calls.get(group.community_token, ()) if c.error_code == 6),
        "window": state.max_calls_in_window(group.community_token, 1.0),
    }
    return baseline, latencies, answers, facts


async def _conversations(conn: Any, community_id: int, expected: int) -> list[int]:
    deadline = time.monotonic() + 60
    while True:
        ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM conversation WHERE community_id = $1 ORDER BY id", community_id
            )
        ]
        if len(ids) >= expected or time.monotonic() > deadline:
            return ids
        await asyncio.sleep(0.2)


async def _click(base_url: str, conversation_ids: list[int]) -> tuple[dict[str, float], list[float]]:
    """Click "send" on five replies in each conversation at a steady pace; when each was clicked, and how
    long each POST took to answer."""
    clicks: dict[str, float] = {}
    answers: list[float] = []
    async with cookie_session(OPERATORS) as session:
        await log_in(session, base_url, BENCH_LOGIN, BENCH_PASSWORD)
        async with session.get(f"{base_url}/conversations/{conversation_ids[0]}") as response:
            match = CSRF.search(await response.text())
        if match is None:
            raise RuntimeError("no CSRF token on the conversation page")
        headers = {"HX-Request": "true", "X-CSRF-Token": match.group(1)}

        async def one(conversation_id: int, text: str) -> None:
            clicked = time.perf_counter()
            clicks[text] = clicked
            async with session.post(
                f"{base_url}/conversations/{conversation_id}/reply", data={"text": text}, headers=headers
            ) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"reply POST answered {response.status}")
            answers.append(time.perf_counter() - clicked)

        started = time.perf_counter()
        tasks = []
        plan = [
            (cid, f"Ответ {round_} в разговоре {cid}")
            for round_ in range(REPLIES_EACH)
            for cid in conversation_ids
        ]
        for index, (cid, text) in enumerate(plan):
            await asyncio.sleep(max(0.0, started + index / CLICKS_PER_SECOND - time.perf_counter()))
            tasks.append(asyncio.create_task(one(cid, text)))
        await asyncio.gather(*tasks)
    return clicks, answers


def _report(
    result: BenchResult,
    baseline: list[float],
    latencies: list[float],
    answers: list[float],
    facts: dict[str, Any],
) -> BenchResult:
    def q(values: list[float], fraction: float) -> float | None:
        value = percentile(values, fraction)
        return None if value is None else value * 1000

    complete = facts["arrived"] == facts["clicked"] and facts["unsent"] == 0
    for name, fraction in (("p50", 0.50), ("p99", 0.99)):
        result.figures.append(
            Figure(
                f"click to VK call {name}, {CLICKS_PER_SECOND:g} replies/s with echoes",
                q(latencies, fraction) if complete else None,
                "ms",
                ceiling=q(baseline, fraction),
                ceiling_name=f"a direct VK call's {name} (same client, same token)",
                note="" if complete else f"{facts['clicked'] - facts['arrived']} replies never reached VK",
            )
        )
    result.figures.append(
        Figure(
            "PostgreSQL deadlocks while replies and their echoes were recorded",
            facts["deadlocks"],
            "deadlocks",
            target="0",
            met=facts["deadlocks"] == 0,
        )
    )
    result.tables.append(
        (
            "Click to VK call (ms; the baseline is a direct call to the emulator with the same client library)",
            [
                ["what", "count", "p50 ms", "p99 ms", "max ms"],
                ["click to VK call", str(len(latencies)), ms(q(latencies, 0.5)), ms(q(latencies, 0.99)),
                 ms(max(latencies) * 1000 if latencies else None)],
                ["the POST's answer (reply queued)", str(len(answers)), ms(q(answers, 0.5)), ms(q(answers, 0.99)),
                 ms(max(answers) * 1000 if answers else None)],
                ["baseline: direct call to arrival", str(len(baseline)), ms(q(baseline, 0.5)),
                 ms(q(baseline, 0.99)), ms(max(baseline) * 1000 if baseline else None)],
            ],
        )
    )  # fmt: skip
    result.tables.append(
        (
            "Each reply once",
            [
                ["clicked", "arrived at VK", "posted at VK", "each text once at VK", "outbox rows sent",
                 "not sent", "reply items (one per row)", "echoes taken for replies in VK", "deadlocks",
                 "most calls of the token in 1 s", "refused by VK (error 6)"],
                [str(facts["clicked"]), str(facts["arrived"]), str(facts["posted"]),
                 "yes" if facts["posted_once"] else "no", str(facts["sent"]), str(facts["unsent"]),
                 str(facts["items"]), str(facts["outside"]), str(facts["deadlocks"]), str(facts["window"]),
                 str(facts["refused"])],
            ],
        )
    )  # fmt: skip
    result.notes.append(
        f"{CONVERSATIONS} dialogs and {CONVERSATIONS} wall comment threads, {REPLIES_EACH} replies in each "
        f"({2 * CONVERSATIONS * REPLIES_EACH} in all), clicked through POST /conversations/{{id}}/reply "
        f"(htmx, as the page sends it) at {CLICKS_PER_SECOND:g} a second over {OPERATORS} connections, "
        "threads and dialogs interleaved; "
        "the emulator posts each reply's echo to the proxy's Callback endpoint as it performs the call. "
        "A reply waits for the one before it in its conversation (the outbox keeps their order). "
        f"Deadlocks: pg_stat_database of the bench database before and after, read once the proxy's "
        f"connections had closed. VK's limit on the token: {VK_LIMIT_RPS} calls a second, so under load "
        f"calls are at least {1000 / VK_LIMIT_RPS:.0f} ms apart."
    )
    return result
