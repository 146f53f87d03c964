"""VK's echo of an action whose answer was lost: the row waits for its retry (pending, one attempt made) when
VK's event arrives. The event is still the operator's action, not one taken directly in VK, and the retry
(same random_id / guid, or the same comment or user) changes nothing more.

Found by `make soak` (bench/soak_vk_errors.py): a comment reply whose answer was lost was counted a second
time, as a reply written outside the proxy.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from proxy import actions, outbox
from proxy.clock import utcnow
from proxy.models import (
    Ban,
    Community,
    Conversation,
    DeletedVia,
    Direction,
    Item,
    ItemTombstone,
    JournalEntry,
    Operator,
    OutboxRow,
    OutboxStatus,
    ReactionSample,
)
from proxy.settings import Settings
from tests.actions_fixtures import *  # noqa: F403
from tests.actions_fixtures import Feed
from vk_emulator import Fault, World


async def lose_the_answer(settings: Settings, world: World, method: str) -> OutboxRow:
    """Deliver the one queued row while VK does it and the answer is lost; the row waits for a retry."""
    world.state.faults.add(Fault(method=method, lose_answer=True))
    assert await outbox.deliver_due(settings) == 1
    [row] = await OutboxRow.all()
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1), "the lost answer was not a retry"
    return row


async def retry(settings: Settings) -> OutboxRow:
    assert await outbox.deliver_due(settings, now=utcnow() + timedelta(minutes=10)) == 1
    [row] = await OutboxRow.all()
    assert row.status == OutboxStatus.SENT, (row.error_code, row.error_message)
    return row


async def outside_entries() -> list[Any]:
    return await JournalEntry.filter(action__startswith="vk.").values_list("action", flat=True)


async def test_comment_reply_echo_while_the_row_waits_for_its_retry(
    vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    feed = Feed(world, community)
    await feed()
    root = world.scenario.member_comments(world.group, world.members[0], world.post, "Вопрос")
    await feed()
    conversation = await Conversation.get(key=f"wall:{world.group.owner_id}_{world.post.id}:{root.id}")
    queued = await actions.reply(vk_settings, operator, conversation.id, "Ответ")

    await lose_the_answer(vk_settings, world, "wall.createComment")
    assert [e["type"] for e in await feed()] == ["wall_reply_new"]  # VK did post it
    reply = await Item.get(conversation_id=conversation.id, direction=Direction.OUT)
    assert (reply.outbox_row_id, reply.sent_by_id) == (queued.id, operator.id)

    row = await retry(vk_settings)
    assert [e["type"] for e in await feed()] == [], "the retry posted the comment again"
    assert row.result_item_key == reply.key
    assert await Item.filter(direction=Direction.OUT).count() == 1
    samples = await ReactionSample.filter(conversation_id=conversation.id)
    assert [(s.operator_id, s.outside_proxy) for s in samples] == [(operator.id, False)]
    assert await outside_entries() == []


async def test_message_reply_echo_while_the_row_waits_for_its_retry(
    vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    feed = Feed(world, community)
    await feed()
    world.scenario.member_writes_message(world.group, world.members[0], "Здравствуйте")
    await feed()
    conversation = await Conversation.get(key=f"message:{world.members[0].id}")
    queued = await actions.reply(vk_settings, operator, conversation.id, "Добрый день")

    await lose_the_answer(vk_settings, world, "messages.send")
    assert [e["type"] for e in await feed()] == ["message_reply"]
    await retry(vk_settings)
    assert [e["type"] for e in await feed()] == []
    [reply] = await Item.filter(direction=Direction.OUT)
    assert (reply.outbox_row_id, reply.sent_by_id) == (queued.id, operator.id)
    assert await outside_entries() == []


async def test_deletion_echo_while_the_row_waits_for_its_retry(
    vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    feed = Feed(world, community)
    await feed()
    world.scenario.member_comments(world.group, world.members[1], world.post, "Грубость")
    await feed()
    item = await Item.get(direction=Direction.IN)
    await actions.delete_comment(vk_settings, operator, item.id)

    await lose_the_answer(vk_settings, world, "wall.deleteComment")
    assert [e["type"] for e in await feed()] == ["wall_reply_delete"]
    await retry(vk_settings)
    tombstones = await ItemTombstone.filter(item_id=item.id)
    assert [(t.deleted_via, t.deleted_by_id) for t in tombstones] == [(DeletedVia.PROXY, operator.id)]
    assert await outside_entries() == []


async def test_ban_echo_while_the_row_waits_for_its_retry(
    vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    feed = Feed(world, community)
    await feed()
    world.scenario.member_comments(world.group, world.members[1], world.post, "Спам")
    await feed()
    item = await Item.get(direction=Direction.IN)
    await actions.ban_author(vk_settings, operator, item.conversation_id, reason=1, comment="", until=None)

    await lose_the_answer(vk_settings, world, "groups.ban")
    assert [e["type"] for e in await feed()] == ["user_block"]
    await retry(vk_settings)
    bans = await Ban.all()
    assert [(b.banned_by_id, b.lifted_at) for b in bans] == [(operator.id, None)]
    assert await outside_entries() == []
