"""Restrictions and membership changes a network reports (Telegram's chat_member): what an admin did in
the network, journaled and attributed like a ban (proxy/ingest/done_in_vk.py), unless it is the echo of
the proxy's own action.

- A member muted or let speak again (`AuthorRestricted`): `vk.restrict` / `vk.unrestrict`, credited to the
  operator whose Telegram account did it; an anonymous admin is named by nobody (the network does not say
  who). The proxy's own mute (`author.mute`, restrictChatMember) is recognised and not journaled twice.
- A member added, removed, promoted or demoted by someone else (`MemberChanged` with an actor):
  `vk.member` with the old and new status. A member joining or leaving by themselves is kept raw only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from proxy.audit import journal
from proxy.connectors.base import ActionKind
from proxy.echo import match_action_echo
from proxy.events import AuthorRestricted, MemberChanged
from proxy.ingest.done_in_vk import _linked_operator_id
from proxy.ingest.outcome import _Effect
from proxy.models import ActorKind, Community, RawEventStatus


async def _author_restricted(
    community: Community, event: AuthorRestricted, at: datetime, conn: Any
) -> _Effect:
    if not event.lifted and await match_action_echo(
        community, ActionKind.MUTE, user_id=event.user_id, conn=conn
    ):
        return _Effect(changed=True)
    await journal.record(
        "vk.unrestrict" if event.lifted else "vk.restrict",
        actor_kind=ActorKind.OUTSIDE,
        operator_id=await _linked_operator_id(community.network, event.admin_id, conn),
        vk_user_id=event.admin_id,
        community_id=community.id,
        params={"user_id": event.user_id, "until": event.until.isoformat() if event.until else None},
        at=at,
        connection=conn,
    )
    return _Effect(changed=True)


async def _member_changed(community: Community, event: MemberChanged, at: datetime, conn: Any) -> _Effect:
    if event.actor_id is None:
        return _Effect(status=RawEventStatus.IGNORED, detail=f"{event.name}: stored raw only")
    await journal.record(
        "vk.member",
        actor_kind=ActorKind.OUTSIDE,
        operator_id=await _linked_operator_id(community.network, event.actor_id, conn),
        vk_user_id=event.actor_id,
        community_id=community.id,
        params={
            "user_id": event.user_id,
            "chat_id": event.chat_id,
            "old": event.old_status,
            "new": event.new_status,
        },
        at=at,
        connection=conn,
    )
    return _Effect(changed=True)
