"""JSON control endpoints under /_emulator/: set up bots, users and chats, move the clock, plan faults,
inspect what happened. What people do (write, ban, join, block) is control_people.py."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from .basics import Bot, Chat, ChatMember
from .keys import DELIVERY_KEY, STATE_KEY
from .state import TgState

routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.Response]]


def refusing_bad_input(handler: Handler) -> Handler:
    """Answer 404 for an unknown id, 400 for a missing or wrong field, 409 for what Telegram would not allow."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except KeyError as exc:
            raise web.HTTPNotFound(text=f"not found: {exc}") from None
        except (ValueError, TypeError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        except PermissionError as exc:
            raise web.HTTPConflict(text=str(exc)) from None

    return wrapped


async def body_of(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return data


def required(data: dict[str, Any], name: str) -> Any:
    if data.get(name) is None:
        raise ValueError(f"{name} is required")
    return data[name]


def state_of(request: web.Request) -> TgState:
    return request.app[STATE_KEY]


def bot_info(bot: Bot) -> dict[str, Any]:
    """What a client needs to talk to the bot."""
    return {
        "id": bot.id,
        "username": bot.user.username,
        "first_name": bot.user.first_name,
        "token": bot.token,
        "webhook_url": bot.webhook.url if bot.webhook else None,
    }


def chat_info(chat: Chat) -> dict[str, Any]:
    return {
        **chat.as_api(),
        "linked_chat_id": chat.linked_chat_id,
        "topics": {str(k): v for k, v in chat.topics.items()},
        "members": [member_info(m) for m in chat.members.values()],
    }


def member_info(member: ChatMember) -> dict[str, Any]:
    return member.as_api()


@routes.get("/_emulator/bots")
async def list_bots(request: web.Request) -> web.Response:
    return web.json_response([bot_info(b) for b in state_of(request).bots.values()])


@routes.post("/_emulator/bots")
@refusing_bad_input
async def create_bot(request: web.Request) -> web.Response:
    """{username?, first_name?, bot_id?, token?} -> {id, username, first_name, token, webhook_url}."""
    data = await body_of(request)
    bot = state_of(request).add_bot(
        data.get("username"),
        data.get("first_name") or "Test bot",
        bot_id=int(data["bot_id"]) if data.get("bot_id") else None,
        token=data.get("token"),
    )
    return web.json_response(bot_info(bot), status=201)


@routes.get("/_emulator/bots/{bot_id}/updates")
@refusing_bad_input
async def pending_updates(request: web.Request) -> web.Response:
    """The bot's updates not confirmed yet (by getUpdates' offset or a 2xx from its webhook)."""
    return web.json_response(state_of(request).pending_updates(int(request.match_info["bot_id"])))


@routes.post("/_emulator/users")
@refusing_bad_input
async def create_user(request: web.Request) -> web.Response:
    """{first_name, last_name?, username?, user_id?} -> the User object."""
    data = await body_of(request)
    user = state_of(request).add_user(
        data.get("first_name") or "Анна",
        data.get("last_name"),
        username=data.get("username"),
        user_id=int(data["user_id"]) if data.get("user_id") else None,
    )
    return web.json_response(user.as_api(), status=201)


@routes.post("/_emulator/chats")
@refusing_bad_input
async def create_chat(request: web.Request) -> web.Response:
    """{type: group|supergroup|channel, title, is_forum?, username?, creator_user_id?, chat_id?,
    member_user_ids?: [...], discussion_chat_id? (a channel's discussion supergroup)}."""
    data = await body_of(request)
    state = state_of(request)
    creator = state.users[int(data["creator_user_id"])] if data.get("creator_user_id") else None
    chat = state.add_chat(
        str(required(data, "type")),
        str(required(data, "title")),
        is_forum=bool(data.get("is_forum", False)),
        username=data.get("username"),
        creator=creator,
        chat_id=int(data["chat_id"]) if data.get("chat_id") else None,
    )
    for user_id in data.get("member_user_ids") or ():
        chat.members[int(user_id)] = ChatMember(state.users[int(user_id)], "member")
    if data.get("discussion_chat_id"):
        state.link_discussion(chat, state.chats[int(data["discussion_chat_id"])])
    return web.json_response(chat_info(chat), status=201)


@routes.get("/_emulator/chats/{chat_id}")
@refusing_bad_input
async def get_chat(request: web.Request) -> web.Response:
    return web.json_response(chat_info(state_of(request).chats[int(request.match_info["chat_id"])]))


@routes.get("/_emulator/chats/{chat_id}/messages")
@refusing_bad_input
async def chat_messages(request: web.Request) -> web.Response:
    """Every message of a group or channel, the bots' own included, each with `deleted`."""
    chat = state_of(request).chats[int(request.match_info["chat_id"])]
    return web.json_response([{**m.as_api(), "deleted": m.deleted} for m in chat.messages.values()])


@routes.post("/_emulator/chats/{chat_id}/topics")
@refusing_bad_input
async def create_topic(request: web.Request) -> web.Response:
    """{name, user_id?} -> {message_thread_id, name}; `user_id` (default: the creator) opens it."""
    data = await body_of(request)
    state = state_of(request)
    chat = state.chats[int(request.match_info["chat_id"])]
    if data.get("user_id"):
        opener = state.users[int(data["user_id"])]
    else:
        opener = next(m.user for m in chat.members.values() if m.status == "creator")
    thread_id = state.add_topic(chat, str(required(data, "name")), opener)
    return web.json_response({"message_thread_id": thread_id, "name": data["name"]}, status=201)


@routes.post("/_emulator/clock")
@refusing_bad_input
async def advance_clock(request: web.Request) -> web.Response:
    """{advance: seconds} -> {now}: the emulator's time moves forward (message ages, until dates)."""
    data = await body_of(request)
    return web.json_response({"now": state_of(request).advance_clock(float(data.get("advance", 0)))})


@routes.get("/_emulator/faults")
async def list_faults(request: web.Request) -> web.Response:
    return web.json_response(state_of(request).faults.as_json())


@routes.post("/_emulator/faults")
@refusing_bad_input
async def add_fault(request: web.Request) -> web.Response:
    """{method?, bot_id?, retry_after?, http_status?, lose_answer?, drop?, delay?, times?} (faults.Fault)."""
    fault = state_of(request).faults.add_from_json(await body_of(request))
    return web.json_response(vars(fault), status=201)


@routes.delete("/_emulator/faults")
async def clear_faults(request: web.Request) -> web.Response:
    state_of(request).faults.clear()
    return web.json_response({"cleared": True})


@routes.put("/_emulator/rate_limits")
@refusing_bad_input
async def set_rate_limits(request: web.Request) -> web.Response:
    """{enforce: bool}: refuse sends over Telegram's limits with 429, or only report them."""
    data = await body_of(request)
    state_of(request).enforce_rate_limits = bool(required(data, "enforce"))
    return web.json_response({"enforce": state_of(request).enforce_rate_limits})


@routes.get("/_emulator/rate_violations")
@refusing_bad_input
async def rate_violations(request: web.Request) -> web.Response:
    """Sends over the limits, of every bot or of ?bot_id=."""
    bot_id = request.query.get("bot_id")
    found = state_of(request).rate_violations(int(bot_id) if bot_id else None)
    return web.json_response([asdict(v) for v in found])


@routes.get("/_emulator/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    """Webhook delivery attempts so far."""
    return web.json_response([asdict(a) for a in request.app[DELIVERY_KEY].attempts])
