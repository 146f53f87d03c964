"""Read queries for the operator inbox: the queue of conversations, and one conversation with its history.

The queue is ordered the way operators work it: conversations somebody is waiting on first, the longest
wait first (index conversation(status, waiting_since) or (community_id, status, waiting_since)), then the
others by most recent activity. Paging is by keyset (a cursor naming the last row shown), so page 200
costs what page 1 costs.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from tortoise.expressions import Q
from tortoise.functions import Min

from proxy.access import Scope, may_work
from proxy.clock import utcnow
from proxy.connectors.base import ActionKind
from proxy.connectors.registry import kind_of, methods_of
from proxy.models import (
    Author,
    Ban,
    Channel,
    Community,
    Conversation,
    ConversationStatus,
    Item,
    ItemTombstone,
    ItemVersion,
    ModerationRule,
    Network,
    Note,
    Operator,
    OutboxRow,
    OutboxStatus,
    RuleHit,
)
from proxy.network_limits import DIALOG_CHANNELS, can_restore, deletions_unreported, past_delete_window

PAGE_SIZE = 50
# A conversation page shows this many latest items; older ones are reached through the journal/archive.
TIMELINE_LIMIT = 500
OTHER_CONVERSATIONS_LIMIT = 10
Assigned = Literal["me", "none"]


class InboxError(Exception):
    """A malformed filter or cursor; the message says which."""


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows; every field maps to a URL query parameter of the same name (web/params.py
    reads them)."""

    community: int | None = None
    channel: Channel | None = None
    status: ConversationStatus | None = ConversationStatus.OPEN
    assigned: Assigned | None = None
    over_sla: bool = False
    network: Network | None = None

    def to_query(self) -> dict[str, str]:
        """The URL query parameters that reproduce this filter (defaults left out)."""
        query: dict[str, str] = {}
        if self.community is not None:
            query["community"] = str(self.community)
        if self.channel is not None:
            query["channel"] = self.channel.value
        if self.status != ConversationStatus.OPEN:
            query["status"] = self.status.value if self.status else "all"
        if self.assigned:
            query["assigned"] = self.assigned
        if self.over_sla:
            query["over_sla"] = "1"
        if self.network is not None:
            query["network"] = self.network.value
        return query


@dataclass(frozen=True)
class InboxRow:
    """One line of the queue."""

    conversation: Conversation
    community: Community
    author: Author | None
    assignee: Operator | None
    wait_seconds: float | None  # None when nobody is waiting
    over_sla: bool

    @property
    def segment(self) -> str:
        """Which part of the queue the row sorts in (`_SEGMENTS`): w(aiting), a(nswered), n(ew, empty)."""
        return _segment_of(self.conversation)[0]

    @property
    def sort_at(self) -> datetime:
        """The time the row sorts by within its segment (ascending for "w", descending for the others)."""
        return _segment_of(self.conversation)[1]

    @property
    def cursor(self) -> str:
        """The page cursor that starts after this row (the browser's next-page link once pushed rows
        have pushed this row to the end of a full page)."""
        return _encode_cursor(self.segment, self.sort_at, self.conversation.id)


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    next_cursor: str | None
    # An "over SLA" view: when the next conversation it does not show yet crosses its SLA with no event
    # of its own (the browser re-fetches the list then); None when none waits under its SLA.
    next_sla_at: datetime | None = None


# Segments of the queue in display order: (name, extra filter, ordering column, descending).
_SEGMENTS: tuple[tuple[str, dict[str, Any], str, bool], ...] = (
    ("w", {"waiting_since__isnull": False}, "waiting_since", False),
    ("a", {"waiting_since__isnull": True, "last_item_at__isnull": False}, "last_item_at", True),
    ("n", {"waiting_since__isnull": True, "last_item_at__isnull": True}, "opened_at", True),
)


