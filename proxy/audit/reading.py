"""Reading the journal: filtered pages, newest first, and a constant-memory walk for exports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.queryset import QuerySet

from proxy.db.sql import SqlQuery
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


def journal_where_sql(filters: JournalFilter, q: SqlQuery, alias: str = "j") -> str:
    """The condition of `_query(filters)` in PostgreSQL's SQL over `journal_entry AS alias`, with
    `q`'s parameters: for exports the database writes itself. Keep the two in step."""
    where = ["TRUE"]
    if filters.operator_id is not None:
        where.append(f"{alias}.operator_id = {q.p(filters.operator_id)}")
    if filters.action:
        if filters.action.endswith("."):
            where.append(f"starts_with({alias}.action, {q.p(filters.action)})")
        else:
            where.append(f"{alias}.action = {q.p(filters.action)}")
    if filters.community_ids is not None:
        where.append(f"{alias}.community_id = ANY({q.p(list(filters.community_ids))})")
    if filters.since is not None:
        where.append(f"{alias}.created_at >= {q.p(filters.since.astimezone(UTC))}")
    if filters.until is not None:
        where.append(f"{alias}.created_at < {q.p(filters.until.astimezone(UTC))}")
    if filters.outside_only:
        where.append(f"{alias}.actor_kind = {q.p(ActorKind.OUTSIDE.value)}")
    if filters.actor_kind is not None:
        where.append(f"{alias}.actor_kind = {q.p(filters.actor_kind.value)}")
    return " AND ".join(where)


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
