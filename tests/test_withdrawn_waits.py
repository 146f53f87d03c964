"""A wait whose every item was deleted is over: no reaction, no SLA alert, one sample ended_by "withdrawn";
a wait that keeps one of its items goes on from where it started. Through the real Callback endpoint
(and, for a deletion through the proxy, the real outbox and the VK emulator), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from proxy import actions
from proxy.conversations import WITHDRAWN
from proxy.models import Community, Conversation, Item, Operator, ReactionSample
from proxy.settings import Settings
from proxy.sla_alerts import check_sla_breaches
from tests.actions_fixtures import drain
from tests.browser_fixtures import *  # noqa: F403
from tests.vk_callbacks import Clock, Delivery

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


async def _breaches(settings: Settings, now: datetime) -> int:
    async with aiohttp.ClientSession() as http:
        return await check_sla_breaches(settings, http, now=now)


@pytest.mark.parametrize("deleter", ["author", "vk_admin"])
async def test_a_wait_whose_items_are_all_deleted_is_withdrawn(
    client_for, world, community: Community, operator: Operator, manager: Operator, vk_settings: Settings, deleter: str
) -> None:
    member, scenario = world.members[0], world.scenario
    clock = Clock(world, START)
    deliver = Delivery(world, await client_for(operator))

    def delete(comment) -> None:
        if deleter == "author":
            scenario.member_deletes(world.group, comment)
        else:
            scenario.admin_deletes_in_vk(world.group, comment)

    first = scenario.member_comments(world.group, member, world.post, "Где заказ?")
    clock.at(START + timedelta(minutes=5))
    second = scenario.member_comments(world.group, member, world.post, "Ау?", first)
    await deliver()

    # One of the two is deleted: the author still waits, since the first.
    delete(second)
    await deliver()
    conversation = await Conversation.get()
    assert conversation.waiting_since == START
    assert await ReactionSample.all().count() == 0

    # Both are: nobody waits, no alert however late it is, and no reaction was measured.
    delete(first)
    await deliver()
    conversation = await Conversation.get()
    assert conversation.waiting_since is None and conversation.awaiting_first_reaction
    sample = await ReactionSample.get()
    assert (sample.ended_by, sample.operator_id, sample.outside_proxy, sample.started_at, sample.is_first) == (  # type: ignore[attr-defined]
        WITHDRAWN,
        None,
        False,
        START,
        True,
    )
    assert await _breaches(vk_settings, START + timedelta(hours=2)) == 0
    assert (await Conversation.get()).sla_breach_notified_at is None

    # The author writes again: a new wait, and it is still the opening's first reaction.
    clock.at(START + timedelta(minutes=40))
    third = scenario.member_comments(world.group, member, world.post, "Всё ещё жду", first)
    clock.at(START + timedelta(minutes=45))
    scenario.admin_comments_in_vk(world.group, world.post, "Отвечаем", third)
    await deliver()
    reply = await ReactionSample.get(ended_by="reply")
    assert (reply.started_at, reply.seconds, reply.is_first) == (START + timedelta(minutes=40), 300.0, True)

    boss = await client_for(manager)
    csv = await (await boss.get("/stats/operators.csv?from=2026-03-02&to=2026-03-02")).text()
    # The withdrawn wait is no reaction: one reaction of 300 s, to the community's answer in VK.
    assert "\r\n(outside the proxy),0,1,1,1,300,300,300,300,300," in csv


async def test_a_deletion_through_the_proxy_withdraws_the_wait(
    client_for, world, community: Community, operator: Operator, vk_settings: Settings
) -> None:
    Clock(world, START)
    deliver = Delivery(world, await client_for(operator))
    world.scenario.member_comments(world.group, world.members[0], world.post, "спам спам спам")
    await deliver()
    item = await Item.get()

    await actions.delete_comment(vk_settings, operator, item.id)
    assert await drain(vk_settings) == 1
    # The outbox recorded the deletion when VK accepted it; VK's event for it comes after.
    assert (await Item.get()).is_deleted
    await deliver()
    assert (await Conversation.get()).waiting_since is None
    assert await ReactionSample.filter(ended_by=WITHDRAWN).count() == 1
    assert await _breaches(vk_settings, START + timedelta(hours=2)) == 0


async def test_restoring_an_item_of_a_withdrawn_wait_resumes_it_unless_answered_since(
    client_for, world, community: Community, operator: Operator
) -> None:
    member, scenario = world.members[0], world.scenario
    clock = Clock(world, START)
    deliver = Delivery(world, await client_for(operator))
    question = scenario.member_comments(world.group, member, world.post, "Где заказ?")
    await deliver()

    # Deleted by mistake and restored: the author waits again from 10:00, as if nothing had happened.
    scenario.admin_deletes_in_vk(world.group, question)
    await deliver()
    assert (await Conversation.get()).waiting_since is None
    scenario.admin_restores_in_vk(world.group, question)
    await deliver()
    conversation = await Conversation.get()
    assert (conversation.waiting_since, conversation.awaiting_first_reaction) == (START, True)
    assert await ReactionSample.all().count() == 0

    # Deleted again, and the community answered before it came back: nobody waits.
    scenario.admin_deletes_in_vk(world.group, question)
    clock.at(START + timedelta(minutes=30))
    scenario.admin_comments_in_vk(world.group, world.post, "Мы ответили в личных сообщениях", question)
    scenario.admin_restores_in_vk(world.group, question)
    await deliver()
    assert (await Conversation.get()).waiting_since is None
    assert await ReactionSample.all().values_list("ended_by", flat=True) == [WITHDRAWN]
