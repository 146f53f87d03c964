"""The deleted-content archive: every item that was ever deleted, and the whole story of one item.

Text is never erased (proxy/models.py): an item keeps every version and a tombstone per deletion, so
the archive only reads. `deleted_items` lists items, newest deletion first, in keyset pages;
`item_history` / `item_histories` give an item's states in time order: created, edited..., deleted,
restored (and deleted again, if it was).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from proxy.audit.reading import on_network_sql
from proxy.audit.search import db_time, in_list, terms_match
from proxy.db.sql import SqlQuery
from proxy.models import (
    Channel,
    DeletedVia,
    Direction,
    Item,
    ItemTombstone,
    ItemVersion,
    ModerationRule,
    Network,
    Operator,
)

DEFAULT_PAGE_SIZE = 500


class ArchiveState(StrEnum):
    EVER = "ever"  # deleted at least once, whatever its state now
    DELETED = "deleted"  # deleted now
    RESTORED = "restored"  # deleted once, visible again now


class StateKind(StrEnum):
    CREATED = "created"
    EDITED = "edited"
    DELETED = "deleted"
    RESTORED = "restored"


_KIND_ORDER = {StateKind.CREATED: 0, StateKind.EDITED: 1, StateKind.DELETED: 2, StateKind.RESTORED: 3}


@dataclass(frozen=True)
class ArchiveFilter:
    """Which deleted items to show. Deletion filters (period, deleted_via) apply to one same deletion."""

    community_ids: tuple[int, ...] | None = None  # None: every community (managers and admins)
    channel: Channel | None = None
    since: datetime | None = None  # deleted at or after
    until: datetime | None = None  # deleted before
    author_id: int | None = None  # Author.id
    deleted_via: DeletedVia | None = None
    text: str = ""  # in the current text, any version or the text at deletion
    state: ArchiveState = ArchiveState.EVER
    network: Network | None = None  # only items of this network's communities


@dataclass(frozen=True)
class DeletedItem:
    """One item of the archive, with its latest matching deletion."""

    item_id: int
    item_key: str
    community_id: int
    community_name: str
    network: Network
    channel: Channel
    conversation_id: int
    direction: Direction
    author_id: int | None
    author_vk_id: int | None
    author_name: str
    text: str  # the last text known (the item's, or the text at deletion for a placeholder)
    created_at: datetime | None
    version_count: int
    is_deleted: bool
    deletions: int  # matching deletions
    last_deleted_at: datetime

    @property
    def cursor(self) -> tuple[datetime, int]:
        """Pass as `after=` to get the page that follows this item."""
        return (self.last_deleted_at, self.item_id)


@dataclass(frozen=True)
class HistoryState:
    """One state of an item: who brought it there, when, and the text it had then."""

    kind: StateKind
    at: datetime
    text: str
    version: int | None = None
    # deleted: how (DeletedVia); restored: "proxy", or else who had deleted it ("author", "vk_admin", ...).
    via: str | None = None
    vk_user_id: int | None = None  # the VK user who wrote, edited or deleted it, when VK said
    operator_id: int | None = None  # the operator: through the proxy, or linked to that VK user
    operator_login: str | None = None
    # The moderation rule that deleted it, or wrote it (a canned reply): never an operator's doing.
    rule_id: int | None = None
    rule_name: str | None = None


async def deleted_items(
    filters: ArchiveFilter,
    *,
    limit: int = 50,
    after: tuple[datetime, int] | None = None,
) -> list[DeletedItem]:
    """One page of the archive, newest (matching) deletion first; `after` is the last item's cursor."""
    q = SqlQuery()
    where_t: list[str] = []
    if filters.since is not None:
        where_t.append(f"t.deleted_at >= {q.p(filters.since)}")
    if filters.until is not None:
        where_t.append(f"t.deleted_at < {q.p(filters.until)}")
    if filters.deleted_via is not None:
        where_t.append(f"t.deleted_via = {q.p(filters.deleted_via.value)}")
        if filters.deleted_via == DeletedVia.PROXY:
            # "By an operator": a rule's deletion went through the proxy too, but no operator made it.
            where_t.append("t.deleted_by_rule_id IS NULL")
    where = []
    if filters.community_ids is not None:
        where.append(f"i.community_id IN {in_list(q, filters.community_ids)}")
    if filters.channel is not None:
        where.append(f"i.channel = {q.p(filters.channel.value)}")
    if filters.network is not None:
        where.append(on_network_sql(q, "i.community_id", filters.network))
    if filters.author_id is not None:
        where.append(f"i.author_id = {q.p(filters.author_id)}")
    if filters.state == ArchiveState.DELETED:
        where.append("i.is_deleted = TRUE")
    elif filters.state == ArchiveState.RESTORED:
        where.append("i.is_deleted = FALSE")
    if filters.text:
        # Every text an item has had is one of its versions (the current one, and the one a tombstone
        # keeps: proxy/audit/history.py checks it), so the versions' terms are all there is to match.
        where.append(
            "EXISTS (SELECT 1 FROM item_version v WHERE v.item_id = i.id AND "
            + terms_match(q, "v.search_terms", filters.text)
            + ")"
        )
    if after is not None:
        last_at, last_id = q.p(after[0]), q.p(after[1])
        where.append(
            f"(d.last_deleted_at < {last_at} OR (d.last_deleted_at = {last_at} AND i.id < {last_id}))"
        )
    sql = f"""
        SELECT i.id, i.key, i.community_id, c.name AS community_name, c.network, i.channel, i.conversation_id,
               i.direction, i.author_id, a.vk_id AS author_vk_id, a.name AS author_name, i.text,
               i.created_at, i.version_count, i.is_deleted, d.deletions, d.last_deleted_at, d.last_text
        FROM item i
        JOIN (
            SELECT t.item_id, COUNT(*) AS deletions, MAX(t.deleted_at) AS last_deleted_at,
                   MAX(t.last_text) AS last_text
            FROM item_tombstone t
            {"WHERE " + " AND ".join(where_t) if where_t else ""}
            GROUP BY t.item_id
        ) d ON d.item_id = i.id
        JOIN community c ON c.id = i.community_id
        LEFT JOIN author a ON a.id = i.author_id
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY d.last_deleted_at DESC, i.id DESC
        LIMIT {int(limit)}
    """
    rows = await q.rows(sql)
    return [
        DeletedItem(
            item_id=row["id"],
            item_key=row["key"],
            community_id=row["community_id"],
            community_name=row["community_name"],
            network=Network(row["network"]),
            channel=Channel(row["channel"]),
            conversation_id=row["conversation_id"],
            direction=Direction(row["direction"]),
            author_id=row["author_id"],
            author_vk_id=row["author_vk_id"],
            author_name=row["author_name"] or "",
            text=row["text"] or row["last_text"] or "",
            created_at=db_time(row["created_at"]) if row["version_count"] else None,
            version_count=row["version_count"],
            is_deleted=bool(row["is_deleted"]),
            deletions=row["deletions"],
            last_deleted_at=db_time(row["last_deleted_at"]),  # type: ignore[arg-type]
        )
        for row in rows
    ]


