"""Rows for the audit tests, built through the ORM the way ingest and actions would build them.

Every timestamp is fixed, so exports and CSV files can be compared with literal text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from proxy.audit import journal
from proxy.models import (
    ActorKind,
    ApiToken,
    Author,
    Ban,
    CannedResponse,
    Channel,
    ClosingKind,
    Community,
    Conversation,
    ConversationClose,
    ConversationStatus,
    DeletedVia,
    Direction,
    Item,
    ItemTombstone,
    ItemVersion,
    Note,
    Operator,
    OutboxRow,
    OutboxStatus,
    Outcome,
    RawEvent,
    RawEventStatus,
    ReactionSample,
    Role,
    TeamSetting,
)

GROUP_ID = 218000001
VK_ADMIN_ID = 501
AUTHOR_VK_ID = 7001


def at(day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    """A fixed moment in March 2025, UTC."""
    return datetime(2025, 3, day, hour, minute, second, micro, tzinfo=UTC)


@dataclass
class Base:
    community: Community
    operator: Operator
    manager: Operator
    author: Author
    conversation: Conversation


async def make_base() -> Base:
    """A community, an operator (linked to a VK user), a manager, an author and a comment thread."""
    community = await Community.create(vk_group_id=GROUP_ID, name="Пекарня", created_at=at(1, 8))
    operator = await Operator.create(
        login="olga", display_name="Ольга", password_hash="x", role=Role.OPERATOR, vk_user_id=VK_ADMIN_ID
    )
    manager = await Operator.create(login="max", display_name="Max", password_hash="x", role=Role.MANAGER)
    author = await Author.create(vk_id=AUTHOR_VK_ID, name="Иван Петров", screen_name="ivan")
    conversation = await Conversation.create(
        community=community,
        channel=Channel.WALL,
        key=f"wall:-{GROUP_ID}_10:100",
        author=author,
        vk_owner_id=-GROUP_ID,
        vk_object_id=10,
        vk_root_id=100,
        opened_at=at(2, 9),
    )
    return Base(community, operator, manager, author, conversation)


async def make_deleted_comment_story(base: Base) -> Item:
    """The design's story: a comment created, edited twice, deleted by a community admin in VK, restored."""
    item = await Item.create(
        community=base.community,
        conversation=base.conversation,
        channel=Channel.WALL,
        key=f"wall:-{GROUP_ID}_10:100",
        vk_id=100,
        direction=Direction.IN,
        author=base.author,
        from_vk_id=AUTHOR_VK_ID,
        text="Хлеб черствый, верните деньги!!!",
        created_at=at(2, 9),
        edited_at=at(2, 9, 20),
        version_count=3,
        is_deleted=False,
        deleted_at=None,
    )
    await ItemVersion.create(item=item, number=1, text="Хлеб черствый", valid_from=at(2, 9))
    await ItemVersion.create(
        item=item, number=2, text="Хлеб черствый, верните деньги", valid_from=at(2, 9, 10)
    )
    await ItemVersion.create(
        item=item, number=3, text="Хлеб черствый, верните деньги!!!", valid_from=at(2, 9, 20)
    )
    await ItemTombstone.create(
        item=item,
        deleted_at=at(2, 10),
        deleted_via=DeletedVia.VK_ADMIN,
        deleter_vk_id=VK_ADMIN_ID,  # a community admin in VK (linked to the operator "olga")
        last_text="Хлеб черствый, верните деньги!!!",
        restored_at=at(2, 11),
        restored_by=base.manager,
    )
    await journal.record(
        "vk.delete",
        actor_kind=ActorKind.OUTSIDE,
        operator_id=base.operator.id,
        vk_user_id=VK_ADMIN_ID,
        community_id=base.community.id,
        conversation_id=base.conversation.id,
        item_id=item.id,
        text="Хлеб черствый, верните деньги!!!",
        at=at(2, 10),
    )
    await journal.record(
        "comment.restore",
        actor_kind=ActorKind.OPERATOR,
        operator_id=base.manager.id,
        community_id=base.community.id,
        conversation_id=base.conversation.id,
        item_id=item.id,
        outcome=Outcome.DONE,
        at=at(2, 11),
    )
    return item


