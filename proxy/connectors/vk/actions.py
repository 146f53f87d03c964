"""Operator actions on VK: generic requests mapped to VK methods and parameters, performed with VkClient.

Which token each method needs follows VK (docs/architecture.md, "VK facts"): the community token sends
messages and posts comments as the community and moderates board topics; deleting and restoring other
comments and banning need a community admin's user token.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import requests

from proxy.connectors.base import (
    ActionFailed,
    ActionKind,
    ActionRequest,
    ActionResult,
    PlannedCall,
    TokenNeed,
    UnsupportedAction,
)
from proxy.events import Channel, ItemRef

from .client import VkApiError, VkClient, VkError, VkRuntime, needs_user_token

# Per comment channel: the method prefix and the name of the commented object's id parameter.
_COMMENT_APIS: dict[str, tuple[str, str]] = {
    Channel.WALL: ("wall", "post_id"),
    Channel.PHOTO: ("photos", "photo_id"),
    Channel.VIDEO: ("video", "video_id"),
    Channel.MARKET: ("market", "item_id"),
    Channel.BOARD: ("board", "topic_id"),
}


def _comment_methods(verb: str) -> frozenset[str]:
    return frozenset(f"{prefix}.{verb}" for prefix, _ in _COMMENT_APIS.values())


# What each kind of action is planned as (Connector.methods).
METHODS: Mapping[ActionKind, frozenset[str]] = MappingProxyType(
    {
        ActionKind.REPLY: frozenset({"messages.send"}) | _comment_methods("createComment"),
        ActionKind.DELETE_COMMENT: _comment_methods("deleteComment"),
        ActionKind.RESTORE_COMMENT: _comment_methods("restoreComment"),
        ActionKind.BAN: frozenset({"groups.ban"}),
        ActionKind.UNBAN: frozenset({"groups.unban"}),
        ActionKind.MARK_ANSWERED: frozenset({"messages.markAsAnsweredConversation"}),
        ActionKind.MARK_READ: frozenset({"messages.markAsRead"}),
    }
)


def _required(value: int | None, what: str) -> int:
    if value is None:
        raise UnsupportedAction(f"the action needs {what}")
    return value


def _comment_api(channel: str) -> tuple[str, str]:
    try:
        return _COMMENT_APIS[channel]
    except KeyError:
        raise UnsupportedAction(f"{channel} items are not comments") from None


def _target(request: ActionRequest, prefix: str, target_param: str) -> dict[str, Any]:
    """Where a comment lives: board methods name the group, the others the owner."""
    object_id = _required(request.object_id, "the commented object")
    if prefix == "board":
        return {"group_id": request.group_id, target_param: object_id}
    return {"owner_id": _required(request.owner_id, "the owner"), target_param: object_id}


def _token_for(method: str) -> TokenNeed:
    return TokenNeed.ADMIN if needs_user_token(method) else TokenNeed.COMMUNITY


def _reply(request: ActionRequest) -> PlannedCall:
    key = _required_key(request)
    if request.channel == Channel.MESSAGE:
        params: dict[str, Any] = {
            "peer_id": _required(request.object_id, "the dialog's peer"),
            "message": request.text,
            "random_id": int(key),
        }
        if request.reply_to:
            params["reply_to"] = request.reply_to
        return PlannedCall("messages.send", params, TokenNeed.COMMUNITY)
    prefix, target_param = _comment_api(request.channel)
    params = _target(request, prefix, target_param)
    params["message"] = request.text
    # wall.createComment takes the community's id in from_group; the other methods take a 1/0 flag.
    params["from_group"] = request.group_id if prefix == "wall" else 1
    if request.reply_to and prefix != "board":  # board topics are flat: no reply_to_comment
        params["reply_to_comment"] = request.reply_to
    params["guid"] = key
    method = f"{prefix}.createComment"
    return PlannedCall(method, params, _token_for(method))


def _required_key(request: ActionRequest) -> str:
    if not request.idempotency_key:
        raise UnsupportedAction("a reply needs an idempotency key (random_id or guid)")
    return request.idempotency_key


def _moderate(request: ActionRequest, verb: str) -> PlannedCall:
    prefix, target_param = _comment_api(request.channel)
    params = _target(request, prefix, target_param)
    if prefix != "board":
        params.pop(target_param)  # wall/photos/video/market delete by owner and comment id only
    params["comment_id"] = _required(request.item_id, "the comment id")
    method = f"{prefix}.{verb}Comment"
    return PlannedCall(method, params, _token_for(method))


def _dialog(request: ActionRequest, method: str, **extra: Any) -> PlannedCall:
    if request.channel != Channel.MESSAGE:
        raise UnsupportedAction(f"{method} applies to dialogs only")
    params = {"peer_id": _required(request.object_id, "the dialog's peer"), "group_id": request.group_id}
    return PlannedCall(method, {**params, **extra}, TokenNeed.COMMUNITY)


def plan(request: ActionRequest) -> PlannedCall:
    """The VK call performing a generic action, with the token it needs."""
    match request.kind:
        case ActionKind.REPLY:
            return _reply(request)
        case ActionKind.DELETE_COMMENT:
            return _moderate(request, "delete")
        case ActionKind.RESTORE_COMMENT:
            return _moderate(request, "restore")
        case ActionKind.BAN:
            params: dict[str, Any] = {
                "group_id": request.group_id,
                "owner_id": _required(request.user_id, "the author"),
                "reason": request.reason,
            }
            if request.until is not None:
                params["end_date"] = int(request.until.timestamp())
            if request.comment:
                params["comment"] = request.comment
            return PlannedCall("groups.ban", params, TokenNeed.ADMIN)
        case ActionKind.UNBAN:
            params = {"group_id": request.group_id, "owner_id": _required(request.user_id, "the author")}
            return PlannedCall("groups.unban", params, TokenNeed.ADMIN)
        case ActionKind.MARK_ANSWERED:
            return _dialog(request, "messages.markAsAnsweredConversation", answered=1)
        case ActionKind.MARK_READ:
            return _dialog(request, "messages.markAsRead")
    raise UnsupportedAction(f"unknown action {request.kind}")


def interpret(call: PlannedCall, response: Any) -> ActionResult:
    """VK's answer as the ids it gave and, for a new comment, the item key ingest uses for it."""
    method, params = call.method, call.params
    if method == "messages.send":
        # Ingest keys messages by conversation_message_id, which messages.send does not return;
        # VK's echo is matched by random_id instead.
        return ActionResult(response, {"message_id": int(response)})
    if method.endswith(".createComment"):
        comment_id = int(response["comment_id"]) if isinstance(response, dict) else int(response)
        prefix = method.split(".")[0]
        channel, target_param = next((c, t) for c, (p, t) in _COMMENT_APIS.items() if p == prefix)
        owner_id = -int(params["group_id"]) if prefix == "board" else int(params["owner_id"])
        ref = ItemRef(
            channel=Channel(channel),
            owner_id=owner_id,
            object_id=int(params[target_param]),
            item_id=comment_id,
        )
        return ActionResult(response, {"comment_id": comment_id}, ref.key)
    return ActionResult(response)


def _failure(exc: VkError) -> ActionFailed:
    code = exc.code if isinstance(exc, VkApiError) else None
    return ActionFailed(exc.operator_message, code=code, transient=exc.transient, detail=str(exc))


class VkActions:
    """Performs planned VK calls over one session (proxy.connectors.base.ActionPerformer), with the
    limiters and threads of the application's runtime (without one, each call paces itself alone)."""

    def __init__(self, session: requests.Session, runtime: VkRuntime | None = None) -> None:
        self.session = session
        self.runtime = runtime

    def plan(self, request: ActionRequest) -> PlannedCall:
        """The VK call performing `request`."""
        return plan(request)

    async def perform(self, call: PlannedCall, token: str) -> ActionResult:
        """Call VK (in a worker thread, within the token's rate limit); VK errors become ActionFailed."""
        kind = "user" if call.token == TokenNeed.ADMIN else "community"
        if self.runtime is not None:
            client = self.runtime.client(token, kind=kind, session=self.session)
        else:
            client = VkClient(token, kind=kind, session=self.session)
        try:
            response = await client.call(call.method, **call.params)
        except VkError as exc:
            raise _failure(exc) from exc
        return interpret(call, response)
