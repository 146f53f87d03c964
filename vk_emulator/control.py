"""JSON control endpoints under /_emulator/: set up the world, act as members, inject faults, inspect."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from .keys import DELIVERY_KEY, STATE_KEY
from .scenario import Scenario
from .state import COMMENT_KINDS, CallbackConfig, Comment, Group, Message, Target, VkFault

routes = web.RouteTableDef()


def group_info(group: Group) -> dict[str, Any]:
    """What a client needs to talk to a community."""
    return {
        "id": group.id,
        "name": group.name,
        "community_token": group.community_token,
        "admin_token": group.admin_token,
        "admin_user_id": group.admin_user_id,
        "callback": asdict(group.callback) if group.callback else None,
    }


def _comment_info(comment: Comment) -> dict[str, Any]:
    return {"kind": comment.kind, **comment.as_api_item(), "target_id": comment.target_id}


def _message_info(message: Message) -> dict[str, Any]:
    return message.as_vk()


def _target_info(target: Target) -> dict[str, Any]:
    return {"kind": target.kind, "id": target.id, "owner_id": target.owner_id, "text": target.text}


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return data


def _group(request: web.Request) -> Group:
    state = request.app[STATE_KEY]
    try:
        return state.groups[int(request.match_info["group_id"])]
    except (KeyError, ValueError):
        raise web.HTTPNotFound(text="no such group") from None


def _callback(data: dict[str, Any]) -> CallbackConfig | None:
    url = data.get("callback_url") or data.get("url")
    if not url:
        return None
    return CallbackConfig(url, data.get("secret"), data.get("confirmation") or "c0nf1rm")


@routes.get("/_emulator/groups")
async def list_groups(request: web.Request) -> web.Response:
    """Every community with its tokens."""
    return web.json_response([group_info(g) for g in request.app[STATE_KEY].groups.values()])


@routes.post("/_emulator/groups")
async def create_group(request: web.Request) -> web.Response:
    """Create a community: {name?, callback_url?, secret?, confirmation?}."""
    data = await _body(request)
    group = request.app[STATE_KEY].add_group(data.get("name") or "Test community", callback=_callback(data))
    return web.json_response(group_info(group), status=201)


@routes.put("/_emulator/groups/{group_id}/callback")
async def set_callback(request: web.Request) -> web.Response:
    """Configure or remove (no url) the community's callback server: {url, secret?, confirmation?}."""
    group = _group(request)
    group.callback = _callback(await _body(request))
    return web.json_response(group_info(group))


@routes.post("/_emulator/groups/{group_id}/confirm")
async def confirm_callback(request: web.Request) -> web.Response:
    """Send the confirmation request to the callback server and report whether it answered the code."""
    group = _group(request)
    return web.json_response({"confirmed": await request.app[DELIVERY_KEY].confirm(group.id)})


@routes.get("/_emulator/groups/{group_id}/events")
async def list_events(request: web.Request) -> web.Response:
    """The community's retained events, optionally ?type=..."""
    group = _group(request)
    return web.json_response(request.app[STATE_KEY].events(group.id, request.query.get("type")))


@routes.post("/_emulator/groups/{group_id}/targets")
async def create_target(request: web.Request) -> web.Response:
    """Create a post/photo/video/market item/board topic: {kind, text}."""
    group = _group(request)
    data = await _body(request)
    kind = data.get("kind", "wall")
    if kind not in COMMENT_KINDS:
        raise web.HTTPBadRequest(text=f"kind must be one of {COMMENT_KINDS}")
    target = request.app[STATE_KEY].add_target(group, kind, data.get("text", ""))
    return web.json_response(_target_info(target), status=201)


@routes.post("/_emulator/users")
async def create_user(request: web.Request) -> web.Response:
    """Create a user: {first_name, last_name}."""
    data = await _body(request)
    user = request.app[STATE_KEY].add_user(data.get("first_name", "Иван"), data.get("last_name", "Петров"))
    return web.json_response(user.as_vk(), status=201)


@routes.post("/_emulator/groups/{group_id}/messages")
async def member_message(request: web.Request) -> web.Response:
    """A member writes to the community: {user_id, text}."""
    group = _group(request)
    data = await _body(request)
    try:
        message = Scenario(request.app[STATE_KEY]).member_writes_message(
            group, int(data["user_id"]), data["text"]
        )
    except (KeyError, ValueError, TypeError):
        raise web.HTTPBadRequest(text="user_id and text are required") from None
    return web.json_response(_message_info(message), status=201)


@routes.post("/_emulator/groups/{group_id}/comments")
async def member_comment(request: web.Request) -> web.Response:
    """A member comments: {user_id, target_id, text, kind?="wall", reply_to?}."""
    group = _group(request)
    data = await _body(request)
    kind = data.get("kind", "wall")
    if kind not in COMMENT_KINDS:
        raise web.HTTPBadRequest(text=f"kind must be one of {COMMENT_KINDS}")
    try:
        comment = Scenario(request.app[STATE_KEY]).member_comments(
            group, int(data["user_id"]), int(data["target_id"]), data["text"], data.get("reply_to"), kind=kind
        )
    except (KeyError, ValueError, TypeError):
        raise web.HTTPBadRequest(text="user_id, target_id and text are required") from None
    except VkFault as fault:
        raise web.HTTPBadRequest(text=fault.message) from None
    return web.json_response(_comment_info(comment), status=201)


@routes.get("/_emulator/faults")
async def list_faults(request: web.Request) -> web.Response:
    """Faults still planned."""
    return web.json_response(request.app[STATE_KEY].faults.as_json())


@routes.post("/_emulator/faults")
async def add_fault(request: web.Request) -> web.Response:
    """Plan a fault: {method?, token?, error_code?, error_msg?, delay?, drop?, http_status?, times?}
    or {longpoll_failed: 1|2|3, group_id?, times?}, {longpoll_drop: close|reset|truncate, delay?, group_id?,
    times?}, {longpoll_delay: seconds, ...} or {longpoll_http_status: 502, ...}."""
    try:
        fault = request.app[STATE_KEY].faults.add_from_json(await _body(request))
    except (ValueError, TypeError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return web.json_response(vars(fault), status=201)


@routes.delete("/_emulator/faults")
async def clear_faults(request: web.Request) -> web.Response:
    """Forget all planned faults."""
    request.app[STATE_KEY].faults.clear()
    return web.json_response({"cleared": True})


@routes.get("/_emulator/calls")
async def call_stats(request: web.Request) -> web.Response:
    """Requests made with ?token=...: count and the most within any ?window= seconds (default 1)."""
    state = request.app[STATE_KEY]
    token = request.query.get("token", "")
    try:
        window = float(request.query.get("window", "1"))
    except ValueError:
        raise web.HTTPBadRequest(text="window must be a number") from None
    calls = state.calls.get(token, ())
    return web.json_response(
        {
            "count": len(calls),
            "rejected": sum(1 for c in calls if c.error_code == 6),
            "max_in_window": state.max_calls_in_window(token, window),
        }
    )


@routes.get("/_emulator/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    """Callback delivery attempts so far."""
    return web.json_response([asdict(a) for a in request.app[DELIVERY_KEY].attempts])
