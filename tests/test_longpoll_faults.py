"""Bots Long Poll when the network fails: the answer lost on the way (connection closed, reset, body cut
short, a bare 502, no answer in time), the key request or the catch-up sync dropped, and a drop that lasts
past VK's history. The consumer keeps its ts through every loss, so it asks for the same events again;
where the history is gone, catch-up sync fills the gap. Every message and comment ends up stored once.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import pytest

from proxy.communities import community_token
from proxy.connectors.vk.client import VkApiError, VkClient, VkNetworkError
from proxy.connectors.vk.longpoll import Backoff, LongPollConsumer
from proxy.connectors.vk.transport import http_session
from proxy.inbound import StoreLongPollSink
from proxy.live import LiveHub
from proxy.models import Community, Item, RawEvent
from tests import vk_fixtures
from tests.vk_fixtures import Wired

wired = vk_fixtures.wired

# The client gives up this long after VK's own hold (`wait`); the emulator's slow answer comes later.
MARGIN = 0.5
SLOW = 2.5


def consumer_for(wired: Wired, http: aiohttp.ClientSession, *, wait: int = 0) -> LongPollConsumer:
    community = wired.community
    return LongPollConsumer(
        VkClient(community_token(wired.settings, community), session=http_session(wired.settings.vk_api_base)),
        community.vk_group_id,
        http,
        StoreLongPollSink(wired.settings, LiveHub(), community),
        wait=wait,
        catch_up_at_start=False,
        backoff=Backoff(first=0.01, cap=0.05),
        timeout_margin=MARGIN,
    )


async def assert_stored_once(texts: list[str]) -> None:
    """Each text written by a member is one item; no VK event was stored twice."""
    stored = await Item.all().values_list("text", flat=True)
    assert Counter(stored) == Counter(texts)
    event_ids = await RawEvent.all().values_list("vk_group_id", "event_id")
    assert len(event_ids) == len(set(event_ids))


def plan_loss(wired: Wired, how: str, group_id: int) -> None:
    """Lose the next two answers: aiohttp itself tries a GET again once when a reused keep-alive
    connection closes, so a single loss might never reach the consumer."""
    faults = wired.state.faults
    if how in ("close", "reset", "truncate"):
        faults.longpoll_drop(how, group_id=group_id, times=2)
    elif how == "http 502":
        faults.longpoll_http_status(502, group_id=group_id, times=2)
    else:
        faults.longpoll_delay(SLOW, group_id=group_id, times=2)


def assert_seen_as(how: str, error: BaseException) -> None:
    """The client saw the failure the fault stands for (so the test did test it)."""
    if how == "truncate":
        assert isinstance(error, aiohttp.ClientPayloadError), repr(error)
    elif how == "http 502":
        assert isinstance(error, aiohttp.ClientResponseError) and error.status == 502, repr(error)
    elif how == "timeout":
        assert isinstance(error, TimeoutError), repr(error)
    else:  # closed or reset: the connection ended with no answer
        assert isinstance(error, aiohttp.ClientConnectionError), repr(error)
        assert not isinstance(error, aiohttp.ClientPayloadError), repr(error)


async def step_through_losses(consumer: LongPollConsumer, ts: str | None) -> list[BaseException]:
    """Step until a step succeeds; the failures seen on the way, each leaving the ts where it was."""
    seen: list[BaseException] = []
    while True:
        try:
            await consumer.step()
        except Exception as exc:  # noqa: BLE001 - the caller checks what the network did
            seen.append(exc)
            assert consumer.ts == ts, "the ts moved although no answer arrived"
            assert await Item.all().count() == 0
            continue
        return seen


LOSSES = ["close", "reset", "truncate", "http 502", "timeout"]


@pytest.mark.parametrize("how", LOSSES)
async def test_a_lost_answer_is_asked_for_again(wired: Wired, how: str) -> None:
    scenario, group, members = wired.world.scenario, wired.world.group, wired.world.members
    texts = [f"message {n}" for n in range(3)]
    async with aiohttp.ClientSession() as http:
        consumer = consumer_for(wired, http)
        await consumer.step()  # connected at the current ts
        ts = consumer.ts
        for n, text in enumerate(texts):
            scenario.member_writes_message(group, members[n], text)
        plan_loss(wired, how, group.id)
        seen = await step_through_losses(consumer, ts)
        assert seen, "no loss reached the consumer: the test would prove nothing"
        for error in seen:
            assert_seen_as(how, error)
        assert wired.state.faults.as_json()["longpoll"] == []
    await assert_stored_once(texts)
    # Long poll itself brought them again: no gap, so no catch-up sync was needed.
    assert await RawEvent.filter(source="longpoll").count() == 3
    assert await RawEvent.filter(source="sync").count() == 0
    assert (await Community.get(id=wired.community.id)).longpoll_ts == str(int(ts) + 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("how", ["close", "reset"])
async def test_a_held_request_dropped_when_the_event_comes(wired: Wired, how: str) -> None:
    """VK holds a_check until an event; the connection dies just as the event is being answered."""
    scenario, group, members = wired.world.scenario, wired.world.group, wired.world.members
    async with aiohttp.ClientSession() as http:
        consumer = consumer_for(wired, http)
        await consumer.step()
        consumer.wait = 5
        ts = consumer.ts
        wired.state.faults.longpoll_drop(how, group_id=group.id, times=2)  # see plan_loss
        held = asyncio.create_task(step_through_losses(consumer, ts))
        await asyncio.sleep(0.2)  # usually held by now; if not, the answer carries the event at once
        scenario.member_writes_message(group, members[0], "while held")
        seen = await held
    assert seen and all(isinstance(e, aiohttp.ClientConnectionError) for e in seen), seen
    await assert_stored_once(["while held"])


async def test_the_running_loop_survives_a_storm_of_failures(wired: Wired) -> None:
    """run() against every kind of loss in a row, the key request and a catch-up sync dropped too,
    while members keep writing."""
    scenario, group, members, world = (
        wired.world.scenario,
        wired.world.group,
        wired.world.members,
        wired.world,
    )
    faults = wired.state.faults
    gid = group.id
    for how in ("reset", "close", "truncate"):
        faults.longpoll_drop(how, group_id=gid)
    faults.longpoll_http_status(502, group_id=gid)
    faults.longpoll_delay(1 + MARGIN + 1.5, group_id=gid)  # past the client's timeout for wait=1
    faults.longpoll(2, group_id=gid)  # new key: its request is dropped once, then errs 10 once
    faults.drop("groups.getLongPollServer")
    faults.error("groups.getLongPollServer", 10)
    faults.longpoll_drop("truncate", group_id=gid)
    faults.longpoll(1, group_id=gid)  # history lost: the catch-up's first call is dropped once
    faults.drop("messages.getConversations")
    faults.longpoll_drop("reset", group_id=gid, times=2)
    planned_faults = len(faults.longpoll_faults) + len(faults.faults)

    texts: list[str] = []

    def write(n: int) -> None:
        text = f"storm {n}"
        texts.append(text)
        if n % 3:
            scenario.member_writes_message(group, members[n % len(members)], text)
        else:
            scenario.member_comments(group, members[n % len(members)], world.post, text)

    start_ts = group.next_ts
    for n in range(5):
        write(n)
    async with aiohttp.ClientSession() as http:
        consumer = consumer_for(wired, http, wait=1)
        consumer.ts = str(start_ts)  # resumes from before the first five, as after a restart
        task = asyncio.create_task(consumer.run())
        try:
            n = 5
            async with asyncio.timeout(60):
                while faults.as_json() != {"faults": [], "longpoll": []}:
                    write(n)
                    n += 1
                    await asyncio.sleep(0.1)
                for after in range(n, n + 5):  # and after the storm
                    write(after)
                while await Item.all().count() < len(texts):  # noqa: ASYNC110 - polls the database
                    await asyncio.sleep(0.05)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert planned_faults == 12
    await assert_stored_once(texts)
    assert await RawEvent.filter(source="sync").count() > 0, "failed 1 did not lead to a catch-up sync"


async def test_a_drop_longer_than_vk_history_is_filled_by_catch_up(wired: Wired) -> None:
    """While the connection keeps dropping, VK's history moves on past our ts: on the next answer VK says
    failed 1; catch-up sync (itself dropped once and refused once) fills the gap."""
    scenario, group, members, world = (
        wired.world.scenario,
        wired.world.group,
        wired.world.members,
        wired.world,
    )
    wired.state.max_events = 5
    faults = wired.state.faults
    async with aiohttp.ClientSession() as http:
        consumer = consumer_for(wired, http)
        await consumer.step()
        faults.longpoll_drop("reset", group_id=group.id, times=3)
        texts = []
        for n in range(12):
            texts.append(f"gap message {n}")
            scenario.member_writes_message(group, members[n % len(members)], texts[-1])
        for n in range(3):
            texts.append(f"gap comment {n}")
            scenario.member_comments(group, members[n], world.post, texts[-1])
        assert wired.state.groups[group.id].first_ts() > int(consumer.ts or 0), "the history was not lost"
        # Every answer is lost until the faults run out; then VK says failed 1: it no longer has our ts.
        seen = await step_through_losses(consumer, consumer.ts)
        assert seen and all(isinstance(e, aiohttp.ClientConnectionError) for e in seen), seen
        assert faults.as_json()["longpoll"] == [], "not every planned loss happened"
        assert consumer._catch_up is not None, "failed 1 did not ask for a catch-up"
        faults.drop("messages.getHistory")
        faults.error("wall.getComments", 10)
        with pytest.raises(VkNetworkError):
            await consumer.step()
        with pytest.raises(VkApiError):
            await consumer.step()
        await consumer.step()  # the catch-up is done at last, then the next answer
        assert faults.as_json() == {"faults": [], "longpoll": []}
    await assert_stored_once(texts)
    assert await RawEvent.filter(source="sync").count() == len(texts)
    assert await RawEvent.filter(source="longpoll").count() == 0


async def test_faults_are_planned_through_the_control_endpoint(wired: Wired) -> None:
    base = wired.emulator.base_url
    async with aiohttp.ClientSession() as http:
        for body, status in [
            ({"longpoll_drop": "reset", "times": 2}, 201),
            ({"longpoll_drop": "truncate", "delay": 0.5, "group_id": wired.world.group.id}, 201),
            ({"longpoll_delay": 3}, 201),
            ({"longpoll_http_status": 503}, 201),
            ({"longpoll_drop": "explode"}, 400),
            ({"longpoll_http_status": 200}, 400),
            ({"longpoll_delay": -1}, 400),
            ({"longpoll_drop": "close", "times": 0}, 400),
        ]:
            async with http.post(f"{base}/_emulator/faults", json=body) as response:
                assert response.status == status, (body, await response.text())
        async with http.get(f"{base}/_emulator/faults") as response:
            planned = (await response.json())["longpoll"]
    assert [(f["drop"], f["delay"], f["http_status"], f["times"]) for f in planned] == [
        ("reset", 0.0, None, 2),
        ("truncate", 0.5, None, 1),
        (None, 3.0, None, 1),
        (None, 0.0, 503, 1),
    ]
