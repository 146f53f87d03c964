"""End to end: the emulator posts a thousand events to the real server, with VK's duplicates and
retries, while the proxy is stopped and started again; afterwards every event is stored exactly once."""

from __future__ import annotations

import asyncio
import random

from aiohttp.test_utils import TestServer, unused_port

from proxy import db as proxy_db
from proxy.models import Community, Item, ItemTombstone, ItemVersion, RawEvent
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tests.conftest import TEST_SECRET_KEY
from vk_emulator import CallbackConfig, EmulatorState, World, start_emulator

EVENTS = 1000
SECRET = "e2e-secret"
# Much faster than VK's schedule, and long enough in total (about 9 s) to outlast the restart.
RETRY_SCHEDULE = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0)


def act(world: World, rng: random.Random) -> None:
    """One member or admin action, as people do in VK; each emits one event."""
    s, g, state = world.scenario, world.group, world.state
    member = rng.choice(world.members)
    live = [c for c in g.comments.values() if not c.deleted]
    deleted = [c for c in g.comments.values() if c.deleted]
    written = [m for m in g.messages.values() if m.from_id == member.id]
    roll = rng.random()
    if roll < 0.28 or not live:
        s.member_writes_message(g, member, f"сообщение {rng.randrange(10**6)}")
    elif roll < 0.34 and written:
        s.member_edits_message(g, rng.choice(written), f"исправлено {rng.randrange(10**6)}")
    elif roll < 0.42 and written:
        s.admin_replies_in_vk(g, member, f"ответ {rng.randrange(10**6)}")
    elif roll < 0.7:
        target = rng.choice([world.post, world.photo, world.video, world.item, world.topic])
        siblings = state.live_comments(g, target.kind, target.id)
        reply_to = (
            rng.choice(siblings) if siblings and target.kind != "board" and rng.random() < 0.4 else None
        )
        s.member_comments(
            g, member, target, f"комментарий {rng.randrange(10**6)}", reply_to, kind=target.kind
        )
    elif roll < 0.8:
        s.member_edits(g, rng.choice(live), f"правка {rng.randrange(10**6)}")
    elif roll < 0.86:
        s.member_deletes(g, rng.choice(live))
    elif roll < 0.9:
        s.admin_deletes_in_vk(g, rng.choice(live))
    elif roll < 0.95 and deleted:
        s.admin_restores_in_vk(g, rng.choice(deleted))
    else:
        s.admin_comments_in_vk(g, world.post, f"от сообщества {rng.randrange(10**6)}")


def produce(world: World, rng: random.Random, until: int) -> None:
    """Act until the community's log holds `until` events."""
    while len(world.state.events(world.group.id)) < until:
        act(world, rng)


async def test_every_event_is_stored_exactly_once_across_a_restart(db_url: str) -> None:
    port = unused_port()
    settings = Settings.from_env(
        {},
        database_url=db_url,
        secret_key=TEST_SECRET_KEY,
        workers=False,
        public_url=f"http://127.0.0.1:{port}",
    )
    state = EmulatorState()
    state.enforce_rate_limits = False
    url = f"http://127.0.0.1:{port}/callback/vk/"
    world = World.create(state, callback=CallbackConfig(url, SECRET, "conf"))
    group = world.group
    group.callback.url = url + str(group.id)  # type: ignore[union-attr]
    await proxy_db.open_database(db_url)
    await Community.create(vk_group_id=group.id, name="e2e", callback_secret=SECRET, confirmation_code="conf")
    await proxy_db.close_database()
    rng = random.Random(20240601)
    emulator = await start_emulator(
        state, retry_schedule=RETRY_SCHEDULE, duplicate_rate=0.1, rng=random.Random(7)
    )
    delivery = emulator.delivery
    # The world's own set-up events came before delivery started: VK never sent them.
    start = len(state.events(group.id))
    server = TestServer(create_app(settings), port=port)
    await server.start_server()
    try:
        produce(world, rng, start + EVENTS * 4 // 10)
        async with asyncio.timeout(60):
            while delivery.pending > EVENTS // 10:  # noqa: ASYNC110 - waits for the emulator
                await asyncio.sleep(0.02)
        # Restart in the middle: deliveries in flight fail or are answered, the rest are retried.
        await server.close()
        produce(world, rng, start + EVENTS * 7 // 10)
        await asyncio.sleep(0.5)
        server = TestServer(create_app(settings), port=port)
        await server.start_server()
        produce(world, rng, start + EVENTS)
        async with asyncio.timeout(120):
            await delivery.wait_idle()

        emitted = state.events(group.id)[start:]
        event_ids = {event["event_id"] for event in emitted}
        assert len(emitted) == len(event_ids) == EVENTS
        assert list(delivery.given_up) == []
        failed = [a for a in delivery.attempts if not a.acknowledged]
        repeated = [a for a in delivery.attempts if a.duplicate and a.acknowledged]
        assert failed and repeated, "the run must include retries and duplicates"
        stored = await RawEvent.all().values_list("event_id", flat=True)
        assert len(stored) == len(set(stored)) == EVENTS
        assert set(stored) == event_ids
        # One item per comment and message VK has, with every text it ever had.
        assert await Item.all().count() == len(group.comments) + len(group.messages)
        texts = {c.text for c in group.comments.values()} | {m.text for m in group.messages.values()}
        assert set(await Item.all().values_list("text", flat=True)) == texts
        edits = sum(1 for e in emitted if e["type"].endswith("_edit"))
        creations = sum(1 for e in emitted if e["type"].endswith("_new") and e["type"] != "wall_post_new")
        creations += sum(1 for e in emitted if e["type"] == "message_reply")
        assert await ItemVersion.all().count() == creations + edits
        deletes = sum(1 for e in emitted if e["type"].endswith("_delete"))
        assert await ItemTombstone.all().count() == deletes
        assert await Item.filter(is_deleted=True).count() == sum(
            1 for c in group.comments.values() if c.deleted
        )
    finally:
        await server.close()
        await emulator.close()