async def iter_deleted_items(
    filters: ArchiveFilter, *, page_size: int = DEFAULT_PAGE_SIZE
) -> AsyncIterator[DeletedItem]:
    """Every matching item, in the order of `deleted_items`, fetched a page at a time."""
    after: tuple[datetime, int] | None = None
    while True:
        page = await deleted_items(filters, limit=page_size, after=after)
        for item in page:
            yield item
        if len(page) < page_size:
            return
        after = page[-1].cursor


async def item_history(item_id: int) -> list[HistoryState]:
    """Every state of one item in time order; empty when there is no such item."""
    return (await item_histories([item_id])).get(item_id, [])


async def item_histories(item_ids: Iterable[int]) -> dict[int, list[HistoryState]]:
    """The states of several items at once (four queries whatever their number, five when rules acted)."""
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        return {}
    items = {item.id: item for item in await Item.filter(id__in=ids)}
    versions: dict[int, list[ItemVersion]] = defaultdict(list)
    for version in await ItemVersion.filter(item_id__in=ids).order_by("item_id", "number"):
        versions[version.item_id].append(version)  # type: ignore[attr-defined]
    tombstones: dict[int, list[ItemTombstone]] = defaultdict(list)
    for tombstone in await ItemTombstone.filter(item_id__in=ids).order_by("item_id", "deleted_at", "id"):
        tombstones[tombstone.item_id].append(tombstone)  # type: ignore[attr-defined]
    operators = await _operators()
    rule_ids = {i.sent_by_rule_id for i in items.values() if i.sent_by_rule_id}
    rule_ids |= {t.deleted_by_rule_id for ts in tombstones.values() for t in ts if t.deleted_by_rule_id}
    rules = dict(await ModerationRule.filter(id__in=rule_ids).values_list("id", "name")) if rule_ids else {}
    return {
        item_id: _states(items[item_id], versions[item_id], tombstones[item_id], operators, rules)
        for item_id in ids
        if item_id in items
    }


