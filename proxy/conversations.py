"""The conversation state machine: open, wait, answer, close, reopen; and the samples it measures.

Definitions are those of docs/metrics.md (and docs/architecture.md, "Domain words"):
- a waiting period starts at an incoming item from an author when the conversation is not already
  waiting, and ends at the next reply from the community side (through the proxy or directly in VK) or at
  closing;
- each ended waiting period writes exactly one ReactionSample (ended_by "reply" or "close"): measured when
  it happens, aggregated later;
- a close while nobody waits is "with reply", a close while a waiting period is open is "without reply";
- an incoming item on a closed conversation reopens it; the first waiting period after an (re)opening is
  the "first reaction".

Every function takes the caller's transaction connection and locks the conversation row (PostgreSQL
`SELECT ... FOR UPDATE`), so ingest and operator actions touching one conversation never interleave.
The conversation is the first row a transaction locks (docs/architecture.md, "Lock order";
proxy/locks.py): its items, outbox rows, bans and the journal come after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from proxy.business_hours import business_seconds
from proxy.clock import utcnow
from proxy.db.sql import SqlQuery
from proxy.models import (
    Channel,
    ClosingKind,
    Community,
    Conversation,
    ConversationClose,
    ConversationStatus,
    ReactionSample,
)

PREVIEW_LENGTH = 200
# ReactionSample.ended_by of a wait whose every item was deleted.
WITHDRAWN = "withdrawn"


class ConversationError(Exception):
    """A state change that makes no sense for the conversation's state; the message says why."""


@dataclass(frozen=True, kw_only=True)
class ThreadAddress:
    """Where a conversation lives in VK: enough to find it again and to reply in it."""

    channel: Channel
    key: str
    owner_id: int | None = None
    object_id: int | None = None
    root_id: int | None = None
    # Telegram's business_connection_id of a business chat, which its replies carry.
    connection: str | None = None


async def lock(conversation_id: int, conn: Any) -> Conversation:
    """The conversation, locked for the rest of the caller's transaction."""
    return await Conversation.filter(id=conversation_id).select_for_update().using_db(conn).get()


def opening_values(
    community: Community, address: ThreadAddress, *, at: datetime, author_id: int | None
) -> dict[str, Any]:
    """The columns of a conversation opened at `at` (open, not waiting yet)."""
    return {
        "community_id": community.id,
        "channel": address.channel.value,
        "key": address.key,
        "author_id": author_id,
        "vk_owner_id": address.owner_id,
        "vk_object_id": address.object_id,
        "vk_root_id": address.root_id,
        "connection": address.connection,
        "status": ConversationStatus.OPEN.value,
        "opened_at": at,
        "awaiting_first_reaction": True,
        "preview": "",
        "created_at": utcnow(),
    }


async def get_or_open(
    community: Community,
    address: ThreadAddress,
    *,
    at: datetime,
    author_id: int | None,
    conn: Any,
    thread_author: bool = False,
) -> Conversation:
    """The conversation at this address, created (open, not waiting) if it does not exist yet; locked.

    `thread_author`: `author_id` wrote the thread's top-level comment, so it is the conversation's
    author even when a reply seen earlier named another (`author_of_thread`)."""
    # One statement: insert if absent; otherwise the no-op update takes the row's lock (as SELECT ... FOR
    # UPDATE would) and fills in an author not known before. Two events of one new thread arriving at
    # once create one row: the second waits for the first to commit, then updates its row.
    q = SqlQuery(conn)
    values = opening_values(community, address, at=at, author_id=author_id)
    columns = ", ".join(values)
    placeholders = ", ".join(q.p(value) for value in values.values())
    rows = await q.rows(
        f"INSERT INTO conversation ({columns}) VALUES ({placeholders}) "
        "ON CONFLICT (community_id, key) DO UPDATE "
        f"SET author_id = {author_of_thread(thread_author)} RETURNING *"
    )
    return Conversation._init_from_db(**rows[0])


