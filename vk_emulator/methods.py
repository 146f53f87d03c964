"""The VK API methods the emulator answers, with VK's token rules and response shapes (API 5.199)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import targets_by_id
from .params import Params
from .state import (
    CommentKind,
    EmulatorState,
    Group,
    Message,
    Token,
    VkFault,
    bad_param,
)


@dataclass
class Call:
    """One authenticated API call."""

    state: EmulatorState
    token: Token
    params: Params
    # Base URL of the emulator as the caller reached it, for groups.getLongPollServer.
    base_url: str

    def group(self) -> Group:
        """The community the call acts on, with VK's access rules for the token kind."""
        group_id = self.params.integer("group_id")
        if group_id is None:
            owner_id = self.params.integer("owner_id")
            if owner_id is not None and owner_id < 0:
                group_id = -owner_id
        if self.token.kind == "community":
            assert self.token.group_id is not None
            if group_id is not None and group_id != self.token.group_id:
                raise VkFault(15, "Access denied: no access to this community")
            return self.state.groups[self.token.group_id]
        if group_id is None:
            raise bad_param("group_id is undefined")
        group = self.state.groups.get(group_id)
        if group is None:
            raise bad_param("group_id is invalid")
        if group.admin_user_id != self.token.user_id:
            raise VkFault(15, "Access denied: you are not an administrator of this community")
        return group

    def actor_id(self, group: Group) -> int:
        """Who acts: the admin user for a user token, the community for a community token."""
        if self.token.kind == "user":
            assert self.token.user_id is not None
            return self.token.user_id
        return group.owner_id


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class MethodSpec:
    """A method handler and whether VK refuses it with a community token (error 27)."""

    handler: Handler
    user_token_only: bool = False


METHODS: dict[str, MethodSpec] = {}


