"""The entry of ingest: one event stored and applied, in one transaction (or one statement), once.

`_apply` hands each event to the module of its kind: items (`items`, `deletions`), bans (`bans`), what
was done in VK (`done_in_vk`); an event that changes no row is stored raw with status `ignored` or
`warning` (`_effect_without_rows`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from proxy import metrics, thread_parents
from proxy.clock import utcnow
from proxy.events import (
    AuthorBlocked,
    AuthorRestricted,
    AuthorUnblocked,
    DeprecatedVersionWarning,
    DomainEvent,
    ItemCreated,
    ItemDeleted,
    ItemEdited,
    ItemRestored,
    MemberChanged,
    OfficersEdited,
    Unsupported,
    WallPostCreated,
)
from proxy.ingest import one_statement
from proxy.ingest.bans import _author_blocked, _author_unblocked
from proxy.ingest.deletions import _item_deleted, _item_restored
from proxy.ingest.done_in_vk import _journal_officers_edit
from proxy.ingest.items import _item_created, _item_edited
from proxy.ingest.outcome import IngestResult, Source, _Effect, _Known
from proxy.ingest.raw_events import _claim_raw_event, _known_of, raw_event_key
from proxy.ingest.restrictions import _author_restricted, _member_changed
from proxy.ingest.sanitize import _sanitized
from proxy.models import Community, RawEvent, RawEventStatus

log = logging.getLogger(__name__)


async def ingest(
    community: Community,
    raw: dict[str, Any],
    event: DomainEvent,
    *,
    source: Source,
    received_at: datetime | None = None,
) -> IngestResult:
    """Store one event of ``community`` and apply its effect, once, in one transaction (or one statement).

    ``raw`` is the VK event object as received (its ``secret`` is not stored). Returns after commit;
    raises only when the database fails, in which case nothing was stored and VK must retry.
    """
    received = received_at or utcnow()
    # The key comes from the id exactly as VK sent it: cleaning it first would make distinct ids collide.
    key = raw_event_key(event.event_id)
    event = _sanitized(event)
    result = None
    # Looked up on the module, so that a test can switch the one-statement path off.
    if one_statement._takes_one_statement(event):
        result = await one_statement._new_incoming_item(community, raw, key, event, source, received)
    if result is None:
        result = await _in_transaction(community, raw, key, event, source, received)
    if result.duplicate:
        metrics.EVENTS_DUPLICATE.labels(source).inc()
    else:
        metrics.EVENTS_INGESTED.labels(source, str(result.status)).inc()
        if result.status == RawEventStatus.WARNING:
            log.warning(
                "community %s: VK sent a warning instead of %s: %s",
                community.vk_group_id,
                event.vk_type,
                result.detail,
            )
        elif result.status == RawEventStatus.IGNORED and isinstance(event, Unsupported):
            log.info(
                "community %s: stored %s without effect: %s",
                community.vk_group_id,
                event.vk_type,
                result.detail,
            )
    return result


async def _in_transaction(
    community: Community,
    raw: dict[str, Any],
    key: str,
    event: DomainEvent,
    source: Source,
    received: datetime,
) -> IngestResult:
    """The general path: the raw event and its effect in one transaction."""
    # Stored with the status it will most likely keep, so the common case never updates the row.
    initial = _effect_without_rows(event) or _Effect()
    known = _known_of(event)
    async with in_transaction() as conn:
        raw_id = await _claim_raw_event(community, raw, key, event, source, initial, known, conn)
        if raw_id is None:
            return IngestResult(name=event.name, community_id=community.id, duplicate=True)
        effect = await _apply(community, event, received, source, conn, known)
        if (effect.status, effect.detail) != (initial.status, initial.detail):
            await RawEvent.filter(id=raw_id).using_db(conn).update(status=effect.status, detail=effect.detail)
        return IngestResult(
            name=event.name,
            community_id=community.id,
            status=effect.status,
            detail=effect.detail,
            raw_event_id=raw_id,
            conversation_id=effect.conversation_id,
            item_id=effect.item_id,
            changed=effect.changed,
        )


async def _apply(
    community: Community, event: DomainEvent, received: datetime, source: str, conn: Any, known: _Known
) -> _Effect:
    if isinstance(event, ItemCreated):
        return await _item_created(community, event, received, source, conn, known)
    if isinstance(event, ItemEdited):
        return await _item_edited(community, event, received, conn, known)
    if isinstance(event, ItemDeleted):
        return await _item_deleted(community, event, received, conn, known)
    if isinstance(event, ItemRestored):
        return await _item_restored(community, event, received, conn, known)
    if isinstance(event, AuthorBlocked):
        return await _author_blocked(community, event, received, conn, known)
    if isinstance(event, AuthorUnblocked):
        return await _author_unblocked(community, event, received, conn, known)
    if isinstance(event, OfficersEdited):
        await _journal_officers_edit(community, event, received, conn)
        return _Effect(changed=True)
    if isinstance(event, AuthorRestricted):
        return await _author_restricted(community, event, received, conn)
    if isinstance(event, MemberChanged):
        return await _member_changed(community, event, received, conn)
    if isinstance(event, WallPostCreated):
        # The post is what its comments hang on: the conversation page shows it (proxy/thread_parents.py).
        await thread_parents.record_from_event(community, event, conn)
        return _Effect(changed=True)
    effect = _effect_without_rows(event)
    assert effect is not None, event
    return effect


_WITH_ROWS = (
    ItemCreated,
    ItemEdited,
    ItemDeleted,
    ItemRestored,
    AuthorBlocked,
    AuthorUnblocked,
    OfficersEdited,
    WallPostCreated,
    AuthorRestricted,
    MemberChanged,
)


def _effect_without_rows(event: DomainEvent) -> _Effect | None:
    """The effect of an event that changes no row but its raw event's; None for the others."""
    if isinstance(event, _WITH_ROWS):
        return None
    if isinstance(event, DeprecatedVersionWarning):
        return _Effect(status=RawEventStatus.WARNING, detail=event.warning)
    if isinstance(event, Unsupported):
        return _Effect(status=RawEventStatus.IGNORED, detail=event.reason)
    # Known events that the proxy keeps raw only: typing, read marks, allow/deny.
    return _Effect(status=RawEventStatus.IGNORED, detail=f"{event.name}: stored raw only")
