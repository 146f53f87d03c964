"""JSON control endpoints for what people do in Telegram (people.py): each answers what it created."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .basics import Chat, Message
from .control import body_of, refusing_bad_input, required, state_of
from .people import People

routes = web.RouteTableDef()


def _message(message: Message) -> dict[str, Any]:
    return message.as_api()


def _chat(request: web.Request) -> Chat:
    return state_of(request).chats[int(request.match_info["chat_id"])]


@routes.post("/_emulator/messages")
@refusing_bad_input
async def user_writes(request: web.Request) -> web.Response:
    """{user_id, text, bot_id (a private message) | chat_id (a group), reply_to?, message_thread_id?}."""
    data = await body_of(request)
    people = People(state_of(request))
    user_id = int(required(data, "user_id"))
    text = str(required(data, "text"))
    reply_to = int(data["reply_to"]) if data.get("reply_to") else None
    if data.get("chat_id"):
        thread_id = int(data["message_thread_id"]) if data.get("message_thread_id") else None
        message = people.writes_in_group(
            user_id, int(data["chat_id"]), text, reply_to=reply_to, thread_id=thread_id
        )
    else:
        message = people.writes_to_bot(user_id, int(required(data, "bot_id")), text, reply_to=reply_to)
    return web.json_response(_message(message), status=201)


@routes.post("/_emulator/edits")
@refusing_bad_input
async def user_edits(request: web.Request) -> web.Response:
    """{chat_id, message_id, text, bot_id? (for a private chat, whose chat_id is the user's id)}."""
    data = await body_of(request)
    state = state_of(request)
    chat_id = int(required(data, "chat_id"))
    if data.get("bot_id"):
        chat = state.private_chats[(int(data["bot_id"]), chat_id)]
    else:
        chat = state.chats[chat_id]
    message = chat.messages[int(required(data, "message_id"))]
    return web.json_response(_message(People(state).edits(message, str(required(data, "text")))))


@routes.post("/_emulator/channels/{chat_id}/posts")
@refusing_bad_input
async def channel_posts(request: web.Request) -> web.Response:
    """{text} -> {post, forward}: the post and its automatic forward into the discussion group."""
    data = await body_of(request)
    post, forward = People(state_of(request)).channel_posts(_chat(request), str(required(data, "text")))
    return web.json_response(
        {"post": _message(post), "forward": _message(forward) if forward else None}, status=201
    )


@routes.post("/_emulator/channels/{chat_id}/comments")
@refusing_bad_input
async def user_comments(request: web.Request) -> web.Response:
    """{user_id, post_id (the channel's message id), text}: a comment in the discussion group."""
    data = await body_of(request)
    message = People(state_of(request)).comments(
        int(required(data, "user_id")),
        _chat(request),
        int(required(data, "post_id")),
        str(required(data, "text")),
    )
    return web.json_response(_message(message), status=201)


@routes.post("/_emulator/chats/{chat_id}/join")
@refusing_bad_input
async def user_joins(request: web.Request) -> web.Response:
    """{user_id}: chat_member (left -> member) and the new_chat_members service message."""
    data = await body_of(request)
    message = People(state_of(request)).joins(int(required(data, "user_id")), _chat(request))
    return web.json_response(_message(message), status=201)


@routes.post("/_emulator/chats/{chat_id}/leave")
@refusing_bad_input
async def user_leaves(request: web.Request) -> web.Response:
    """{user_id}: chat_member (member -> left) and the left_chat_member service message."""
    data = await body_of(request)
    message = People(state_of(request)).leaves(int(required(data, "user_id")), _chat(request))
    return web.json_response(_message(message), status=201)


@routes.post("/_emulator/chats/{chat_id}/bots")
@refusing_bad_input
async def add_bot_to_chat(request: web.Request) -> web.Response:
    """{bot_id, admin?: bool, by_user_id?}: the bot joins (or becomes admin); my_chat_member to it."""
    data = await body_of(request)
    by = int(data["by_user_id"]) if data.get("by_user_id") else None
    chat = _chat(request)
    bot_id = int(required(data, "bot_id"))
    People(state_of(request)).adds_bot(chat, bot_id, admin=bool(data.get("admin", False)), by=by)
    return web.json_response(chat.members[bot_id].as_api(), status=201)


@routes.post("/_emulator/chats/{chat_id}/admin_actions")
@refusing_bad_input
async def admin_acts(request: web.Request) -> web.Response:
    """{action: ban|unban|restrict|promote|demote, user_id, admin_user_id? (absent: an anonymous admin),
    until_date?, permissions?, rights?} -> {old_chat_member, new_chat_member}."""
    data = await body_of(request)
    admin = int(data["admin_user_id"]) if data.get("admin_user_id") else None
    change = People(state_of(request)).admin_acts(
        admin,
        _chat(request),
        str(required(data, "action")),
        int(required(data, "user_id")),
        until_date=int(data.get("until_date") or 0),
        permissions=data.get("permissions"),
        rights=data.get("rights"),
    )
    return web.json_response(change, status=201)


@routes.post("/_emulator/bots/{bot_id}/block")
@refusing_bad_input
async def user_blocks_bot(request: web.Request) -> web.Response:
    """{user_id}: the user blocks the bot (my_chat_member, the bot kicked); sendMessage then answers 403."""
    data = await body_of(request)
    People(state_of(request)).blocks_bot(int(required(data, "user_id")), int(request.match_info["bot_id"]))
    return web.json_response({"blocked": True}, status=201)


@routes.post("/_emulator/bots/{bot_id}/unblock")
@refusing_bad_input
async def user_unblocks_bot(request: web.Request) -> web.Response:
    data = await body_of(request)
    People(state_of(request)).unblocks_bot(int(required(data, "user_id")), int(request.match_info["bot_id"]))
    return web.json_response({"blocked": False}, status=201)


@routes.post("/_emulator/business_connections")
@refusing_bad_input
async def business_connects(request: web.Request) -> web.Response:
    """{bot_id, user_id (the business account), can_reply?} -> the BusinessConnection object."""
    data = await body_of(request)
    connection = People(state_of(request)).connects_business(
        int(required(data, "user_id")),
        int(required(data, "bot_id")),
        can_reply=bool(data.get("can_reply", True)),
    )
    return web.json_response(connection.as_api(), status=201)


@routes.post("/_emulator/business_connections/{connection_id}/messages")
@refusing_bad_input
async def business_message(request: web.Request) -> web.Response:
    """{customer_id, text, from_owner?: bool, reply_to?}: business_message."""
    data = await body_of(request)
    message = People(state_of(request)).business_message(
        request.match_info["connection_id"],
        int(required(data, "customer_id")),
        str(required(data, "text")),
        from_owner=bool(data.get("from_owner", False)),
        reply_to=int(data["reply_to"]) if data.get("reply_to") else None,
    )
    return web.json_response(_message(message), status=201)


@routes.post("/_emulator/business_connections/{connection_id}/edits")
@refusing_bad_input
async def business_edit(request: web.Request) -> web.Response:
    """{customer_id, message_id, text}: edited_business_message."""
    data = await body_of(request)
    state = state_of(request)
    connection = state.business_connections[request.match_info["connection_id"]]
    chat = connection.chats[int(required(data, "customer_id"))]
    message = chat.messages[int(required(data, "message_id"))]
    return web.json_response(_message(People(state).edits(message, str(required(data, "text")))))


@routes.post("/_emulator/business_connections/{connection_id}/deletions")
@refusing_bad_input
async def business_deletions(request: web.Request) -> web.Response:
    """{customer_id, message_ids: [...]}: deleted_business_messages."""
    data = await body_of(request)
    ids = [int(i) for i in required(data, "message_ids")]
    People(state_of(request)).deletes_business_messages(
        request.match_info["connection_id"], int(required(data, "customer_id")), ids
    )
    return web.json_response({"deleted": ids}, status=201)
