"""The outbox with several instances on one PostgreSQL database: VK's per-token rate limit held across them,
each row sent once, ten communities not waiting for each other, and a row queued anywhere waking every worker.

Instances are child processes (`python -m proxy serve`) where the test is about processes not sharing
memory; VK is the emulator in this process, which records every call with its arrival time per token.
The rate checks count calls in one-second windows as the emulator saw them (VK's own rule), never how
long anything took.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from bench.processes import REPO, proxy_env, proxy_server
from proxy import actions, networks, outbox
from proxy.appkeys import BACKGROUND, CONNECTIONS, LIVE
from proxy.communities import add_community
from proxy.connectors.vk import client as vk_client
from proxy.live import asyncpg_dsn
from proxy.models import Community, Network, Operator, OutboxRow, OutboxStatus, Role
from proxy.rate_limit import SharedRateLimits, token_key
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tests.actions_fixtures import *  # noqa: F403
from tests.actions_fixtures import Mirror
from tests.conftest import TEST_SECRET_KEY
from vk_emulator import World, create_emulator_app

WAIT_SECONDS = 120.0  # a guard against hanging, never a speed requirement


def postgres_only(db_url: str) -> None:
    if not db_url.startswith("postgres"):
        pytest.skip("SQLite runs one process: the in-process limiter and wake-up are the only ones")


# The emulator stamps a call's arrival after reading its body, on the event loop this test shares with
# the database polling and two HTTP fronts, while the instances' worker threads compete for two cores: a
# stall there packs stamps together (CI once saw 4 user-token calls booked 0.37 s apart arrive within
# 0.9 s; VK refused the extra one with error 6 and the row was retried, as in production). So calls are
# counted in windows of 0.7 s, which still catches the defect this test exists for: two instances pacing a
# token each on its own would each start 2 calls in any 0.7 s (3 a second, 0.37 s apart), 4 in all, and
# 13 community-token calls each (20 a second), 26 in all.
SLACK_SECONDS = 0.3


def _most_in_a_second(world: World, token: str) -> int:
    """The most calls of a token the emulator saw within any second (less the slack)."""
    return world.state.max_calls_in_window(token, 1.0 - SLACK_SECONDS)


def _accepted(world: World, token: str, method: str) -> list[Any]:
    """Calls VK performed (a call refused with error 6 is retried: the row is still sent once)."""
    return [r for r in world.state.calls.get(token, ()) if r.method == method and r.error_code is None]


def _refused(world: World, token: str) -> int:
    return sum(1 for r in world.state.calls.get(token, ()) if r.error_code == 6)


async def _wait_all_done(ids: list[int]) -> list[OutboxRow]:
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        rows = await OutboxRow.filter(id__in=ids).order_by("id")
        if all(r.status in (OutboxStatus.SENT, OutboxStatus.FAILED) for r in rows):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            pending = [(r.id, r.status, r.error_message) for r in rows if r.status != OutboxStatus.SENT]
            raise AssertionError(f"rows not delivered in {WAIT_SECONDS} s: {pending[:5]}")
        await asyncio.sleep(0.2)


async def _deliver_on_instances(
    db_url: str, log_dir: Path, fronts: list[EmulatorFront], aiohttp_server: Any, ids: list[int]
) -> list[OutboxRow]:
    """One proxy instance with its outbox worker per emulator front, until every row has an outcome."""
    servers = [await aiohttp_server(front.app) for front in fronts]
    instances = [
        proxy_server(
            db_url,
            log_dir,
            PROXY_WORKERS="true",
            PROXY_SECRET_KEY=TEST_SECRET_KEY,
            PROXY_VK_API_BASE=str(server.make_url("")).rstrip("/"),
        )
        for server in servers
    ]
    try:
        await asyncio.gather(*(instance.start() for instance in instances))
        return await _wait_all_done(ids)
    finally:
        await asyncio.gather(*(instance.stop() for instance in instances))


class EmulatorFront:
    """One more HTTP front on the emulator's state, counting the VK calls that came through it.

    Each proxy instance talks to its own front, so the test can tell that both instances delivered;
    the fronts share one state, so VK's per-token accounting sees every call of both.
    """

    def __init__(self, world: World) -> None:
        self.calls = 0
        self.app = create_emulator_app(world.state)
        self.app.middlewares.append(self._count)

    @web.middleware
    async def _count(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/method/"):
            self.calls += 1
        return await handler(request)


# --- one token, two instances ---------------------------------------------------------------------------


async def test_two_instances_keep_one_tokens_rate_limit_and_send_each_row_once(
    db_url: str, vk_settings: Settings, operator: Operator, mirror: Mirror, world: World, aiohttp_server: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    postgres_only(db_url)
    members = [world.state.add_user("Участник", str(n)) for n in range(100)]
    ids = []
    for member in members:
        conversation, _, _ = await mirror.message(member, "Вопрос")
        ids.append((await actions.reply(vk_settings, operator, conversation.id, f"Ответ {member.id}")).id)
    # Comment deletions need the admin user token: 3 calls a second.
    for n in range(12):
        _, item, _ = await mirror.comment(world.members[n % 3], world.post, f"спам {n}")
        ids.append((await actions.delete_comment(vk_settings, operator, item.id)).id)

    fronts = [EmulatorFront(world), EmulatorFront(world)]
    rows = await _deliver_on_instances(db_url, tmp_path, fronts, aiohttp_server, ids)

    community_token, admin_token = world.group.community_token, world.group.admin_token
    print(  # the figures docs/reliability.md quotes (pytest -s shows them)
        f"two instances: calls per instance {[f.calls for f in fronts]}, most in 0.7 s / 1 s: community "
        f"token {_most_in_a_second(world, community_token)} / {world.state.max_calls_in_window(community_token)}"
        f", user token {_most_in_a_second(world, admin_token)} / {world.state.max_calls_in_window(admin_token)}"
        f", refused {_refused(world, community_token)}+{_refused(world, admin_token)}"
    )
    assert {r.status for r in rows} == {OutboxStatus.SENT}, [(r.id, r.error_message) for r in rows]
    assert all(front.calls > 0 for front in fronts), "one instance delivered everything: nothing was shared"
    # VK's rule, as the emulator saw the calls arrive: never over 20 (3) calls of a token in any second.
    assert _most_in_a_second(world, community_token) <= 20
    assert _most_in_a_second(world, admin_token) <= 3
    # Each row once: one messages.send per reply and one outgoing message per member.
    assert len(_accepted(world, community_token, "messages.send")) == 100
    sent = sorted(m.peer_id for m in world.group.messages.values() if m.out == 1)
    assert sent == sorted(m.id for m in members)
    assert len(_accepted(world, admin_token, "wall.deleteComment")) == 12
    spam = [c for c in world.group.comments.values() if c.text.startswith("спам")]
    assert len(spam) == 12 and all(c.deleted for c in spam)


# --- ten communities ------------------------------------------------------------------------------------


async def test_ten_communities_deliver_each_within_its_own_limit(
    db_url: str,
    vk_settings: Settings,
    world: World,
    community: Community,
    aiohttp_server: Any,
    tmp_path: Path,
) -> None:
    postgres_only(db_url)
    operator = await Operator.create(login="anna", password_hash="x", role=Role.ADMIN)
    worlds = [world] + [World.create(world.state) for _ in range(9)]
    mirrors = [Mirror(world, community)]
    for n, other in enumerate(worlds[1:], 1):
        added = await add_community(
            vk_settings, vk_group_id=other.group.id, name=f"c{n}", secret="s", confirmation="c",
            community_token=other.group.community_token,
        )  # fmt: skip
        mirrors.append(Mirror(other, added))
    ids = []
    # Community by community, as a burst in one community after another would queue them.
    for each in mirrors:
        for n in range(30):
            member = each.world.state.add_user("Участник", str(n))
            conversation, _, _ = await each.message(member, "Вопрос")
            ids.append((await actions.reply(vk_settings, operator, conversation.id, "Ответ")).id)

    fronts = [EmulatorFront(world), EmulatorFront(world)]
    rows = await _deliver_on_instances(db_url, tmp_path, fronts, aiohttp_server, ids)

    tokens = [w.group.community_token for w in worlds]
    union = sorted(r.at for t in tokens for r in world.state.calls.get(t, ()))
    busiest = max(sum(1 for at in union if start <= at < start + 1.0) for start in union)
    print(  # the figures docs/reliability.md quotes (pytest -s shows them)
        f"ten communities: most in 0.9 s per token {[_most_in_a_second(world, t) for t in tokens]}, in 1 s "
        f"{[world.state.max_calls_in_window(t) for t in tokens]}, "
        f"all tokens together {busiest}, refused {sum(_refused(world, t) for t in tokens)}, "
        f"calls per instance {[f.calls for f in fronts]}"
    )
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert [_most_in_a_second(world, t) <= 20 for t in tokens] == [True] * 10
    # A call whose answer came too late (a starved machine) is repeated with the same random_id, which
    # VK carries out once: what must hold is one message per row, whatever the number of calls.
    assert [len(_accepted(world, t, "messages.send")) >= 30 for t in tokens] == [True] * 10
    for each in worlds:
        assert len([m for m in each.group.messages.values() if m.out == 1]) == 30


async def test_bookings_of_one_token_never_delay_another(db_url: str, db: str) -> None:
    postgres_only(db_url)
    pool = await asyncpg.create_pool(asyncpg_dsn(db_url), min_size=1, max_size=2)
    try:
        limits = SharedRateLimits(pool, margin=0.1)
        busy, idle = token_key("token-busy", "community"), token_key("token-idle", "community")
        starts_of = "SELECT starts FROM vk_rate_window WHERE key = $1"
        first_twenty = [await limits.reserve(busy, 20) for _ in range(20)]
        twenty_booked = sorted(await pool.fetchval(starts_of, busy))
        await limits.reserve(busy, 20)
        twenty_first_start = max(await pool.fetchval(starts_of, busy))
        other_token = await limits.reserve(idle, 20)
        user_token = [await limits.reserve(token_key("token-busy", "user"), 3) for _ in range(3)]
        three_booked = sorted(await pool.fetchval(starts_of, token_key("token-busy", "user")))
        await limits.reserve(token_key("token-busy", "user"), 3)
        fourth_start = max(await pool.fetchval(starts_of, token_key("token-busy", "user")))
        stored = await pool.fetch("SELECT key, cardinality(starts) AS n FROM vk_rate_window ORDER BY key")
    finally:
        await pool.close()
    # The starts as booked, on the database's clock, whatever time the bookings themselves took on a busy
    # machine (a wait measures from the booking's moment, so waits alone depend on that time).
    gap = 1.1 / 20  # (period + margin) / limit: starts are spaced evenly, not booked in bursts
    assert first_twenty[0] <= 0.05
    assert len(twenty_booked) == 20
    assert all(b - a >= gap - 1e-6 for a, b in itertools.pairwise(twenty_booked))
    assert twenty_first_start - twenty_booked[0] >= 1.1 - 1e-6  # 20 in any window of 1.1 s
    assert other_token <= 0.05  # another community's token has a window of its own
    assert user_token[0] <= 0.05  # a user token: 3 calls in 1.1 s
    assert fourth_start - three_booked[0] >= 1.1 - 1e-6
    # The table keeps the last `limit` starts per token, under a hash: never the token itself.
    assert sorted((r["key"].split(":")[0], r["n"]) for r in stored) == [
        ("community", 1), ("community", 20), ("user", 3)
    ]  # fmt: skip
    assert not any("token-" in r["key"] for r in stored)


async def test_shared_limiter_paces_this_instance_alone_when_the_database_is_away(
    db_url: str, db: str, caplog: pytest.LogCaptureFixture
) -> None:
    postgres_only(db_url)
    pool = await asyncpg.create_pool(asyncpg_dsn(db_url), min_size=1, max_size=1)
    runtime = vk_client.VkRuntime()
    runtime.use_shared_limits(SharedRateLimits(pool))
    limiter = runtime.limiter_for("token-away", "user")
    await pool.close()  # as if PostgreSQL were down: every booking fails
    fallback = runtime.local_limiter_for("token-away", "user")
    for _ in range(3):
        await limiter.acquire()  # no exception: the call goes ahead under the process's own limiter
    assert len(fallback._starts) == 3
    warnings = [r for r in caplog.records if "shared rate limit failed" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per call


async def test_the_app_books_vk_calls_in_the_database_only_on_postgresql(
    aiohttp_client: Any, db_url: str, settings: Settings
) -> None:
    app = create_app(settings)
    client = await aiohttp_client(app)
    limiter_for = app[CONNECTIONS].network(Network.VK).runtime.limiter_for  # type: ignore[attr-defined]
    limiter = limiter_for("token-of-some-community", "community")
    if db_url.startswith("postgres"):
        assert type(limiter).__name__ == "SharedRateLimiter"
        await limiter.acquire()
        async with asyncpg.create_pool(asyncpg_dsn(db_url), min_size=1, max_size=1) as pool:
            assert await pool.fetchval("SELECT count(*) FROM vk_rate_window") == 1
    else:
        assert isinstance(limiter, vk_client.RateLimiter)
    await client.close()
    assert isinstance(limiter_for("token-of-some-community", "community"), vk_client.RateLimiter)


# --- the claim: no more rows of one token than it sends in IN_FLIGHT_SECONDS ---------------------------


async def test_a_claim_takes_no_more_rows_of_one_token_than_it_can_send_soon(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "IN_FLIGHT_SECONDS", 2)  # user token: 3/s -> 6 rows in flight
    deletes = []
    for n in range(10):
        _, item, _ = await mirror.comment(world.members[n % 3], world.post, f"спам {n}")
        deletes.append((await actions.delete_comment(vk_settings, operator, item.id)).id)
    replies = []
    for member in world.members:
        conversation, _, _ = await mirror.message(member, "Вопрос")
        replies.append((await actions.reply(vk_settings, operator, conversation.id, "Ответ")).id)

    first = await outbox.claim(limit=50)
    assert sorted(first) == deletes[:6] + replies  # the community token's rows are not held back
    assert await outbox.claim(limit=50) == []  # six in flight (held by "another worker"): none more
    # The leases run out: the six are claimed again, with the replies; the other four wait their turn.
    # One set of clients for every round, as the app's worker has: the token's limiter spans the rounds.
    async with networks.connections(vk_settings) as opened:
        assert await outbox.deliver_due(vk_settings, now=outbox.utcnow() + outbox.LEASE, opened=opened) == 9
        while await outbox.deliver_due(vk_settings, opened=opened):
            pass
    statuses = {r.id: r.status for r in await OutboxRow.all()}
    assert {statuses[i] for i in deletes + replies} == {OutboxStatus.SENT}


# --- wake-up across instances ---------------------------------------------------------------------------

QUEUE_A_REPLY = """
import asyncio, sys
from proxy import actions, db
from proxy.models import Operator
from proxy.settings import Settings