def author_of_thread(thread_author: bool) -> str:
    """The SQL of a conversation's author when an item of its thread arrives (ON CONFLICT DO UPDATE).

    A comment thread belongs to whoever wrote its top-level comment. A reply may arrive first (VK
    delivered it first, or the top-level comment was deleted before the proxy saw it: a video's or a
    wall's delete event names no author), and then names the author only until the top-level comment
    comes; any other item fills in an author not known before and changes no one.
    """
    if thread_author:
        return "COALESCE(EXCLUDED.author_id, conversation.author_id)"
    return "COALESCE(conversation.author_id, EXCLUDED.author_id)"


def author_wrote_changes(conversation: Conversation, *, at: datetime, preview: str) -> list[str]:
    """What an incoming item from an author changes (reopen if closed, start waiting if not already
    waiting), applied to `conversation`; the names of the fields to save. `author_wrote` saves them;
    ingest writes them in the statement that stores the item."""
    fields = ["last_item_at", "preview"]
    if conversation.status == ConversationStatus.CLOSED:
        conversation.status = ConversationStatus.OPEN
        conversation.opened_at = at
        conversation.closed_at = None
        conversation.closing_kind = None
        conversation.closed_by_id = None  # type: ignore[attr-defined]
        conversation.awaiting_first_reaction = True
        fields += [
            "status",
            "opened_at",
            "closed_at",
            "closing_kind",
            "closed_by_id",
            "awaiting_first_reaction",
        ]
    if conversation.waiting_since is None:
        conversation.waiting_since = at
        conversation.sla_breach_notified_at = None
        fields += ["waiting_since", "sla_breach_notified_at"]
    if conversation.last_item_at is None or at >= conversation.last_item_at:
        conversation.last_item_at = at
        conversation.preview = preview[:PREVIEW_LENGTH]
    return fields


def author_wrote_upsert_sql(
    community: Community,
    address: ThreadAddress,
    *,
    at: datetime,
    preview: str,
    author_sql: str,
    source_sql: str,
    q: SqlQuery,
    thread_author: bool = False,
) -> str:
    """`get_or_open` followed by `author_wrote_changes`, as one PostgreSQL INSERT ... SELECT ... FROM
    `source_sql` ... ON CONFLICT DO UPDATE ... RETURNING id (to fold into a data-modifying WITH).

    The same state machine as `author_wrote_changes`, written in SQL for ingest's one-statement path:
    every CASE reads the row as it was, as the Python reads the conversation it locked.
    tests/test_ingest_one_statement.py runs the same events through both and compares the rows.
    """
    values = opening_values(community, address, at=at, author_id=None)
    values.update(
        waiting_since=at, sla_breach_notified_at=None, last_item_at=at, preview=preview[:PREVIEW_LENGTH]
    )
    expressions = {name: author_sql if name == "author_id" else q.p(value) for name, value in values.items()}
    closed = f"conversation.status = '{ConversationStatus.CLOSED.value}'"
    later = "(conversation.last_item_at IS NULL OR EXCLUDED.last_item_at >= conversation.last_item_at)"
    changes = {
        "author_id": author_of_thread(thread_author),
        # Reopened if closed.
        "status": f"'{ConversationStatus.OPEN.value}'",
        "opened_at": f"CASE WHEN {closed} THEN EXCLUDED.opened_at ELSE conversation.opened_at END",
        "closed_at": f"CASE WHEN {closed} THEN NULL ELSE conversation.closed_at END",
        "closing_kind": f"CASE WHEN {closed} THEN NULL ELSE conversation.closing_kind END",
        "closed_by_id": f"CASE WHEN {closed} THEN NULL ELSE conversation.closed_by_id END",
        "awaiting_first_reaction": f"CASE WHEN {closed} THEN TRUE ELSE conversation.awaiting_first_reaction END",
        # Waiting from now unless already waiting.
        "waiting_since": "COALESCE(conversation.waiting_since, EXCLUDED.waiting_since)",
        "sla_breach_notified_at": (
            "CASE WHEN conversation.waiting_since IS NULL THEN NULL ELSE conversation.sla_breach_notified_at END"
        ),
        # An item older than the last one (VK retried it) leaves the preview alone.
        "last_item_at": f"CASE WHEN {later} THEN EXCLUDED.last_item_at ELSE conversation.last_item_at END",
        "preview": f"CASE WHEN {later} THEN EXCLUDED.preview ELSE conversation.preview END",
    }
    return (
        f"INSERT INTO conversation ({', '.join(expressions)}) "
        f"SELECT {', '.join(expressions.values())} FROM {source_sql} "
        "ON CONFLICT (community_id, key) DO UPDATE SET "
        + ", ".join(f"{name} = {expression}" for name, expression in changes.items())
        + " RETURNING id"
    )


