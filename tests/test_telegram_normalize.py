"""Telegram updates -> domain events: every sample in tests/fixtures/telegram, key fields per row, and totality."""

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.connectors.base import MalformedEvent
from proxy.connectors.telegram.normalize import HANDLED_KINDS, INTERNAL_ERROR_PREFIX, normalize, normalize_all
from proxy.events import (
    AuthorBlocked,
    AuthorRestricted,
    AuthorUnblocked,
    Channel,
    Direction,
    DomainEvent,
    ItemCreated,
    ItemDeleted,
    ItemEdited,
    MemberChanged,
    Unsupported,
    WallPostCreated,
)
from tests.fixtures import TELEGRAM_SAMPLES as SAMPLES_DIR

BOT = 7000000001

PROPERTY_SETTINGS = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES_DIR / name).read_text(encoding="utf-8"))


def load_update(name: str) -> dict[str, Any]:
    """The update of a sample; a bare Message (``message_obj_*``) is wrapped as its update would carry it."""
    data = load_sample(name)
    if name.startswith("message_obj_"):
        kind = "edited_message" if "edit_date" in data else "message"
        return {"update_id": 900000001, kind: data}
    return data


def ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def unsupported(reason: str) -> tuple[type[DomainEvent], dict[str, Any], None, None]:
    return Unsupported, {"reason": reason}, None, None


def member(chat_id: int, user_id: int, actor_id: int | None, old: str, new: str) -> tuple[Any, ...]:
    fields = {
        "chat_id": chat_id,
        "user_id": user_id,
        "actor_id": actor_id,
        "old_status": old,
        "new_status": new,
    }
    return MemberChanged, fields, None, None


def incoming(author_id: int, **more: Any) -> dict[str, Any]:
    return {
        "author_id": author_id,
        "direction": Direction.IN,
        "from_community": False,
        "admin_author_id": None,
        **more,
    }


def forward(from_id: int | None, date: str, sender_name: str | None = None) -> list[dict[str, Any]]:
    entry = {
        "kind": "forward",
        "from_id": from_id,
        "date": date,
        "text": "",
        "attachments": [],
        "peer_id": None,
    }
    entry.update(conversation_message_id=None, forwarded=[], omitted=0, sender_name=sender_name)
    return [entry]


DISCUSSION = -1001700000002
SHOP_CHAT = "business:AbCdEfGh-business-1:5000000005"

