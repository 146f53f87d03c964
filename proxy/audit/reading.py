"""Reading the journal: filtered pages, newest first, and a constant-memory walk for exports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.queryset import QuerySet

from proxy.models import ActorKind, JournalEntry

DEFAULT_PAGE_SIZE = 1000


@dataclass(frozen=True)
class JournalFilter:
    """Which entries: every field narrows; `outside_only` keeps actions taken in VK, bypassing the proxy."""

    operator_id: int | None = None
    action: str | None = None  # an exact name ("reply.send"), or a family ending in "." ("comment.")
    community_ids: tuple[int, ...] | None = None  # None: every community, and entries without one
    since: datetime | None = None
    until: datetime | None = None
    outside_only: bool = False
    actor_kind: ActorKind | None = None  # who acted: an operator through the proxy, outside, system, api


def _query(filters: JournalFilter) -> QuerySet[JournalEntry]:
    query = JournalEntry.all()
    if filters.operator_id is not None:
        query = query.filter(operator_id=filters.operator_id)
    if filters.action:
        if filters.action.endswith("."):
            query = query.filter(action__startswith=filters.action)
        else:
            query = query.filter(action=filters.action)
    if filters.community_ids is not None:
        query = query.filter(community_id__in=list(filters.community_ids))
    # In UTC: SQLite compares the stored UTC text, so another offset would compare wrongly.
    if filters.since is not None:
        query = query.filter(created_at__gte=filters.since.astimezone(UTC))
    if filters.until is not None:
        query = query.filter(created_at__lt=filters.until.astimezone(UTC))
    if filters.outside_only:
        query = query.filter(actor_kind=ActorKind.OUTSIDE)
    if filters.actor_kind is not None:
        query = query.filter(actor_kind=filters.actor_kind)
    return query


async def journal_page(
    filters: JournalFilter, *, limit: int = 50, before_id: int | None = None
) -> list[JournalEntry]:
    """Entries newest first (by id, the order they were written); `before_id`: the last id of the previous page."""
    query = _query(filters)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    return list(await query.order_by("-id").limit(limit))


async def iter_journal(
    filters: JournalFilter, *, page_size: int = DEFAULT_PAGE_SIZE
) -> AsyncIterator[JournalEntry]:
    """Every matching entry in the order of `journal_page`, fetched a page at a time."""
    before_id: int | None = None
    while True:
        page = await journal_page(filters, limit=page_size, before_id=before_id)
        for entry in page:
            yield entry
        if len(page) < page_size:
            return
        before_id = page[-1].id


async def iter_journal_values(
    filters: JournalFilter, columns: Sequence[str], *, page_size: int = DEFAULT_PAGE_SIZE
) -> AsyncIterator[tuple[Any, ...]]:
    """Like `iter_journal`, but tuples of `columns` ("id" first): no model instance per row, for exports."""
    if not columns or columns[0] != "id":
        raise ValueError("columns must start with id (the paging key)")
    before_id: int | None = None
    while True:
        query = _query(filters)
        if before_id is not None:
            query = query.filter(id__lt=before_id)
        page = await query.order_by("-id").limit(page_size).values_list(*columns)
        for row in page:
            yield row
        if len(page) < page_size:
            return
        before_id = page[-1][0]
