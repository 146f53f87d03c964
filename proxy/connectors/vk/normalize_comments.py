"""Comments on walls, photos, videos, goods and board topics: new, edit, delete, restore (see normalize.py)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proxy.events import (
    Channel,
    Direction,
    DomainEvent,
    ItemCreated,
    ItemDeleted,
    ItemEdited,
    ItemRef,
    ItemRestored,
    ThreadRef,
)

from .normalize_fields import _first_int, _Handler, _int, _list, _required, _str, _time


@dataclass(frozen=True, slots=True)
class _CommentKind:
    channel: Channel
    object_key: str
    # Full comment objects name the owner after the commented object (photo_owner_id,
    # video_owner_id, market_owner_id, topic_owner_id); the *_delete objects call it owner_id
    # (photo_comment_delete-1.json). Wall comments carry both owner_id and post_owner_id, equal
    # in real events but not in the anonymized wall_reply_new-1.json (-222 / -333); owner_id
    # wins because wall_reply_delete has only that name and the keys must match.
    owner_keys: tuple[str, ...]
    delete_owner_keys: tuple[str, ...]


_WALL = _CommentKind(Channel.WALL, "post_id", ("owner_id", "post_owner_id"), ("owner_id", "post_owner_id"))
_PHOTO = _CommentKind(
    Channel.PHOTO, "photo_id", ("photo_owner_id", "owner_id"), ("owner_id", "photo_owner_id")
)
_VIDEO = _CommentKind(
    Channel.VIDEO, "video_id", ("video_owner_id", "owner_id"), ("owner_id", "video_owner_id")
)
_MARKET = _CommentKind(
    Channel.MARKET, "item_id", ("market_owner_id", "owner_id"), ("owner_id", "market_owner_id")
)
_BOARD = _CommentKind(
    Channel.BOARD, "topic_id", ("topic_owner_id", "owner_id"), ("topic_owner_id", "owner_id")
)


def _owner(obj: Mapping[str, Any], keys: tuple[str, ...], group_id: int) -> int:
    owner = _first_int(obj, keys)
    # Community events only concern the community's own wall, photos, videos, goods and topics,
    # so the owner is -group_id whenever VK leaves it out.
    return -group_id if owner is None else owner


def _comment_refs(
    kind: _CommentKind, obj: Mapping[str, Any], group_id: int
) -> tuple[ItemRef, ThreadRef, ItemRef | None]:
    comment_id = _required(obj, "id")
    object_id = _required(obj, kind.object_key)
    owner_id = _owner(obj, kind.owner_keys, group_id)
    ref = ItemRef(channel=kind.channel, owner_id=owner_id, object_id=object_id, item_id=comment_id)
    reply_to_comment = _int(obj.get("reply_to_comment"))
    reply_to = None
    if reply_to_comment is not None:
        reply_to = ItemRef(
            channel=kind.channel, owner_id=owner_id, object_id=object_id, item_id=reply_to_comment
        )
    if kind.channel is Channel.BOARD:
        # A board topic is one flat conversation; board comments have no reply tree.
        root_id = None
    else:
        # parents_stack lists the ancestors, top-level first (the wall_reply attachment in
        # message_new-7.json: parents_stack [777], reply_to_comment 999). reply_to_comment alone
        # may point at a reply rather than the top-level comment, so it is only a fallback.
        stack = obj.get("parents_stack")
        root_id = _int(stack[0]) if isinstance(stack, list) and stack else None
        if root_id is None:
            root_id = reply_to_comment if reply_to_comment is not None else comment_id
    thread = ThreadRef(channel=kind.channel, owner_id=owner_id, object_id=object_id, root_id=root_id)
    return ref, thread, reply_to


def _comment_content(
    kind: _CommentKind, env: dict[str, Any], obj: Mapping[str, Any], group_id: int
) -> dict[str, Any]:
    ref, thread, reply_to = _comment_refs(kind, obj, group_id)
    author_id = _int(obj.get("from_id"))
    # Comments posted as the community have from_id == -group_id (wall_post_new-2.json shows the
    # same convention for posts) and carry no admin id.
    from_community = author_id == -group_id
    return {
        **env,
        "ref": ref,
        "thread": thread,
        "author_id": author_id,
        "text": _str(obj.get("text")),
        "attachments": _list(obj.get("attachments")),
        "created_at": _time(obj.get("date")),
        "direction": Direction.OUT if from_community else Direction.IN,
        "from_community": from_community,
        "reply_to": reply_to,
        "reply_to_user": _int(obj.get("reply_to_user")),
    }


def _comment_new(kind: _CommentKind) -> _Handler:
    def handle(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
        return ItemCreated(**_comment_content(kind, env, obj, group_id))

    return handle


def _comment_restore(kind: _CommentKind) -> _Handler:
    # *_restore carries the full comment including its text (wall_reply_restore-1.json).
    def handle(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
        return ItemRestored(**_comment_content(kind, env, obj, group_id))

    return handle


def _comment_edit(kind: _CommentKind) -> _Handler:
    def handle(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
        ref, thread, _ = _comment_refs(kind, obj, group_id)
        author_id = _int(obj.get("from_id"))
        return ItemEdited(
            **env,
            ref=ref,
            thread=thread,
            author_id=author_id,
            text=_str(obj.get("text")),
            attachments=_list(obj.get("attachments")),
            # Comment edits repeat the original `date` and have no edit time
            # (wall_reply_edit-1.json has the same date as wall_reply_new-1.json).
            edited_at=_time(obj.get("update_time")),
            created_at=_time(obj.get("date")),
            from_community=author_id == -group_id,
        )

    return handle


def _comment_delete(kind: _CommentKind) -> _Handler:
    def handle(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
        comment_id = _required(obj, "id")
        object_id = _required(obj, kind.object_key)
        owner_id = _owner(obj, kind.delete_owner_keys, group_id)
        ref = ItemRef(channel=kind.channel, owner_id=owner_id, object_id=object_id, item_id=comment_id)
        # Delete objects have no parents_stack, so only a board topic thread is known here.
        thread = None
        if kind.channel is Channel.BOARD:
            thread = ThreadRef(channel=Channel.BOARD, owner_id=owner_id, object_id=object_id)
        return ItemDeleted(
            **env,
            ref=ref,
            thread=thread,
            # board_post_delete-1.json has no deleter_id; video_comment_delete-1.json no user_id.
            deleter_id=_int(obj.get("deleter_id")),
            user_id=_int(obj.get("user_id")),
        )

    return handle


def _comment_handlers(prefix: str, kind: _CommentKind) -> dict[str, _Handler]:
    return {
        f"{prefix}_new": _comment_new(kind),
        f"{prefix}_edit": _comment_edit(kind),
        f"{prefix}_delete": _comment_delete(kind),
        f"{prefix}_restore": _comment_restore(kind),
    }


COMMENT_HANDLERS: dict[str, _Handler] = {
    **_comment_handlers("wall_reply", _WALL),
    **_comment_handlers("photo_comment", _PHOTO),
    **_comment_handlers("video_comment", _VIDEO),
    **_comment_handlers("market_comment", _MARKET),
    **_comment_handlers("board_post", _BOARD),
}
