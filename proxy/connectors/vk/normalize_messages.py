"""Messages: new, reply, edit, allow, deny, read and typing events (see normalize.py)."""

from collections.abc import Mapping
from typing import Any

from proxy.events import (
    MAX_FORWARD_DEPTH,
    MAX_FORWARDED_MESSAGES,
    Channel,
    Direction,
    DomainEvent,
    ItemCreated,
    ItemEdited,
    ItemRef,
    MessagesAllowed,
    MessagesDenied,
    MessagesRead,
    ThreadRef,
    TypingState,
)

from .normalize_fields import _Handler, _int, _list, _nonzero, _opt_str, _required, _Skip, _str, _time


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


MESSAGE_HANDLERS: dict[str, _Handler] = {
    "message_new": _message_created,
    "message_reply": _message_created,
    "message_edit": _message_edited,
    "message_allow": _message_allow,
    "message_deny": _message_deny,
    "message_read": _message_read,
    "message_typing_state": _typing_state,
}
