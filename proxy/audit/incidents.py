"""Incident investigation: timelines that merge content and actions, and search over both.

A timeline puts in time order what was written (items, edits), what happened to it (deletions,
restorations) and what people did (journal entries), for one conversation, one author, one operator,
or everything in a time range. `search` finds a text in every version of every item and in the journal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from proxy.audit.journal import OUTCOME_ACTION
from proxy.audit.reading import on_network_sql
from proxy.audit.search import clean_search_text, db_time, in_list, terms_match
from proxy.db.sql import SqlQuery
from proxy.models import Network, Operator

DEFAULT_PAGE_SIZE = 500


class EventKind(StrEnum):
    ITEM = "item"  # a comment or message arrived or was sent (its first text)
    EDIT = "edit"  # a later version
    DELETE = "delete"
    RESTORE = "restore"
    JOURNAL = "journal"  # an action: by an operator, outside the proxy in VK, or by the system


# Order of kinds at the same instant: a thing is written before it is edited, deleted, restored, acted on.
_RANK = {
    EventKind.ITEM: 0,
    EventKind.EDIT: 1,
    EventKind.DELETE: 2,
    EventKind.RESTORE: 3,
    EventKind.JOURNAL: 4,
}
_KIND_BY_RANK = {rank: kind for kind, rank in _RANK.items()}


@dataclass(frozen=True)
class TimelineScope:
    """Whose timeline: set at most one of conversation, author, operator; the period narrows any of them."""

    conversation_id: int | None = None
    author_id: int | None = None  # Author.id
    operator_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    community_ids: tuple[int, ...] | None = None  # None: every community

    def __post_init__(self) -> None:
        chosen = [v for v in (self.conversation_id, self.author_id, self.operator_id) if v is not None]
        if len(chosen) > 1:
            raise ValueError("a timeline is for one conversation, one author or one operator")


@dataclass(frozen=True)
class TimelineEvent:
    """One line of a timeline. `ref_id` is the id of the row it comes from (item, version, tombstone, entry)."""

    at: datetime
    kind: EventKind
    ref_id: int
    community_id: int | None
    conversation_id: int | None
    item_id: int | None
    operator_id: int | None  # sender, deleter, restorer or actor, when an operator
    vk_user_id: int | None  # the VK user who wrote, edited or deleted, or the VK admin of an outside action
    author_id: int | None
    # item: direction ("in"/"out"); delete: how (DeletedVia); journal: the action name; else the kind.
    detail: str
    text: str

    @property
    def cursor(self) -> tuple[datetime, int, int]:
        """Pass as `after=` to get the events that follow this one."""
        return (self.at, _RANK[self.kind], self.ref_id)


async def timeline(
    scope: TimelineScope,
    *,
    limit: int = 200,
    after: tuple[datetime, int, int] | None = None,
) -> list[TimelineEvent]:
    """Events in time order (oldest first) for the scope; `after` is the last event's cursor."""
    q = SqlQuery()
    operator_vk_id = None
    if scope.operator_id is not None:
        operator = await Operator.get_or_none(id=scope.operator_id).only("id", "vk_user_id")
        operator_vk_id = operator.vk_user_id if operator else None
    parts = [
        _items_part(q, scope),
        _edits_part(q, scope),
        _deletions_part(q, scope, operator_vk_id),
        _restorations_part(q, scope),
        _journal_part(q, scope),
    ]
    where = ""
    if after is not None:
        at, rank, ref = q.p(after[0]), q.p(after[1]), q.p(after[2])
        where = (
            f"WHERE u.at > {at} OR (u.at = {at} AND u.rank > {rank})"
            f" OR (u.at = {at} AND u.rank = {rank} AND u.ref_id > {ref})"
        )
    sql = f"""
        SELECT * FROM ({" UNION ALL ".join(parts)}) u
        {where}
        ORDER BY u.at, u.rank, u.ref_id
        LIMIT {int(limit)}
    """
    return [_event(row) for row in await q.rows(sql)]


async def iter_timeline(
    scope: TimelineScope, *, page_size: int = DEFAULT_PAGE_SIZE
) -> AsyncIterator[TimelineEvent]:
    """Every event of the scope in time order, fetched a page at a time."""
    after: tuple[datetime, int, int] | None = None
    while True:
        page = await timeline(scope, limit=page_size, after=after)
        for event in page:
            yield event
        if len(page) < page_size:
            return
        after = page[-1].cursor


def _event(row: dict[str, Any]) -> TimelineEvent:
    return TimelineEvent(
        at=db_time(row["at"]),  # type: ignore[arg-type]
        kind=_KIND_BY_RANK[int(row["rank"])],
        ref_id=row["ref_id"],
        community_id=row["community_id"],
        conversation_id=row["conversation_id"],
        item_id=row["item_id"],
        operator_id=row["operator_id"],
        vk_user_id=row["vk_user_id"],
        author_id=row["author_id"],
        detail=row["detail"] or "",
        text=row["text"] or "",
    )


