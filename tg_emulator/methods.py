"""The Bot API methods the emulator answers, with Telegram's refusals and their wording.

Each method takes a Call and returns the `result`, or raises TgError. getUpdates' waiting (long poll)
is api.py's; here it answers at once. What the Bot API documentation states is followed exactly
(deletion within 48 hours, until_date outside 30 seconds to 366 days meaning forever, allowed_updates);
an error wording not seen in a captured answer is marked as such beside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .basics import (
    DELETE_WINDOW_SECONDS,
    MAX_TEXT_LENGTH,
    PERMISSION_FIELDS,
    PRESENT_STATUSES,
    UPDATE_KINDS,
    Bot,
    Chat,
    ChatMember,
    Message,
    TgError,
    TgUser,
    WebhookConfig,
    bad_request,
    forbidden,
    too_many_requests,
)
from .params import Params
from .rates import Send
from .state import TgState

RESTRICT_RIGHTS = "not enough rights to restrict/unrestrict chat member"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Bot API: an until_date closer than 30 seconds or further than 366 days means "forever".
UNTIL_MIN_SECONDS = 30
UNTIL_MAX_SECONDS = 366 * 86400


@dataclass
class Call:
    state: TgState
    bot: Bot
    params: Params


@dataclass
class Described:
    """A result Telegram answers with a `description` beside it (setWebhook, deleteWebhook)."""

    result: Any
    description: str


# --- helpers -------------------------------------------------------------------------------------------


def _chat(call: Call) -> Chat:
    chat = call.state.find_chat(call.bot, call.params.chat_id())
    if chat is None:
        raise bad_request("chat not found")
    if chat.type != "private" and chat.member(call.bot.user).status not in PRESENT_STATUSES:
        raise bad_request("chat not found")
    return chat


def _user(call: Call) -> TgUser:
    user_id = call.params.int("user_id", error=bad_request("invalid user_id specified"))
    if user_id is None or user_id <= 0:
        raise bad_request("invalid user_id specified")
    user = call.state.users.get(user_id)
    if user is None:
        raise bad_request("user not found")
    return user


def _current(state: TgState, chat: Chat, user: TgUser) -> ChatMember:
    """The member's standing now: a ban or restriction whose until_date has passed has ended."""
    member = chat.member(user)
    if member.until_date and member.until_date <= state.now():
        if member.status == "kicked":
            member = ChatMember(user, "left", is_member=False)
        elif member.status == "restricted":
            member = ChatMember(user, "member" if member.is_member else "left", is_member=member.is_member)
        chat.members[user.id] = member
    return member


def _bot_can(chat: Chat, bot: Bot, right: str) -> bool:
    member = chat.member(bot.user)
    return member.status == "creator" or (
        member.status == "administrator" and member.rights.get(right, False)
    )


def _until(state: TgState, value: int | None) -> int:
    if not value:
        return 0
    ahead = value - state.now()
    return value if UNTIL_MIN_SECONDS <= ahead <= UNTIL_MAX_SECONDS else 0


def _member_target(call: Call, chat: Chat) -> tuple[TgUser, ChatMember]:
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats")  # wording not captured
    if not _bot_can(chat, call.bot, "can_restrict_members"):
        raise bad_request(RESTRICT_RIGHTS)
    user = _user(call)
    member = _current(call.state, chat, user)
    if member.status == "creator":
        raise bad_request("can't remove chat owner")
    if member.status == "administrator":
        raise bad_request("user is an administrator of the chat")
    return user, member


# --- identity and updates ------------------------------------------------------------------------------


def get_me(call: Call) -> dict[str, Any]:
    return {
        **call.bot.user.as_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": True,
        "has_main_web_app": False,
    }


def _allowed_updates(call: Call) -> None:
    kinds = call.params.json("allowed_updates", "allowed updates")
    if kinds is None:
        return
    if not isinstance(kinds, list) or not all(isinstance(kind, str) for kind in kinds):
        raise bad_request("can't parse allowed updates JSON array")  # wording not captured
    call.bot.allowed_updates = [kind for kind in kinds if kind in UPDATE_KINDS]


def set_webhook(call: Call) -> Described:
    url = call.params.text("url", "") or ""
    if not url:
        return delete_webhook(call)
    if not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = call.params.text("secret_token")
    if secret is not None and not SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    _allowed_updates(call)
    if call.params.bool("drop_pending_updates"):
        call.bot.pending.clear()
    already = call.bot.webhook is not None and call.bot.webhook.url == url
    call.bot.webhook = WebhookConfig(url, secret, call.params.int("max_connections", 40) or 40)
    call.state.notify(call.bot)
    return Described(True, "Webhook is already set" if already else "Webhook was set")


