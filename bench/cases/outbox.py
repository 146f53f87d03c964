"""Outbox: actions per second delivered to the VK emulator, with one community token and with ten.

The emulator runs in its own process (`python -m vk_emulator`) and enforces VK's limit of
20 requests a second per community token; its call log says how many requests any one-second window saw.
Replies are queued through the proxy's own action service (journal entry + outbox row) while no worker
runs; then a proxy instance with its outbox worker starts and delivers them. The rate is taken from the
rows' own sent_at times (first to last), so the server's start-up does not count.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass

import aiohttp

from bench.context import Context
from bench.dataset import BENCH_LOGIN
from bench.processes import proxy_env, python_module_server, run_command
from bench.results import BenchResult, Figure

VK_LIMIT_RPS = 20
# (communities, replies per community, proxy instances delivering them)
SCENARIOS = ((1, 300, 1), (10, 100, 1), (1, 300, 2))
MAX_SECONDS = 90.0
SCALING_TARGET = 5.0  # ten communities deliver at least this many times what one does


@dataclass
class BenchCommunity:
    community_id: int
    group_id: int
    token: str
    post_id: int


async def _emulator_group(session: aiohttp.ClientSession, base: str, index: int) -> tuple[int, str, int]:
    async with session.post(f"{base}/_emulator/groups", json={"name": f"Bench outbox {index}"}) as response:
        group = await response.json()
    async with session.post(
        f"{base}/_emulator/groups/{group['id']}/targets", json={"kind": "wall", "text": "Пост для ответов"}
    ) as response:
        target = await response.json()
    return int(group["id"]), group["community_token"], int(target["id"])


async def _add_communities(context: Context, emulator: str, count: int, first: int) -> list[BenchCommunity]:
    env = proxy_env(context.database.dsn, PROXY_VK_API_BASE=emulator)
    made = []
    async with aiohttp.ClientSession() as session:
        for index in range(first, first + count):
            group_id, token, post_id = await _emulator_group(session, emulator, index)
            token_file = context.log_dir / f"token-{group_id}"
            token_file.write_text(token)
            await run_command(
                [sys.executable, "-m", "proxy", "community", "add", "--group-id", str(group_id),
                 "--name", f"Bench outbox {index}", "--secret", "s", "--confirmation", "c",
                 "--community-token-file", str(token_file)],
                env,
            )  # fmt: skip
            conn = await context.database.connect()
            try:
                community_id = await conn.fetchval(
                    "SELECT id FROM community WHERE vk_group_id = $1", group_id
                )
            finally:
                await conn.close()
            made.append(BenchCommunity(community_id, group_id, token, post_id))
    return made


async def _queue_replies(context: Context, emulator: str, communities: list[BenchCommunity], per: int) -> int:
    """Open `per` comment threads in each community and queue one reply in each (no worker running)."""
    from proxy import actions, db
    from proxy.models import Operator
    from proxy.settings import Settings

    conn = await context.database.connect()
    try:
        conversation_ids: list[int] = []
        for community in communities:
            rows = await conn.fetch(
                """
                INSERT INTO conversation (community_id, channel, key, vk_owner_id, vk_object_id, vk_root_id,
                    status, opened_at, waiting_since, awaiting_first_reaction, last_item_at, preview, created_at)
                SELECT $1, 'wall', 'wall:-' || $2::bigint || '_' || $3::bigint || ':' || g, -$2::bigint, $3, NULL,
                    'open', now(), now(), true, now(), 'Вопрос ' || g, now()
                FROM generate_series(1, $4) AS g
                RETURNING id
                """,
                community.community_id, community.group_id, community.post_id, per,
            )  # fmt: skip
            conversation_ids += [r["id"] for r in rows]
    finally:
        await conn.close()
    settings = Settings.from_env(proxy_env(context.database.dsn, PROXY_VK_API_BASE=emulator))
    async with db.database(context.database.dsn):
        operator = await Operator.get(login=BENCH_LOGIN)
        # Interleaved across communities, as a team answering several communities would queue them.
        for index in range(per):
            for offset in range(len(communities)):
                conversation_id = conversation_ids[offset * per + index]
                await actions.reply(
                    settings, operator, conversation_id, f"Ответ №{index}: спасибо, проверяем"
                )
    return len(conversation_ids)


async def _deliver(
    context: Context, emulator: str, community_ids: list[int], expected: int, instances: int
) -> dict[str, float]:
    """Start proxies with their workers, wait until every queued row is sent (or MAX_SECONDS), read the rate."""
    started = time.perf_counter()
    conn = await context.database.connect()
    try:
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(instances):
                server = context.proxy(PROXY_WORKERS="true", PROXY_VK_API_BASE=emulator)
                await stack.enter_async_context(server)
            while time.perf_counter() - started < MAX_SECONDS:
                done = await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE community_id = ANY($1) AND status IN ('sent', 'failed')",
                    community_ids,
                )
                if done >= expected:
                    break
                await asyncio.sleep(0.2)
        row = await conn.fetchrow(
            """
            SELECT count(*) FILTER (WHERE status = 'sent') AS sent,
                   count(*) FILTER (WHERE status = 'failed') AS failed,
                   extract(epoch FROM max(sent_at) - min(sent_at)) AS span
            FROM outbox WHERE community_id = ANY($1)
            """,
            community_ids,
        )
    finally:
        await conn.close()
    sent, span = int(row["sent"]), float(row["span"] or 0.0)
    return {
        "sent": sent,
        "failed": int(row["failed"]),
        "span": span,
        "rate": (sent - 1) / span if span else 0.0,
    }


async def _max_in_window(emulator: str, tokens: list[str]) -> tuple[int, int]:
    """The most calls any one token made in a one-second window, and the calls VK refused (error 6)."""
    worst = rejected = 0
    async with aiohttp.ClientSession() as session:
        for token in tokens:
            async with session.get(
                f"{emulator}/_emulator/calls", params={"token": token, "window": "1"}
            ) as r:
                stats = await r.json()
            worst = max(worst, int(stats["max_in_window"]))
            rejected += int(stats["rejected"])
    return worst, rejected


async def run(context: Context) -> BenchResult:
    from proxy import outbox  # noqa: F401 - the feature under test; ImportError says it is missing

    await context.dataset.base()
    result = BenchResult("outbox", "")
    rows = [["communities", "instances", "replies", "sent", "failed", "first to last sent (s)", "actions/s",
             "VK limit (20/s x tokens)", "most calls of one token in 1 s", "refused by VK (error 6)"]]  # fmt: skip
    measured: dict[tuple[int, int], dict[str, float]] = {}
    async with python_module_server(
        "emulator", "vk_emulator", ["--demo-per-minute", "0"], context.log_dir
    ) as emulator:
        first = 0
        for count, per, instances in SCENARIOS:
            communities = await _add_communities(context, emulator.base_url, count, first)
            first += count
            expected = await _queue_replies(context, emulator.base_url, communities, per)
            community_ids = [c.community_id for c in communities]
            figures = await _deliver(context, emulator.base_url, community_ids, expected, instances)
            window, refused = await _max_in_window(emulator.base_url, [c.token for c in communities])
            figures.update(window=window, refused=refused)
            measured[(count, instances)] = figures
            rows.append([str(count), str(instances), str(expected), str(figures["sent"]), str(figures["failed"]),
                         f"{figures['span']:.2f}", f"{figures['rate']:.1f}", str(VK_LIMIT_RPS * count),
                         str(window), str(refused)])  # fmt: skip
    one, ten, shared = measured[(1, 1)], measured[(10, 1)], measured[(1, 2)]
    worst_single = max(one["window"], ten["window"])
    result.figures += [
        Figure(
            "actions/s, one community token",
            one["rate"],
            "actions/s",
            ceiling=VK_LIMIT_RPS,
            ceiling_name="VK's 20 requests/s per token",
            target="never over 20 calls in any 1 s",
            met=one["window"] <= VK_LIMIT_RPS,
        ),
        Figure(
            "actions/s, ten communities",
            ten["rate"],
            "actions/s",
            ceiling=VK_LIMIT_RPS * 10,
            ceiling_name="10 x 20 requests/s",
            target=f">= {SCALING_TARGET:g}x one community, never over 20/s per token",
            met=ten["rate"] >= SCALING_TARGET * one["rate"] and ten["window"] <= VK_LIMIT_RPS,
        ),
        Figure(
            "most calls of one token in any 1 s, one instance",
            worst_single,
            "calls",
            ceiling=VK_LIMIT_RPS,
            ceiling_name="VK's limit",
            target="<= 20",
            met=worst_single <= VK_LIMIT_RPS,
        ),
        Figure(
            "most calls of one token in any 1 s, two instances",
            shared["window"],
            "calls",
            ceiling=VK_LIMIT_RPS,
            ceiling_name="VK's limit",
            target="<= 20",
            met=shared["window"] <= VK_LIMIT_RPS,
            note=f"{int(shared['refused'])} calls refused by VK with error 6",
        ),
    ]
    result.tables.append(("Each scenario", rows))
    result.notes.append(
        "Replies are wall comments answered as the community (wall.createComment), one per conversation, "
        "queued through proxy.actions.reply with a running emulator but no worker; then proxy instances "
        "with their outbox workers deliver them (the last scenario: two instances sharing one token, as two "
        "app instances behind a load balancer would). The scaling target (ten communities at least "
        f'{SCALING_TARGET:g} times one) is this benchmark\'s reading of "must scale with communities".'
    )
    return result