def _select(at: str, kind: EventKind, ref: str, rest: str) -> str:
    return f"SELECT {at} AS at, {_RANK[kind]} AS rank, {ref} AS ref_id, {rest}"


def _item_scope(q: SqlQuery, scope: TimelineScope, at_column: str) -> list[str]:
    """Conditions on an item `i` shared by the content parts (not the operator's: each part knows its own)."""
    where = []
    if scope.conversation_id is not None:
        where.append(f"i.conversation_id = {q.p(scope.conversation_id)}")
    if scope.author_id is not None:
        # What the author wrote, and what the community answered in the author's conversations.
        author = q.p(scope.author_id)
        where.append(
            f"(i.author_id = {author} OR (i.direction = 'out' AND i.conversation_id IN"
            f" (SELECT id FROM conversation WHERE author_id = {author})))"
        )
    if scope.community_ids is not None:
        where.append(f"i.community_id IN {in_list(q, scope.community_ids)}")
    where.extend(_period(q, scope, at_column))
    return where


def _period(q: SqlQuery, scope: TimelineScope, column: str) -> list[str]:
    where = []
    if scope.since is not None:
        where.append(f"{column} >= {q.p(scope.since)}")
    if scope.until is not None:
        where.append(f"{column} < {q.p(scope.until)}")
    return where


def _and(conditions: Iterable[str]) -> str:
    conditions = list(conditions)
    return " AND ".join(conditions) if conditions else "1 = 1"


_ITEM_COLUMNS = "i.community_id AS community_id, i.conversation_id AS conversation_id, i.id AS item_id"


def _items_part(q: SqlQuery, scope: TimelineScope) -> str:
    where = _item_scope(q, scope, "i.created_at")
    where.append("i.version_count > 0")  # a placeholder (deleted before its text arrived) was never seen
    if scope.operator_id is not None:
        where.append(f"i.sent_by_id = {q.p(scope.operator_id)}")
    return (
        _select(
            "i.created_at",
            EventKind.ITEM,
            "i.id",
            f"{_ITEM_COLUMNS}, i.sent_by_id AS operator_id,"
            " COALESCE(i.admin_author_vk_id, i.from_vk_id) AS vk_user_id, i.author_id AS author_id,"
            " i.direction AS detail, COALESCE(v.text, i.text) AS text",
        )
        + " FROM item i LEFT JOIN item_version v ON v.item_id = i.id AND v.number = 1"
        + f" WHERE {_and(where)}"
    )


def _edits_part(q: SqlQuery, scope: TimelineScope) -> str:
    where = _item_scope(q, scope, "v.valid_from")
    where.append("v.number > 1")
    if scope.operator_id is not None:
        where.append(f"i.sent_by_id = {q.p(scope.operator_id)}")
    return (
        _select(
            "v.valid_from",
            EventKind.EDIT,
            "v.id",
            f"{_ITEM_COLUMNS}, i.sent_by_id AS operator_id,"
            " COALESCE(i.admin_author_vk_id, i.from_vk_id) AS vk_user_id, i.author_id AS author_id,"
            " 'edit' AS detail, v.text AS text",
        )
        + f" FROM item_version v JOIN item i ON i.id = v.item_id WHERE {_and(where)}"
    )


def _deletions_part(q: SqlQuery, scope: TimelineScope, operator_vk_id: int | None) -> str:
    where = _item_scope(q, scope, "t.deleted_at")
    if scope.operator_id is not None:
        mine = f"t.deleted_by_id = {q.p(scope.operator_id)}"
        if operator_vk_id is not None:  # deleted in VK from the operator's own VK account
            mine = f"({mine} OR (t.deleted_by_id IS NULL AND t.deleter_vk_id = {q.p(operator_vk_id)}))"
        where.append(mine)
    return (
        _select(
            "t.deleted_at",
            EventKind.DELETE,
            "t.id",
            f"{_ITEM_COLUMNS}, t.deleted_by_id AS operator_id, t.deleter_vk_id AS vk_user_id,"
            " i.author_id AS author_id, t.deleted_via AS detail, t.last_text AS text",
        )
        + f" FROM item_tombstone t JOIN item i ON i.id = t.item_id WHERE {_and(where)}"
    )


def _restorations_part(q: SqlQuery, scope: TimelineScope) -> str:
    where = _item_scope(q, scope, "t.restored_at")
    where.append("t.restored_at IS NOT NULL")
    if scope.operator_id is not None:
        where.append(f"t.restored_by_id = {q.p(scope.operator_id)}")
    return (
        _select(
            "t.restored_at",
            EventKind.RESTORE,
            "t.id",
            f"{_ITEM_COLUMNS}, t.restored_by_id AS operator_id, NULL AS vk_user_id,"
            " i.author_id AS author_id, 'restore' AS detail, t.last_text AS text",
        )
        + f" FROM item_tombstone t JOIN item i ON i.id = t.item_id WHERE {_and(where)}"
    )