# name -> (event class, fields asserted, item key, thread key); the first event of normalize_all.
EXPECTED: dict[str, tuple[Any, ...]] = {
    "business_connection-1.json": unsupported("business connection changed"),
    "business_message-1.json": unsupported("business message without business_connection_id"),
    "edited_business_message-1.json": unsupported("business message without business_connection_id"),
    "callback_query-1.json": unsupported("inline button pressed"),
    "chat_join_request-1.json": unsupported("join request"),
    "edited_channel_post-1.json": unsupported("edited channel post"),
    "message_reaction-1.json": unsupported("reaction changed"),
    "message_reaction-2.json": unsupported("reaction changed"),
    "message_reaction-4.json": unsupported("reaction changed"),
    "message_reaction_count-1.json": unsupported("anonymous reaction counts changed"),
    "message_supergroup_migrate_from-1.json": unsupported("service message: migrate_from_chat_id"),
    "message_supergroup_pinned-1.json": unsupported("service message: pinned_message"),
    "chat_member_added-1.json": member(-1002222230714, 850434834, 7239017745, "left", "member"),
    "chat_member_left-1.json": member(-1002222230714, 6004397368, None, "member", "left"),
    "chat_member_promoted-1.json": member(DISCUSSION, 5000000003, 5000000010, "member", "administrator"),
    "left_chat_member-1.json": member(-1002222230714, 439724930, None, "member", "left"),
    "left_chat_member-2.json": member(-10011869112345, 123455678, 12345678, "member", "left"),
    "new_chat_members-1.json": member(-1002222230714, 439724930, None, "left", "member"),
    "new_chat_members-2.json": member(-10011869112345, 123455678, 12345678, "left", "member"),
    # The bot's own status: a MemberChanged even when "kicked" (a user blocked the bot in a private chat).
    "my_chat_member_blocked-1.json": member(0, 1, 0, "member", "kicked"),
    "my_chat_member_demoted-1.json": member(-1001522860812, 7239017745, 754429643, "administrator", "member"),
    "chat_member_banned_by_admin-1.json": (
        AuthorBlocked,
        {
            "user_id": 5000000002,
            "admin_id": 5000000010,
            "unblock_date": ts(1733905000),
            "reason": 0,
            "comment": "",
        },
        None,
        None,
    ),
    "chat_member_restricted-1.json": (
        AuthorRestricted,
        {"user_id": 5000000004, "admin_id": None, "until": ts(1733386800), "lifted": False},
        None,
        None,
    ),
    "business_message-2.json": (
        ItemCreated,
        incoming(5000000005, text="Hello, is the blue one still available?", reply_to=None, message_id=40),
        f"{SHOP_CHAT}:40",
        SHOP_CHAT,
    ),
    "edited_business_message-2.json": (
        ItemEdited,
        {
            "author_id": 5000000020,
            "from_community": True,
            "admin_author_id": 5000000020,
            "edited_at": ts(1733300590),
            "created_at": ts(1733300560),
        },
        f"{SHOP_CHAT}:41",
        SHOP_CHAT,
    ),
    "deleted_business_messages-1.json": (
        ItemDeleted,
        {"deleter_id": None, "user_id": None, "event_id": "tg:1:123"},
        "business:123:456:123",
        "business:123:456",
    ),
    "deleted_business_messages-2.json": (
        ItemDeleted,
        {"deleter_id": None, "user_id": None, "event_id": "tg:700000108:40"},
        f"{SHOP_CHAT}:40",
        SHOP_CHAT,
    ),
    "discussion_automatic_forward-1.json": (
        WallPostCreated,
        {
            "post_id": 310,
            "owner_id": DISCUSSION,
            "from_id": -1001700000001,
            "created_by": None,
            "text": "New opening hours from Monday: 9 to 18.",
            "created_at": ts(1733300000),
        },
        None,
        None,
    ),
    "discussion_comment-1.json": (
        ItemCreated,
        incoming(5000000001, reply_to=None, text="Is Saturday closed then?"),
        f"group:{DISCUSSION}_310:311",
        f"group:{DISCUSSION}_310:311",
    ),
    "forum_topic_message-1.json": (
        ItemCreated,
        incoming(5000000006, reply_to=None, reply_to_user=None),
        "group:-1001700000003_12:88",
        "group:-1001700000003_12",
    ),
    "edited_message-1.json": (
        ItemEdited,
        {
            "author_id": 1531569569,
            "from_community": False,
            "text": "Спасибо",
            "edited_at": ts(1719653816),
            "created_at": ts(1719593309),
        },
        "group:-1001522860812_0:17764",
        "group:-1001522860812_0:17763",
    ),
    # chat.id equals the member's id in this basic group (the library's anonymisation): still incoming.
    "message_group_command-1.json": (
        ItemCreated,
        incoming(222222222, text="/start"),
        "group:222222222_0:23756",
        "group:222222222_0:23756",
    ),
    "message_obj_supergroup_anon_admin_forward-1.json": (
        ItemCreated,
        {
            "author_id": -1001160242915,
            "direction": Direction.OUT,
            "from_community": True,
            "admin_author_id": None,
            "forwarded": forward(-1001160242915, "2021-12-24T15:25:44+00:00"),
        },
        "group:-1001160242915_0:1",
        "group:-1001160242915_0:1",
    ),
    "message_obj_supergroup_document-1.json": (
        ItemCreated,
        incoming(
            1998627310,
            reply_to=None,
            attachments=[
                {
                    "type": "document",
                    "file_id": "BQACAgEAAyEFAASHYdUZAAIBR2fEP25qvmEPZq7SSwwbC8rOxc3bAAJuBQAC_VEhRh83p3-Yg2bQNgQ",
                    "file_unique_id": "AgADbgUAAv1RIUY",
                    "mime_type": "application/pdf",
                    "file_name": "aniversarios.pdf",
                    "file_size": 35562,
                }
            ],
        ),
        "group:-1002271335705_2:327",
        "group:-1002271335705_2",
    ),
    "message_obj_supergroup_document_edited-1.json": (
        ItemEdited,
        {
            "author_id": 1998627310,
            "text": "Ata de ontem",
            "edited_at": ts(1740916008),
            "created_at": ts(1740914542),
        },
        "group:-1002271335705_2:327",
        "group:-1002271335705_2",
    ),
    "message_private_document-1.json": (
        ItemCreated,
        incoming(12345678, text=""),
        "message:12345678:106",
        "message:12345678",
    ),
    "message_private_entities_url-1.json": (
        ItemCreated,
        incoming(
            222222222,
            attachments=[
                {"type": "link", "url": "http://zanzara.com"},
                {"type": "link", "url": "http://pippo.com"},
            ],
        ),
        "message:222222222:23764",
        "message:222222222",
    ),
    "message_private_forward_from-1.json": (
        ItemCreated,
        incoming(222222222, text="Wait", forwarded=forward(222222222, "2020-03-15T16:50:33+00:00")),
        "message:222222222:23763",
        "message:222222222",
    ),
    "message_private_reply-1.json": (
        ItemCreated,
        incoming(222222222, reply_to_user=222222222, forwarded=[]),
        "message:222222222:23762",
        "message:222222222",
    ),
    "message_private_sticker-1.json": (
        ItemCreated,
        incoming(
            222222222,
            attachments=[
                {
                    "type": "sticker",
                    "file_id": "xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                    "file_unique_id": "xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                    "width": 512,
                    "height": 512,
                    "file_size": 9721,
                    "emoji": "😂",
                }
            ],
        ),
        "message:222222222:23767",
        "message:222222222",
    ),
    "message_private_text-1.json": (
        ItemCreated,
        incoming(218485655, text="hello there", created_at=ts(1569518342), attachments=[], message_id=6557),
        "message:218485655:6557",
        "message:218485655",
    ),
    "message_supergroup_forward_origin-1.json": (
        ItemCreated,
        incoming(754429643, forwarded=forward(-1001103156398, "2024-06-20T07:36:07+00:00")),
        "group:-1002222230714_0:469",
        "group:-1002222230714_0:469",
    ),
    "message_supergroup_media_group-1.json": (
        ItemCreated,
        incoming(1509779352, text="кто потерял собаку бегает рядом с чижиком на Славной"),
        "group:-1001522860812_0:17804",
        "group:-1001522860812_0:17804",
    ),
    "message_supergroup_photo_caption-1.json": (
        ItemCreated,
        incoming(850434834),
        "group:-1002222230714_0:18386",
        "group:-1002222230714_0:18386",
    ),
    "message_supergroup_reply_command-1.json": (
        ItemCreated,
        incoming(5964236329, text="/report", reply_to_user=6962620676),
        "group:-1001293752024_0:134546",
        "group:-1001293752024_0:134545",
    ),
    "message_supergroup_sticker-1.json": (
        ItemCreated,
        incoming(12345678),
        "group:-10011869112345_0:2",
        "group:-10011869112345_0:2",
    ),
    "message_supergroup_text_mention-1.json": (
        ItemCreated,
        incoming(754429643, attachments=[]),
        "group:-1001522860812_0:17817",
        "group:-1001522860812_0:17817",
    ),
    "message_supergroup_url-1.json": (
        ItemCreated,
        incoming(6559717489, attachments=[{"type": "link", "url": "https://vk.com/wall-98725994_129353"}]),
        "group:-1001522860812_0:17822",
        "group:-1001522860812_0:17822",
    ),
}

