"""Turn one VK event object into one domain event.

The input is a Callback API body or one element of a Bots Long Poll ``updates`` list (VK documents
both as the same structure). The output is one of the classes in :mod:`proxy.events`.

:func:`normalize` is total over anything that looks like a VK event: an unknown type, an object of
an unexpected shape, wrong field types or absurd numbers all become an :class:`Unsupported` event
(stored raw, ignored) or a best-effort event with the missing parts set to None. Only input that
is not a VK event at all raises :class:`MalformedEvent`.

VK sample files quoted in comments live in ``tests/fixtures/vk``.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from proxy.events import (
    MAX_FORWARD_DEPTH,
    MAX_FORWARDED_MESSAGES,
    AuthorBlocked,
    AuthorUnblocked,
    Channel,
    DeprecatedVersionWarning,
    Direction,
    DomainEvent,
    ItemCreated,
    ItemDeleted,
    ItemEdited,
    ItemRef,
    ItemRestored,
    MessagesAllowed,
    MessagesDenied,
    MessagesRead,
    OfficersEdited,
    ThreadRef,
    TypingState,
    Unsupported,
    WallPostCreated,
)

__all__ = ["HANDLED_TYPES", "INTERNAL_ERROR_PREFIX", "MalformedEvent", "normalize"]

# VK ids are int64; anything outside is not an id and would not fit the database either.
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# Marks an Unsupported produced by a bug in this module rather than by VK's input, so that such
# events can be found (and the property tests can assert that none occur).
INTERNAL_ERROR_PREFIX = "normalizer error: "


class MalformedEvent(ValueError):
    """The input is not a VK event at all (not an object, no usable type, group_id or event_id).

    ``reason`` is a short human-readable explanation.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Skip(Exception):
    """A known event type whose object lacks what identifies the item; becomes Unsupported."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- small, total field readers -------------------------------------------------------------


def _int(value: object) -> int | None:
    """An int64 JSON number, else None (bools are not ids, floats are not VK ids)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if not _INT64_MIN <= value <= _INT64_MAX:
        return None
    return value


def _nonzero(value: object) -> int | None:
    """Like :func:`_int`, but VK's 0 ("none") becomes None (random_id, message id)."""
    number = _int(value)
    return number or None


def _time(value: object) -> datetime | None:
    """A Unix timestamp as an aware UTC datetime; None when absent, zero or out of range."""
    seconds = _int(value)
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _required(obj: Mapping[str, Any], key: str) -> int:
    number = _int(obj.get(key))
    if number is None:
        raise _Skip(f"object has no integer {key!r}")
    return number


