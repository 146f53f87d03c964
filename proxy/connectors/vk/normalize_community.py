"""Community management: bans, unbans, officers, and the community's own wall posts (see normalize.py)."""

from collections.abc import Mapping
from typing import Any

from proxy.events import AuthorBlocked, AuthorUnblocked, DomainEvent, OfficersEdited, WallPostCreated

from .normalize_comments import _owner
from .normalize_fields import _Handler, _int, _list, _opt_str, _required, _str, _time

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


COMMUNITY_HANDLERS: dict[str, _Handler] = {
    "user_block": _user_block,
    "user_unblock": _user_unblock,
    "group_officers_edit": _officers_edit,
    "wall_post_new": _wall_post_new,
}