# Answers of Bot API methods, not updates: the client's tests read them.
RESPONSES = {
    "banChatMember-ok-1.json",
    "deleteMessage-ok-1.json",
    "error-400-1.json",
    "error-400-2.json",
    "error-400-3.json",
    "error-403-1.json",
    "error-403-2.json",
    "error-403-3.json",
    "error-429-1.json",
    "error-429-2.json",
    "getChatAdministrators-ok-1.json",
    "getChatMember-ok-1.json",
    "getUpdates-ok-1.json",
    "sendMessage-ok-1.json",
    "unbanChatMember-ok-1.json",
}

# Updates whose deletions list several messages: one event each.
EVENT_COUNTS = {"deleted_business_messages-1.json": 2, "deleted_business_messages-2.json": 2}


def test_samples_dir_is_complete() -> None:
    files = {path.name for path in SAMPLES_DIR.glob("*.json")}
    assert files == set(EXPECTED) | RESPONSES
    assert not set(EXPECTED) & RESPONSES


def test_sources_lists_every_sample() -> None:
    sources = (SAMPLES_DIR / "SOURCES.md").read_text(encoding="utf-8")
    listed = {
        line.split("|")[1].strip()
        for line in sources.splitlines()
        if line.startswith("| ") and ".json" in line
    }
    assert listed == set(EXPECTED) | RESPONSES


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_normalizes_to_its_row(name: str) -> None:
    update = load_update(name)
    cls, fields, item_key, thread_key = EXPECTED[name]
    events = normalize_all(BOT, copy.deepcopy(update))
    assert len(events) == EVENT_COUNTS.get(name, 1)
    event = events[0]
    assert type(event) is cls, getattr(event, "reason", None)
    for field_name, value in fields.items():
        assert getattr(event, field_name) == value, field_name
    assert event.group_id == BOT
    assert event.vk_type == next(key for key in update if key != "update_id")
    assert event.api_version is None
    assert event.raw == update
    if name not in EVENT_COUNTS:
        assert event.event_id == f"tg:{update['update_id']}"
        assert normalize(BOT, copy.deepcopy(update)) == event
    ref, thread = getattr(event, "ref", None), getattr(event, "thread", None)
    assert (ref.key if ref else None) == item_key
    assert (thread.key if thread else None) == thread_key


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_responses_are_not_updates(name: str) -> None:
    with pytest.raises(MalformedEvent):
        normalize_all(BOT, load_sample(name))