async def author_wrote(conversation: Conversation, *, at: datetime, preview: str, conn: Any) -> None:
    """An incoming item from an author: reopen if closed, start waiting if not already waiting."""
    fields = author_wrote_changes(conversation, at=at, preview=preview)
    await conversation.save(using_db=conn, update_fields=fields)


def update_sql(conversation: Conversation, fields: list[str], q: SqlQuery) -> str:
    """An UPDATE of `fields` of the conversation row, with `q`'s parameters (to fold into another
    statement, as `conversation.save(update_fields=fields)` would write them)."""
    meta = Conversation._meta
    assignments = []
    for name in dict.fromkeys(fields):
        field = meta.fields_map[name]
        value = field.to_db_value(getattr(conversation, name), conversation)
        if isinstance(value, Enum):
            value = value.value
        assignments.append(f"{meta.fields_db_projection[name]} = {q.p(value)}")
    return f"UPDATE conversation SET {', '.join(assignments)} WHERE id = {q.p(conversation.id)}"


async def community_replied(
    conversation: Conversation,
    *,
    at: datetime,
    operator_id: int | None,
    outside_proxy: bool,
    preview: str = "",
    conn: Any,
) -> ReactionSample | None:
    """A reply from the community side: ends the open waiting period, if any, with one sample.

    A reply dated before the waiting period started (an old reply brought late by catch-up sync) does
    not answer it.
    """
    fields = []
    if conversation.last_item_at is None or at >= conversation.last_item_at:
        conversation.last_item_at = at
        if preview:
            conversation.preview = preview[:PREVIEW_LENGTH]
        fields += ["last_item_at", "preview"]
    sample = None
    if conversation.waiting_since is not None and at >= conversation.waiting_since:
        sample = await _end_waiting(
            conversation,
            at=at,
            operator_id=operator_id,
            outside_proxy=outside_proxy,
            ended_by="reply",
            conn=conn,
        )
        fields += ["waiting_since", "awaiting_first_reaction"]
    if fields:
        await conversation.save(using_db=conn, update_fields=fields)
    return sample


async def close(
    conversation: Conversation, *, at: datetime, operator_id: int | None, conn: Any, reason: str | None = None
) -> ConversationClose:
    """Close: "without reply" if someone is waiting (that period ends, measured), "with reply" otherwise.

    `reason` is kept for a closing without a reply only (proxy/actions.py CLOSE_REASONS)."""
    if conversation.status == ConversationStatus.CLOSED:
        raise ConversationError("the conversation is already closed")
    waiting = conversation.waiting_since is not None
    if waiting:
        await _end_waiting(
            conversation, at=at, operator_id=operator_id, outside_proxy=False, ended_by="close", conn=conn
        )
    kind = ClosingKind.WITHOUT_REPLY if waiting else ClosingKind.WITH_REPLY
    conversation.status = ConversationStatus.CLOSED
    conversation.closed_at = at
    conversation.closing_kind = kind
    conversation.closed_by_id = operator_id  # type: ignore[attr-defined]
    await conversation.save(
        using_db=conn,
        update_fields=[
            "status",
            "closed_at",
            "closing_kind",
            "closed_by_id",
            "waiting_since",
            "awaiting_first_reaction",
        ],
    )
    return await ConversationClose.create(
        community_id=conversation.community_id,  # type: ignore[attr-defined]
        conversation_id=conversation.id,
        operator_id=operator_id,
        kind=kind,
        opened_at=conversation.opened_at,
        closed_at=at,
        duration_seconds=max(0.0, (at - conversation.opened_at).total_seconds()),
        reason=reason if kind == ClosingKind.WITHOUT_REPLY else None,
        using_db=conn,
    )


