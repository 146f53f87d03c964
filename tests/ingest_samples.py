"""The VK sample events and what each must leave in an empty database, field by field.

Shared by the Callback API tests and the long-poll tests: whichever way an event arrives, the rows
must be the same.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tortoise import Tortoise

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
    RawEvent,
    RawEventStatus,
)
from tests.fixtures import VK_SAMPLES as SAMPLES_DIR

SECRET = "s3cret-value"
CONFIRMATION = "a1b2c3d4"


def load_event(name: str) -> dict[str, Any]:
    """The event of a sample file: ``updates[0]`` of a long-poll answer, else the body itself."""
    data = json.loads((SAMPLES_DIR / name).read_text(encoding="utf-8"))
    if isinstance(data, dict) and isinstance(data.get("updates"), list):
        return data["updates"][0]
    return data


def event_samples() -> list[str]:
    """Every sample file that holds an event (not an API answer, not a confirmation)."""
    names = []
    for path in sorted(SAMPLES_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        event = data["updates"][0] if isinstance(data, dict) and data.get("updates") else data
        if isinstance(event, dict) and isinstance(event.get("type"), str) and event["type"] != "confirmation":
            names.append(path.name)
    return names


async def add_community(group_id: int, **extra: Any) -> Community:
    return await Community.create(
        vk_group_id=group_id,
        name=f"group {group_id}",
        callback_secret=SECRET,
        confirmation_code=CONFIRMATION,
        **extra,
    )


async def table_counts() -> dict[str, int]:
    """Rows in every table of the data model."""
    counts = {}
    for model in Tortoise.apps["models"].values():
        counts[model._meta.db_table] = await model.all().count()
    return counts


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# sample -> (expected kind of effect, details). Item expectations: key, conversation key, author vk id,
# text, created_at, attachment types, direction, deleted, version count.
ITEMS: dict[str, dict[str, Any]] = {
    "board_post_edit-1.json": dict(
        key="board:-111_222:2",
        conv="board:-111_222",
        author=123,
        text="testtest",
        created=utc(2020, 7, 27, 9, 16, 20),
        edited=True,
    ),
    "board_post_new-1.json": dict(
        key="board:-222_333:2",
        conv="board:-222_333",
        author=111,
        text="test",
        created=utc(2020, 7, 27, 9, 16, 20),
    ),
    "board_post_restore-1.json": dict(
        key="board:-222_333:3",
        conv="board:-222_333",
        author=111,
        text="t",
        created=utc(2020, 8, 5, 18, 37, 5),
    ),
    "message_edit-1.json": dict(
        key="message:222:261",
        conv="message:222",
        author=-111,
        text="tests",
        created=utc(2020, 7, 9, 8, 12, 57),
        direction=Direction.OUT,
        edited_at=utc(2020, 7, 9, 8, 12, 57),
        admin=333,
    ),
    "message_new-1.json": dict(
        key="message:222:4392",
        conv="message:222",
        author=111,
        text="test",
        created=utc(2020, 6, 25, 13, 38, 31),
    ),
    "message_new-2.json": dict(
        key="message:222:4393",
        conv="message:222",
        author=111,
        text="test",
        created=utc(2020, 6, 25, 14, 0, 10),
        reply_to="message:444:4392",
    ),
    "message_new-4.json": dict(
        key="message:222:4395",
        conv="message:222",
        author=111,
        text="",
        created=utc(2020, 6, 25, 14, 26, 33),
        attachments=["photo"],
    ),
    "message_new-5.json": dict(
        key="message:222:4394", conv="message:222", author=111, text="", created=utc(2020, 6, 25, 14, 17, 26)
    ),
    "message_new-7.json": dict(
        key="message:222:4410",
        conv="message:222",
        author=111,
        text="",
        created=utc(2020, 7, 8, 19, 5, 11),
        attachments=["wall_reply"],
    ),
    "message_reply-1.json": dict(
        key="message:333:261",
        conv="message:333",
        author=111,
        text="test",
        created=utc(2020, 7, 9, 8, 8, 32),
        direction=Direction.OUT,
        admin=444,
        vk_id=222,
    ),
    "photo_comment_edit-1.json": dict(
        key="photo:-333_444:111",
        conv="photo:-333_444:111",
        author=222,
        text="tt",
        created=utc(2020, 7, 9, 9, 5, 8),
        edited=True,
    ),
    "photo_comment_new-1.json": dict(
        key="photo:-222_333:3",
        conv="photo:-222_333:3",
        author=111,
        text="t",
        created=utc(2020, 7, 9, 9, 5, 8),
    ),
    "photo_comment_restore-1.json": dict(
        key="photo:-222_333:3",
        conv="photo:-222_333:3",
        author=111,
        text="tt",
        created=utc(2020, 7, 9, 9, 5, 8),
    ),
    "video_comment_edit-1.json": dict(
        key="video:-333_444:1",
        conv="video:-333_444:1",
        author=111,
        text="check2",
        created=utc(1970, 1, 1, 0, 3, 42),
        edited=True,
    ),
    "video_comment_new-1.json": dict(
        key="video:-222_333:1",
        conv="video:-222_333:1",
        author=111,
        text="check",
        created=utc(2020, 7, 15, 14, 28, 37),
    ),
    "video_comment_restore-1.json": dict(
        key="video:-222_333:2",
        conv="video:-222_333:2",
        author=111,
        text="t",
        created=utc(2020, 7, 15, 17, 40, 49),
    ),
    "wall_reply_edit-1.json": dict(
        key="wall:-222_3:4",
        conv="wall:-222_3:4",
        author=111,
        text="test1",
        created=utc(2020, 7, 17, 7, 48, 2),
        edited=True,
    ),
    "wall_reply_new-1.json": dict(
        key="wall:-222_3:4", conv="wall:-222_3:4", author=111, text="test", created=utc(2020, 7, 17, 7, 48, 2)
    ),
    "wall_reply_restore-1.json": dict(
        key="wall:-222_3:4",
        conv="wall:-222_3:4",
        author=111,
        text="test1",
        created=utc(2020, 7, 17, 7, 48, 2),
    ),
}

# Deletes of items never seen: a placeholder with the tombstone.
DELETES: dict[str, dict[str, Any]] = {
    "board_post_delete-1.json": dict(
        key="board:-111_333:3", conv="board:-111_333", deleter=None, user=None, via=DeletedVia.UNKNOWN
    ),
    "photo_comment_delete-1.json": dict(
        key="photo:-111_444:333", conv="photo:-111_444:333", deleter=222, user=555, via=DeletedVia.VK_ADMIN
    ),
    "video_comment_delete-1.json": dict(
        key="video:-111_333:1", conv="video:-111_333:1", deleter=222, user=None, via=DeletedVia.UNKNOWN
    ),
    "wall_reply_delete-1.json": dict(
        key="wall:-111_3:4", conv="wall:-111_3:4", deleter=222, user=None, via=DeletedVia.UNKNOWN
    ),
}

# Events that change no item: (raw status, journal actions (action, vk_user_id), authors, bans).
OTHERS: dict[str, tuple[RawEventStatus, list[tuple[str, int]], int, int]] = {
    "deprecated_version_warning-1.json": (RawEventStatus.WARNING, [], 0, 0),
    "group_join-1.json": (RawEventStatus.IGNORED, [], 0, 0),
    "group_officers_edit-1.json": (RawEventStatus.PROCESSED, [("vk.officers_edit", 578716413)], 0, 0),
    "message_allow-1.json": (RawEventStatus.IGNORED, [], 0, 0),
    "message_deny-1.json": (RawEventStatus.IGNORED, [], 0, 0),
    "message_typing_state-1.json": (RawEventStatus.IGNORED, [], 0, 0),
    "user_block-1.json": (RawEventStatus.PROCESSED, [("vk.ban", 578716413)], 1, 1),
    "user_unblock-1.json": (RawEventStatus.PROCESSED, [("vk.unban", 578716413)], 1, 0),
    "wall_post_new-1.json": (RawEventStatus.PROCESSED, [], 0, 0),
    "wall_post_new-2.json": (RawEventStatus.PROCESSED, [], 0, 0),
}


async def assert_sample_rows(name: str, source: str) -> None:
    """The rows one sample event must leave in an empty database, checked field by field."""
    event = load_event(name)
    raw = await RawEvent.get()
    assert (raw.vk_group_id, raw.event_id, raw.type, raw.source) == (
        event["group_id"],
        str(event["event_id"]),
        event["type"],
        source,
    )
    stored = json.loads(raw.payload)
    assert "secret" not in stored
    assert stored == {k: v for k, v in event.items() if k != "secret"}
    if name in ITEMS:
        await _assert_item(ITEMS[name], event)
        assert raw.status == RawEventStatus.PROCESSED
    elif name in DELETES:
        await _assert_placeholder(DELETES[name])
        assert raw.status == RawEventStatus.PROCESSED
    else:
        status, actions, authors, bans = OTHERS[name]
        assert raw.status == status
        journal = await JournalEntry.all().order_by("id").values_list("action", "vk_user_id", "actor_kind")
        assert journal == [(action, vk_id, ActorKind.OUTSIDE) for action, vk_id in actions]
        counts = await table_counts()
        assert (counts["author"], counts["ban"], counts["item"], counts["conversation"]) == (
            authors,
            bans,
            0,
            0,
        )
        if name == "user_block-1.json":
            ban = await Ban.get()
            author = await Author.get(id=ban.author_id)
            assert (author.vk_id, ban.until, ban.reason, ban.comment, ban.admin_vk_id, ban.lifted_at) == (
                349964901,
                utc(2020, 3, 5, 19, 49, 1),
                2,
                "BAN",
                578716413,
                None,
            )


async def _assert_item(want: dict[str, Any], event: dict[str, Any]) -> None:
    item = await Item.get()
    conversation = await Conversation.get(id=item.conversation_id)
    direction = want.get("direction", Direction.IN)
    assert (item.key, conversation.key, item.from_vk_id, item.text, item.created_at, item.direction) == (
        want["key"],
        want["conv"],
        want["author"],
        want["text"],
        want["created"],
        direction,
    )
    obj = event["object"].get("message", event["object"])
    assert item.attachments == obj.get("attachments", [])
    assert [a["type"] for a in item.attachments] == want.get("attachments", [])
    assert (item.is_deleted, item.version_count, item.admin_author_vk_id) == (False, 1, want.get("admin"))
    assert item.reply_to_key == want.get("reply_to")
    if "vk_id" in want:
        assert item.vk_id == want["vk_id"]
    if want.get("edited"):
        assert item.edited_at is not None  # comment edits carry no time: the time of receipt
    else:
        assert item.edited_at == want.get("edited_at")
    versions = await ItemVersion.filter(item_id=item.id).values_list("number", "text")
    assert versions == [(1, want["text"])]
    if direction == Direction.IN:
        author = await Author.get(id=item.author_id)
        assert author.vk_id == want["author"]
        assert (conversation.author_id, conversation.waiting_since) == (author.id, want["created"])
        assert await JournalEntry.all().count() == 0
    else:
        assert item.author_id is None
        entry = await JournalEntry.get()
        assert (entry.action, entry.actor_kind, entry.vk_user_id, entry.item_id) == (
            "vk.reply",
            ActorKind.OUTSIDE,
            want["admin"],
            item.id,
        )
    assert await ItemTombstone.all().count() == 0


async def _assert_placeholder(want: dict[str, Any]) -> None:
    item = await Item.get()
    conversation = await Conversation.get(id=item.conversation_id)
    tombstone = await ItemTombstone.get()
    assert (item.key, conversation.key, item.text, item.is_deleted, item.version_count, item.from_vk_id) == (
        want["key"],
        want["conv"],
        "",
        True,
        0,
        want["user"],
    )
    assert (tombstone.item_id, tombstone.deleter_vk_id, tombstone.deleted_via, tombstone.last_text) == (
        item.id,
        want["deleter"],
        want["via"],
        "",
    )
    assert tombstone.deleted_at == item.deleted_at
    assert await ItemVersion.all().count() == 0
    journal = await JournalEntry.all().values_list("action", "vk_user_id")
    assert journal == ([("vk.delete", want["deleter"])] if want["via"] == DeletedVia.VK_ADMIN else [])