def test_updates_inside_get_updates_normalize() -> None:
    updates = load_sample("getUpdates-ok-1.json")["result"]
    events = [normalize(BOT, update) for update in updates]
    assert [type(event) for event in events] == [ItemCreated] * 6
    photo = events[2]
    assert photo.attachments == [
        {
            "type": "photo",
            "file_id": "FILEID",
            "file_unique_id": "FILEID",
            "width": 720,
            "height": 1280,
            "file_size": 114661,
        }
    ]
    assert events[3].attachments[0]["type"] == "voice" and events[3].attachments[0]["duration"] == 1


# --- the rules, one at a time -----------------------------------------------------------------------


def group_update(**message: Any) -> dict[str, Any]:
    base = {
        "message_id": 5,
        "from": {"id": 42, "is_bot": False, "first_name": "A"},
        "chat": {"id": -100500, "title": "G", "type": "supergroup"},
        "date": 1700000000,
        "text": "hi",
    }
    return {"update_id": 10, "message": {**base, **message}}


def test_group_channels_and_keys() -> None:
    event = normalize(BOT, group_update())
    assert event.ref.channel is Channel.GROUP and event.ref.owner_id == -100500
    assert event.thread.root_id == 5 and not event.thread.follows_reply


def test_a_channel_writing_in_a_group_is_an_incoming_author() -> None:
    channel = {"id": -100777, "title": "C", "type": "channel"}
    event = normalize(BOT, group_update(sender_chat=channel, **{"from": {"id": 1087968824, "is_bot": True}}))
    assert event.author_id == -100777
    assert event.direction is Direction.IN and not event.from_community


def test_placeholder_senders_are_never_authors() -> None:
    for placeholder in (1087968824, 777000):
        event = normalize(BOT, group_update(**{"from": {"id": placeholder, "is_bot": True}}))
        assert isinstance(event, ItemCreated) and event.author_id is None


def test_reply_to_a_comment_follows_the_replied_message() -> None:
    replied = {"message_id": 3, "from": {"id": 43}, "chat": {"id": -100500, "type": "supergroup"}, "date": 1}
    event = normalize(BOT, group_update(reply_to_message=replied, message_thread_id=2))
    assert event.thread.key == "group:-100500_0:3" and event.thread.follows_reply
    assert event.reply_to.key == "group:-100500_0:3" and event.reply_to_user == 43


def test_topic_message_answering_another_keeps_the_topic_and_the_reply() -> None:
    replied = {"message_id": 7, "from": {"id": 43}, "message_thread_id": 4, "is_topic_message": True}
    event = normalize(BOT, group_update(reply_to_message=replied, message_thread_id=4, is_topic_message=True))
    assert event.thread.key == "group:-100500_4" and event.reply_to.key == "group:-100500_4:7"


def test_edited_automatic_forward_and_channel_chats_are_unsupported() -> None:
    update = load_update("discussion_automatic_forward-1.json")
    edited = {"update_id": 11, "edited_message": {**update["message"], "edit_date": 1733300999}}
    assert normalize(BOT, edited).reason == "edit of a channel post's automatic forward"
    in_channel = group_update(chat={"id": -100600, "type": "channel"})
    assert normalize(BOT, in_channel).reason == "message in a chat of type 'channel'"


def chat_member(old: dict[str, Any], new: dict[str, Any], from_id: int = 9) -> dict[str, Any]:
    user = {"id": 55, "is_bot": False, "first_name": "U"}
    return {
        "update_id": 12,
        "chat_member": {
            "chat": {"id": -100500, "type": "supergroup"},
            "from": {"id": from_id, "is_bot": False},
            "date": 1700000000,
            "old_chat_member": {"user": user, **old},
            "new_chat_member": {"user": user, **new},
        },
    }


