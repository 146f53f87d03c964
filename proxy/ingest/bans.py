"""Bans and unbans as VK reports them (user_block, user_unblock).

A ban made through the proxy is recorded by the outbox too; both record it through proxy/moderation.py,
which keeps one active ban per author whichever comes first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from proxy import moderation
from proxy.connectors.base import ActionKind
from proxy.echo import match_action_echo
from proxy.events import AuthorBlocked, AuthorUnblocked
from proxy.ingest.authors import _author
from proxy.ingest.done_in_vk import _journal_ban_expired, _journal_vk_ban, _journal_vk_unban
from proxy.ingest.outcome import _Effect, _Known
from proxy.models import Community


async def _author_blocked(
    community: Community, event: AuthorBlocked, received: datetime, conn: Any, known: _Known
) -> _Effect:
    author_id = await _author(community.network, event.user_id, conn, known)
    echo = await match_action_echo(community, ActionKind.BAN, user_id=event.user_id, conn=conn)
    # The outbox may be recording the same ban right now: one row either way (proxy/moderation.py).
    ban = await moderation.vk_reported_ban(
        community_id=community.id,
        author_id=author_id,
        at=received,
        until=event.unblock_date,
        reason=event.reason,
        comment=event.comment,
        operator_id=echo.operator_id if echo else None,  # type: ignore[attr-defined]
        admin_vk_id=event.admin_id,
        conn=conn,
        rule_id=echo.rule_id if echo else None,
    )
    by_proxy = echo is not None or ban.banned_by_id is not None or ban.banned_by_rule_id is not None
    if not by_proxy:
        await _journal_vk_ban(community, event, received, conn)
    return _Effect(changed=True)


async def _author_unblocked(
    community: Community, event: AuthorUnblocked, received: datetime, conn: Any, known: _Known
) -> _Effect:
    author_id = await _author(community.network, event.user_id, conn, known)
    await moderation.lift(community.id, author_id, received, conn)
    echo = await match_action_echo(community, ActionKind.UNBAN, user_id=event.user_id, conn=conn)
    if event.by_end_date:
        await _journal_ban_expired(community, event, received, conn)
    elif echo is None:
        await _journal_vk_unban(community, event, received, conn)
    return _Effect(changed=True)