async def inbox_page(
    scope: Scope,
    filters: InboxFilter,
    *,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    now: datetime | None = None,
) -> InboxPage:
    """One page of the queue as the scope (proxy/access.py) allows, after `cursor` (None: the first page)."""
    now = now or utcnow()
    base = await _base_filter(scope, filters, now)
    if base is None:
        return InboxPage([], None)
    position = _decode_cursor(cursor) if cursor else None
    start = 0 if position is None else [s[0] for s in _SEGMENTS].index(position[0])
    found: list[tuple[str, Conversation]] = []
    for index in range(start, len(_SEGMENTS)):
        name, extra, column, descending = _SEGMENTS[index]
        if filters.over_sla and name != "w":
            break  # only a waiting conversation can be past its SLA
        query = Conversation.filter(base, **extra)
        if position is not None and position[0] == name:
            query = query.filter(_after(column, descending, position[1], position[2]))
        order = [f"-{column}", "-id"] if descending else [column, "id"]
        wanted = limit + 1 - len(found)
        batch = await query.order_by(*order).limit(wanted).select_related("community", "author", "assignee")
        found.extend((name, conversation) for conversation in batch)
        if len(found) > limit:
            break
    next_cursor = None
    if len(found) > limit:
        found = found[:limit]
        name, last = found[-1]
        column = next(s[2] for s in _SEGMENTS if s[0] == name)
        next_cursor = _encode_cursor(name, getattr(last, column), last.id)
    next_sla_at = await _next_sla_crossing(scope, filters, now) if filters.over_sla else None
    return InboxPage([_row(conversation, now) for _, conversation in found], next_cursor, next_sla_at)


async def _next_sla_crossing(scope: Scope, filters: InboxFilter, now: datetime) -> datetime | None:
    """The earliest time a conversation of the view's other filters, waiting but not yet past its
    community's SLA, crosses it: one query, the oldest such wait per community."""
    base = await _base_filter(scope, replace(filters, over_sla=False), now)
    if base is None:
        return None
    communities = Community.all()
    allowed = scope.communities(filters.community)
    if allowed is not None:
        communities = communities.filter(id__in=allowed)
    sla_of = dict(await communities.values_list("id", "sla_seconds"))
    under_sla = [
        Q(community_id=cid, waiting_since__gte=now - timedelta(seconds=sla)) for cid, sla in sla_of.items()
    ]
    if not under_sla:
        return None
    oldest = (
        await Conversation.filter(base, Q(*under_sla, join_type=Q.OR))
        .group_by("community_id")
        .annotate(oldest=Min("waiting_since"))
        .values("community_id", "oldest")
    )
    crossings = [
        _instant(row["oldest"]) + timedelta(seconds=sla_of[row["community_id"]])
        for row in oldest
        if row["oldest"] is not None
    ]
    return min(crossings, default=None)


def _instant(value: datetime | str) -> datetime:
    # An aggregate comes back as text on SQLite.
    found = datetime.fromisoformat(value) if isinstance(value, str) else value
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


async def _base_filter(scope: Scope, filters: InboxFilter, now: datetime) -> Q | None:
    conditions: list[Q] = []
    allowed = scope.communities(filters.community)
    if allowed is not None:
        if not allowed:
            return None
        conditions.append(Q(community_id__in=allowed))
    if filters.status is not None:
        conditions.append(Q(status=filters.status))
    if filters.channel is not None:
        conditions.append(Q(channel=filters.channel))
    if filters.network is not None:
        # Communities number in the tens: their ids keep the queue's indexed conditions.
        on_network = list(await Community.filter(network=filters.network).values_list("id", flat=True))
        if not on_network:
            return None
        conditions.append(Q(community_id__in=on_network))
    if filters.assigned == "me":
        conditions.append(Q(assignee_id=scope.operator_id))
    elif filters.assigned == "none":
        conditions.append(Q(assignee_id__isnull=True))
    if filters.over_sla:
        # Each community has its own threshold: one indexed range condition per community.
        communities = Community.all()
        if filters.community is not None:
            communities = communities.filter(id=filters.community)
        elif allowed is not None:
            communities = communities.filter(id__in=allowed)
        per_community = [
            Q(community_id=cid, waiting_since__lt=now - timedelta(seconds=sla))
            for cid, sla in await communities.values_list("id", "sla_seconds")
        ]
        if not per_community:
            return None
        conditions.append(Q(*per_community, join_type=Q.OR))
    return Q(*conditions) if conditions else Q()


def _after(column: str, descending: bool, value: datetime, row_id: int) -> Q:
    op = "lt" if descending else "gt"
    return Q(**{f"{column}__{op}": value}) | Q(**{column: value, f"id__{op}": row_id})