def test_member_transitions() -> None:
    forever = normalize(
        BOT, chat_member({"status": "member"}, {"status": "kicked", "until_date": 0}, 1087968824)
    )
    assert isinstance(forever, AuthorBlocked) and forever.unblock_date is None and forever.admin_id is None
    unbanned = normalize(BOT, chat_member({"status": "kicked", "until_date": 0}, {"status": "left"}))
    assert isinstance(unbanned, AuthorUnblocked) and unbanned.admin_id == 9 and not unbanned.by_end_date
    muted = {"status": "restricted", "can_send_messages": False, "until_date": 0}
    lifted = normalize(BOT, chat_member(muted, {"status": "member"}))
    assert isinstance(lifted, AuthorRestricted) and lifted.lifted and lifted.admin_id == 9
    may_send = normalize(BOT, chat_member(muted, {"status": "restricted", "can_send_messages": True}))
    assert isinstance(may_send, AuthorRestricted) and may_send.lifted
    endless = normalize(BOT, chat_member({"status": "member"}, muted))
    assert isinstance(endless, AuthorRestricted) and endless.until is None and not endless.lifted
    media_only = normalize(
        BOT, chat_member({"status": "member"}, {"status": "restricted", "can_send_messages": True})
    )
    assert isinstance(media_only, MemberChanged) and media_only.new_status == "restricted"
    left = normalize(BOT, chat_member(muted, {"status": "left"}, from_id=55))
    assert isinstance(left, MemberChanged) and left.actor_id is None


def test_business_deletion_is_one_event_per_message() -> None:
    update = load_update("deleted_business_messages-2.json")
    events = normalize_all(BOT, update)
    assert [event.ref.item_id for event in events] == [40, 41]
    assert [event.event_id for event in events] == ["tg:700000108:40", "tg:700000108:41"]
    assert all(event.raw == update and event.thread.key == SHOP_CHAT for event in events)
    single = normalize(BOT, update)
    assert isinstance(single, Unsupported) and single.event_id == "tg:700000108"
    assert single.reason == "2 events in one update: normalize_all reads them"
    update["deleted_business_messages"]["message_ids"] = [41]
    assert normalize(BOT, update).ref.item_id == 41
    update["deleted_business_messages"]["message_ids"] = ["41", None]
    assert normalize(BOT, update).reason == "deleted_business_messages lists no integer message id"
    del update["deleted_business_messages"]["business_connection_id"]
    assert normalize(BOT, update).reason == "business message without business_connection_id"


def test_business_reply_keeps_the_connection() -> None:
    event = normalize(BOT, load_update("edited_business_message-2.json"))
    assert event.ref.connection == event.thread.connection == "AbCdEfGh-business-1"
    created = load_update("edited_business_message-2.json")
    created["business_message"] = created.pop("edited_business_message")
    reply = normalize(BOT, created)
    assert reply.reply_to.key == f"{SHOP_CHAT}:40" and reply.reply_to_user == 5000000005
    assert reply.direction is Direction.OUT


def test_hidden_sender_forwards_keep_the_shown_name() -> None:
    origin = {"type": "hidden_user", "sender_user_name": "Someone", "date": 1700000000}
    assert normalize(BOT, group_update(forward_origin=origin)).forwarded == forward(
        None, "2023-11-14T22:13:20+00:00", "Someone"
    )
    legacy = group_update(forward_sender_name="Old Name", forward_date=1700000000)
    assert normalize(BOT, legacy).forwarded == forward(None, "2023-11-14T22:13:20+00:00", "Old Name")


def test_links_count_utf16_units() -> None:
    text = "𝕰𝖐 see https://example.org/x ok"
    offset = len("𝕰𝖐 see ".encode("utf-16-le")) // 2
    entities = [
        {"type": "url", "offset": offset, "length": 21},
        {"type": "text_link", "offset": 0, "length": 2, "url": "https://example.com/"},
        {"type": "mention", "offset": 0, "length": 2},
    ]
    event = normalize(BOT, group_update(text=text, entities=entities))
    assert event.attachments == [
        {"type": "link", "url": "https://example.org/x"},
        {"type": "link", "url": "https://example.com/"},
    ]


