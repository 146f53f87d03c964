"""VK's echo of what the outbox did, taken in by the real ingest: one reply attributed to the operator, not
a second one "outside the proxy", whichever of the echo and the worker's update comes first."""

from __future__ import annotations

from proxy import actions, outbox
from proxy.connectors.vk.actions import VkActions
from proxy.connectors.vk.transport import http_session
from proxy.models import (
    Community,
    Conversation,
    DeletedVia,
    Direction,
    Item,
    ItemTombstone,
    JournalEntry,
    Network,
    Operator,
    OutboxRow,
    OutboxStatus,
    ReactionSample,
)
from proxy.settings import Settings
from tests.actions_fixtures import *  # noqa: F403
from tests.actions_fixtures import Feed
from vk_emulator import World


async def outside_entries() -> list[str]:
    return [e.action for e in await JournalEntry.filter(action__startswith="vk.")]


async def test_echo_of_a_sent_dialog_reply_is_the_operators_reply(
    vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    feed = Feed(world, community)
    await feed()  # the world's posts
    world.scenario.member_writes_message(world.group, world.members[0], "Здравствуйте")
    await feed()
    conversation = await Conversation.get(key=f"message:{world.members[0].id}")

    row = await actions.reply(vk_settings, operator, conversation.id, "Добрый день")
    await outbox.deliver_due(vk_settings)
    assert [e["type"] for e in await feed()] == ["message_reply"]

    reply = await Item.get(conversation_id=conversation.id, direction=Direction.OUT)
    assert (reply.sent_by_id, reply.outbox_row_id, reply.text) == (operator.id, row.id, "Добрый день")
    samples = await ReactionSample.filter(conversation_id=conversation.id)
    assert [(s.operator_id, s.outside_proxy) for s in samples] == [(operator.id, False)]
    assert await outside_entries() == []


async def test_echo_of_a_comment_before_the_worker_records_it(
    vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    feed = Feed(world, community)
    await feed()
    root = world.scenario.member_comments(world.group, world.members[0], world.post, "Вопрос")
    await feed()
    conversation = await Conversation.get(key=f"wall:{world.group.owner_id}_{world.post.id}:{root.id}")
    queued = await actions.reply(vk_settings, operator, conversation.id, "Ответ")

    [row_id] = await outbox.claim()
    row = await OutboxRow.get(id=row_id)
    session = http_session(vk_settings.vk_api_base)
    try:
        result = await outbox.perform(vk_settings, {Network.VK: VkActions(session)}, row)
    finally:
        session.close()
    assert [e["type"] for e in await feed()] == ["wall_reply_new"]  # VK's echo first
    assert await outbox.record_success(row, result)

    reply = await Item.get(conversation_id=conversation.id, direction=Direction.OUT)
    assert (reply.sent_by_id, reply.outbox_row_id) == (operator.id, queued.id)
    row = await OutboxRow.get(id=queued.id)
    assert (row.status, row.result_item_key) == (OutboxStatus.SENT, reply.key)
    samples = await ReactionSample.filter(conversation_id=conversation.id)
    assert [(s.operator_id, s.outside_proxy) for s in samples] == [(operator.id, False)]
    assert await outside_entries() == []


async def test_echoes_of_delete_and_ban_are_not_actions_outside_the_proxy(
    vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    feed = Feed(world, community)
    await feed()
    member = world.members[1]
    world.scenario.member_comments(world.group, member, world.post, "Грубость")
    await feed()
    item = await Item.get(direction=Direction.IN)

    await actions.delete_comment(vk_settings, operator, item.id)
    await actions.ban_author(vk_settings, operator, item.conversation_id, reason=2, comment="", until=None)
    await outbox.deliver_due(vk_settings)
    await outbox.deliver_due(vk_settings)
    assert sorted(e["type"] for e in await feed()) == ["user_block", "wall_reply_delete"]

    tombstones = await ItemTombstone.filter(item_id=item.id)
    assert [(t.deleted_via, t.deleted_by_id) for t in tombstones] == [(DeletedVia.PROXY, operator.id)]
    assert await outside_entries() == []
