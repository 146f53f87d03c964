"""Each action through the proxy is recorded once, by whichever of its two writers comes first.

The outbox records what VK accepted (proxy/outbox.py); ingest takes in VK's echo of it (proxy/ingest/).
For every action with an echo (ban, unban, delete, restore, a reply in a thread and in a dialog, and a
close while a reply is queued) the echo is taken in before the outbox records the action, after it, and
at the same moment; afterwards the store holds one ban, one tombstone, one reply, one reaction, and
operators.csv counts the action once, for the operator, and nothing outside the proxy.

A ban recorded by both at the same moment was stored twice (two active rows a millisecond apart, both
counted in operators.csv); the database now keeps one active ban per author (migration 0007).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from proxy import actions, outbox
from proxy.clock import utcnow
from proxy.connectors.vk.actions import VkActions
from proxy.connectors.vk.transport import http_session
from proxy.models import (
    Ban,
    ClosingKind,
    Community,
    Conversation,
    ConversationClose,
    ConversationStatus,
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
from proxy.stats import operator_kpis
from proxy.stats.operators import OPERATORS_CSV_HEADER, OUTSIDE_LABEL, operator_csv_row
from proxy.stats.period import Period
from tests.actions_fixtures import *  # noqa: F403
from tests.actions_fixtures import Feed, drain
from tests.databases import _asyncpg_url
from tests.pg_locks import until_waiting
from vk_emulator import World

ECHO_FIRST, OUTBOX_FIRST, AT_ONCE = "echo first", "outbox first", "at once"
ORDERS = (ECHO_FIRST, OUTBOX_FIRST, AT_ONCE)


async def perform_and_record(settings: Settings, feed: Feed, order: str) -> list[str]:
    """Perform the one due row at VK, then commit VK's echo of it and the outbox's record of it in
    `order`; the types of the events VK sent."""
    [row_id] = await outbox.claim()
    row = await OutboxRow.get(id=row_id)
    session = http_session(settings.vk_api_base)
    try:
        result = await outbox.perform(settings, {Network.VK: VkActions(session)}, row)
    finally:
        session.close()
    if order == ECHO_FIRST:
        events = await feed()
        recorded = await outbox.record_success(row, result)
    elif order == OUTBOX_FIRST:
        recorded = await outbox.record_success(row, result)
        events = await feed()
    else:
        events, recorded = await asyncio.gather(feed(), outbox.record_success(row, result))
    assert recorded
    return [event["type"] for event in events]


async def operators_csv(operator: Operator) -> dict[str, dict[str, Any]]:
    """Today's operators.csv rows of the operator and of "outside the proxy", by column."""
    today = utcnow().date()
    rows = {kpi.login: operator_csv_row(kpi) for kpi in await operator_kpis(Period(today, today, UTC))}
    empty = [OUTSIDE_LABEL] + [0] * (len(OPERATORS_CSV_HEADER) - 1)
    return {
        "operator": dict(zip(OPERATORS_CSV_HEADER, rows[operator.login], strict=True)),
        "outside": dict(zip(OPERATORS_CSV_HEADER, rows.get(OUTSIDE_LABEL, empty), strict=True)),
    }


async def outside_entries() -> list[str]:
    return [e.action for e in await JournalEntry.filter(action__startswith="vk.")]


async def comment_by(world: World, feed: Feed, member_index: int, text: str) -> Item:
    """A member's comment under the post, taken in by ingest."""
    await feed()  # the world's own events first
    world.scenario.member_comments(world.group, world.members[member_index], world.post, text)
    await feed()
    return await Item.filter(direction=Direction.IN).order_by("-id").first()


async def ban_rows(item: Item) -> list[tuple[Any, ...]]:
    return [
        (b.banned_by_id, b.admin_vk_id, b.lifted_at is None)  # type: ignore[attr-defined]
        for b in await Ban.filter(author_id=item.author_id).order_by("id")  # type: ignore[attr-defined]
    ]