def test_animation_is_not_also_a_document_and_places_are_kept() -> None:
    media = {"file_id": "F", "file_unique_id": "U", "duration": 3, "mime_type": "video/mp4"}
    venue = {"location": {"latitude": 1.5, "longitude": 2.5}, "title": "T", "address": "A"}
    event = normalize(
        BOT, group_update(animation=media, document=media, venue=venue, location=venue["location"])
    )
    assert [entry["type"] for entry in event.attachments] == ["animation", "venue"]
    assert event.attachments[1] == {
        "type": "venue",
        "title": "T",
        "address": "A",
        "latitude": 1.5,
        "longitude": 2.5,
    }


def test_envelope() -> None:
    empty = normalize(BOT, {"update_id": 0})
    assert isinstance(empty, Unsupported) and empty.vk_type == "update" and empty.event_id == "tg:0"
    unknown = normalize(BOT, {"update_id": 3, "purchased_paid_media": {}})
    assert unknown.reason == "unhandled update kind" and unknown.vk_type == "purchased_paid_media"
    not_object = normalize(BOT, {"update_id": 3, "message": "text"})
    assert not_object.reason == "object is not a JSON object"


def test_handled_kinds() -> None:
    assert HANDLED_KINDS == {
        "message",
        "edited_message",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "chat_member",
        "my_chat_member",
    }


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        "text",
        5,
        {},
        {"update_id": "1"},
        {"update_id": 1.0},
        {"update_id": True},
        {"update_id": 2**63},
    ],
)
def test_non_updates_are_malformed(value: Any) -> None:
    with pytest.raises(MalformedEvent):
        normalize_all(BOT, value)


@pytest.mark.parametrize("bot_id", [0, -1, True, "1"])
def test_bad_bot_id_is_malformed(bot_id: Any) -> None:
    with pytest.raises(MalformedEvent):
        normalize(bot_id, {"update_id": 1})


# --- properties: nothing but MalformedEvent ever escapes ------------------------------------------


def check_total(bot_id: int, update: Any) -> None:
    try:
        events = normalize_all(bot_id, update)
    except MalformedEvent as exc:
        assert isinstance(exc.reason, str) and exc.reason
        return
    assert events
    for event in events:
        assert isinstance(event, DomainEvent) and event.event_id.startswith("tg:")
        if isinstance(event, Unsupported):
            assert not event.reason.startswith(INTERNAL_ERROR_PREFIX), event.reason
        for name in ("ref", "thread", "reply_to"):
            value = getattr(event, name, None)
            if value is not None:
                assert isinstance(value.key, str)
        for name in ("created_at", "edited_at", "unblock_date", "until"):
            value = getattr(event, name, None)
            if value is not None:
                assert value.tzinfo is UTC
    assert isinstance(normalize(bot_id, update), DomainEvent)


HOSTILE = [None, "", "1", -1, 0, 2**63, -(2**63) - 1, 2**200, 1.5, True, [], {}, [None], {"id": None}]


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_hostile_values_in_samples(name: str, value: Any) -> None:
    update = load_update(name)
    kind = next(key for key in update if key != "update_id")
    for key in list(update[kind]):
        changed = copy.deepcopy(update)
        changed[kind][key] = value
        check_total(BOT, changed)
        inner = update[kind][key]
        if isinstance(inner, dict):
            for inner_key in inner:
                nested = copy.deepcopy(update)
                nested[kind][key][inner_key] = value
                check_total(BOT, nested)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
plausible = st.sampled_from([0, 1, -1, 777000, 1087968824, 2**63 - 1, 2**63, True, "", "x"]) | json_values
SAMPLE_UPDATES = [load_update(name) for name in sorted(EXPECTED)]


@PROPERTY_SETTINGS
@given(json_values)
def test_arbitrary_json_never_escapes(value: Any) -> None:
    check_total(BOT, value)


@PROPERTY_SETTINGS
@given(st.sampled_from(sorted(HANDLED_KINDS)), json_values)
def test_arbitrary_objects_of_handled_kinds_never_escape(kind: str, obj: Any) -> None:
    check_total(BOT, {"update_id": 1, kind: obj})


@PROPERTY_SETTINGS
@given(st.sampled_from(SAMPLE_UPDATES), st.data())
def test_mutated_samples_never_escape(sample: dict[str, Any], data: st.DataObject) -> None:
    update = copy.deepcopy(sample)
    kind = next(key for key in update if key != "update_id")
    targets = [update[kind]] + [value for value in update[kind].values() if isinstance(value, dict)]
    for target in targets:
        for key in list(target):
            action = data.draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
            if action == "drop":
                del target[key]
            elif action == "replace":
                target[key] = data.draw(plausible)
    check_total(BOT, update)