def _first_int(obj: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        number = _int(obj.get(key))
        if number is not None:
            return number
    return None


# --- envelope ---------------------------------------------------------------------------------


def _envelope(event: dict[str, Any]) -> dict[str, Any]:
    vk_type = event.get("type")
    if not isinstance(vk_type, str) or not vk_type:
        raise MalformedEvent("event has no string 'type'")
    if vk_type == "confirmation":
        raise MalformedEvent("confirmation requests are answered by the endpoint, not normalized")
    group_id = _int(event.get("group_id"))
    if group_id is None or group_id <= 0:
        raise MalformedEvent("event has no positive integer 'group_id'")
    raw_event_id = event.get("event_id")
    # VK's schema and every capture have a 40-hex string; the Callback docs example
    # (group_join-1.json) shows a number. Both are accepted, always as a string.
    if isinstance(raw_event_id, str) and raw_event_id:
        event_id = raw_event_id
    elif _int(raw_event_id) is not None:
        event_id = str(raw_event_id)
    else:
        raise MalformedEvent("event has no 'event_id'")
    version = event.get("v")
    if isinstance(version, str):
        api_version: str | None = version
    elif isinstance(version, int | float) and not isinstance(version, bool):
        api_version = str(version)
    else:
        api_version = None
    # The Callback secret must not end up in stored raw events.
    raw = {key: value for key, value in event.items() if key != "secret"}
    return {
        "group_id": group_id,
        "event_id": event_id,
        "vk_type": vk_type,
        "api_version": api_version,
        "raw": raw,
    }


# --- messages ---------------------------------------------------------------------------------


def _message_body(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    # API >= 5.103 wraps message_new as {message, client_info} (message_new-1.json); older servers
    # and message_reply / message_edit send the message itself (message_reply-1.json,
    # message_edit-1.json).
    inner = obj.get("message")
    return inner if isinstance(inner, dict) else obj


def _message_refs(msg: Mapping[str, Any], group_id: int) -> tuple[ItemRef, ThreadRef]:
    peer_id = _required(msg, "peer_id")
    # conversation_message_id, not id: the global id is 0 in community captures
    # (message_new-1.json) while the per-dialog id is always set.
    cmid = _required(msg, "conversation_message_id")
    ref = ItemRef(channel=Channel.MESSAGE, owner_id=-group_id, object_id=peer_id, item_id=cmid)
    thread = ThreadRef(channel=Channel.MESSAGE, owner_id=-group_id, object_id=peer_id)
    return ref, thread


def _message_count(messages: list[Any]) -> int:
    """How many messages a fwd_messages list holds at every depth (iterative: VK nests without limit)."""
    count, pending = 0, list(messages)
    while pending:
        message = pending.pop()
        if isinstance(message, dict):
            count += 1
            pending.extend(_list(message.get("fwd_messages")))
            if isinstance(message.get("reply_message"), dict):
                pending.append(message["reply_message"])
    return count


def _forwarded(msg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The quoted message and the forwarded ones, nested, within the bounds of proxy/events.py."""
    budget = [MAX_FORWARDED_MESSAGES]

    def entry(kind: str, message: Mapping[str, Any], depth: int) -> dict[str, Any]:
        date = _time(message.get("date"))
        children, omitted = level(message, depth + 1)
        return {
            "kind": kind,
            "from_id": _int(message.get("from_id")),
            "date": date.isoformat() if date else None,
            "text": _str(message.get("text")),
            "attachments": _list(message.get("attachments")),
            "peer_id": _int(message.get("peer_id")),
            "conversation_message_id": _int(message.get("conversation_message_id")),
            "forwarded": children,
            "omitted": omitted,
        }

    def level(message: Mapping[str, Any], depth: int) -> tuple[list[dict[str, Any]], int]:
        quoted = message.get("reply_message")
        found = [("reply", quoted)] if isinstance(quoted, dict) else []
        found += [("forward", m) for m in _list(message.get("fwd_messages")) if isinstance(m, dict)]
        kept: list[dict[str, Any]] = []
        omitted = 0
        for kind, child in found:
            # The first level is VK's own bound (one quote, 100 forwards); below it, ours.
            if depth > MAX_FORWARD_DEPTH or (depth > 1 and budget[0] <= 0):
                omitted += _message_count([child])
                continue
            if depth > 1:
                budget[0] -= 1
            kept.append(entry(kind, child, depth))
        return kept, omitted

    return level(msg, 1)[0]


def _message_from_community(msg: Mapping[str, Any], group_id: int) -> bool:
    return msg.get("out") in (1, True) or _int(msg.get("from_id")) == -group_id


def _message_created(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
    msg = _message_body(obj)
    ref, thread = _message_refs(msg, group_id)
    # message_reply is the community's own message (also when sent through the API); message_new
    # is from the peer, unless VK marks it outgoing.
    from_community = env["vk_type"] == "message_reply" or _message_from_community(msg, group_id)
    reply_to = None
    quoted = msg.get("reply_message")
    if isinstance(quoted, dict):
        quoted_cmid = _int(quoted.get("conversation_message_id"))
        if quoted_cmid is not None:
            quoted_peer = _int(quoted.get("peer_id"))
            reply_to = ItemRef(
                channel=Channel.MESSAGE,
                owner_id=-group_id,
                object_id=ref.object_id if quoted_peer is None else quoted_peer,
                item_id=quoted_cmid,
            )
    return ItemCreated(
        **env,
        ref=ref,
        thread=thread,
        author_id=_int(msg.get("from_id")),
        text=_str(msg.get("text")),
        attachments=_list(msg.get("attachments")),
        created_at=_time(msg.get("date")),
        direction=Direction.OUT if from_community else Direction.IN,
        from_community=from_community,
        reply_to=reply_to,
        admin_author_id=_int(msg.get("admin_author_id")),
        random_id=_nonzero(msg.get("random_id")),
        message_id=_nonzero(msg.get("id")),
        forwarded=_forwarded(msg),
    )


def _message_edited(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
    msg = _message_body(obj)
    ref, thread = _message_refs(msg, group_id)
    return ItemEdited(
        **env,
        ref=ref,
        thread=thread,
        author_id=_int(msg.get("from_id")),
        text=_str(msg.get("text")),
        attachments=_list(msg.get("attachments")),
        edited_at=_time(msg.get("update_time")),
        created_at=_time(msg.get("date")),
        from_community=_message_from_community(msg, group_id),
        admin_author_id=_int(msg.get("admin_author_id")),
        forwarded=_forwarded(msg),
    )


def _message_allow(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
    # `key` is the subscription-link parameter, often "" (message_allow-1.json).
    return MessagesAllowed(**env, user_id=_required(obj, "user_id"), key=_opt_str(obj.get("key")))


def _message_deny(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
    return MessagesDenied(**env, user_id=_required(obj, "user_id"))


def _message_read(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
    # No capture of message_read exists (SOURCES.md, gaps); VK's page lists from_id, peer_id,
    # read_message_id and conversation_message_id, so each is optional here.
    from_id = _int(obj.get("from_id"))
    peer_id = _int(obj.get("peer_id"))
    if peer_id is None:
        peer_id = from_id
    if peer_id is None:
        raise _Skip("message_read has neither 'peer_id' nor 'from_id'")
    return MessagesRead(
        **env,
        peer_id=peer_id,
        from_id=from_id,
        read_message_id=_int(obj.get("read_message_id")),
        conversation_message_id=_int(obj.get("conversation_message_id")),
    )


def _typing_state(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
    return TypingState(
        **env,
        from_id=_int(obj.get("from_id")),
        to_id=_int(obj.get("to_id")),
        state=_opt_str(obj.get("state")),
    )


# --- comments ---------------------------------------------------------------------------------


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


def _comment_new(kind: _CommentKind) -> "_Handler":
    def handle(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
        return ItemCreated(**_comment_content(kind, env, obj, group_id))

    return handle


def _comment_restore(kind: _CommentKind) -> "_Handler":
    # *_restore carries the full comment including its text (wall_reply_restore-1.json).
    def handle(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
        return ItemRestored(**_comment_content(kind, env, obj, group_id))

    return handle


def _comment_edit(kind: _CommentKind) -> "_Handler":
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


def _comment_delete(kind: _CommentKind) -> "_Handler":
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


# --- community management ---------------------------------------------------------------------


# VK's ban reasons: 0 other, 1 spam, 2 verbal abuse, 3 strong language, 4 irrelevant messages.
BAN_REASONS = range(0, 5)


def _user_block(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
    reason = _int(obj.get("reason"))
    return AuthorBlocked(
        **env,
        user_id=_required(obj, "user_id"),
        admin_id=_int(obj.get("admin_id")),
        # unblock_date 0 means a permanent ban.
        unblock_date=_time(obj.get("unblock_date")),
        # Anything else is "other": an unknown number must not stop the ban from being stored.
        reason=reason if reason in BAN_REASONS else 0,
        comment=_str(obj.get("comment")),
    )


def _user_unblock(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
    by_end_date = obj.get("by_end_date")
    return AuthorUnblocked(
        **env,
        user_id=_required(obj, "user_id"),
        admin_id=_int(obj.get("admin_id")),
        # VK sends 0/1 (user_unblock-1.json); accept a JSON boolean too.
        by_end_date=by_end_date is True or _int(by_end_date) not in (None, 0),
    )


def _officers_edit(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
    return OfficersEdited(
        **env,
        admin_id=_int(obj.get("admin_id")),
        user_id=_required(obj, "user_id"),
        level_old=_int(obj.get("level_old")),
        level_new=_int(obj.get("level_new")),
    )


def _wall_post_new(env: dict[str, Any], obj: Mapping[str, Any], group_id: int) -> DomainEvent:
    return WallPostCreated(
        **env,
        post_id=_required(obj, "id"),
        owner_id=_owner(obj, ("owner_id",), group_id),
        from_id=_int(obj.get("from_id")),
        created_by=_int(obj.get("created_by")),
        text=_str(obj.get("text")),
        attachments=_list(obj.get("attachments")),
        created_at=_time(obj.get("date")),
        post_type=_opt_str(obj.get("post_type")),
    )


# --- dispatch ---------------------------------------------------------------------------------

_Handler = Callable[[dict[str, Any], Mapping[str, Any], int], DomainEvent]


def _comment_handlers(prefix: str, kind: _CommentKind) -> dict[str, _Handler]:
    return {
        f"{prefix}_new": _comment_new(kind),
        f"{prefix}_edit": _comment_edit(kind),
        f"{prefix}_delete": _comment_delete(kind),
        f"{prefix}_restore": _comment_restore(kind),
    }


_HANDLERS: dict[str, _Handler] = {
    "message_new": _message_created,
    "message_reply": _message_created,
    "message_edit": _message_edited,
    "message_allow": _message_allow,
    "message_deny": _message_deny,
    "message_read": _message_read,
    "message_typing_state": _typing_state,
    **_comment_handlers("wall_reply", _WALL),
    **_comment_handlers("photo_comment", _PHOTO),
    **_comment_handlers("video_comment", _VIDEO),
    **_comment_handlers("market_comment", _MARKET),
    **_comment_handlers("board_post", _BOARD),
    "user_block": _user_block,
    "user_unblock": _user_unblock,
    "group_officers_edit": _officers_edit,
    "wall_post_new": _wall_post_new,
}

HANDLED_TYPES: frozenset[str] = frozenset(_HANDLERS)
"""VK event types that become something other than :class:`Unsupported`."""


def normalize(event: object) -> DomainEvent:
    """Turn one VK event object into one domain event.

    ``event`` is a parsed Callback API body or one element of a Long Poll ``updates`` list.
    Unknown types and known types whose object cannot be understood become
    :class:`~proxy.events.Unsupported`; an object replaced by VK's deprecated-version warning
    becomes :class:`~proxy.events.DeprecatedVersionWarning`.

    Raises :class:`MalformedEvent` (and nothing else) when ``event`` is not a VK event: not a
    dict, no non-empty string ``type``, no positive integer ``group_id``, no ``event_id``, or a
    ``confirmation`` request (which the Callback endpoint answers without normalizing).
    """
    if not isinstance(event, dict):
        raise MalformedEvent("event is not a JSON object")
    env = _envelope(event)
    obj = event.get("object")
    # A server set to a deprecated API version gets {"warning": ...} in place of the real object,
    # whatever the event type (deprecated_version_warning-1.json).
    if isinstance(obj, dict) and isinstance(obj.get("warning"), str):
        return DeprecatedVersionWarning(**env, warning=obj["warning"])
    handler = _HANDLERS.get(env["vk_type"])
    if handler is None:
        return Unsupported(**env, reason="unhandled event type")
    if not isinstance(obj, dict):
        return Unsupported(**env, reason="object is not a JSON object")
    try:
        return handler(env, obj, env["group_id"])
    except _Skip as skip:
        return Unsupported(**env, reason=skip.reason)
    except Exception as exc:
        # A bug here must not lose the event: it is kept raw and can be replayed once fixed.
        return Unsupported(**env, reason=f"{INTERNAL_ERROR_PREFIX}{type(exc).__name__}: {exc}")
