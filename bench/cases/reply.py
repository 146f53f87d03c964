"""Outbox, click to VK: from the operator's POST that queues a reply to its VK call arriving at VK, while
VK's echo of every reply comes back to the proxy as the outbox records it (tests/test_lock_order.py).

One proxy instance with its outbox worker on the bench database. The VK emulator runs in this process,
so that it stamps each call's arrival on the clock the clicks are timed with; it enforces VK's 20 calls
a second per token and posts every event (the members' messages and comments, then the echoes of the
replies) to the proxy's Callback endpoint. 40 dialogs and 40 wall comment threads get one reply each at a
calm pace, then five more each (200 messages.send, 200 wall.createComment, all on the one community
token), clicked through the web form at a steady pace below the token's limit: the figure is the
proxy's own path (the action's transaction, the worker's wake-up and claim, the shared rate limit, the
VK call), with VK's echoes of the replies arriving while the outbox records them.

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
from dataclasses import dataclass, field
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
OPERATORS = 16  # browser connections the clicks come from (a click never waits for another's answer)
VK_LIMIT_RPS = 20


@dataclass(frozen=True)
class Level:
    """Rounds of one reply in every conversation, clicked at `rate` a second."""

    name: str
    rate: float
    rounds: int


# First one reply in each conversation at a calm pace (the path's own cost), then five more in each at
# 80 % of VK's 20 calls a second on the token: 200 wall comment replies and 200 message replies.
LEVELS = (Level("calm", 4.0, 1), Level("load", 16.0, 5))
BASELINE_CALLS = 100
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
    from vk_emulator import create_emulator_app

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
        await asyncio.sleep(1 / LEVELS[-1].rate)
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
    from vk_emulator import CallbackConfig, EmulatorState

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
) -> tuple[list[float], list[Clicks], dict[str, Any]]:
    """The baseline, then the clicks of each level: (baseline, clicks with arrivals, what was stored)."""
    from vk_emulator import DELIVERY_KEY

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
            clicked = []
            for level in LEVELS:
                clicked.append(await _click(server.base_url, conversation_ids, level, len(clicked)))
                deadline = time.monotonic() + MAX_SECONDS
                while time.monotonic() < deadline and not clicked[-1].at.keys() <= arrivals.by_text.keys():  # noqa: ASYNC110
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
    for level_clicks in clicked:
        level_clicks.to_vk = [
            arrivals.by_text[text] - at for text, at in level_clicks.at.items() if text in arrivals.by_text
        ]
    posted = [c.text for c in group.comments.values() if c.from_id == group.owner_id]
    posted += [m.text for m in group.messages.values() if m.out]
    facts = {
        "clicked": sum(len(c.at) for c in clicked),
        "arrived": sum(len(c.to_vk) for c in clicked),
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
    return baseline, clicked, facts


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


@dataclass
class Clicks:
    """One level's clicks: when each reply's text was clicked, how long its POST took, how long to VK."""

    level: Level
    at: dict[str, float] = field(default_factory=dict)
    answers: list[float] = field(default_factory=list)
    to_vk: list[float] = field(default_factory=list)


async def _click(base_url: str, conversation_ids: list[int], level: Level, first_round: int) -> Clicks:
    """Click "send" on the level's rounds of replies at its steady pace."""
    clicks = Clicks(level)
    async with cookie_session(OPERATORS) as session:
        await log_in(session, base_url, BENCH_LOGIN, BENCH_PASSWORD)
        async with session.get(f"{base_url}/conversations/{conversation_ids[0]}") as response:
            match = CSRF.search(await response.text())
        if match is None:
            raise RuntimeError("no CSRF token on the conversation page")
        headers = {"HX-Request": "true", "X-CSRF-Token": match.group(1)}

        async def one(conversation_id: int, text: str) -> None:
            clicked = time.perf_counter()
            clicks.at[text] = clicked
            async with session.post(
                f"{base_url}/conversations/{conversation_id}/reply", data={"text": text}, headers=headers
            ) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"reply POST answered {response.status}")
            clicks.answers.append(time.perf_counter() - clicked)

        plan = [
            (cid, f"Ответ {round_} в разговоре {cid}")
            for round_ in range(first_round, first_round + level.rounds)
            for cid in conversation_ids
        ]
        started = time.perf_counter()
        tasks = []
        for index, (cid, text) in enumerate(plan):
            await asyncio.sleep(max(0.0, started + index / level.rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(cid, text)))
        await asyncio.gather(*tasks)
    return clicks


def _report(
    result: BenchResult, baseline: list[float], clicked: list[Clicks], facts: dict[str, Any]
) -> BenchResult:
    def q(values: list[float], fraction: float) -> float | None:
        value = percentile(values, fraction)
        return None if value is None else value * 1000

    def top(values: list[float]) -> str:
        return ms(max(values) * 1000 if values else None)

    for clicks in clicked:
        level = clicks.level
        missing = len(clicks.at) - len(clicks.to_vk)
        for name, fraction in (("p50", 0.50), ("p99", 0.99)):
            result.figures.append(
                Figure(
                    f"click to VK call {name}, {level.rate:g} replies/s with echoes",
                    q(clicks.to_vk, fraction) if not missing else None,
                    "ms",
                    ceiling=q(baseline, fraction),
                    ceiling_name=f"a direct VK call's {name} (same client, same token)",
                    note=f"{missing} replies never reached VK" if missing else "",
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
    rows = [["what", "count", "p50 ms", "p99 ms", "max ms"]]
    for clicks in clicked:
        rate = f"{clicks.level.rate:g}/s"
        rows += [
            [f"{rate}: click to VK call", str(len(clicks.to_vk)), ms(q(clicks.to_vk, 0.5)),
             ms(q(clicks.to_vk, 0.99)), top(clicks.to_vk)],
            [f"{rate}: the POST's answer (reply queued)", str(len(clicks.answers)), ms(q(clicks.answers, 0.5)),
             ms(q(clicks.answers, 0.99)), top(clicks.answers)],
        ]  # fmt: skip
    rows.append(
        ["baseline: direct VK call to arrival", str(len(baseline)), ms(q(baseline, 0.5)), ms(q(baseline, 0.99)),
         top(baseline)]
    )  # fmt: skip
    result.tables.append(("Click to VK call, each level, and the baseline (ms)", rows))
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
    levels = "; ".join(
        f"{level.rounds} round{'s' if level.rounds > 1 else ''} at {level.rate:g} a second"
        for level in LEVELS
    )
    result.notes.append(
        f"{CONVERSATIONS} dialogs and {CONVERSATIONS} wall comment threads, one reply in each per round "
        f"({levels}), clicked through POST /conversations/{{id}}/reply (htmx, as the page sends it) over "
        f"{OPERATORS} connections, threads and dialogs interleaved; the emulator posts each reply's echo to "
        "the proxy's Callback endpoint as it performs the call. A reply waits for the one before it in its "
        "conversation (the outbox keeps their order). Deadlocks: pg_stat_database of the bench database "
        "before and after, read once the proxy's connections had closed. VK's limit on the token: "
        f"{VK_LIMIT_RPS} calls a second, so under load calls are at least {1000 / VK_LIMIT_RPS:.0f} ms apart."
    )
    return result
