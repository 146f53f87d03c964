"""Bots Long Poll: every sample event through the emulator's long-poll server, failures 1/2/3, resume,
one leader per community, and the consumer running inside the app."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from proxy import db as proxy_db
from proxy import inbound
from proxy.communities import community_token
from proxy.connectors.vk.client import VkClient
from proxy.connectors.vk.longpoll import Backoff, LongPollConsumer
from proxy.connectors.vk.transport import http_session
from proxy.inbound import StoreLongPollSink, community_leadership
from proxy.live import LiveHub
from proxy.models import Community, Item, RawEvent
from proxy.runtime.app import create_app
from tests import vk_fixtures
from tests.ingest_samples import assert_sample_rows, event_samples, load_event
from tests.vk_fixtures import Wired, inject, wire_community
from vk_emulator import EmulatorState, World, start_emulator

wired = vk_fixtures.wired


def consumer_for(
    wired: Wired, http: aiohttp.ClientSession, *, start_ts: str | None = None
) -> LongPollConsumer:
    community = wired.community
    sink = StoreLongPollSink(wired.settings, LiveHub(), community)
    return LongPollConsumer(
        VkClient(community_token(wired.settings, community), session=http_session(wired.settings.vk_api_base)),
        community.vk_group_id,
        http,
        sink,
        start_ts=start_ts,
        wait=0,
        catch_up_at_start=False,
    )


@pytest.mark.parametrize("name", event_samples())
async def test_sample_event_through_long_poll(db: str, name: str) -> None:
    event = load_event(name)
    state = EmulatorState()
    world = World.create(state)
    # The sample's own group, so the event is stored under the community it names.
    group = state.add_group("sample", group_id=event["group_id"])
    world.group = group
    emulator = await start_emulator(state)
    try:
        wired = await wire_community(emulator, db, world)
        ts = inject(state, group.id, event)
        async with aiohttp.ClientSession() as http:
            consumer = consumer_for(wired, http, start_ts=str(ts))
            await consumer.step()
        await assert_sample_rows(name, "longpoll")
        community = await Community.get(id=wired.community.id)
        assert community.longpoll_ts == str(ts + 1)
    finally:
        await emulator.close()


async def test_resumes_from_the_stored_ts(wired: Wired) -> None:
    scenario, group, (anna, boris, _) = wired.world.scenario, wired.world.group, wired.world.members
    async with aiohttp.ClientSession() as http:
        consumer = consumer_for(wired, http)
        await consumer.step()  # connects at the current ts: nothing yet
        scenario.member_writes_message(group, anna, "first")
        await consumer.step()
        stored = (await Community.get(id=wired.community.id)).longpoll_ts
        assert stored == consumer.ts
        scenario.member_writes_message(group, boris, "second")
        # A new process: resumes from the stored ts, so nothing written meanwhile is missed.
        wired.community = await Community.get(id=wired.community.id)
        restarted = consumer_for(wired, http, start_ts=wired.community.longpoll_ts)
        await restarted.step()
    texts = await Item.all().order_by("id").values_list("text", flat=True)
    assert texts == ["first", "second"]
    assert await RawEvent.filter(source="longpoll").count() == 2


@pytest.mark.parametrize("failed", [1, 3])
async def test_lost_history_is_filled_by_catch_up_sync(wired: Wired, failed: int) -> None:
    scenario, group, (anna, boris, _) = wired.world.scenario, wired.world.group, wired.world.members
    world = wired.world
    async with aiohttp.ClientSession() as http:
        consumer = consumer_for(wired, http)
        await consumer.step()
        scenario.member_writes_message(group, anna, "before the gap")
        await consumer.step()
        # Written while VK loses the history: long poll never delivers these.
        scenario.member_writes_message(group, boris, "lost message")
        scenario.member_comments(group, anna, world.post, "lost comment")
        scenario.member_comments_photo(group, boris, world.photo, "lost photo comment")
        wired.state.faults.longpoll(failed, group_id=group.id)
        await consumer.step()  # failed: asks for a catch-up
        scenario.member_writes_message(group, anna, "after the gap")
        await consumer.step()  # catch-up sync, then the next answer
        await consumer.step()
    items = dict(await Item.all().values_list("text", "key"))
    assert set(items) == {
        "before the gap",
        "lost message",
        "lost comment",
        "lost photo comment",
        "after the gap",
    }
    # Sync read all five items (one raw event each); what long poll had already brought, or
    # brought afterwards, found its item in place: five items, none twice.
    assert await RawEvent.filter(source="sync").count() == 5
    # failed 3 starts again from VK's current ts, past "after the gap": only sync brought it.
    expected_longpoll = 2 if failed == 1 else 1
    assert await RawEvent.filter(source="longpoll", type="message_new").count() == expected_longpoll
    assert await Item.all().count() == 5


async def test_expired_key_is_renewed_without_losing_events(wired: Wired) -> None:
    scenario, group, (anna, _, _) = wired.world.scenario, wired.world.group, wired.world.members
    async with aiohttp.ClientSession() as http:
        consumer = consumer_for(wired, http)
        await consumer.step()
        old_key = consumer._key
        scenario.member_writes_message(group, anna, "during the key change")
        wired.state.faults.longpoll(2, group_id=group.id)
        await consumer.step()  # failed 2: key dropped
        await consumer.step()  # new key, same ts: the message arrives through long poll
        assert consumer._key not in (None, old_key)
    assert await Item.all().values_list("text", flat=True) == ["during the key change"]
    assert await RawEvent.filter(source="sync").count() == 0


async def test_backoff_is_bounded() -> None:
    backoff = Backoff(first=1.0, cap=8.0)
    delays = [backoff.next() for _ in range(10)]
    assert 0.8 <= delays[0] <= 1.2
    assert all(delay <= 8.0 * 1.2 for delay in delays)
    backoff.reset()
    assert backoff.next() <= 1.2


async def test_only_one_instance_leads_a_community(db: str, settings_for_lock) -> None:  # type: ignore[no-untyped-def]
    if not proxy_db.is_postgres():
        pytest.skip("SQLite serves from one process: there is no lock to take")
    async with community_leadership(settings_for_lock, 42) as conn:
        assert conn is not None
        with pytest.raises(LookupError):
            async with community_leadership(settings_for_lock, 42):
                pass
        async with community_leadership(settings_for_lock, 43) as other:
            assert other is not None
    # Released with its connection: the next instance takes over.
    async with community_leadership(settings_for_lock, 42) as conn:
        assert conn is not None


@pytest.fixture
def settings_for_lock(db: str):  # type: ignore[no-untyped-def]
    from proxy.settings import Settings

    return Settings.from_env({}, database_url=db, workers=False)


async def wait_for_item(text: str) -> Item:
    async with asyncio.timeout(20):
        while (item := await Item.get_or_none(text=text)) is None:  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.05)
    return item


async def test_consumer_runs_inside_the_app_and_stops_cleanly(
    aiohttp_client, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator, like VK, holds an idle a_check for `wait` seconds; its shutdown waits for it.
    monkeypatch.setattr(inbound, "LONGPOLL_WAIT", 1)
    state = EmulatorState()
    state.enforce_rate_limits = False
    world = World.create(state)
    emulator = await start_emulator(state)
    try:
        await proxy_db.open_database(db_url)
        wired = await wire_community(emulator, db_url, world)
        await proxy_db.close_database()
        settings = wired.settings.__class__(**{**wired.settings.__dict__, "workers": True})
        client: TestClient = await aiohttp_client(create_app(settings))
        scenario, group, members = world.scenario, world.group, world.members
        # Written before the consumer starts: its start-up catch-up sync or long poll brings it.
        scenario.member_writes_message(group, members[0], "written before start")
        await wait_for_item("written before start")
        # The consumer is live now: this one comes through long poll.
        scenario.member_writes_message(group, members[1], "hello through long poll")
        item = await wait_for_item("hello through long poll")
        raw = await RawEvent.get(type="message_new", source="longpoll")
        assert json.loads(raw.payload)["object"]["message"]["text"] == item.text
        assert await Item.all().count() == 2
        await client.close()
    finally:
        await emulator.close()
