"""The Telegram world's plain data: users, bots, chats, members, messages, and their Bot API shapes."""

from __future__ import annotations

import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

# Telegram's service account that authors the automatic forwards of channel posts into discussion groups.
TELEGRAM_SERVICE_USER_ID = 777000
# Shown as `from` of what an anonymous group admin does.
GROUP_ANONYMOUS_BOT_ID = 1087968824
# Bot API: "A message can only be deleted if it was sent less than 48 hours ago."
DELETE_WINDOW_SECONDS = 48 * 3600
MAX_TEXT_LENGTH = 4096
MAX_KEPT_UPDATES = 10_000

UPDATE_KINDS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
# Bot API, getUpdates.allowed_updates: an empty list means every kind except these three.
NOT_SENT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
DEFAULT_ALLOWED = frozenset(UPDATE_KINDS) - NOT_SENT_BY_DEFAULT

MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")
PRESENT_STATUSES = frozenset({"creator", "administrator", "member", "restricted"})

PERMISSION_FIELDS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)
ADMIN_RIGHT_FIELDS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_manage_topics",
)
FULL_ADMIN_RIGHTS = {name: name != "can_promote_members" for name in ADMIN_RIGHT_FIELDS}


class TgError(Exception):
    """A refusal the Bot API answers as `{"ok": false, "error_code": code, "description": ...}`."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def as_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(what: str) -> TgError:
    return TgError(400, f"Bad Request: {what}")


def forbidden(what: str) -> TgError:
    return TgError(403, f"Forbidden: {what}")


def too_many_requests(retry_after: int) -> TgError:
    return TgError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


@dataclass(frozen=True)
class TgUser:
    """A Telegram account (a person or a bot)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    is_bot: bool = False

    def as_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        return data


TELEGRAM_SERVICE_USER = TgUser(TELEGRAM_SERVICE_USER_ID, "Telegram")
GROUP_ANONYMOUS_BOT = TgUser(GROUP_ANONYMOUS_BOT_ID, "Group", username="GroupAnonymousBot", is_bot=True)


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class Bot:
    """A bot: its account, token, webhook and the updates it has not confirmed yet."""

    user: TgUser
    token: str
    webhook: WebhookConfig | None = None
    allowed_updates: list[str] = field(default_factory=list)
    pending: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_KEPT_UPDATES))
    next_update_id: int = 0

    @property
    def id(self) -> int:
        return self.user.id

    def allows(self, kind: str) -> bool:
        return kind in self.allowed_updates if self.allowed_updates else kind in DEFAULT_ALLOWED


def new_token(bot_id: int) -> str:
    return f"{bot_id}:{secrets.token_urlsafe(26)[:35]}"


@dataclass
class ChatMember:
    """One user's standing in a chat."""

    user: TgUser
    status: str = "member"
    until_date: int = 0
    permissions: dict[str, bool] = field(default_factory=dict)
    rights: dict[str, bool] = field(default_factory=dict)
    is_member: bool = True

    def copy(self) -> ChatMember:
        return ChatMember(
            self.user, self.status, self.until_date, dict(self.permissions), dict(self.rights), self.is_member
        )

    def as_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"user": self.user.as_api(), "status": self.status}
        if self.status == "creator":
            data["is_anonymous"] = False
        elif self.status == "administrator":
            data.update({"can_be_edited": False, "is_anonymous": False})
            data.update({name: bool(self.rights.get(name)) for name in ADMIN_RIGHT_FIELDS})
        elif self.status == "restricted":
            data.update({"is_member": self.is_member, "until_date": self.until_date})
            data.update({name: bool(self.permissions.get(name)) for name in PERMISSION_FIELDS})
        elif self.status == "kicked":
            data["until_date"] = self.until_date
        return data


@dataclass
class Chat:
    """A private chat (with `user`), a group, a supergroup or a channel, with its messages and members."""

    id: int
    type: str
    title: str | None = None
    user: TgUser | None = None
    username: str | None = None
    is_forum: bool = False
    linked_chat_id: int | None = None
    messages: dict[int, Message] = field(default_factory=dict)
    members: dict[int, ChatMember] = field(default_factory=dict)
    topics: dict[int, str] = field(default_factory=dict)
    next_message_id: int = 1

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")

    def as_api(self) -> dict[str, Any]:
        if self.user is not None:
            data = self.user.as_api()
            del data["is_bot"]
            data["type"] = "private"
            return data
        data = {"id": self.id, "title": self.title}
        if self.username:
            data["username"] = self.username
        if self.is_forum:
            data["is_forum"] = True
        data["type"] = self.type
        return data

    def member(self, user: TgUser) -> ChatMember:
        """The user's standing; someone never seen in the chat has left it."""
        return self.members.get(user.id) or ChatMember(user, "left", is_member=False)


@dataclass
class Message:
    """A message as the chat keeps it; `as_api` gives the Bot API Message."""

    message_id: int
    chat: Chat
    date: int
    from_user: TgUser | None
    text: str | None = None
    entities: list[dict[str, Any]] | None = None
    sender_chat: Chat | None = None
    reply_to: Message | None = None
    message_thread_id: int | None = None
    business_connection_id: str | None = None
    sender_business_bot: TgUser | None = None
    is_automatic_forward: bool = False
    forward_origin: dict[str, Any] | None = None
    service: dict[str, Any] = field(default_factory=dict)
    edit_date: int | None = None
    deleted: bool = False

    def as_api(self, *, nested: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"message_id": self.message_id}
        if self.from_user is not None:
            data["from"] = self.from_user.as_api()
        if self.sender_chat is not None:
            data["sender_chat"] = self.sender_chat.as_api()
        data["chat"] = self.chat.as_api()
        data["date"] = self.date
        if self.business_connection_id:
            data["business_connection_id"] = self.business_connection_id
        if self.sender_business_bot is not None:
            data["sender_business_bot"] = self.sender_business_bot.as_api()
        if self.message_thread_id is not None:
            data["message_thread_id"] = self.message_thread_id
            if self.chat.is_forum:
                data["is_topic_message"] = True
        if self.forward_origin is not None:
            data["forward_origin"] = self.forward_origin
        if self.is_automatic_forward:
            data["is_automatic_forward"] = True
        # Telegram nests one level only: a replied-to message carries no reply_to_message of its own.
        if self.reply_to is not None and not nested:
            data["reply_to_message"] = self.reply_to.as_api(nested=True)
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        data.update(self.service)
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        return data


@dataclass
class BusinessConnection:
    """A business account (`user`) connected to a bot; its chats with customers live here."""

    id: str
    bot_id: int
    user: TgUser
    date: int
    can_reply: bool = True
    is_enabled: bool = True
    chats: dict[int, Chat] = field(default_factory=dict)

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user.as_api(),
            "user_chat_id": self.user.id,
            "date": self.date,
            "can_reply": self.can_reply,
            "is_enabled": self.is_enabled,
        }


_ENTITY_PATTERNS = (
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?")),
    ("url", re.compile(r"https?://[^\s]+")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}")),
)


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def find_entities(text: str) -> list[dict[str, Any]]:
    """Commands, links and mentions, with offsets in UTF-16 code units as Telegram counts them."""
    found = []
    for kind, pattern in _ENTITY_PATTERNS:
        for match in pattern.finditer(text):
            found.append(
                {
                    "offset": _utf16_length(text[: match.start()]),
                    "length": _utf16_length(match.group()),
                    "type": kind,
                }
            )
    found.sort(key=lambda entity: entity["offset"])
    return found