async def main(conversation_id, text):
    settings = Settings.from_env()
    async with db.database(settings.database_url):
        operator = await Operator.get(login="anna")
        row = await actions.reply(settings, operator, conversation_id, text)
    print(row.id)

asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
"""


async def _queue_on_another_instance(database_url: str, conversation_id: int, text: str) -> int:
    """actions.reply in a process of its own: its in-process wake-up reaches nobody here."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", QUEUE_A_REPLY, str(conversation_id), text,
        cwd=REPO, env=proxy_env(database_url, PROXY_SECRET_KEY=TEST_SECRET_KEY),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()
    return int(out.decode().split()[-1])


async def test_a_row_queued_on_another_instance_wakes_this_worker_at_once(
    aiohttp_client: Any, db_url: str, vk_settings: Settings, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres_only(db_url)
    # Without a wake-up this worker would not look again for an hour: only NOTIFY can bring it.
    monkeypatch.setattr(outbox, "POLL_INTERVAL_SECONDS", 3600.0)
    client = await aiohttp_client(create_app(dataclasses.replace(vk_settings, workers=True)))
    app = client.server.app
    worker = app[BACKGROUND]["outbox_worker"]
    changed: asyncio.Queue[int | None] = asyncio.Queue()
    worker.listeners.append(changed.put_nowait)
    community = await add_community(
        vk_settings, vk_group_id=world.group.id, name="c", secret="s", confirmation="c",
        community_token=world.group.community_token,
    )  # fmt: skip
    await Operator.create(login="anna", password_hash="x", role=Role.ADMIN)
    first, _, _ = await Mirror(world, community).message(world.members[0], "Первый")
    second, _, _ = await Mirror(world, community).message(world.members[1], "Второй")
    while worker.rounds < 1:  # noqa: ASYNC110 - the worker has looked once and sleeps
        await asyncio.sleep(0.05)

    row = await _queue_on_another_instance(db_url, first.id, "Ответ из другого экземпляра")
    assert await asyncio.wait_for(changed.get(), WAIT_SECONDS) == first.id
    assert (await OutboxRow.get(id=row)).status == OutboxStatus.SENT

    # The LISTEN connection is cut (as by a PostgreSQL restart): it comes back and still wakes the worker.
    listener = app[LIVE].listener
    assert listener is not None
    async with asyncpg.create_pool(asyncpg_dsn(db_url), min_size=1, max_size=1) as pool:
        assert await pool.fetchval("SELECT pg_terminate_backend($1)", listener.backend_pid)
    await asyncio.wait_for(_reconnected(listener), WAIT_SECONDS)
    row = await _queue_on_another_instance(db_url, second.id, "И ещё один")
    assert await asyncio.wait_for(changed.get(), WAIT_SECONDS) == second.id
    assert (await OutboxRow.get(id=row)).status == OutboxStatus.SENT
    texts = sorted(m.text for m in world.group.messages.values() if m.out == 1)
    assert texts == ["И ещё один", "Ответ из другого экземпляра"]
    await client.close()


async def _reconnected(listener: Any) -> None:
    while not (listener.reconnects >= 1 and listener.connected.is_set()):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


# --- concurrent claims ----------------------------------------------------------------------------------


async def test_claims_racing_on_other_instances_never_take_one_row_twice(
    db_url: str, vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    """A claim that started reading before another claim committed must not take the rows that one took.

    On PostgreSQL the claim locks with FOR UPDATE SKIP LOCKED: a row the other claim has committed is not
    locked any more, so only a condition re-checked on the row's newest version keeps it out. CI once saw
    a whole batch of 50 replies sent by both instances (VK kept one message each thanks to random_id).
    """
    postgres_only(db_url)
    conversation, _, _ = await mirror.message(world.members[0], "Вопрос")
    first = await actions.reply(vk_settings, operator, conversation.id, "Ответ")
    template = {
        f: getattr(first, f)
        for f in ("community_id", "journal_entry_id", "operator_id", "method", "params", "token_kind", "text")
    }
    now = outbox.utcnow()
    rounds, per_round, claimers = 8, 150, 6
    taken: list[int] = []
    for round_no in range(rounds):
        await OutboxRow.filter(id=first.id).update(status=OutboxStatus.SENT)  # out of the way
        await OutboxRow.bulk_create(
            [
                OutboxRow(**template, idempotency_key=f"race-{round_no}-{n}", next_attempt_at=now)
                for n in range(per_round)
            ]
        )

        async def claim_until_empty() -> list[int]:
            mine: list[int] = []
            while ids := await outbox.claim(limit=5):
                mine += ids
            return mine

        for mine in await asyncio.gather(*(claim_until_empty() for _ in range(claimers))):
            taken += mine
        await OutboxRow.filter(status=OutboxStatus.SENDING).update(status=OutboxStatus.SENT)
    twice = sorted(i for i, count in collections.Counter(taken).items() if count > 1)
    assert twice == [], f"{len(twice)} rows claimed by two claims at once"
    assert len(taken) == rounds * per_round