async def fill_every_table(base: Base) -> None:
    """At least one row in every table, with nulls, JSON, unicode and microseconds in the values."""
    item = await make_deleted_comment_story(base)
    await base.operator.communities.add(base.community)
    await ApiToken.create(operator=base.manager, name="kpi", token_hash="a" * 64, created_at=at(1, 9))
    reply = await Item.create(
        community=base.community,
        conversation=base.conversation,
        channel=Channel.WALL,
        key=f"wall:-{GROUP_ID}_10:101",
        vk_id=101,
        direction=Direction.OUT,
        sent_by=base.operator,
        reply_to_key=item.key,
        text='Ответ с "кавычками", запятой\nи переводом строки',
        attachments=[{"type": "photo", "id": 5, "title": "фото"}],
        created_at=at(2, 9, 30, 15, 123456),
    )
    await ItemVersion.create(
        item=reply, number=1, text=reply.text, attachments=reply.attachments, valid_from=reply.created_at
    )
    gone = await Item.create(
        community=base.community,
        conversation=base.conversation,
        channel=Channel.WALL,
        key=f"wall:-{GROUP_ID}_10:102",
        vk_id=102,
        direction=Direction.IN,
        author=base.author,
        text="spam spam",
        created_at=at(3, 12),
        is_deleted=True,
        deleted_at=at(3, 12, 5),
    )
    await ItemVersion.create(item=gone, number=1, text="spam spam", valid_from=at(3, 12))
    await ItemTombstone.create(
        item=gone,
        deleted_at=at(3, 12, 5),
        deleted_via=DeletedVia.PROXY,
        deleted_by=base.operator,
        last_text="spam spam",
    )
    await Note.create(
        conversation=base.conversation, operator=base.operator, text="позвонить", created_at=at(2, 9, 40)
    )
    await Ban.create(
        community=base.community,
        author=base.author,
        banned_at=at(3, 13),
        until=None,
        reason=1,
        comment="спам",
        admin_vk_id=VK_ADMIN_ID,
    )
    await RawEvent.create(
        community=base.community,
        vk_group_id=GROUP_ID,
        event_id="ev-1",
        type="wall_reply_new",
        payload='{"type":"wall_reply_new","object":{"text":"Хлеб"}}',
        source="callback",
        status=RawEventStatus.PROCESSED,
        received_at=at(2, 9, 0, 1),
    )
    entry = await journal.record(
        "reply.send",
        actor_kind=ActorKind.OPERATOR,
        operator_id=base.operator.id,
        community_id=base.community.id,
        conversation_id=base.conversation.id,
        text=reply.text,
        params={"reply_to": item.key, "n": 1.5},
        outcome=Outcome.PENDING,
        at=at(2, 9, 30),
    )
    await journal.set_outcome(entry.id, Outcome.DONE, "comment 101")
    await OutboxRow.create(
        community=base.community,
        journal_entry=entry,
        operator=base.operator,
        conversation=base.conversation,
        item=item,
        method="wall.createComment",
        params={"owner_id": -GROUP_ID, "post_id": 10},
        token_kind="community",
        idempotency_key="guid-1",
        text=reply.text,
        status=OutboxStatus.SENT,
        attempts=1,
        next_attempt_at=at(2, 9, 30),
        result={"comment_id": 101},
        result_item_key=reply.key,
        sent_at=at(2, 9, 30, 15),
    )
    await ReactionSample.create(
        community=base.community,
        conversation=base.conversation,
        channel=Channel.WALL,
        operator=base.operator,
        ended_by="reply",
        is_first=True,
        started_at=at(2, 9),
        ended_at=at(2, 9, 30, 15, 123456),
        seconds=1815.123456,
        business_seconds=None,
    )
    await Conversation.filter(id=base.conversation.id).update(
        status=ConversationStatus.CLOSED,
        closed_at=at(2, 12),
        closing_kind=ClosingKind.WITH_REPLY,
        closed_by_id=base.operator.id,
    )
    await ConversationClose.create(
        community=base.community,
        conversation=base.conversation,
        operator=base.operator,
        kind=ClosingKind.WITH_REPLY,
        opened_at=at(2, 9),
        closed_at=at(2, 12),
        duration_seconds=10800.0,
    )
    await CannedResponse.create(title="Извинение", text="Простите нас", community=None)
    await TeamSetting.create(key="webhook", value={"url": "https://example.invalid/hook", "on": True})