async def reopen(conversation: Conversation, *, at: datetime, conn: Any) -> None:
    """An operator reopens a closed conversation; nobody is waiting until the author writes again."""
    if conversation.status == ConversationStatus.OPEN:
        raise ConversationError("the conversation is already open")
    conversation.status = ConversationStatus.OPEN
    conversation.opened_at = at
    conversation.closed_at = None
    conversation.closing_kind = None
    conversation.closed_by_id = None  # type: ignore[attr-defined]
    conversation.awaiting_first_reaction = True
    await conversation.save(
        using_db=conn,
        update_fields=[
            "status",
            "opened_at",
            "closed_at",
            "closing_kind",
            "closed_by_id",
            "awaiting_first_reaction",
        ],
    )


async def waiting_withdrawn(conversation: Conversation, *, at: datetime, conn: Any) -> ReactionSample | None:
    """Every item the author was waiting on was deleted: the wait ends with no reaction, as one sample
    ended_by "withdrawn" that no reaction figure counts (docs/metrics.md). Nobody reacted, so the next
    waiting period of this opening is still its first."""
    if conversation.waiting_since is None:
        return None
    first = conversation.awaiting_first_reaction
    sample = await _end_waiting(
        conversation, at=at, operator_id=None, outside_proxy=False, ended_by=WITHDRAWN, conn=conn
    )
    conversation.awaiting_first_reaction = first
    await conversation.save(using_db=conn, update_fields=["waiting_since"])
    return sample


async def withdrawal_undone(conversation: Conversation, withdrawn: ReactionSample, *, conn: Any) -> None:
    """An item of a withdrawn wait is restored before anything else happened: the wait goes on from its
    start as if it had never been withdrawn, and its withdrawn sample is removed."""
    conversation.waiting_since = withdrawn.started_at
    conversation.awaiting_first_reaction = withdrawn.is_first
    await withdrawn.delete(using_db=conn)
    await conversation.save(using_db=conn, update_fields=["waiting_since", "awaiting_first_reaction"])


async def _end_waiting(
    conversation: Conversation,
    *,
    at: datetime,
    operator_id: int | None,
    outside_proxy: bool,
    ended_by: str,
    conn: Any,
) -> ReactionSample:
    started = conversation.waiting_since
    assert started is not None
    community = await Community.get(id=conversation.community_id).using_db(conn)  # type: ignore[attr-defined]
    sample = await ReactionSample.create(
        community_id=community.id,
        conversation_id=conversation.id,
        channel=conversation.channel,
        operator_id=operator_id,
        outside_proxy=outside_proxy,
        ended_by=ended_by,
        is_first=conversation.awaiting_first_reaction,
        started_at=started,
        ended_at=at,
        seconds=max(0.0, (at - started).total_seconds()),
        business_seconds=_business_seconds(started, at, community.business_hours),
        using_db=conn,
    )
    conversation.waiting_since = None
    conversation.awaiting_first_reaction = False
    return sample


def _business_seconds(start: datetime, end: datetime, hours: dict[str, Any] | None) -> float | None:
    if not hours:
        return None
    return business_seconds(start, end, hours)