def _encode_cursor(segment: str, value: datetime, row_id: int) -> str:
    raw = json.dumps([segment, value.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        segment, value, row_id = json.loads(raw)
        if segment not in [s[0] for s in _SEGMENTS]:
            raise ValueError(segment)
        return segment, datetime.fromisoformat(value), int(row_id)
    except (ValueError, TypeError):
        raise InboxError("the page cursor is not valid; start again from the first page") from None


async def inbox_rows(conversation_ids: list[int], *, now: datetime | None = None) -> list[InboxRow]:
    """The queue rows of these conversations in the order asked, whatever their state, in one query (live
    updates push them; who may see which is the caller's to check on `row.community`)."""
    if not conversation_ids:
        return []
    now = now or utcnow()
    found = await Conversation.filter(id__in=conversation_ids).select_related(
        "community", "author", "assignee"
    )
    by_id = {conversation.id: conversation for conversation in found}
    return [_row(by_id[i], now) for i in conversation_ids if i in by_id]


def _segment_of(conversation: Conversation) -> tuple[str, datetime]:
    if conversation.waiting_since is not None:
        return "w", conversation.waiting_since
    if conversation.last_item_at is not None:
        return "a", conversation.last_item_at
    return "n", conversation.opened_at


def _row(conversation: Conversation, now: datetime) -> InboxRow:
    community = conversation.community
    wait = (now - conversation.waiting_since).total_seconds() if conversation.waiting_since else None
    return InboxRow(
        conversation=conversation,
        community=community,
        author=conversation.author,
        assignee=conversation.assignee,
        wait_seconds=wait,
        over_sla=wait is not None and wait > community.sla_seconds,
    )


# --- one conversation ---------------------------------------------------------------------------


@dataclass
class TimelineEntry:
    """One line of a conversation's history: an item, an internal note, or a reply not yet echoed by VK."""

    kind: Literal["item", "note", "outbox"]
    at: datetime
    item: Item | None = None
    note: Note | None = None
    outbox: OutboxRow | None = None
    tombstone: ItemTombstone | None = None
    # The item's latest delete or restore through the proxy while VK has not accepted it (pending,
    # sending) or after VK refused it (failed); None once VK accepted it (the tombstone tells then).
    moderation: OutboxRow | None = None
    # Its deletions that were undone, oldest first: the entry keeps "deleted ..., restored ..." marks.
    restorations: list[ItemTombstone] = field(default_factory=list)
    # The moderation rules that matched the item (each with its rule), oldest first.
    rule_hits: list[RuleHit] = field(default_factory=list)
    # The rules its tombstones (deleted_by_rule_id) and its sending (item.sent_by_rule_id) name, by id.
    rules: dict[int, ModerationRule] = field(default_factory=dict)
    # The item's community's network, and whether the item is older than that network lets a bot delete
    # (Telegram: 48 hours): then no Delete is offered.
    network: Network = Network.VK
    past_delete_window: bool = False

    def rule(self, rule_id: int | None) -> ModerationRule | None:
        return self.rules.get(rule_id) if rule_id is not None else None

    @property
    def in_dialog(self) -> bool:
        """An item of a private dialog: nothing to delete, restore or answer apart."""
        return self.item is not None and self.item.channel in DIALOG_CHANNELS

    @property
    def restorable(self) -> bool:
        """Whether the network can bring the item back (Telegram cannot)."""
        return self.item is not None and can_restore(self.network, self.item.channel)

    @property
    def sort_at(self) -> int:
        """`at` in epoch microseconds: the page places an entry pushed alone by it (ties: item id)."""
        at = self.at if self.at.tzinfo else self.at.replace(tzinfo=UTC)
        return (at - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class AuthorCard:
    author: Author
    bans: list[Ban]
    active_ban: Ban | None
    other_conversations: list[Conversation]
    # The latest ban or unban of this author through the proxy while VK has not accepted it, or after VK
    # refused it; None once accepted (the ban list tells then).
    ban_action: OutboxRow | None = None
    # The rules that banned (Ban.banned_by_rule_id), by id.
    ban_rules: dict[int, ModerationRule] = field(default_factory=dict)

    def rule(self, rule_id: int | None) -> ModerationRule | None:
        return self.ban_rules.get(rule_id) if rule_id is not None else None


@dataclass(frozen=True)
class Assignable:
    """An account a conversation may be assigned to: what the assignee list shows of it."""

    id: int
    display_name: str
    login: str


@dataclass
class ConversationView:
    conversation: Conversation
    entries: list[TimelineEntry]
    truncated: bool
    author_card: AuthorCard | None
    assignable: list[Assignable] = field(default_factory=list)

    @property
    def deletions_unreported(self) -> bool:
        """Whether the network keeps deletions here from the proxy (the page says so)."""
        return deletions_unreported(self.conversation.community.network, self.conversation.channel)


# What the conversation page reads with a conversation: its community, author, assignee and closer.
_CONVERSATION_RELATED = ("community", "author", "assignee", "closed_by")


async def get_conversation(conversation_id: int) -> Conversation | None:
    """The conversation with its community, author, assignee and closer, or None."""
    return await Conversation.get_or_none(id=conversation_id).select_related(*_CONVERSATION_RELATED)


async def get_conversations(conversation_ids: list[int]) -> dict[int, Conversation]:
    """Several conversations as get_conversation loads one, in one query, by id (missing ones left out)."""
    if not conversation_ids:
        return {}
    found = await Conversation.filter(id__in=conversation_ids).select_related(*_CONVERSATION_RELATED)
    return {conversation.id: conversation for conversation in found}


async def conversation_view(conversation: Conversation, *, now: datetime | None = None) -> ConversationView:
    """Everything the conversation page shows."""
    entries, truncated = await timeline(conversation)
    card = await author_card(conversation, now=now) if conversation.author_id else None  # type: ignore[attr-defined]
    return ConversationView(
        conversation=conversation,
        entries=entries,
        truncated=truncated,
        author_card=card,
        assignable=await assignable_operators(conversation.community_id),  # type: ignore[attr-defined]
    )


async def timeline(conversation: Conversation) -> tuple[list[TimelineEntry], bool]:
    """The history in order (oldest first) and whether older items were left out."""
    items = list(
        await Item.filter(conversation_id=conversation.id)
        .order_by("-created_at", "-id")
        .limit(TIMELINE_LIMIT + 1)
        .select_related("author", "sent_by")
    )
    truncated = len(items) > TIMELINE_LIMIT
    items = list(reversed(items[:TIMELINE_LIMIT]))
    since = items[0].created_at if truncated and items else None

    outbox_rows = [
        row for row in await OutboxRow.filter(conversation_id=conversation.id).order_by("id") if is_reply(row)
    ]
    entries = await _item_entries(items, {row.id: row for row in outbox_rows})
    linked = {item.outbox_row_id for item in items if item.outbox_row_id}
    for row in outbox_rows:
        # A reply VK has not echoed back yet (pending, failed, or sent and on its way).
        if row.id not in linked and (since is None or row.created_at >= since):
            entries.append(TimelineEntry("outbox", row.created_at, outbox=row))
    notes = (
        Note.filter(conversation_id=conversation.id).select_related("operator").order_by("created_at", "id")
    )
    if since is not None:
        notes = notes.filter(created_at__gte=since)
    entries.extend(TimelineEntry("note", note.created_at, note=note) for note in await notes)
    entries.sort(key=lambda entry: entry.at)
    return entries, truncated


async def item_entries(conversation_id: int, item_ids: list[int]) -> list[TimelineEntry]:
    """The timeline entries of these items of the conversation (ones not in it left out), oldest first:
    what a change to a few items alters on a page, whatever the length of its timeline."""
    return (await items_entries({conversation_id: item_ids})).get(conversation_id, [])


async def items_entries(wanted: dict[int, list[int]]) -> dict[int, list[TimelineEntry]]:
    """item_entries of several conversations (conversation id -> its items' ids) in one set of reads."""
    wanted_sets = {conversation_id: set(ids) for conversation_id, ids in wanted.items() if ids}
    if not wanted_sets:
        return {}
    items = [
        item
        for item in await Item.filter(
            conversation_id__in=list(wanted_sets), id__in=sorted(set().union(*wanted_sets.values()))
        )
        .order_by("created_at", "id")
        .select_related("author", "sent_by")
        if item.id in wanted_sets[item.conversation_id]  # type: ignore[attr-defined]
    ]
    row_ids = [item.outbox_row_id for item in items if item.outbox_row_id]
    rows = await OutboxRow.filter(id__in=row_ids) if row_ids else []
    by_conversation: dict[int, list[TimelineEntry]] = {}
    for entry in await _item_entries(items, {row.id: row for row in rows if is_reply(row)}):
        by_conversation.setdefault(entry.item.conversation_id, []).append(entry)  # type: ignore[union-attr]
    return by_conversation


async def _item_entries(items: list[Item], outbox_by_id: dict[int, OutboxRow]) -> list[TimelineEntry]:
    """Items as timeline entries, in their order: each with its open tombstone, its undone deletions,
    the reply it echoes, and a delete or restore of it still on its way to VK (or refused)."""
    ids = [item.id for item in items]
    now = utcnow()
    community_ids = {item.community_id for item in items}  # type: ignore[attr-defined]
    networks = dict(await Community.filter(id__in=community_ids).values_list("id", "network")) if ids else {}
    tombstones: dict[int, ItemTombstone] = {}
    restorations: dict[int, list[ItemTombstone]] = {}
    moderation: dict[int, OutboxRow] = {}
    hits: dict[int, list[RuleHit]] = {}
    rules: dict[int, ModerationRule] = {}
    if ids:
        rule_ids = {item.sent_by_rule_id for item in items if item.sent_by_rule_id}
        for tombstone in (
            await ItemTombstone.filter(item_id__in=ids)
            .order_by("deleted_at", "id")
            .select_related("deleted_by", "restored_by")
        ):
            if tombstone.deleted_by_rule_id:
                rule_ids.add(tombstone.deleted_by_rule_id)
            if tombstone.restored_at is None:
                tombstones[tombstone.item_id] = tombstone  # type: ignore[attr-defined]
            else:
                restorations.setdefault(tombstone.item_id, []).append(tombstone)  # type: ignore[attr-defined]
        for row in await OutboxRow.filter(
            method__in=methods_of(ActionKind.DELETE_COMMENT, ActionKind.RESTORE_COMMENT), item_id__in=ids
        ).order_by("id"):
            moderation[row.item_id] = row  # type: ignore[attr-defined]  # the latest wins
        # The rules' marks of the whole page: one read, plus one for rules no hit brought along.
        for hit in await RuleHit.filter(item_id__in=ids).order_by("id").select_related("rule", "undone_by"):
            hits.setdefault(hit.item_id, []).append(hit)  # type: ignore[attr-defined]
            rules[hit.rule.id] = hit.rule
        if rule_ids - set(rules):
            rules.update({r.id: r for r in await ModerationRule.filter(id__in=rule_ids - set(rules))})
    return [
        TimelineEntry(
            "item",
            item.created_at,
            item=item,
            outbox=outbox_by_id.get(item.outbox_row_id) if item.outbox_row_id else None,
            tombstone=tombstones.get(item.id) if item.is_deleted else None,
            moderation=_unfinished(moderation.get(item.id)),
            restorations=restorations.get(item.id, []),
            rule_hits=hits.get(item.id, []),
            rules=rules,
            network=Network(networks[item.community_id]),  # type: ignore[attr-defined]
            past_delete_window=past_delete_window(networks[item.community_id], item.created_at, now),  # type: ignore[attr-defined]
        )
        for item in items
    ]


def _unfinished(row: OutboxRow | None) -> OutboxRow | None:
    """A moderation row VK has not accepted yet, or refused; None once accepted."""
    return row if row is not None and row.status != OutboxStatus.SENT else None


def is_reply(row: OutboxRow) -> bool:
    """Whether an outbox row posts text to VK (a message or a comment), rather than moderating."""
    return kind_of(row.method) is ActionKind.REPLY


async def item_versions(item_id: int) -> list[ItemVersion]:
    """Every text an item has had, the first one first."""
    return list(await ItemVersion.filter(item_id=item_id).order_by("number"))


async def author_card(conversation: Conversation, *, now: datetime | None = None) -> AuthorCard:
    """The author of a conversation: bans in its community and their other conversations there."""
    now = now or utcnow()
    author = conversation.author
    bans = list(
        await Ban.filter(community_id=conversation.community_id, author_id=author.id)  # type: ignore[attr-defined]
        .order_by("-banned_at", "-id")
        .select_related("banned_by")
    )
    active = next(
        (ban for ban in bans if ban.lifted_at is None and (ban.until is None or ban.until > now)), None
    )
    others = list(
        await Conversation.filter(author_id=author.id, community_id=conversation.community_id)  # type: ignore[attr-defined]
        .exclude(id=conversation.id)
        .order_by("-last_item_at", "-id")
        .limit(OTHER_CONVERSATIONS_LIMIT)
    )
    ban_action = (
        await OutboxRow.filter(
            community_id=conversation.community_id,  # type: ignore[attr-defined]
            method__in=methods_of(ActionKind.BAN, ActionKind.UNBAN),
            conversation__author_id=author.id,
        )
        .order_by("-id")
        .first()
    )
    ban_rule_ids = {ban.banned_by_rule_id for ban in bans if ban.banned_by_rule_id}
    return AuthorCard(
        author=author,
        bans=bans,
        active_ban=active,
        other_conversations=others,
        ban_action=_unfinished(ban_action),
        ban_rules={r.id: r for r in await ModerationRule.filter(id__in=ban_rule_ids)} if ban_rule_ids else {},
    )


async def assignable_operators(community_id: int) -> list[Assignable]:
    """Active accounts that may work this community's conversations (read as plain values: the list is
    read for every header pushed to the open pages)."""
    rows = (
        await Operator.filter(may_work(community_id), is_active=True)
        .distinct()
        .order_by("display_name", "login")
        .values("id", "display_name", "login")
    )
    return [Assignable(row["id"], row["display_name"], row["login"]) for row in rows]


async def outbox_row(row_id: int) -> OutboxRow | None:
    return await OutboxRow.get_or_none(id=row_id)