def _journal_part(q: SqlQuery, scope: TimelineScope) -> str:
    where = _period(q, scope, "j.created_at")
    where.append(f"j.action <> {q.p(OUTCOME_ACTION)}")  # the outcome is shown on its entry
    if scope.conversation_id is not None:
        where.append(f"j.conversation_id = {q.p(scope.conversation_id)}")
    if scope.author_id is not None:
        author = q.p(scope.author_id)
        where.append(
            f"(j.item_id IN (SELECT id FROM item WHERE author_id = {author})"
            f" OR j.conversation_id IN (SELECT id FROM conversation WHERE author_id = {author}))"
        )
    if scope.operator_id is not None:
        where.append(f"j.operator_id = {q.p(scope.operator_id)}")
    if scope.community_ids is not None:
        where.append(f"j.community_id IN {in_list(q, scope.community_ids)}")
    return (
        _select(
            "j.created_at",
            EventKind.JOURNAL,
            "j.id",
            "j.community_id AS community_id, j.conversation_id AS conversation_id, j.item_id AS item_id,"
            " j.operator_id AS operator_id, j.vk_user_id AS vk_user_id, NULL AS author_id,"
            " j.action AS detail, j.text AS text",
        )
        + f" FROM journal_entry j WHERE {_and(where)}"
    )


# -- search -------------------------------------------------------------------------------------------


class HitSource(StrEnum):
    CONTENT = "content"  # a version of an item (an edited item matches on any of its texts)
    JOURNAL = "journal"


@dataclass(frozen=True)
class SearchHit:
    source: HitSource
    ref_id: int  # ItemVersion.id or JournalEntry.id
    at: datetime
    community_id: int | None
    conversation_id: int | None
    item_id: int | None
    operator_id: int | None
    detail: str  # content: the version number; journal: the action
    text: str
    # content: the texts of the messages that version quotes or forwards (found there too), one per line.
    forwarded_text: str = ""


async def search(
    text: str,
    *,
    community_ids: tuple[int, ...] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    network: Network | None = None,
    limit: int = 100,
) -> list[SearchHit]:
    """Item texts (every version, with what it quotes or forwards) and journal entries containing `text`,
    newest first.

    An item whose several versions match appears once, with its newest matching version.
    Raises SearchError (a ValueError) for an empty or overlong text.
    """
    text = clean_search_text(text)
    q = SqlQuery()
    # A version's terms cover its text and what it quotes or forwards.
    content = [terms_match(q, "v.search_terms", text)]
    journal = [terms_match(q, "j.search_terms", text)]
    if community_ids is not None:
        content.append(f"i.community_id IN {in_list(q, community_ids)}")
        journal.append(f"j.community_id IN {in_list(q, community_ids)}")
    if network is not None:
        content.append(on_network_sql(q, "i.community_id", network))
        journal.append(on_network_sql(q, "j.community_id", network))
    scope = TimelineScope(since=since, until=until)
    content.extend(_period(q, scope, "v.valid_from"))
    journal.extend(_period(q, scope, "j.created_at"))
    sql = f"""
        SELECT * FROM (
            SELECT 'content' AS source, v.id AS ref_id, v.valid_from AS at, i.community_id AS community_id,
                   i.conversation_id AS conversation_id, i.id AS item_id, i.sent_by_id AS operator_id,
                   CAST(v.number AS TEXT) AS detail, v.text AS text, v.forwarded_text AS forwarded_text
            FROM item_version v JOIN item i ON i.id = v.item_id
            WHERE {_and(content)}
            UNION ALL
            SELECT 'journal', j.id, j.created_at, j.community_id, j.conversation_id, j.item_id,
                   j.operator_id, j.action, j.text, ''
            FROM journal_entry j
            WHERE {_and(journal)}
        ) u
        ORDER BY u.at DESC, u.ref_id DESC
        LIMIT {int(limit)}
    """
    hits: list[SearchHit] = []
    seen_items: set[int] = set()
    for row in await q.rows(sql):
        source = HitSource(row["source"])
        if source == HitSource.CONTENT:
            if row["item_id"] in seen_items:
                continue
            seen_items.add(row["item_id"])
        hits.append(
            SearchHit(
                source=source,
                ref_id=row["ref_id"],
                at=db_time(row["at"]),  # type: ignore[arg-type]
                community_id=row["community_id"],
                conversation_id=row["conversation_id"],
                item_id=row["item_id"],
                operator_id=row["operator_id"],
                detail=row["detail"] or "",
                text=row["text"] or "",
                forwarded_text=row["forwarded_text"] or "",
            )
        )
    return hits


def group_by_conversation(hits: Iterable[SearchHit]) -> dict[int | None, list[SearchHit]]:
    """Hits grouped by conversation, groups in order of their newest hit (None: not about one)."""
    groups: dict[int | None, list[SearchHit]] = {}
    for hit in hits:
        groups.setdefault(hit.conversation_id, []).append(hit)
    return groups