@dataclass(frozen=True)
class _Operators:
    login_by_id: dict[int, str]
    id_by_vk_user: dict[int, int]

    def named(self, operator_id: int | None) -> tuple[int | None, str | None]:
        return operator_id, self.login_by_id.get(operator_id) if operator_id is not None else None

    def linked(self, vk_user_id: int | None) -> tuple[int | None, str | None]:
        return self.named(self.id_by_vk_user.get(vk_user_id) if vk_user_id is not None else None)


async def _operators() -> _Operators:
    # Teams have tens of operators: one small read instead of a join per state.
    rows = await Operator.all().values_list("id", "login", "vk_user_id")
    return _Operators({r[0]: r[1] for r in rows}, {r[2]: r[0] for r in rows if r[2] is not None})


def _states(
    item: Item,
    versions: list[ItemVersion],
    tombstones: list[ItemTombstone],
    operators: _Operators,
    rules: dict[int, str],
) -> list[HistoryState]:
    states: list[tuple[tuple[datetime, int, int], HistoryState]] = []
    writer_vk_id = item.admin_author_vk_id or item.from_vk_id
    writer = (
        operators.named(item.sent_by_id) if item.sent_by_id else operators.linked(item.admin_author_vk_id)
    )  # type: ignore[attr-defined]
    for version in versions:
        kind = StateKind.CREATED if version.number == 1 else StateKind.EDITED
        state = HistoryState(
            kind=kind,
            at=version.valid_from,
            text=version.text,
            version=version.number,
            vk_user_id=writer_vk_id,
            operator_id=writer[0],
            operator_login=writer[1],
            rule_id=item.sent_by_rule_id,
            rule_name=rules.get(item.sent_by_rule_id) if item.sent_by_rule_id else None,
        )
        states.append(((version.valid_from, _KIND_ORDER[kind], version.number), state))
    for tombstone in tombstones:
        rule_id = tombstone.deleted_by_rule_id
        deleter = (
            operators.named(tombstone.deleted_by_id)  # type: ignore[attr-defined]
            if tombstone.deleted_by_id  # type: ignore[attr-defined]
            else (None, None)
            if rule_id
            else operators.linked(tombstone.deleter_vk_id)
            if tombstone.deleted_via != DeletedVia.AUTHOR
            else (None, None)
        )
        state = HistoryState(
            kind=StateKind.DELETED,
            at=tombstone.deleted_at,
            text=tombstone.last_text,
            via=str(tombstone.deleted_via),
            vk_user_id=tombstone.deleter_vk_id,
            operator_id=deleter[0],
            operator_login=deleter[1],
            rule_id=rule_id,
            rule_name=rules.get(rule_id) if rule_id else None,
        )
        states.append(((tombstone.deleted_at, _KIND_ORDER[StateKind.DELETED], tombstone.id), state))
        if tombstone.restored_at is not None:
            restorer = operators.named(tombstone.restored_by_id)  # type: ignore[attr-defined]
            state = HistoryState(
                kind=StateKind.RESTORED,
                at=tombstone.restored_at,
                text=tombstone.last_text,
                via="proxy" if restorer[0] is not None else _restored_outside(tombstone.deleted_via),
                operator_id=restorer[0],
                operator_login=restorer[1],
            )
            states.append(((tombstone.restored_at, _KIND_ORDER[StateKind.RESTORED], tombstone.id), state))
    return [state for _, state in sorted(states, key=lambda pair: pair[0])]


def _restored_outside(deleted_via: DeletedVia) -> str:
    # VK does not say who restored a comment: an author can undo only their own deletion, so anything
    # else was undone by a community admin in VK (unless VK did not say who deleted it either).
    if deleted_via in (DeletedVia.AUTHOR, DeletedVia.UNKNOWN):
        return str(deleted_via)
    return str(DeletedVia.VK_ADMIN)
