"""A comment written from the VK account linked to an operator (`proxy user link-vk`) is that operator
answering directly in VK: an outgoing item credited to them, journaled as their reply outside the proxy,
and the end of the author's wait. Through the real Callback endpoint, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from proxy import accounts
from proxy.models import (
    ActorKind,
    Community,
    Conversation,
    Direction,
    Item,
    JournalEntry,
    Operator,
    ReactionSample,
)
from tests.browser_fixtures import *  # noqa: F403
from tests.vk_callbacks import Clock, Delivery

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 10:00 in the team's time zone (Moscow)
OPERATOR_VK_ID = 9001


def minutes(n: int) -> datetime:
    return START.replace(minute=n)


@pytest.mark.parametrize("kind", ["post", "photo", "video", "item", "topic"])
async def test_an_operators_comment_from_their_own_account_is_their_reply(
    client_for, world, community: Community, operator: Operator, manager: Operator, kind: str
) -> None:
    await accounts.link_vk_user(operator.login, OPERATOR_VK_ID)
    own_account = world.state.add_user("Ольга", "Операторова", user_id=OPERATOR_VK_ID)
    member, scenario, target = world.members[0], world.scenario, getattr(world, kind)
    clock = Clock(world, START)
    deliver = Delivery(world, await client_for(operator))

    question = scenario.member_comments(world.group, member, target, "Где мой заказ?", kind=target.kind)
    await deliver()
    conversation = await Conversation.get()
    assert conversation.waiting_since == START

    clock.at(minutes(7))
    reply_to = None if target.kind == "board" else question
    scenario.member_comments(world.group, own_account, target, "Уже в пути", reply_to, kind=target.kind)
    await deliver()

    answer = await Item.get(text="Уже в пути")
    assert answer.conversation_id == conversation.id  # type: ignore[attr-defined]
    assert (answer.direction, answer.author_id, answer.sent_by_id, answer.admin_author_vk_id) == (  # type: ignore[attr-defined]
        Direction.OUT,
        None,
        None,
        OPERATOR_VK_ID,
    )
    conversation = await Conversation.get(id=conversation.id)
    assert conversation.waiting_since is None
    sample = await ReactionSample.get()
    assert (sample.operator_id, sample.outside_proxy, sample.ended_by, sample.is_first, sample.seconds) == (  # type: ignore[attr-defined]
        operator.id,
        True,
        "reply",
        True,
        420.0,
    )
    entry = await JournalEntry.get(action="vk.reply")
    assert (entry.actor_kind, entry.operator_id, entry.vk_user_id, entry.item_id, entry.text) == (  # type: ignore[attr-defined]
        ActorKind.OUTSIDE,
        operator.id,
        OPERATOR_VK_ID,
        answer.id,
        "Уже в пути",
    )

    # The community's next answer finds nobody waiting: the reaction stays the operator's.
    clock.at(minutes(9))
    scenario.admin_comments_in_vk(world.group, target, "Спасибо за вопрос", reply_to, kind=target.kind)
    await deliver()
    assert await ReactionSample.all().count() == 1

    boss = await client_for(manager)
    csv = await (await boss.get("/stats/operators.csv?from=2026-03-02&to=2026-03-02")).text()
    # replies 0, outside the proxy 1, handled 1, one reaction of 420 s within the 900 s SLA.
    assert "\r\nolga,0,1,1,1,420,420,420,420,420,420,0,0,0,0,0,100,\r\n" in csv


async def test_a_message_from_an_operators_own_account_is_that_person_writing(
    client_for, world, community: Community, operator: Operator
) -> None:
    await accounts.link_vk_user(operator.login, OPERATOR_VK_ID)
    world.state.add_user("Ольга", "Операторова", user_id=OPERATOR_VK_ID)
    Clock(world, START)
    deliver = Delivery(world, await client_for(operator))
    world.scenario.member_writes_message(world.group, OPERATOR_VK_ID, "Хочу сделать заказ")
    await deliver()
    item = await Item.get()
    assert (item.direction, item.admin_author_vk_id) == (Direction.IN, None)
    assert (await Conversation.get()).waiting_since == START
    assert await ReactionSample.all().count() == 0
