"""Operator actions as Telegram Bot API calls: planned when asked, performed by the outbox worker.

- reply: ``sendMessage`` to the chat, answering the message replied to (``reply_parameters``, sent even if
  that message is gone), in its forum topic, and with the ``business_connection_id`` of a business chat;
- delete: ``deleteMessage``; Telegram refuses it 48 hours after the message was sent (the core says so
  before anyone tries: `DELETE_WINDOW`), and "message to delete not found" means it is already gone;
- ban and unban: ``banChatMember`` (``until_date``; 0 is forever) and ``unbanChatMember`` with
  ``only_if_banned``, so lifting a ban never removes a member who is not banned;
- mute: ``restrictChatMember`` without the right to send messages.

Closing is the proxy's own: Telegram has no "answered" mark and no read mark for bots. Telegram has no
idempotency key either: a ``sendMessage`` whose answer was lost may have been delivered, so it is not
sent again by itself; the operator is told to look in the chat first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from proxy.connectors.base import (
    ActionFailed,
    ActionKind,
    ActionRequest,
    ActionResult,
    PlannedCall,
    TokenNeed,
    UnsupportedAction,
)
from proxy.events import Channel, Direction, ItemCreated, ItemRef

from .bot_api import TelegramError
from .normalize import message_event

# Telegram lets a bot delete a message for 48 hours after it was sent.
DELETE_WINDOW = timedelta(hours=48)

METHODS: Mapping[ActionKind, frozenset[str]] = MappingProxyType(
    {
        ActionKind.REPLY: frozenset({"sendMessage"}),
        ActionKind.DELETE_COMMENT: frozenset({"deleteMessage"}),
        ActionKind.BAN: frozenset({"banChatMember"}),
        ActionKind.UNBAN: frozenset({"unbanChatMember"}),
        ActionKind.MUTE: frozenset({"restrictChatMember"}),
    }
)

# What Telegram's refusals mean for the operator (matched on the start of its description).
_ALREADY_GONE = "Bad Request: message to delete not found"
_BLOCKED = "Forbidden: bot was blocked by the user"


def _required(value: int | None, what: str) -> int:
    if value is None:
        raise UnsupportedAction(f"the action needs {what}")
    return value


def _chat_of(request: ActionRequest) -> int:
    """The chat an action happens in: the peer of a private or business chat, the group otherwise."""
    if request.channel in (Channel.MESSAGE, Channel.BUSINESS):
        return _required(request.object_id, "the chat")
    if request.channel == Channel.GROUP:
        return _required(request.owner_id, "the group")
    raise UnsupportedAction(f"Telegram has no {request.channel} items")


def _group_of(request: ActionRequest, what: str) -> int:
    if request.channel != Channel.GROUP:
        raise UnsupportedAction(f"{what} happens in a group only: a private chat has no members to {what}")
    return _required(request.owner_id, "the group")


def _member(request: ActionRequest) -> int:
    """The person an action on a group's member is about. A negative id is a chat writing as itself (a
    channel, or the group for an anonymous admin): no member to ban or mute (Telegram's
    banChatSenderChat is for those, and the proxy does not call it)."""
    user_id = _required(request.user_id, "the author")
    if user_id < 0:
        raise UnsupportedAction(
            "this author writes as a channel or as the group itself, not as a member: Telegram has no member "
            "to ban or mute"
        )
    return user_id


def _reply(request: ActionRequest) -> PlannedCall:
    params: dict[str, Any] = {"chat_id": _chat_of(request), "text": request.text}
    if request.reply_to:
        params["reply_parameters"] = {"message_id": request.reply_to, "allow_sending_without_reply": True}
    if request.channel == Channel.GROUP and request.object_id and request.reply_to is None:
        # A forum topic's conversation (no root message): the reply goes into the topic.
        params["message_thread_id"] = request.object_id
    if request.channel == Channel.BUSINESS:
        if not request.connection:
            raise UnsupportedAction("a business chat's reply needs its business connection")
        params["business_connection_id"] = request.connection
    return PlannedCall("sendMessage", params, TokenNeed.COMMUNITY)


def plan(request: ActionRequest) -> PlannedCall:
    """The Bot API call performing a generic action (every call is the bot's: its token)."""
    match request.kind:
        case ActionKind.REPLY:
            return _reply(request)
        case ActionKind.DELETE_COMMENT:
            if request.channel != Channel.GROUP:
                raise UnsupportedAction("only a group's messages are deleted through the proxy")
            params = {
                "chat_id": _group_of(request, "delete"),
                "message_id": _required(request.item_id, "the message"),
            }
            return PlannedCall("deleteMessage", params, TokenNeed.COMMUNITY)
        case ActionKind.BAN:
            params = {
                "chat_id": _group_of(request, "ban"),
                "user_id": _member(request),
            }
            params["until_date"] = int(request.until.timestamp()) if request.until is not None else 0
            return PlannedCall("banChatMember", params, TokenNeed.COMMUNITY)
        case ActionKind.UNBAN:
            params = {
                "chat_id": _group_of(request, "unban"),
                "user_id": _member(request),
                "only_if_banned": True,
            }
            return PlannedCall("unbanChatMember", params, TokenNeed.COMMUNITY)
        case ActionKind.MUTE:
            params = {
                "chat_id": _group_of(request, "mute"),
                "user_id": _member(request),
                "permissions": {"can_send_messages": False},
                "until_date": int(request.until.timestamp()) if request.until is not None else 0,
            }
            return PlannedCall("restrictChatMember", params, TokenNeed.COMMUNITY)
    raise UnsupportedAction(f"Telegram has no {request.kind} action: the proxy does it on its own")


def interpret(bot_id: int, call: PlannedCall, response: Any) -> ActionResult:
    """Telegram's answer; a sent message also as the event Telegram will never send the bot."""
    if call.method != "sendMessage" or not isinstance(response, dict):
        return ActionResult(response)
    message_id = response.get("message_id")
    kind = "business_message" if response.get("business_connection_id") else "message"
    event = message_event(bot_id, f"tg:sent:{call.params.get('chat_id')}:{message_id}", kind, response)
    if not isinstance(event, ItemCreated) or not isinstance(message_id, int):
        return ActionResult(response)
    # The bot's own message: the community answering, whatever its sender field says.
    event = dataclasses.replace(event, direction=Direction.OUT, from_community=True, author_id=-bot_id)
    ref: ItemRef = event.ref
    return ActionResult(response, {"message_id": message_id}, ref.key, events=((response, event),))


def failure(call: PlannedCall, exc: TelegramError) -> ActionFailed | None:
    """What a refusal means; None when the action is done anyway (the message was already gone)."""
    description = exc.description
    if call.method == "deleteMessage" and description.startswith(_ALREADY_GONE):
        return None
    if description.startswith(_BLOCKED):
        message = "The user blocked the bot: Telegram delivers nothing to them until they unblock it"
        return ActionFailed(message, code=exc.code, transient=False, detail=str(exc))
    if call.method == "sendMessage" and exc.maybe_done:
        # No idempotency key: sent again, the customer could get it twice.
        message = "Telegram did not answer: the reply may have been delivered; look in the chat before sending it again"
        return ActionFailed(message, code=exc.code, transient=False, detail=str(exc))
    return ActionFailed(
        exc.operator_message,
        code=exc.code,
        transient=exc.transient,
        detail=str(exc),
        retry_after=exc.retry_after,
    )
