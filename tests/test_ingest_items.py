"""Ingest of item events: versions, tombstones, restores, placeholders, duplicates, echoes, journal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from proxy import accounts
from proxy.clock import utcnow
from proxy.connectors.vk.normalize import normalize
from proxy.ingest import ingest
from proxy.models import (
    ActorKind,
    Author,
    Ban,
    Community,
    Conversation,
    DeletedVia,
    Direction,
    Item,
    ItemTombstone,
    ItemVersion,
    JournalEntry,
    OutboxRow,
    OutboxStatus,
    RawEvent,
    RawEventStatus,
    ReactionSample,
)

GID = 777
T0 = 1_700_000_000
RECEIVED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def wall(event_type: str, event_id: str, **obj: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"post_id": 5, "owner_id": -GID}
    return {
        "type": event_type,
        "event_id": event_id,
        "group_id": GID,
        "v": "5.199",
        "object": {**base, **obj},
    }


def message(event_type: str, event_id: str, **msg: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"peer_id": 42, "from_id": 42, "out": 0, "attachments": [], "random_id": 0}
    body = {**base, **msg}
    obj = {"message": body} if event_type == "message_new" else body
    return {"type": event_type, "event_id": event_id, "group_id": GID, "v": "5.199", "object": obj}


async def community() -> Community:
    return await Community.create(vk_group_id=GID, name="c", callback_secret="s", confirmation_code="x")


async def feed(c: Community, raw: dict[str, Any], source: str = "callback", received: datetime = RECEIVED):
    return await ingest(c, raw, normalize(raw), source=source, received_at=received)  # type: ignore[arg-type]


async def test_comment_lifecycle_keeps_every_text(db: str) -> None:
    c = await community()
    await feed(
        c,
        wall(
            "wall_reply_new", "e1", id=10, from_id=42, date=T0, text="first", attachments=[{"type": "photo"}]
        ),
    )
    await feed(c, wall("wall_reply_edit", "e2", id=10, from_id=42, date=T0, text="second"))
    await feed(c, wall("wall_reply_delete", "e3", id=10, deleter_id=9))
    item = await Item.get(key=f"wall:-{GID}_5:10")
    assert (item.text, item.version_count, item.is_deleted, item.edited_at) == ("second", 2, True, RECEIVED)
    assert item.direction == Direction.IN and item.from_vk_id == 42 and item.created_at == at(0)
    versions = (
        await ItemVersion.filter(item_id=item.id)
        .order_by("number")
        .values_list("number", "text", "attachments")
    )
    assert versions == [(1, "first", [{"type": "photo"}]), (2, "second", [])]
    tomb = await ItemTombstone.get(item_id=item.id)
    assert (tomb.deleted_via, tomb.deleter_vk_id, tomb.last_text, tomb.restored_at) == (
        DeletedVia.VK_ADMIN,
        9,
        "second",
        None,
    )
    entry = await JournalEntry.get(action="vk.delete")
    assert (entry.actor_kind, entry.vk_user_id, entry.item_id, entry.text) == (
        ActorKind.OUTSIDE,
        9,
        item.id,
        "second",
    )
    await feed(c, wall("wall_reply_restore", "e4", id=10, from_id=42, date=T0, text="second"))
    item = await Item.get(id=item.id)
    tomb = await ItemTombstone.get(item_id=item.id)
    assert (item.is_deleted, item.version_count, tomb.restored_at) == (False, 2, RECEIVED)
    assert await JournalEntry.filter(action="vk.restore").count() == 1
    conv = await Conversation.get(id=item.conversation_id)
    assert (conv.key, conv.waiting_since, conv.vk_root_id) == (f"wall:-{GID}_5:10", at(0), 10)


async def test_author_deleting_own_comment_is_not_journaled(db: str) -> None:
    c = await community()
    await feed(c, wall("wall_reply_new", "e1", id=10, from_id=42, date=T0, text="oops"))
    await feed(c, wall("wall_reply_delete", "e2", id=10, deleter_id=42))
    tomb = await ItemTombstone.get()
    assert tomb.deleted_via == DeletedVia.AUTHOR
    assert await JournalEntry.all().count() == 0


async def test_duplicate_event_has_no_second_effect(db: str) -> None:
    c = await community()
    raw = message("message_new", "dup", conversation_message_id=1, date=T0, text="hi")
    first = await feed(c, raw)
    second = await feed(c, raw)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert (await RawEvent.all().count(), await Item.all().count(), await ItemVersion.all().count()) == (
        1,
        1,
        1,
    )
    raw_row = await RawEvent.get()
    assert (raw_row.status, raw_row.detail, raw_row.source, raw_row.type) == (
        RawEventStatus.PROCESSED,
        "",
        "callback",
        "message_new",
    )


async def test_delete_before_create_keeps_a_placeholder_then_fills_it(db: str) -> None:
    c = await community()
    await feed(c, wall("wall_reply_delete", "d", id=11, deleter_id=42))
    item = await Item.get()
    assert (item.text, item.is_deleted, item.version_count) == ("", True, 0)
    await feed(
        c,
        wall(
            "wall_reply_new",
            "n",
            id=11,
            from_id=42,
            date=T0,
            text="late",
            parents_stack=[3],
            reply_to_comment=3,
        ),
    )
    item = await Item.get()
    tomb = await ItemTombstone.get()
    conv = await Conversation.get(id=item.conversation_id)
    assert (item.text, item.is_deleted, item.version_count, item.created_at) == ("late", True, 1, at(0))
    assert (tomb.last_text, tomb.deleted_via, conv.key) == ("late", DeletedVia.AUTHOR, f"wall:-{GID}_5:3")


async def test_sync_is_idempotent_on_the_item(db: str) -> None:
    c = await community()
    raw = message("message_new", "real", conversation_message_id=3, date=T0, text="hello")
    await feed(c, raw)
    synced = message("message_new", "sync:x", conversation_message_id=3, date=T0, text="hello")
    result = await feed(c, synced, source="sync")
    assert not result.duplicate and not result.changed
    edited = message("message_new", "sync:y", conversation_message_id=3, date=T0, text="hello!")
    await feed(c, edited, source="sync")
    item = await Item.get()
    assert (item.text, item.version_count, await RawEvent.all().count()) == ("hello!", 2, 3)


async def test_reply_in_vk_is_outside_and_attributed_to_the_linked_operator(db: str) -> None:
    c = await community()
    op = await accounts.create_operator("anna", "correct horse battery", display_name="Anna")
    await accounts.link_vk_user("anna", 555)
    await feed(c, message("message_new", "a", conversation_message_id=1, date=T0, text="help"))
    await feed(
        c,
        message(
            "message_reply",
            "b",
            conversation_message_id=2,
            date=T0 + 60,
            text="ok",
            from_id=-GID,
            out=1,
            admin_author_id=555,
            random_id=0,
        ),
    )
    sample = await ReactionSample.get()
    assert (sample.operator_id, sample.outside_proxy, sample.seconds) == (op.id, True, 60.0)
    entry = await JournalEntry.get(action="vk.reply")
    assert (entry.actor_kind, entry.vk_user_id, entry.operator_id, entry.text) == (
        ActorKind.OUTSIDE,
        555,
        op.id,
        "ok",
    )
    reply = await Item.get(key="message:42:2")
    assert (reply.direction, reply.author_id, reply.admin_author_vk_id) == (Direction.OUT, None, 555)


async def test_echo_of_an_outbox_message_is_the_operator_reply(db: str) -> None:
    c = await community()
    op = await accounts.create_operator("boris", "correct horse battery")
    await feed(c, message("message_new", "a", conversation_message_id=1, date=T0, text="help"))
    conv = await Conversation.get()
    entry = await JournalEntryFactory.make(c, op.id)
    row = await OutboxRow.create(
        community=c,
        journal_entry=entry,
        operator=op,
        conversation=conv,
        method="messages.send",
        token_kind="community",
        idempotency_key="98765",
        text="done",
        status=OutboxStatus.SENDING,
        next_attempt_at=utcnow(),
    )
    await feed(
        c,
        message(
            "message_reply",
            "b",
            conversation_message_id=2,
            date=T0 + 30,
            text="done",
            from_id=-GID,
            out=1,
            random_id=98765,
        ),
    )
    reply = await Item.get(key="message:42:2")
    sample = await ReactionSample.get()
    assert (reply.sent_by_id, reply.outbox_row_id) == (op.id, row.id)
    assert (sample.operator_id, sample.outside_proxy) == (op.id, False)
    assert await JournalEntry.filter(action="vk.reply").count() == 0


async def test_echo_of_an_outbox_comment_matches_by_text_until_vk_names_it(db: str) -> None:
    c = await community()
    op = await accounts.create_operator("vera", "correct horse battery")
    await feed(c, wall("wall_reply_new", "a", id=10, from_id=42, date=T0, text="q"))
    conv = await Conversation.get()
    entry = await JournalEntryFactory.make(c, op.id)
    row = await OutboxRow.create(
        community=c,
        journal_entry=entry,
        operator=op,
        conversation=conv,
        method="wall.createComment",
        token_kind="community",
        idempotency_key="g1",
        text="answer",
        status=OutboxStatus.SENT,
        next_attempt_at=utcnow(),
    )
    await feed(
        c,
        wall(
            "wall_reply_new",
            "b",
            id=11,
            from_id=-GID,
            date=T0 + 5,
            text="answer",
            parents_stack=[10],
            reply_to_comment=10,
        ),
    )
    reply = await Item.get(key=f"wall:-{GID}_5:11")
    assert (reply.sent_by_id, reply.outbox_row_id) == (op.id, row.id)
    assert (await OutboxRow.get(id=row.id)).result_item_key == reply.key
    # The same text again, written in VK by someone else: the claimed row does not match twice.
    await feed(
        c,
        wall(
            "wall_reply_new",
            "c",
            id=12,
            from_id=-GID,
            date=T0 + 9,
            text="answer",
            parents_stack=[10],
            reply_to_comment=10,
        ),
    )
    other = await Item.get(key=f"wall:-{GID}_5:12")
    assert (other.sent_by_id, other.outbox_row_id) == (None, None)
    assert await JournalEntry.filter(action="vk.reply").count() == 1


async def test_bans_and_unbans_in_vk(db: str) -> None:
    c = await community()
    ban = {
        "type": "user_block",
        "event_id": "b1",
        "group_id": GID,
        "object": {"admin_id": 9, "user_id": 42, "unblock_date": T0 + 3600, "reason": 1, "comment": "spam"},
    }
    unban = {
        "type": "user_unblock",
        "event_id": "b2",
        "group_id": GID,
        "object": {"admin_id": 9, "user_id": 42, "by_end_date": 0},
    }
    await feed(c, ban)
    row = await Ban.get()
    author = await Author.get(vk_id=42)
    assert (row.author_id, row.until, row.reason, row.comment, row.admin_vk_id, row.lifted_at) == (
        author.id,
        at(3600),
        1,
        "spam",
        9,
        None,
    )
    await feed(c, unban, received=datetime(2024, 1, 3, tzinfo=UTC))
    row = await Ban.get()
    assert row.lifted_at == datetime(2024, 1, 3, tzinfo=UTC)
    actions = await JournalEntry.all().order_by("id").values_list("action", "actor_kind", "vk_user_id")
    assert actions == [("vk.ban", ActorKind.OUTSIDE, 9), ("vk.unban", ActorKind.OUTSIDE, 9)]


async def test_nul_characters_are_stripped_and_the_raw_payload_kept(db: str) -> None:
    c = await community()
    raw = message(
        "message_new",
        "nul",
        conversation_message_id=1,
        date=T0,
        text="a\x00b",
        attachments=[{"type": "doc", "doc": {"title": "x\x00y"}}],
    )
    await feed(c, raw)
    item = await Item.get()
    assert (item.text, item.attachments) == ("ab", [{"type": "doc", "doc": {"title": "xy"}}])
    assert "a\\u0000b" in (await RawEvent.get()).payload


async def test_unknown_types_and_warnings_are_kept_raw(db: str) -> None:
    c = await community()
    await feed(c, {"type": "group_join", "event_id": 5, "group_id": GID, "object": {"user_id": 1}})
    await feed(c, {"type": "wall_post_new", "event_id": "w", "group_id": GID, "object": {"warning": "old v"}})
    rows = await RawEvent.all().order_by("id").values_list("event_id", "status", "detail")
    assert rows == [
        ("5", RawEventStatus.IGNORED, "unhandled event type"),
        ("w", RawEventStatus.WARNING, "old v"),
    ]
    assert await Item.all().count() == 0 and await JournalEntry.all().count() == 0


class JournalEntryFactory:
    @staticmethod
    async def make(c: Community, operator_id: int) -> JournalEntry:
        from proxy.audit import journal

        return await journal.record(
            "reply.send", actor_kind=ActorKind.OPERATOR, operator_id=operator_id, community_id=c.id
        )
