"""Reading the journal: filtered pages, newest first, and a constant-memory walk for exports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from proxy.access import AccessDenied, Scope, deny, require_community
from proxy.audit.journal import OUTCOME_ACTION
from proxy.db.sql import SqlQuery
from proxy.models import ActorKind, JournalEntry, Network, Operator

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
    network: Network | None = None  # only entries of this network's communities


def journal_where_sql(filters: JournalFilter, q: SqlQuery, alias: str = "j") -> str:
    """The filter as an SQL condition over `journal_entry AS alias`, with `q`'s parameters, on either
    database: the one definition the journal page, its walk and journal.csv (COPY included) share."""
    where = ["1 = 1"]
    if filters.action != OUTCOME_ACTION:
        # Outcome records repeat, for the chain, an outcome its entry shows: asked for by name only.
        where.append(f"{alias}.action <> {q.p(OUTCOME_ACTION)}")
    if filters.operator_id is not None:
        where.append(f"{alias}.operator_id = {q.p(filters.operator_id)}")
    if filters.action:
        if filters.action.endswith("."):
            # A family by its prefix: no LIKE, whose wildcards and case rules differ between the databases.
            prefix = filters.action
            where.append(f"substr({alias}.action, 1, {q.p(len(prefix))}) = {q.p(prefix)}")
        else:
            where.append(f"{alias}.action = {q.p(filters.action)}")
    if filters.community_ids is not None:
        where.append(q.one_of(f"{alias}.community_id", filters.community_ids))
    # In UTC: SQLite compares the stored UTC text, so another offset would compare wrongly.
    if filters.since is not None:
        where.append(f"{alias}.created_at >= {q.p(filters.since.astimezone(UTC))}")
    if filters.until is not None:
        where.append(f"{alias}.created_at < {q.p(filters.until.astimezone(UTC))}")
    if filters.outside_only:
        where.append(f"{alias}.actor_kind = {q.p(ActorKind.OUTSIDE.value)}")
    if filters.actor_kind is not None:
        where.append(f"{alias}.actor_kind = {q.p(filters.actor_kind.value)}")
    if filters.network is not None:
        where.append(on_network_sql(q, f"{alias}.community_id", filters.network))
    return " AND ".join(where)


def on_network_sql(q: SqlQuery, community_column: str, network: Network) -> str:
    """The condition that `community_column` names a community of `network`: the network filter of the
    journal, the deleted archive and the incident search. A row without a community is on no network."""
    return f"{community_column} IN (SELECT nc.id FROM community nc WHERE nc.network = {q.p(network.value)})"


def _page_sql(filters: JournalFilter, q: SqlQuery, columns: str, limit: int, before_id: int | None) -> str:
    where = journal_where_sql(filters, q)
    if before_id is not None:
        where += f" AND j.id < {q.p(before_id)}"
    return f"SELECT {columns} FROM journal_entry j WHERE {where} ORDER BY j.id DESC LIMIT {int(limit)}"


class OthersJournal(AccessDenied):
    """An operator asked for another operator's entries (refused and journaled)."""


async def readable_journal(
    scope: Scope, operator: Operator, filters: JournalFilter, *, action: str, reason: str
) -> JournalFilter:
    """`filters` narrowed to what the scope may read, for the journal page and journal.csv alike.

    A community outside the scope is refused (AccessDenied, journaled as `action`); an operator reads only
    their own entries: asking for another operator's raises OthersJournal (journaled with `reason`).
    """
    for community_id in filters.community_ids or ():
        await require_community(scope, operator, community_id, action=action)
    if not scope.own_rows_only:
        return filters
    if filters.operator_id not in (None, operator.id):
        try:
            await deny(
                operator,
                action=action,
                target=f"journal:operator={filters.operator_id}",
                community_id=None,
                reason=reason,
            )
        except AccessDenied as exc:
            raise OthersJournal(exc.message) from None
    return replace(filters, operator_id=operator.id)


async def journal_page(
    filters: JournalFilter, *, limit: int = 50, before_id: int | None = None
) -> list[JournalEntry]:
    """Entries newest first (by id, the order they were written); `before_id`: the last id of the previous page."""
    q = SqlQuery()
    sql = _page_sql(filters, q, "j.*", limit, before_id)
    # The model's own executor turns the rows into entries, as a queryset would.
    executor = q.connection.executor_class(model=JournalEntry, db=q.connection)
    return list(await executor.execute_select(sql, q.params))


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
    fields = JournalEntry._meta.fields_map
    to_python = [fields[column].to_python_value for column in columns]
    selected = ", ".join(f"j.{fields[column].source_field or column}" for column in columns)
    before_id: int | None = None
    while True:
        q = SqlQuery()
        _, page = await q.connection.execute_query(
            _page_sql(filters, q, selected, page_size, before_id), q.params
        )
        for row in page:
            yield tuple(convert(value) for convert, value in zip(to_python, row, strict=True))
        if len(page) < page_size:
            return
        before_id = page[-1][0]


async def entries_by_id(ids: Iterable[int]) -> dict[int, JournalEntry]:
    """The entries with these ids (a timeline's journal events, to be shown with their parameters)."""
    wanted = set(ids)
    return {e.id: e for e in await JournalEntry.filter(id__in=wanted)} if wanted else {}
