"""The Telegram samples (tests/fixtures/telegram) and what each normalizes to, for tests/test_telegram_normalize.py."""

import json
from datetime import UTC, datetime
from typing import Any

from proxy.events import (
    AuthorBlocked,
    AuthorRestricted,
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
        # A group's message is keyed by its chat and id alone; its thread hangs on the post (310).
        f"group:{DISCUSSION}_0:311",
        f"group:{DISCUSSION}_310:311",
    ),
    "forum_topic_message-1.json": (
        ItemCreated,
        incoming(5000000006, reply_to=None, reply_to_user=None),
        "group:-1001700000003_0:88",
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
        "group:-1002271335705_0:327",
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
        "group:-1002271335705_0:327",
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

# Group replies whose conversation is the replied message's (ThreadRef.follows_reply); no other sample's is.
FOLLOWS_REPLY = {"edited_message-1.json", "message_supergroup_reply_command-1.json"}