def delete_webhook(call: Call) -> Described:
    if call.params.bool("drop_pending_updates"):
        call.bot.pending.clear()
    had = call.bot.webhook is not None
    call.bot.webhook = None
    return Described(True, "Webhook was deleted" if had else "Webhook is already deleted")


def get_webhook_info(call: Call) -> dict[str, Any]:
    webhook = call.bot.webhook
    info: dict[str, Any] = {
        "url": webhook.url if webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(call.bot.pending),
    }
    if webhook is not None:
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
        info["max_connections"] = webhook.max_connections
        if call.bot.allowed_updates:
            info["allowed_updates"] = list(call.bot.allowed_updates)
    return info


def get_updates(call: Call) -> list[dict[str, Any]]:
    if call.bot.webhook is not None:
        raise TgError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
        )
    _allowed_updates(call)
    limit = min(max(call.params.int("limit", 100) or 100, 1), 100)
    return call.state.take_updates(call.bot, call.params.int("offset", 0) or 0, limit)


# --- messages ------------------------------------------------------------------------------------------


def _reply_target(call: Call, chat: Chat) -> Message | None:
    reply = call.params.json("reply_parameters", "reply parameters")
    if reply is None and call.params.has("reply_to_message_id"):
        reply = {"message_id": call.params.int("reply_to_message_id")}
    if reply is None:
        return None
    if not isinstance(reply, dict) or "message_id" not in reply:
        raise bad_request("can't parse reply parameters JSON object")
    try:
        message_id = int(reply["message_id"])
    except (TypeError, ValueError):
        raise bad_request("can't parse reply parameters JSON object") from None
    replied = call.state.visible_message(chat, message_id)
    if replied is None and not reply.get("allow_sending_without_reply"):
        raise bad_request("message to be replied not found")
    return replied


def _check_can_send(call: Call, chat: Chat) -> None:
    if chat.type == "private":
        if (call.bot.id, chat.id) in call.state.blocked:
            raise forbidden("bot was blocked by the user")
        return
    member = _current(call.state, chat, call.bot.user)
    if chat.type == "channel" and member.status != "creator" and not member.rights.get("can_post_messages"):
        raise bad_request("need administrator rights in the channel chat")
    if member.status == "restricted" and not member.permissions.get("can_send_messages"):
        raise bad_request("not enough rights to send text messages to the chat")


def _check_rate(call: Call, chat: Chat) -> None:
    if not call.state.enforce_rate_limits:
        return
    wait = call.state.send_log.retry_after(call.bot.id, Send(call.state.time(), chat.id, chat.is_group))
    if wait is not None:
        raise too_many_requests(wait)


def send_message(call: Call) -> dict[str, Any]:
    connection_id = call.params.text("business_connection_id")
    if connection_id:
        return _send_business_message(call, connection_id)
    chat_ref = call.params.chat_id()
    chat = call.state.find_chat(call.bot, chat_ref)
    if chat is None:
        user = call.state.users.get(chat_ref) if isinstance(chat_ref, int) else None
        if user is not None and not user.is_bot:
            raise forbidden("bot can't initiate conversation with a user")
        raise bad_request("chat not found")
    if chat.type != "private" and call.bot.id not in chat.members:
        raise bad_request("chat not found")
    if chat.type != "private" and chat.member(call.bot.user).status not in PRESENT_STATUSES:
        if chat.member(call.bot.user).status == "kicked":
            raise forbidden(f"bot was kicked from the {chat.type} chat")
        raise forbidden(f"bot is not a member of the {chat.type} chat")
    text = _text(call)
    _check_can_send(call, chat)
    replied = _reply_target(call, chat)
    thread_id = call.params.int("message_thread_id")
    if chat.is_forum and thread_id is not None and thread_id not in chat.topics:
        raise bad_request("message thread not found")
    if thread_id is None and replied is not None:
        thread_id = replied.message_thread_id
    if chat.is_forum and thread_id is not None and replied is None:
        replied = chat.messages[thread_id]
    _check_rate(call, chat)
    message = call.state.add_message(
        chat, call.bot.user, text, reply_to=replied, thread_id=thread_id if chat.is_group else None
    )
    call.state.record_send(call.bot, chat)
    # Telegram sends no update for a bot's own message: the chat shows it, the bot only gets this answer.
    return message.as_api()


def _text(call: Call) -> str:
    text = call.params.text("text", "") or ""
    if not text.strip():
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return text