def method(name: str, *, user_token_only: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler for a VK method name."""

    def register(handler: Handler) -> Handler:
        METHODS[name] = MethodSpec(handler, user_token_only)
        return handler

    return register


def dispatch(call: Call, name: str) -> Any:
    """Run a method: error 3 for an unknown one, 27 for a user-token method called with a community token."""
    spec = METHODS.get(name)
    if spec is None:
        raise VkFault(3)
    if spec.user_token_only and call.token.kind == "community":
        raise VkFault(27)
    return spec.handler(call)


# --- groups -----------------------------------------------------------------------------------


def _group_item(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "screen_name": group.screen_name,
        "is_closed": 0,
        "type": "group",
        "photo_50": "https://vk.ru/images/community_50.png",
        "photo_100": "https://vk.ru/images/community_100.png",
        "photo_200": "https://vk.ru/images/community_200.png",
    }


@method("groups.getById")
def groups_get_by_id(call: Call) -> Any:
    ids = call.params.ints("group_ids") or call.params.ints("group_id")
    if not ids:
        if call.token.group_id is None:
            raise bad_param("group_ids is undefined")
        ids = [call.token.group_id]
    groups = []
    for group_id in ids:
        group = call.state.groups.get(group_id)
        if group is None:
            raise bad_param("group_ids is invalid")
        groups.append(_group_item(group))
    # Since 5.194 groups.getById answers an object, not a bare list.
    return {"groups": groups, "profiles": []}


@method("groups.getLongPollServer")
def groups_get_long_poll_server(call: Call) -> Any:
    group = call.group()
    return {
        "key": group.longpoll_key,
        "server": f"{call.base_url}/longpoll/{group.id}",
        "ts": str(group.next_ts),
    }


@method("groups.ban", user_token_only=True)
def groups_ban(call: Call) -> Any:
    group = call.group()
    call.state.ban(
        group,
        call.params.required("owner_id"),
        call.actor_id(group),
        end_date=call.params.integer("end_date", 0) or 0,
        reason=call.params.integer("reason", 0) or 0,
        comment=call.params.text("comment", "") or "",
        comment_visible=call.params.flag("comment_visible"),
    )
    return 1


@method("groups.unban", user_token_only=True)
def groups_unban(call: Call) -> Any:
    group = call.group()
    call.state.unban(group, call.params.required("owner_id"), call.actor_id(group))
    return 1


@method("groups.getBanned")
def groups_get_banned(call: Call) -> Any:
    group = call.group()
    offset, count = call.params.page(20, 200)
    bans = sorted(group.bans.values(), key=lambda b: b.date, reverse=True)
    wanted = call.params.integer("owner_id")
    if wanted is not None:
        bans = [b for b in bans if b.user_id == wanted]
    items = []
    for ban in bans[offset : offset + count]:
        user = call.state.users.get(ban.user_id)
        items.append(
            {
                "type": "profile",
                "profile": user.as_vk() if user else {"id": ban.user_id},
                "ban_info": {
                    "admin_id": ban.admin_id,
                    "date": ban.date,
                    "reason": ban.reason,
                    "comment": ban.comment,
                    "comment_visible": ban.comment_visible,
                    "end_date": ban.end_date,
                },
            }
        )
    return {"count": len(bans), "items": items}


# --- users ------------------------------------------------------------------------------------


@method("users.get")
def users_get(call: Call) -> Any:
    ids = call.params.ints("user_ids") or call.params.ints("user_id")
    if not ids and call.token.user_id is not None:
        ids = [call.token.user_id]
    result = []
    for user_id in ids:
        user = call.state.users.get(user_id)
        if user is None:
            # VK answers unknown ids with a deleted-profile stub rather than an error.
            result.append({"id": user_id, "first_name": "DELETED", "last_name": "", "deactivated": "deleted"})
        else:
            result.append(user.as_vk())
    return result


# --- messages ---------------------------------------------------------------------------------


def _peer(call: Call) -> int:
    peer_id = call.params.integer("peer_id")
    if peer_id is None:
        peer_id = call.params.integer("user_id")
    if peer_id is None:
        raise bad_param("peer_id is undefined")
    return peer_id


def _profiles(call: Call, ids: set[int]) -> list[dict[str, Any]]:
    return [call.state.users[i].as_vk() for i in sorted(ids) if i in call.state.users]


@method("messages.send")
def messages_send(call: Call) -> Any:
    group = call.group()
    peer_id = _peer(call)
    random_id = call.params.integer("random_id")
    if random_id is None:
        raise bad_param("random_id is a required parameter")
    message = call.state.send_message(
        group,
        peer_id,
        call.params.text("message", "") or "",
        random_id=random_id,
        attachments=call.params.attachments(),
    )
    return message.id


@method("messages.markAsAnsweredConversation")
def messages_mark_as_answered(call: Call) -> Any:
    group = call.group()
    conv = call.state.conversation(group, _peer(call))
    conv.unanswered = not (call.params.flag("answered") or "answered" not in call.params)
    return 1


@method("messages.markAsRead")
def messages_mark_as_read(call: Call) -> Any:
    group = call.group()
    conv = call.state.conversation(group, _peer(call))
    incoming = [m for m in conv.message_ids if group.messages[m].out == 0]
    start = call.params.integer("start_message_id")
    conv.in_read = max(conv.in_read, start if start else max(incoming, default=0))
    return 1


def _conversation_item(group: Group, peer_id: int) -> dict[str, Any]:
    conv = group.conversations[peer_id]
    live = [group.messages[m] for m in conv.message_ids if not group.messages[m].deleted]
    last = live[-1] if live else group.messages[conv.message_ids[-1]]
    outgoing = [m.id for m in live if m.out == 1]
    unread = [m for m in live if m.out == 0 and m.id > conv.in_read]
    peer_type = "chat" if peer_id >= 2_000_000_000 else "group" if peer_id < 0 else "user"
    item: dict[str, Any] = {
        "peer": {
            "id": peer_id,
            "type": peer_type,
            "local_id": peer_id % 2_000_000_000 if peer_id > 0 else -peer_id,
        },
        "last_message_id": last.id,
        "last_conversation_message_id": last.conversation_message_id,
        "in_read": conv.in_read,
        "out_read": max(outgoing, default=0),
        "sort_id": {"major_id": 0, "minor_id": last.id},
        "is_marked_unread": False,
        "important": False,
        "unanswered": conv.unanswered,
        "can_write": {"allowed": group.messages_allowed.get(peer_id, False) and peer_id not in group.bans},
    }
    if unread:
        item["unread_count"] = len(unread)
    return {"conversation": item, "last_message": last.as_vk()}


@method("messages.getConversations")
def messages_get_conversations(call: Call) -> Any:
    group = call.group()
    offset, count = call.params.page(20, 200)
    wanted = call.params.text("filter", "all") or "all"
    items = [
        _conversation_item(group, peer) for peer, conv in group.conversations.items() if conv.message_ids
    ]
    if wanted == "unread":
        items = [i for i in items if i["conversation"].get("unread_count")]
    elif wanted == "unanswered":
        items = [i for i in items if i["conversation"]["unanswered"]]
    elif wanted == "important":
        items = []
    items.sort(key=lambda i: i["last_message"]["id"], reverse=True)
    unread_total = sum(1 for i in items if i["conversation"].get("unread_count"))
    result: dict[str, Any] = {"count": len(items), "items": items[offset : offset + count]}
    if unread_total:
        result["unread_count"] = unread_total
    if call.params.flag("extended"):
        result["profiles"] = _profiles(call, {i["conversation"]["peer"]["id"] for i in result["items"]})
        result["groups"] = [_group_item(group)]
    return result


@method("messages.getHistory")
def messages_get_history(call: Call) -> Any:
    group = call.group()
    peer_id = _peer(call)
    offset, count = call.params.page(20, 200)
    conv = group.conversations.get(peer_id)
    messages: list[Message] = []
    if conv is not None:
        messages = [group.messages[m] for m in conv.message_ids if not group.messages[m].deleted]
    total = len(messages)
    rev = call.params.flag("rev")
    start = call.params.integer("start_message_id")
    if start:
        messages = [m for m in messages if (m.id >= start if rev else m.id <= start)]
    if not rev:
        messages = messages[::-1]
    items = [m.as_vk() for m in messages[offset : offset + count]]
    result: dict[str, Any] = {"count": total, "items": items}
    if call.params.flag("extended"):
        result["profiles"] = _profiles(call, {m["from_id"] for m in items})
        result["groups"] = [_group_item(group)]
    return result


# --- comments ---------------------------------------------------------------------------------

# (kind, create/delete/restore/get method prefix, name of the target id parameter)
_COMMENT_APIS: list[tuple[CommentKind, str, str]] = [
    ("wall", "wall", "post_id"),
    ("photo", "photos", "photo_id"),
    ("video", "video", "video_id"),
    ("market", "market", "item_id"),
    ("board", "board", "topic_id"),
]


def _author(call: Call, group: Group) -> int:
    # A community token can only write as the community; a user token writes as the community
    # when from_group is set, otherwise as the user.
    if call.token.kind == "community" or call.params.flag("from_group") or call.params.integer("from_group"):
        return group.owner_id
    return call.actor_id(group)


def _make_create(kind: CommentKind, target_param: str) -> Handler:
    def create(call: Call) -> Any:
        group = call.group()
        comment = call.state.create_comment(
            group,
            kind,
            call.params.required(target_param),
            _author(call, group),
            call.params.text("message", "") or "",
            reply_to_comment=call.params.integer("reply_to_comment"),
            guid=call.params.text("guid") or None,
            attachments=call.params.attachments(),
        )
        if kind == "wall":
            return {"comment_id": comment.id, "parents_stack": comment.parents_stack}
        return comment.id

    return create


def _make_delete(kind: CommentKind) -> Handler:
    def delete(call: Call) -> Any:
        group = call.group()
        # Deleting an already deleted comment answers 1 again, so a retried delete is harmless.
        call.state.delete_comment(group, kind, call.params.required("comment_id"), call.actor_id(group))
        return 1

    return delete


def _make_restore(kind: CommentKind) -> Handler:
    def restore(call: Call) -> Any:
        group = call.group()
        call.state.restore_comment(group, kind, call.params.required("comment_id"))
        return 1

    return restore


def _comments_page(call: Call, group: Group, kind: CommentKind, target_id: int | None) -> dict[str, Any]:
    offset, count = call.params.page(20 if kind != "wall" else 10, 100)
    comments = call.state.live_comments(group, kind, target_id)
    total = len(comments)
    newest_first = call.params.text("sort", "asc") == "desc"
    result: dict[str, Any]
    if kind in ("board", "photo") and call.params.integer("comment_id") is None:
        ordered = comments[::-1] if newest_first else comments
        items = [c.as_api_item() for c in ordered[offset : offset + count]]
        return {"count": total, "items": items}
    thread_of = call.params.integer("comment_id")
    if thread_of is not None:
        level = [c for c in comments if c.parents_stack[:1] == [thread_of]]
    else:
        # VK keeps a deleted top-level comment in the list, marked deleted, while its thread has replies.
        with_replies = {c.parents_stack[0] for c in comments if c.parents_stack}
        level = sorted(
            [c for c in comments if not c.parents_stack]
            + [
                c
                for (k, _), c in group.comments.items()
                if k == kind and c.target_id == target_id and c.deleted and c.id in with_replies
            ],
            key=lambda c: c.id,
        )
    if newest_first:
        level = level[::-1]
    thread_items = call.params.integer("thread_items_count", 0) or 0
    items = []
    for comment in level[offset : offset + count]:
        item = comment.as_api_item()
        if comment.deleted:
            item.update(text="", deleted=True)
        if not comment.parents_stack:
            replies = [c for c in comments if c.parents_stack[:1] == [comment.id]]
            item["thread"] = {
                "count": len(replies),
                "items": [r.as_api_item() for r in replies[:thread_items]],
                "can_post": True,
                "show_reply_button": True,
                "groups_can_post": True,
            }
        items.append(item)
    result = {"count": total, "items": items, "current_level_count": len(level)}
    if kind == "wall":
        result.update(can_post=True, show_reply_button=True, groups_can_post=True)
    return result


def _make_get(kind: CommentKind, target_param: str) -> Handler:
    def get(call: Call) -> Any:
        group = call.group()
        return _comments_page(call, group, kind, call.params.required(target_param))

    return get


for _kind, _prefix, _target_param in _COMMENT_APIS:
    method(f"{_prefix}.createComment")(_make_create(_kind, _target_param))
    # VK allows board moderation with the community token; the others need an admin's user token.
    method(f"{_prefix}.deleteComment", user_token_only=_kind != "board")(_make_delete(_kind))
    method(f"{_prefix}.restoreComment", user_token_only=_kind != "board")(_make_restore(_kind))
    getter_name = "photos.getComments" if _kind == "photo" else f"{_prefix}.getComments"
    method(getter_name)(_make_get(_kind, _target_param))


@method("photos.getAllComments")
def photos_get_all_comments(call: Call) -> Any:
    group = call.group()
    offset, count = call.params.page(20, 100)
    # Newest first; each item names its photo in `pid`.
    comments = call.state.live_comments(group, "photo")[::-1]
    items = []
    for comment in comments[offset : offset + count]:
        item = comment.as_api_item()
        item["pid"] = comment.target_id
        items.append(item)
    return {"count": len(comments), "items": items}


# --- listing what can be commented on (for catch-up sync) -------------------------------------


def _targets(
    call: Call, kind: CommentKind, default_count: int, max_count: int
) -> tuple[Group, list[Any], int]:
    group = call.group()
    offset, count = call.params.page(default_count, max_count)
    targets = sorted(
        (t for (k, _), t in group.targets.items() if k == kind), key=lambda t: t.id, reverse=True
    )
    return group, targets[offset : offset + count], len(targets)


def _comment_count(group: Group, kind: CommentKind, target_id: int) -> int:
    return sum(
        1 for c in group.comments.values() if c.kind == kind and c.target_id == target_id and not c.deleted
    )


@method("wall.get")
def wall_get(call: Call) -> Any:
    group, page, total = _targets(call, "wall", 20, 100)
    items = [
        {
            "id": t.id,
            "from_id": t.from_id,
            "owner_id": t.owner_id,
            "date": t.date,
            "post_type": "post",
            "text": t.text,
            "comments": {"count": _comment_count(group, "wall", t.id), "can_post": 1},
        }
        for t in page
    ]
    return {"count": total, "items": items}


@method("video.get")
def video_get(call: Call) -> Any:
    group, page, total = _targets(call, "video", 100, 200)
    by_id = targets_by_id.wanted(call, "videos", "video")  # "-1_2,-1_3": these videos only
    if by_id is not None:
        page, total = by_id, len(by_id)
    items = [
        {
            "id": t.id,
            "owner_id": t.owner_id,
            "title": t.text,
            "date": t.date,
            "comments": _comment_count(group, "video", t.id),
            "image": targets_by_id.image_sizes(t),
        }
        for t in page
    ]
    return {"count": total, "items": items}


@method("market.get")
def market_get(call: Call) -> Any:
    _, page, total = _targets(call, "market", 100, 200)
    items = [{"id": t.id, "owner_id": t.owner_id, "title": t.text, "date": t.date} for t in page]
    return {"count": total, "items": items}


@method("photos.getAll")
def photos_get_all(call: Call) -> Any:
    _, page, total = _targets(call, "photo", 20, 200)
    items = [
        {"id": t.id, "owner_id": t.owner_id, "album_id": -7, "text": t.text, "date": t.date} for t in page
    ]
    return {"count": total, "items": items}


@method("board.getTopics")
def board_get_topics(call: Call) -> Any:
    group, page, total = _targets(call, "board", 40, 100)
    by_id = targets_by_id.wanted(call, "topic_ids", "board", with_owner=False)  # "2,3": these topics only
    if by_id is not None:
        page, total = by_id, len(by_id)
    items = [
        {
            "id": t.id,
            "title": t.text,
            "created": t.date,
            "created_by": t.from_id,
            "comments": _comment_count(group, "board", t.id),
        }
        for t in page
    ]
    return {"count": total, "items": items}
