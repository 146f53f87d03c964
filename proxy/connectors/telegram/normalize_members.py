"""Membership: ``chat_member`` and ``my_chat_member`` updates, and the join and leave service messages.

``chat_member`` (a member's status changed; the bot receives it as a group admin that asked for it) is
read by the change from the old status to the new one:

- to "kicked": :class:`~proxy.events.AuthorBlocked` by ``from`` (admin_id None when ``from`` is
  GroupAnonymousBot: an anonymous admin), until ``until_date`` (0 or absent: forever), reason 0 and no
  comment (Telegram has neither);
- from "kicked" to anything else: :class:`~proxy.events.AuthorUnblocked` (by_end_date False: Telegram
  sends no update when a ban simply expires);
- to "restricted" without ``can_send_messages``: :class:`~proxy.events.AuthorRestricted` (a mute)
  until ``until_date`` (0: no end);
- from "restricted" to "member", or to "restricted" that may send messages again:
  :class:`~proxy.events.AuthorRestricted` with ``lifted``;
- anything else (joined, left, added, promoted, demoted): :class:`~proxy.events.MemberChanged`, whose
  actor is ``from`` when it is another user than the member and not the anonymous-admin placeholder.

``my_chat_member`` (the bot's own status: added, promoted, removed, blocked in a private chat) is always
a MemberChanged whose member is the bot.

A ``message`` carrying ``new_chat_members`` or ``left_chat_member`` is the group's notice of a join or
leave: a MemberChanged for the first member named (Telegram lists several only when one user adds
several at once; the raw update keeps them all), from "left" to "member" or the reverse. Telegram sends
it as well as the ``chat_member`` update when the bot receives both.
"""

from collections.abc import Mapping
from typing import Any

from proxy.events import AuthorBlocked, AuthorRestricted, AuthorUnblocked, DomainEvent, MemberChanged

from .normalize_fields import (
    PLACEHOLDER_SENDERS,
    _dict,
    _Handler,
    _id_of,
    _int,
    _list,
    _required,
    _Skip,
    _str,
    _time,
)


def _actor(from_id: int | None, user_id: int) -> int | None:
    """Who made the change, when it is someone else than the member and Telegram names them."""
    if from_id is None or from_id == user_id or from_id in PLACEHOLDER_SENDERS:
        return None
    return from_id


def _admin(from_id: int | None) -> int | None:
    return None if from_id in PLACEHOLDER_SENDERS else from_id


def _status(member: Mapping[str, Any], which: str) -> str:
    status = _str(member.get("status"))
    if not status:
        raise _Skip(f"{which} has no status")
    return status


def _can_send(member: Mapping[str, Any]) -> bool:
    # Only "restricted" carries the flag; every other status may send messages (or is not in the chat).
    return member.get("status") != "restricted" or member.get("can_send_messages") is not False


def _member_update(env: dict[str, Any], obj: Mapping[str, Any], bot_id: int) -> DomainEvent:
    chat_id = _required(_dict(obj.get("chat")), "id")
    old = _dict(obj.get("old_chat_member"))
    new = _dict(obj.get("new_chat_member"))
    user_id = _int(_dict(new.get("user")).get("id"))
    if user_id is None:
        raise _Skip("new_chat_member has no integer user id")
    old_status, new_status = _status(old, "old_chat_member"), _status(new, "new_chat_member")
    from_id = _id_of(obj, "from")
    if env["vk_type"] == "chat_member":
        if new_status == "kicked":
            return AuthorBlocked(
                **env,
                user_id=user_id,
                admin_id=_admin(from_id),
                unblock_date=_time(new.get("until_date")),
                reason=0,
                comment="",
            )
        if old_status == "kicked":
            return AuthorUnblocked(**env, user_id=user_id, admin_id=_admin(from_id), by_end_date=False)
        if not _can_send(new):
            return AuthorRestricted(
                **env, user_id=user_id, admin_id=_admin(from_id), until=_time(new.get("until_date"))
            )
        if old_status == "restricted" and new_status in ("member", "restricted"):
            return AuthorRestricted(**env, user_id=user_id, admin_id=_admin(from_id), until=None, lifted=True)
    return MemberChanged(
        **env,
        chat_id=chat_id,
        user_id=user_id,
        actor_id=_actor(from_id, user_id),
        old_status=old_status,
        new_status=new_status,
    )


def member_service_event(env: dict[str, Any], msg: Mapping[str, Any], service: str) -> DomainEvent | None:
    """The MemberChanged of a join or leave notice (``service`` is its field), None for other notices."""
    if service == "new_chat_members":
        members = [member for member in _list(msg.get("new_chat_members")) if isinstance(member, dict)]
        statuses = ("left", "member")
    elif service == "left_chat_member":
        members = [msg["left_chat_member"]] if isinstance(msg.get("left_chat_member"), dict) else []
        statuses = ("member", "left")
    else:
        return None
    user_id = _int(members[0].get("id")) if members else None
    if user_id is None:
        raise _Skip(f"{service} names no member with an integer id")
    return MemberChanged(
        **env,
        chat_id=_required(_dict(msg.get("chat")), "id"),
        user_id=user_id,
        actor_id=_actor(_id_of(msg, "from"), user_id),
        old_status=statuses[0],
        new_status=statuses[1],
    )


MEMBER_HANDLERS: dict[str, _Handler] = {
    "chat_member": _member_update,
    "my_chat_member": _member_update,
}