# --- bans -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS)
async def test_a_ban_is_one_ban(
    order: str, vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    feed = Feed(world, community)
    item = await comment_by(world, feed, 1, "Спам")
    await actions.ban_author(
        vk_settings, operator, item.conversation_id, reason=1, comment="спам", until=None
    )

    assert await perform_and_record(vk_settings, feed, order) == ["user_block"]

    assert await ban_rows(item) == [(operator.id, world.group.admin_user_id, True)]
    csv = await operators_csv(operator)
    assert (csv["operator"]["bans"], csv["outside"]["bans"]) == (1, 0)
    assert await outside_entries() == []


@pytest.mark.parametrize("order", ORDERS)
async def test_an_unban_lifts_the_one_ban(
    order: str, vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    feed = Feed(world, community)
    item = await comment_by(world, feed, 1, "Спам")
    await actions.ban_author(vk_settings, operator, item.conversation_id, reason=1, comment="", until=None)
    await drain(vk_settings)
    await feed()
    await actions.unban_author(vk_settings, operator, item.conversation_id)

    assert await perform_and_record(vk_settings, feed, order) == ["user_unblock"]

    assert await ban_rows(item) == [(operator.id, world.group.admin_user_id, False)]
    assert (await operators_csv(operator))["operator"]["bans"] == 1
    assert await outside_entries() == []
    unban = await JournalEntry.get(action="author.unban")
    assert unban.outcome == "done"


@pytest.mark.parametrize("order", [OUTBOX_FIRST, ECHO_FIRST])
async def test_a_ban_after_one_that_ran_out_is_a_second_ban(
    order: str, vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    """An active ban whose end date has passed (VK's unblock never came) is history: it ends at its date,
    and the new ban is a row of its own."""
    feed = Feed(world, community)
    item = await comment_by(world, feed, 1, "Спам")
    ended = datetime(2024, 3, 1, tzinfo=UTC)
    await Ban.create(
        community_id=community.id, author_id=item.author_id, banned_at=datetime(2024, 2, 1, tzinfo=UTC),  # type: ignore[attr-defined]
        until=ended, reason=1, admin_vk_id=world.group.admin_user_id,
    )  # fmt: skip
    await actions.ban_author(vk_settings, operator, item.conversation_id, reason=2, comment="", until=None)

    assert await perform_and_record(vk_settings, feed, order) == ["user_block"]

    bans = await Ban.filter(author_id=item.author_id).order_by("id")  # type: ignore[attr-defined]
    assert [(b.lifted_at, b.banned_by_id, b.reason) for b in bans] == [  # type: ignore[attr-defined]
        (ended, None, 1),
        (None, operator.id, 2),
    ]


@pytest.mark.parametrize("first", ["ingest", "outbox"])
async def test_a_ban_recorded_by_both_writers_at_once_is_one_row(
    first: str, db_url: str, vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    """Both writers' INSERTs pending at the same moment, neither committed (PostgreSQL): a test connection
    holds the author's row, which each INSERT's foreign key check has to share, so each writer waits
    right after writing its ban row until the other has come as far as it can."""
    if not db_url.startswith("postgres"):
        pytest.skip("SQLite runs one write transaction at a time")
    feed = Feed(world, community)
    item = await comment_by(world, feed, 1, "Спам")
    await actions.ban_author(vk_settings, operator, item.conversation_id, reason=1, comment="", until=None)
    [row_id] = await outbox.claim()
    row = await OutboxRow.get(id=row_id)
    session = http_session(vk_settings.vk_api_base)
    try:
        result = await outbox.perform(vk_settings, {Network.VK: VkActions(session)}, row)
    finally:
        session.close()

    holder = await asyncpg.connect(_asyncpg_url(db_url))
    watcher = await asyncpg.connect(_asyncpg_url(db_url))
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT 1 FROM author WHERE id = $1 FOR UPDATE", item.author_id)  # type: ignore[attr-defined]
        if first == "ingest":
            echo = asyncio.create_task(feed())
            await until_waiting(watcher, 1)  # ingest wrote its row and waits
            recorded = asyncio.create_task(outbox.record_success(row, result))
        else:
            recorded = asyncio.create_task(outbox.record_success(row, result))
            await until_waiting(watcher, 1)  # the outbox wrote its row and waits
            echo = asyncio.create_task(feed())
        await until_waiting(watcher, 2)  # the other waits too (for the author, or for the first's row)
        await transaction.rollback()
        assert [e["type"] for e in await echo] == ["user_block"]
        assert await recorded
    finally:
        await holder.close()
        await watcher.close()

    assert await ban_rows(item) == [(operator.id, world.group.admin_user_id, True)]
    assert (await operators_csv(operator))["operator"]["bans"] == 1


# --- deletions and restorations ---------------------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS)
async def test_a_deletion_is_one_tombstone(
    order: str, vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    feed = Feed(world, community)
    item = await comment_by(world, feed, 1, "Грубость")
    await actions.delete_comment(vk_settings, operator, item.id)

    assert await perform_and_record(vk_settings, feed, order) == ["wall_reply_delete"]

    tombstones = await ItemTombstone.filter(item_id=item.id)
    assert [(t.deleted_via, t.deleted_by_id, t.restored_at) for t in tombstones] == [  # type: ignore[attr-defined]
        (DeletedVia.PROXY, operator.id, None)
    ]
    assert (await Item.get(id=item.id)).is_deleted
    csv = await operators_csv(operator)
    assert (csv["operator"]["deleted"], csv["outside"]["deleted"]) == (1, 0)
    assert await outside_entries() == []


@pytest.mark.parametrize("order", ORDERS)
async def test_a_restoration_closes_the_one_tombstone(
    order: str, vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    feed = Feed(world, community)
    item = await comment_by(world, feed, 1, "Грубость")
    await actions.delete_comment(vk_settings, operator, item.id)
    await drain(vk_settings)
    await feed()
    await actions.restore_comment(vk_settings, operator, item.id)

    assert await perform_and_record(vk_settings, feed, order) == ["wall_reply_restore"]

    tombstones = await ItemTombstone.filter(item_id=item.id)
    assert [(t.deleted_by_id, t.restored_by_id, t.restored_at is not None) for t in tombstones] == [  # type: ignore[attr-defined]
        (operator.id, operator.id, True)
    ]
    restored = await Item.get(id=item.id)
    assert (restored.is_deleted, restored.version_count) == (False, 1)
    csv = await operators_csv(operator)
    assert (csv["operator"]["deleted"], csv["operator"]["restored"], csv["outside"]["restored"]) == (1, 1, 0)
    assert await outside_entries() == []


# --- replies and closing ----------------------------------------------------------------------------


async def _one_reply_of(row_id: int, conversation: Conversation, operator: Operator) -> None:
    """The conversation has one reply, the row's, the operator's, which ended its one waiting period."""
    [reply] = await Item.filter(conversation_id=conversation.id, direction=Direction.OUT)
    assert (reply.outbox_row_id, reply.sent_by_id) == (row_id, operator.id)  # type: ignore[attr-defined]
    row = await OutboxRow.get(id=row_id)
    assert row.status == OutboxStatus.SENT
    samples = await ReactionSample.filter(conversation_id=conversation.id)
    assert [(s.operator_id, s.outside_proxy, s.ended_by) for s in samples] == [(operator.id, False, "reply")]  # type: ignore[attr-defined]
    csv = await operators_csv(operator)
    assert (csv["operator"]["replies"], csv["operator"]["reaction_count"]) == (1, 1)
    assert (csv["outside"]["replies_outside_proxy"], csv["outside"]["reaction_count"]) == (0, 0)
    assert await outside_entries() == []


@pytest.mark.parametrize("order", ORDERS)
async def test_a_comment_reply_is_one_reply(
    order: str, vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    feed = Feed(world, community)
    item = await comment_by(world, feed, 0, "Вопрос")
    conversation = await Conversation.get(id=item.conversation_id)  # type: ignore[attr-defined]
    queued = await actions.reply(vk_settings, operator, conversation.id, "Ответ")

    assert await perform_and_record(vk_settings, feed, order) == ["wall_reply_new"]

    await _one_reply_of(queued.id, conversation, operator)
    reply = await Item.get(conversation_id=conversation.id, direction=Direction.OUT)
    assert (await OutboxRow.get(id=queued.id)).result_item_key == reply.key


async def _dialog(world: World, feed: Feed) -> Conversation:
    await feed()
    world.scenario.member_writes_message(world.group, world.members[0], "Здравствуйте")
    await feed()
    return await Conversation.get(key=f"message:{world.members[0].id}")


@pytest.mark.parametrize("order", ORDERS)
async def test_a_message_reply_is_one_reply(
    order: str, vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    feed = Feed(world, community)
    conversation = await _dialog(world, feed)
    queued = await actions.reply(vk_settings, operator, conversation.id, "Добрый день")

    assert await perform_and_record(vk_settings, feed, order) == ["message_reply"]

    await _one_reply_of(queued.id, conversation, operator)


@pytest.mark.parametrize("order", ORDERS)
async def test_closing_with_a_queued_reply_is_one_close_and_one_reaction(
    order: str, vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    """Closed while the reply waits in the outbox: the close ends the waiting period for the reply's
    operator; neither the sent reply nor its echo ends it a second time or reopens the dialog."""
    feed = Feed(world, community)
    conversation = await _dialog(world, feed)
    queued = await actions.reply(vk_settings, operator, conversation.id, "Добрый день")
    await actions.close_conversation(vk_settings, operator, conversation.id)

    assert await perform_and_record(vk_settings, feed, order) == ["message_reply"]
    await drain(vk_settings)  # messages.markAsAnsweredConversation, which VK sends no event for
    assert await feed() == []

    await _one_reply_of(queued.id, conversation, operator)
    closes = await ConversationClose.filter(conversation_id=conversation.id)
    assert [(c.kind, c.operator_id) for c in closes] == [(ClosingKind.WITH_REPLY, operator.id)]  # type: ignore[attr-defined]
    assert (await Conversation.get(id=conversation.id)).status == ConversationStatus.CLOSED
    csv = await operators_csv(operator)
    assert (csv["operator"]["closed_with_reply"], csv["operator"]["closed_without_reply"]) == (1, 0)