def _send_business_message(call: Call, connection_id: str) -> dict[str, Any]:
    connection = call.state.business_connections.get(connection_id)
    if connection is None or connection.bot_id != call.bot.id:
        raise bad_request("business connection not found")  # wording not captured
    chat_ref = call.params.chat_id()
    customer = call.state.users.get(chat_ref) if isinstance(chat_ref, int) else None
    if customer is None or customer.id not in connection.chats:
        raise bad_request("chat not found")
    if not connection.can_reply or not connection.is_enabled:
        raise forbidden("bot can't reply in the business chat")  # wording not captured
    text = _text(call)
    chat = connection.chats[customer.id]
    replied = _reply_target(call, chat)
    _check_rate(call, chat)
    message = call.state.add_message(
        chat,
        connection.user,
        text,
        reply_to=replied,
        business_connection_id=connection.id,
        sender_business_bot=call.bot.user,
    )
    call.state.record_send(call.bot, chat)
    return message.as_api()


def delete_message(call: Call) -> bool:
    chat = _chat(call)
    message_id = call.params.int("message_id", error=bad_request("message identifier is not specified"))
    message = call.state.visible_message(chat, message_id or 0)
    if message is None:
        raise bad_request("message to delete not found")
    if message.date <= call.state.now() - DELETE_WINDOW_SECONDS:
        raise bad_request("message can't be deleted")
    own = message.from_user is not None and message.from_user.id == call.bot.id
    if chat.type != "private" and not own and not _bot_can(chat, call.bot, "can_delete_messages"):
        raise bad_request("message can't be deleted")
    message.deleted = True
    return True


# --- members -------------------------------------------------------------------------------------------


def ban_chat_member(call: Call) -> bool:
    chat = _chat(call)
    user, _ = _member_target(call, chat)
    until = _until(call.state, call.params.int("until_date"))
    # Bot API: revoke_messages is always true for basic groups.
    if call.params.bool("revoke_messages") or chat.type == "group":
        for message in chat.messages.values():
            if message.from_user is not None and message.from_user.id == user.id:
                message.deleted = True
    call.state.change_member(chat, user, "kicked", actor=call.bot.user, until_date=until)
    return True


def unban_chat_member(call: Call) -> bool:
    chat = _chat(call)
    user, member = _member_target(call, chat)
    if member.status == "kicked" or (
        member.status in PRESENT_STATUSES and not call.params.bool("only_if_banned")
    ):
        # Bot API: without only_if_banned, a member is removed too, "but will be able to join".
        call.state.change_member(chat, user, "left", actor=call.bot.user)
    return True


def restrict_chat_member(call: Call) -> bool:
    chat = _chat(call)
    if chat.type == "group":
        raise bad_request("method is available only for supergroups")
    user, member = _member_target(call, chat)
    permissions = call.params.json("permissions", "ChatPermissions")
    if not isinstance(permissions, dict):
        raise bad_request("can't parse ChatPermissions JSON object")
    allowed = {name: bool(permissions.get(name, False)) for name in PERMISSION_FIELDS}
    until = _until(call.state, call.params.int("until_date"))
    if all(allowed.values()) and member.status in PRESENT_STATUSES:
        call.state.change_member(chat, user, "member", actor=call.bot.user)
    else:
        call.state.change_member(
            chat, user, "restricted", actor=call.bot.user, until_date=until, permissions=allowed
        )
    return True


def get_chat_member(call: Call) -> dict[str, Any]:
    chat = _chat(call)
    return _current(call.state, chat, _user(call)).as_api()


def get_chat(call: Call) -> dict[str, Any]:
    chat = _chat(call)
    info = chat.as_api()
    info.update({"accent_color_id": 0, "max_reaction_count": 11})
    if chat.linked_chat_id is not None:
        info["linked_chat_id"] = chat.linked_chat_id
    if chat.is_group:
        info["permissions"] = {name: True for name in PERMISSION_FIELDS}
    return info


METHODS: MappingProxyType[str, Callable[[Call], Any]] = MappingProxyType(
    {
        "getMe": get_me,
        "setWebhook": set_webhook,
        "deleteWebhook": delete_webhook,
        "getWebhookInfo": get_webhook_info,
        "getUpdates": get_updates,
        "sendMessage": send_message,
        "deleteMessage": delete_message,
        "banChatMember": ban_chat_member,
        "unbanChatMember": unban_chat_member,
        "restrictChatMember": restrict_chat_member,
        "getChatMember": get_chat_member,
        "getChat": get_chat,
    }
)
# Telegram matches method names case-insensitively.
METHODS_BY_LOWER_NAME = MappingProxyType({name.lower(): name for name in METHODS})
