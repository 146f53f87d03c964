"""Ingest: one normalized VK event becomes rows, in one transaction, exactly once.

Every event is stored verbatim as a RawEvent, deduplicated on (group, event_id): VK retries what was
not acknowledged and sometimes repeats an event, and a repeat has no second effect. Then, in the same
transaction: the author, the item (created, new version, tombstone, restored), the conversation state
(proxy/conversations.py) and a journal entry for what a community admin did directly in VK.

Ingest is also idempotent on the item itself: catch-up sync (source "sync") re-reads what events
already brought, and events may arrive out of order when VK retries. An ItemCreated for an item that
is already stored with the same text changes nothing; with another text it is an edit (sync) or an
earlier text arriving late (events). A delete for an item never seen keeps the fact as a placeholder
item without text, filled in if its text arrives later.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from proxy import bans, conversations, db, metrics
from proxy.audit import journal
from proxy.clock import utcnow
from proxy.conversations import ThreadAddress
from proxy.db.group_commit import group_commit
from proxy.db.sql import SqlQuery
from proxy.echo import match_action_echo, match_outbox_echo
from proxy.events import (
    AuthorBlocked,
    AuthorUnblocked,
    DeprecatedVersionWarning,
    DomainEvent,
    ItemCreated,
    ItemDeleted,
    ItemEdited,
    ItemRef,
    ItemRestored,
    OfficersEdited,
    ThreadRef,
    Unsupported,
)
from proxy.events import (
    Channel as EventChannel,
)
from proxy.events import (
    Direction as EventDirection,
)
from proxy.models import (
    ActorKind,
    Ban,
    Channel,
    Community,
    Conversation,
    ConversationStatus,
    DeletedVia,
    Direction,
    Item,
    ItemTombstone,
    ItemVersion,
    Operator,
    RawEvent,
    RawEventStatus,
    ReactionSample,
)

__all__ = ["IngestResult", "Source", "ingest", "raw_event_key"]

log = logging.getLogger(__name__)

Source = Literal["callback", "longpoll", "sync"]

# RawEvent.event_id and .type are VARCHAR(64); VK's ids are 40 characters.
_MAX_ID = 64
_DIGEST_PREFIX = "sha1:"
# Encode JSON columns as the ORM stores them (written here by hand-made INSERTs).
_ATTACHMENTS = Item._meta.fields_map["attachments"]
_FORWARDED = Item._meta.fields_map["forwarded"]


@dataclass(frozen=True, kw_only=True)
class IngestResult:
    """What one event did. ``duplicate``: it was stored before and had no effect now.

    ``changed`` is True when anything beyond the raw event changed (an item, a conversation, a ban,
    the journal), which is what live subscribers care about.
    """

    name: str
    community_id: int
    duplicate: bool = False
    status: RawEventStatus | None = None
    detail: str = ""
    raw_event_id: int | None = None
    conversation_id: int | None = None
    item_id: int | None = None
    changed: bool = False

    @property
    def to_publish(self) -> bool:
        """Whether live subscribers still have to hear of it (after commit)."""
        return self.changed and not self.duplicate

    def live_data(self) -> dict[str, Any]:
        """The payload published to live subscribers after commit."""
        return {
            "community_id": self.community_id,
            "conversation_id": self.conversation_id,
            "item_id": self.item_id,
        }


@dataclass
class _Effect:
    status: RawEventStatus = RawEventStatus.PROCESSED
    detail: str = ""
    conversation_id: int | None = None
    item_id: int | None = None
    changed: bool = False


@dataclass
class _Known:
    """Rows looked up by the statement that stores the raw event (PostgreSQL), so that the common path
    needs no statement of its own for them: the stored item with the event's key, and its author."""

    item_key: str | None = None
    author_vk_id: int | None = None
    looked_up: bool = False
    item: tuple[int, int] | None = None  # (id, conversation_id)
    author_id: int | None = None


def _known_of(event: DomainEvent) -> _Known:
    """What to look up with the raw event: the item and the author an event names."""
    if isinstance(event, ItemCreated | ItemEdited | ItemRestored):
        return _Known(item_key=event.ref.key, author_vk_id=event.author_id)
    if isinstance(event, ItemDeleted):
        return _Known(item_key=event.ref.key, author_vk_id=event.user_id)
    if isinstance(event, AuthorBlocked | AuthorUnblocked):
        return _Known(author_vk_id=event.user_id)
    return _Known()


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
    if _takes_one_statement(event):
        result = await _new_incoming_item(community, raw, key, event, source, received)
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
    community: Community, raw: dict[str, Any], key: str, event: DomainEvent, source: Source, received: datetime
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


# --- the common case in one statement (PostgreSQL) ----------------------------------------------


def _takes_one_statement(event: DomainEvent) -> bool:
    """A new comment or message from an author: most of what VK sends, and what a busy community
    sends at its peak. On PostgreSQL it is stored by one statement in autocommit."""
    return (
        isinstance(event, ItemCreated)
        and event.direction is EventDirection.IN
        and event.author_id is not None
        and db.is_postgres()
    )


async def _new_incoming_item(
    community: Community, raw: dict[str, Any], key: str, event: ItemCreated, source: str, received: datetime
) -> IngestResult | None:
    """Store a new incoming item with its raw event, author and conversation in one statement, or None
    when the general path must do it (nothing was written then).

    What the general path does for this event in a transaction of three statements plus BEGIN and
    COMMIT, as one data-modifying WITH: the ingest rate follows the number of round trips to the
    database (docs/benchmarks.md). The conversation's change is `conversations.author_wrote_upsert_sql`,
    the SQL form of `author_wrote_changes`. None when the item is already stored (the general path
    decides between a repeat, an edit and a late text), or when a concurrent writer stored the same
    item first (its INSERT fails, the statement is undone as a whole). Statements that arrive while
    others are being written are committed together with the next group (`group_commit`).

    The live notice is not part of it: a transaction that NOTIFYs takes PostgreSQL's notify-queue lock
    at commit and holds it through its WAL flush, so with the NOTIFY inside, every event's commit
    waited for the one before (that lock was the most sampled wait at 64 senders). It goes after the
    "ok", on the LISTEN connection, batched with the other notices of the moment (`PgListener.notify`).

    A comment from an operator's own VK account is that operator's reply (`_in_person`): the statement
    then writes nothing, and the general path stores it.
    """
    content = _content(event)
    at = content.created_at or received
    q = SqlQuery()
    community_id = q.p(community.id)
    raw_values = _raw_values(community, raw, key, event, source, _Effect())
    author_vk_id = q.p(content.author_id)
    item_values = {
        name: q.p(value)
        for name, value in _item_values(community, content, at, None, None).items()
        if name not in ("conversation_id", "author_id")
    }
    item_values["conversation_id"] = "opened.id"
    item_values["author_id"] = "(SELECT id FROM the_author)"
    address = _address(content.thread)
    conversation = conversations.author_wrote_upsert_sql(
        community,
        address,
        at=at,
        preview=_preview(content),
        author_sql="(SELECT id FROM the_author)",
        source_sql="claimed",
        q=q,
    )
    # Only comments can be written in person (_in_person); operator.vk_user_id is unique, so indexed.
    in_person = "FALSE" if content.ref.channel is EventChannel.MESSAGE else (
        f"EXISTS (SELECT 1 FROM operator WHERE vk_user_id = {author_vk_id})"
    )
    statement = (
        f"WITH existing AS (SELECT 1 FROM item WHERE community_id = {community_id} "
        f"AND key = {q.p(content.ref.key)}), "
        f"claimed AS (INSERT INTO raw_event ({', '.join(raw_values)}) "
        f"SELECT {', '.join(q.p(v) for v in raw_values.values())} WHERE NOT EXISTS (SELECT 1 FROM existing) "
        f"AND NOT {in_person} "
        "ON CONFLICT (vk_group_id, event_id) DO NOTHING RETURNING id), "
        f"known_author AS (SELECT id FROM author WHERE vk_id = {author_vk_id}), "
        # A no-op update when a concurrent event inserted the author first: it returns the row.
        "new_author AS (INSERT INTO author (vk_id, name, screen_name, photo_url, first_seen_at) "
        f"SELECT {author_vk_id}, '', '', '', {q.p(utcnow())} FROM claimed "
        "WHERE NOT EXISTS (SELECT 1 FROM known_author) "
        "ON CONFLICT (vk_id) DO UPDATE SET vk_id = EXCLUDED.vk_id RETURNING id), "
        "the_author AS (SELECT id FROM known_author UNION ALL SELECT id FROM new_author), "
        f"opened AS ({conversation}), "
        f"new_item AS (INSERT INTO item ({', '.join(item_values)}) SELECT {', '.join(item_values.values())} "
        "FROM opened RETURNING id, text, attachments, forwarded, created_at, recorded_at), "
        f"first_version AS ({_first_version_sql(content, q)}) "
        f"SELECT EXISTS (SELECT 1 FROM existing) OR {in_person} AS general_path, (SELECT id FROM claimed) AS raw_id, "
        "(SELECT id FROM opened) AS conversation_id, (SELECT id FROM new_item) AS item_id"
    )
    try:
        row = await group_commit(q).fetch_row(q, statement, order=f"{community.id}:{address.key}")
    except IntegrityError:
        return None
    if row["general_path"]:
        return None
    if row["raw_id"] is None:
        return IngestResult(name=event.name, community_id=community.id, duplicate=True)
    return IngestResult(
        name=event.name,
        community_id=community.id,
        status=RawEventStatus.PROCESSED,
        raw_event_id=row["raw_id"],
        conversation_id=row["conversation_id"],
        item_id=row["item_id"],
        changed=True,
    )


# --- the raw event ------------------------------------------------------------------------------


def _dump(raw: dict[str, Any]) -> str:
    kept = {key: value for key, value in raw.items() if key != "secret"}
    text = json.dumps(kept, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot be stored as UTF-8; the escaped form keeps them verbatim.
        text = json.dumps(kept, ensure_ascii=True)
    return text


def raw_event_key(event_id: str) -> str:
    """The key an event is deduplicated on: VK's event_id itself when PostgreSQL can store it as it is.

    An id it cannot store as it is (with NUL or a lone surrogate, longer than the column's 64
    characters) is keyed by the SHA-1 of its exact characters instead, and so is an id that already
    looks like such a digest, so two distinct ids never share a key. VK's ids are 40 hexadecimal
    characters and are stored as they come.
    """
    if len(event_id) <= _MAX_ID and "\x00" not in event_id and not event_id.startswith(_DIGEST_PREFIX):
        try:
            event_id.encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            return event_id
    return _DIGEST_PREFIX + hashlib.sha1(event_id.encode("utf-8", "surrogatepass")).hexdigest()


def _raw_values(
    community: Community, raw: dict[str, Any], key: str, event: DomainEvent, source: str, initial: _Effect
) -> dict[str, Any]:
    return {
        "community_id": community.id,
        "vk_group_id": community.vk_group_id,
        "event_id": key,
        "type": _clean(event.vk_type)[:_MAX_ID],
        "payload": _dump(raw),
        "source": source,
        "status": initial.status.value,
        "detail": initial.detail,
        "received_at": utcnow(),
    }


async def _claim_raw_event(
    community: Community,
    raw: dict[str, Any],
    key: str,
    event: DomainEvent,
    source: str,
    initial: _Effect,
    known: _Known,
    conn: Any,
) -> int | None:
    """Insert the raw event if absent: its id if this call inserted it, None for a duplicate.

    One statement: when a concurrent transaction is inserting the same event, PostgreSQL makes this
    one wait for it and then reports the conflict (no row), so exactly one of them applies it. On
    PostgreSQL the same statement looks up the rows in `known`.
    """
    q = SqlQuery(conn)
    values = _raw_values(community, raw, key, event, source, initial)
    insert = (
        f"INSERT INTO raw_event ({', '.join(values)}) VALUES ({', '.join(q.p(v) for v in values.values())}) "
        "ON CONFLICT (vk_group_id, event_id) DO NOTHING RETURNING id"
    )
    if not q.postgres or (known.item_key is None and known.author_vk_id is None):
        rows = await q.rows(insert)
        return rows[0]["id"] if rows else None
    # The look-ups read the snapshot the statement started with, as a separate SELECT run just
    # before it would; they are used only when the event is new.
    item_key = q.p(known.item_key)
    author_vk_id = q.p(known.author_vk_id)
    rows = await q.rows(
        f"WITH claimed AS ({insert}) "
        "SELECT claimed.id AS raw_id, i.id AS item_id, i.conversation_id, a.id AS author_id "
        "FROM (SELECT 1) AS one LEFT JOIN claimed ON TRUE "
        f"LEFT JOIN item i ON i.community_id = {q.p(community.id)} AND i.key = {item_key} "
        f"LEFT JOIN author a ON a.vk_id = {author_vk_id}"
    )
    row = rows[0]
    known.looked_up = True
    known.item = (row["item_id"], row["conversation_id"]) if row["item_id"] is not None else None
    known.author_id = row["author_id"]
    return row["raw_id"]


# --- dispatch -----------------------------------------------------------------------------------


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
        await journal.record(
            "vk.officers_edit",
            actor_kind=ActorKind.OUTSIDE,
            vk_user_id=event.admin_id,
            operator_id=await _linked_operator_id(event.admin_id, conn),
            community_id=community.id,
            params={"user_id": event.user_id, "level_old": event.level_old, "level_new": event.level_new},
            at=received,
            connection=conn,
        )
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
)


def _effect_without_rows(event: DomainEvent) -> _Effect | None:
    """The effect of an event that changes no row but its raw event's; None for the others."""
    if isinstance(event, _WITH_ROWS):
        return None
    if isinstance(event, DeprecatedVersionWarning):
        return _Effect(status=RawEventStatus.WARNING, detail=event.warning)
    if isinstance(event, Unsupported):
        return _Effect(status=RawEventStatus.IGNORED, detail=event.reason)
    # Known events that the proxy keeps raw only: wall posts, typing, read marks, allow/deny.
    return _Effect(status=RawEventStatus.IGNORED, detail=f"{event.name}: stored raw only")


# --- items --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Content:
    """What an event says about an item, whichever event it is."""

    ref: ItemRef
    thread: ThreadRef
    author_id: int | None
    text: str
    attachments: list[Any]
    created_at: datetime | None
    direction: Direction
    reply_to: ItemRef | None = None
    admin_author_id: int | None = None
    message_id: int | None = None
    forwarded: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def _content(event: ItemCreated | ItemRestored | ItemEdited) -> _Content:
    if isinstance(event, ItemEdited):
        direction = Direction.OUT if event.from_community else Direction.IN
        return _Content(
            ref=event.ref,
            thread=event.thread,
            author_id=event.author_id,
            text=event.text,
            attachments=list(event.attachments),
            created_at=event.created_at,
            direction=direction,
            admin_author_id=event.admin_author_id,
            forwarded=list(event.forwarded),
        )
    return _Content(
        ref=event.ref,
        thread=event.thread,
        author_id=event.author_id,
        text=event.text,
        attachments=list(event.attachments),
        created_at=event.created_at,
        direction=Direction.OUT if event.direction is EventDirection.OUT else Direction.IN,
        reply_to=event.reply_to,
        admin_author_id=event.admin_author_id,
        message_id=event.message_id,
        forwarded=list(event.forwarded),
    )


async def _in_person(content: _Content, conn: Any) -> _Content:
    """A comment from the VK account linked to an operator is that operator answering directly in VK:
    outgoing, credited like a message_reply naming them in admin_author_id (docs/metrics.md,
    "Attribution"). Messages are not: in a dialog VK names the admin, and a message_new from an
    operator's own account is that person writing to the community."""
    if (
        content.ref.channel is EventChannel.MESSAGE
        or content.direction != Direction.IN
        or content.author_id is None
        or content.author_id <= 0
        or await _linked_operator_id(content.author_id, conn) is None
    ):
        return content
    return dataclasses.replace(content, direction=Direction.OUT, admin_author_id=content.author_id)


def _address(thread: ThreadRef) -> ThreadAddress:
    return ThreadAddress(
        channel=Channel(thread.channel.value),
        key=thread.key,
        owner_id=thread.owner_id,
        object_id=thread.object_id,
        root_id=thread.root_id,
    )


def _preview(content: _Content | Item) -> str:
    """What the inbox shows of an item: its text; else its attachments' kinds and what it forwards."""
    if content.text:
        return content.text
    attachments = content.attachments or []
    kinds = [a.get("type") for a in attachments if isinstance(a, dict) and isinstance(a.get("type"), str)]
    parts = [f"[{kind}]" for kind in kinds]
    quoted = _forwarded_text(content.forwarded or [])
    if quoted:
        parts.append("» " + quoted.replace("\n", " "))
    return " ".join(parts)


def _forwarded_text(forwarded: list[Any]) -> str:
    """The texts of quoted and forwarded messages at every depth, in reading order, one per line."""
    texts: list[str] = []
    pending = list(reversed(forwarded))
    while pending:
        message = pending.pop()
        if not isinstance(message, dict):
            continue
        if isinstance(message.get("text"), str) and message["text"]:
            texts.append(message["text"])
        pending.extend(reversed(message.get("forwarded") or []))
    return "\n".join(texts)


async def _author(vk_id: int | None, conn: Any, known: _Known | None = None) -> int | None:
    """The Author row of a VK user or group, created on first sight (insert-if-absent)."""
    if vk_id is None:
        return None
    if known is not None and known.looked_up and known.author_vk_id == vk_id:
        if known.author_id is not None:
            return known.author_id
        rows = []
    else:
        # Read first: most events come from authors seen before, and a read takes no lock.
        q = SqlQuery(conn)
        rows = await q.rows(f"SELECT id FROM author WHERE vk_id = {q.p(vk_id)}")
    if not rows:
        q = SqlQuery(conn)
        rows = await q.rows(
            "INSERT INTO author (vk_id, name, screen_name, photo_url, first_seen_at) "
            f"VALUES ({q.p(vk_id)}, '', '', '', {q.p(utcnow())}) "
            "ON CONFLICT (vk_id) DO NOTHING RETURNING id"
        )
    if not rows:
        # Inserted by a concurrent transaction, which the INSERT waited for: committed now.
        q = SqlQuery(conn)
        rows = await q.rows(f"SELECT id FROM author WHERE vk_id = {q.p(vk_id)}")
    return int(rows[0]["id"])


async def _linked_operator_id(vk_user_id: int | None, conn: Any) -> int | None:
    if vk_user_id is None:
        return None
    operator = await Operator.filter(vk_user_id=vk_user_id).using_db(conn).only("id").first()
    return operator.id if operator else None


async def _locked_item(
    community: Community, key: str, conn: Any, known: _Known
) -> tuple[Item | None, Conversation | None]:
    """The stored item with this key and its conversation, both locked (conversation first, the
    order every writer uses), or (None, None)."""
    if known.looked_up and known.item_key == key:
        found = known.item
    else:
        row = (
            await Item.filter(community_id=community.id, key=key)
            .using_db(conn)
            .only("id", "conversation_id")
            .first()
        )
        found = (row.id, row.conversation_id) if row is not None else None  # type: ignore[attr-defined]
    if found is None:
        return None, None
    conversation = await conversations.lock(found[1], conn)
    item = await Item.filter(id=found[0]).select_for_update().using_db(conn).get()
    return item, conversation


async def _open_conversation(
    community: Community, thread: ThreadRef, content_author: int | None, at: datetime, conn: Any
) -> Conversation:
    return await conversations.get_or_open(
        community, _address(thread), at=at, author_id=content_author, conn=conn
    )


def _vk_id(content: _Content) -> int:
    if content.ref.channel.value == Channel.MESSAGE.value:
        return content.message_id or content.ref.item_id
    return content.ref.item_id


def _item_values(
    community: Community,
    content: _Content,
    at: datetime,
    conversation_id: int | None,
    author_id: int | None,
    *,
    edited_at: datetime | None = None,
) -> dict[str, Any]:
    """The columns of a new item (version 1)."""
    return {
        "community_id": community.id,
        "conversation_id": conversation_id,
        "channel": content.ref.channel.value,
        "key": content.ref.key,
        "vk_id": _vk_id(content),
        "direction": content.direction.value,
        "author_id": author_id,
        "from_vk_id": content.author_id,
        "admin_author_vk_id": content.admin_author_id,
        "reply_to_key": content.reply_to.key if content.reply_to else None,
        "text": content.text,
        "attachments": _ATTACHMENTS.to_db_value(content.attachments, Item),
        "forwarded": _FORWARDED.to_db_value(content.forwarded, Item),
        "created_at": at,
        "edited_at": edited_at,
        "version_count": 1,
        "is_deleted": False,
        "recorded_at": utcnow(),
    }


def _first_version_sql(content: _Content, q: SqlQuery) -> str:
    """The first version of the item a WITH named new_item inserted."""
    return (
        "INSERT INTO item_version (item_id, number, text, attachments, forwarded, forwarded_text, valid_from, "
        f"recorded_at) SELECT id, 1, text, attachments, forwarded, {q.p(_forwarded_text(content.forwarded))}, "
        "created_at, recorded_at FROM new_item"
    )


async def _create_item(
    community: Community,
    content: _Content,
    at: datetime,
    conn: Any,
    *,
    edited_at: datetime | None = None,
    conversation_fields: Callable[[Conversation], list[str]] | None = None,
    known: _Known | None = None,
) -> tuple[Item, Conversation]:
    """A new item with its first version, in its (locked) conversation.

    `conversation_fields`, when given, changes the conversation (it returns the fields it changed),
    and they are saved with the item: on PostgreSQL item, version and conversation are written by
    one statement.
    """
    author_id = await _author(content.author_id, conn, known) if content.direction == Direction.IN else None
    conversation = await _open_conversation(community, content.thread, author_id, at, conn)
    changed = conversation_fields(conversation) if conversation_fields else []
    values = _item_values(community, content, at, conversation.id, author_id, edited_at=edited_at)
    q = SqlQuery(conn)
    insert_item = (
        f"INSERT INTO item ({', '.join(values)}) VALUES ({', '.join(q.p(v) for v in values.values())}) "
        "RETURNING *"
    )
    if q.postgres:
        # One round trip instead of three (the data-modifying WITH is PostgreSQL's).
        parts = [f"new_item AS ({insert_item})", f"first_version AS ({_first_version_sql(content, q)})"]
        if changed:
            parts.append(f"waiting AS ({conversations.update_sql(conversation, changed, q)})")
        rows = await q.rows(f"WITH {', '.join(parts)} SELECT * FROM new_item")
        item = Item._init_from_db(**rows[0])
    else:
        rows = await q.rows(insert_item)
        item = Item._init_from_db(**rows[0])
        await ItemVersion.create(
            item_id=item.id,
            number=1,
            text=item.text,
            attachments=item.attachments,
            forwarded=item.forwarded,
            forwarded_text=_forwarded_text(item.forwarded),
            valid_from=item.created_at,
            recorded_at=item.recorded_at,
            using_db=conn,
        )
        if changed:
            await conversation.save(using_db=conn, update_fields=changed)
    return item, conversation


async def _fill_placeholder(
    community: Community, item: Item, conversation: Conversation, content: _Content, at: datetime, conn: Any
) -> Conversation:
    """A placeholder (an item known only from its deletion) gets its content and real thread."""
    author_id = await _author(content.author_id, conn) if content.direction == Direction.IN else None
    if conversation.key != content.thread.key:
        conversation = await _open_conversation(community, content.thread, author_id, at, conn)
        item.conversation_id = conversation.id  # type: ignore[attr-defined]
    item.direction = content.direction
    item.author_id = author_id  # type: ignore[attr-defined]
    item.from_vk_id = content.author_id
    item.admin_author_vk_id = content.admin_author_id
    item.reply_to_key = content.reply_to.key if content.reply_to else None
    item.vk_id = _vk_id(content)
    item.text = content.text
    item.attachments = content.attachments
    item.forwarded = content.forwarded
    item.created_at = at
    item.version_count = 1
    await item.save(using_db=conn)
    await ItemVersion.create(
        item_id=item.id,
        number=1,
        text=content.text,
        attachments=content.attachments,
        forwarded=content.forwarded,
        forwarded_text=_forwarded_text(content.forwarded),
        valid_from=at,
        using_db=conn,
    )
    await ItemTombstone.filter(item_id=item.id, last_text="").using_db(conn).update(last_text=content.text)
    # A deleter named before the author was known can be classified now.
    for tombstone in await ItemTombstone.filter(
        item_id=item.id, deleted_via=DeletedVia.UNKNOWN, deleter_vk_id__isnull=False
    ).using_db(conn):
        tombstone.deleted_via = _deleted_via(tombstone.deleter_vk_id, item.from_vk_id)
        await tombstone.save(using_db=conn, update_fields=["deleted_via"])
        if tombstone.deleted_via == DeletedVia.VK_ADMIN:
            await _journal_vk_delete(
                community, item, conversation, tombstone.deleter_vk_id, tombstone.deleted_at, conn
            )
    return conversation


def _deleted_via(deleter_id: int | None, author_vk_id: int | None) -> DeletedVia:
    if deleter_id is None or author_vk_id is None:
        return DeletedVia.UNKNOWN
    return DeletedVia.AUTHOR if deleter_id == author_vk_id else DeletedVia.VK_ADMIN


async def _journal_vk_delete(
    community: Community,
    item: Item,
    conversation: Conversation,
    deleter_id: int | None,
    at: datetime,
    conn: Any,
) -> None:
    await journal.record(
        "vk.delete",
        actor_kind=ActorKind.OUTSIDE,
        operator_id=await _linked_operator_id(deleter_id, conn),
        vk_user_id=deleter_id,
        community_id=community.id,
        conversation_id=conversation.id,
        item_id=item.id,
        text=item.text,
        params={"key": item.key},
        at=at,
        connection=conn,
    )


async def _add_version(
    item: Item, content: _Content, valid_from: datetime, conn: Any, *, current: bool = True
) -> None:
    """Version n+1; ``current`` False records an older text that arrived late without making it current."""
    item.version_count += 1
    await ItemVersion.create(
        item_id=item.id,
        number=item.version_count,
        text=content.text,
        attachments=content.attachments,
        forwarded=content.forwarded,
        forwarded_text=_forwarded_text(content.forwarded),
        valid_from=valid_from,
        using_db=conn,
    )
    fields = ["version_count"]
    if current:
        item.text = content.text
        item.attachments = content.attachments
        item.forwarded = content.forwarded
        item.edited_at = valid_from
        fields += ["text", "attachments", "forwarded", "edited_at"]
    await item.save(using_db=conn, update_fields=fields)


async def _record_arrival(
    community: Community,
    event: ItemCreated | ItemRestored | ItemEdited,
    item: Item,
    conversation: Conversation,
    at: datetime,
    conn: Any,
) -> None:
    """What a newly seen item means for its conversation: an author waits, or the community answered."""
    preview = _preview(item)
    if item.direction == Direction.IN:
        await conversations.author_wrote(conversation, at=at, preview=preview, conn=conn)
        return
    # The proxy comments only as the community: a comment from a person's account is never its echo.
    in_person = item.channel != Channel.MESSAGE and (item.from_vk_id or 0) > 0
    row = None if in_person else await match_outbox_echo(community, event, conn)
    if row is not None:
        item.sent_by_id = row.operator_id  # type: ignore[attr-defined]
        item.outbox_row_id = row.id
        await item.save(using_db=conn, update_fields=["sent_by_id", "outbox_row_id"])
        await conversations.community_replied(
            conversation,
            at=at,
            operator_id=row.operator_id,  # type: ignore[attr-defined]
            outside_proxy=False,
            preview=preview,
            conn=conn,
        )
        return
    operator_id = await _linked_operator_id(item.admin_author_vk_id, conn)
    await conversations.community_replied(
        conversation, at=at, operator_id=operator_id, outside_proxy=True, preview=preview, conn=conn
    )
    await journal.record(
        "vk.reply",
        actor_kind=ActorKind.OUTSIDE,
        operator_id=operator_id,
        vk_user_id=item.admin_author_vk_id,
        community_id=community.id,
        conversation_id=conversation.id,
        item_id=item.id,
        text=item.text,
        params={"key": item.key},
        at=at,
        connection=conn,
    )


async def _refresh_preview(item: Item, conversation: Conversation, conn: Any) -> None:
    """An edit shows in the inbox when the edited item is the one the preview shows: the conversation's
    latest item (by VK's date; of two with the same date, the one stored last), as the preview was set."""
    if conversation.last_item_at is None or item.created_at != conversation.last_item_at:
        return
    stored_later = (
        await Item.filter(conversation_id=conversation.id, created_at=item.created_at, id__gt=item.id)
        .using_db(conn)
        .exists()
    )
    if not stored_later:
        conversation.preview = _preview(item)[: conversations.PREVIEW_LENGTH]
        await conversation.save(using_db=conn, update_fields=["preview"])


def _same(item: Item, content: _Content) -> bool:
    # An item stored before forwarded messages were kept has none: seeing them now is not an edit.
    forwarded_same = not item.forwarded or item.forwarded == content.forwarded
    return item.text == content.text and (item.attachments or []) == content.attachments and forwarded_same


async def _item_created(
    community: Community, event: ItemCreated, received: datetime, source: str, conn: Any, known: _Known
) -> _Effect:
    content = await _in_person(_content(event), conn)
    at = content.created_at or received
    item, conversation = await _locked_item(community, content.ref.key, conn, known)
    if item is None and content.direction == Direction.IN:
        # The common case (an author wrote something new): what _record_arrival does for an incoming
        # item, written together with the item.
        preview = _preview(content)
        item, conversation = await _create_item(
            community,
            content,
            at,
            conn,
            conversation_fields=lambda c: conversations.author_wrote_changes(c, at=at, preview=preview),
            known=known,
        )
    elif item is None:
        item, conversation = await _create_item(community, content, at, conn, known=known)
        await _record_arrival(community, event, item, conversation, at, conn)
    else:
        assert conversation is not None
        if item.version_count == 0:
            conversation = await _fill_placeholder(community, item, conversation, content, at, conn)
            await _record_arrival(community, event, item, conversation, at, conn)
        elif _same(item, content):
            return _Effect(detail="item already stored", conversation_id=conversation.id, item_id=item.id)
        elif source == "sync":
            # Sync reads the current text: a different one is an edit no event told us about.
            await _add_version(item, content, received, conn)
            await _refresh_preview(item, conversation, conn)
        elif await ItemVersion.filter(item_id=item.id, text=content.text).using_db(conn).exists():
            return _Effect(detail="item already stored", conversation_id=conversation.id, item_id=item.id)
        else:
            # The original text arriving after an edit (VK retried it): kept, not made current.
            await _add_version(item, content, at, conn, current=False)
    return _Effect(conversation_id=conversation.id, item_id=item.id, changed=True)


async def _item_edited(
    community: Community, event: ItemEdited, received: datetime, conn: Any, known: _Known
) -> _Effect:
    content = await _in_person(_content(event), conn)
    edited_at = event.edited_at or received
    item, conversation = await _locked_item(community, content.ref.key, conn, known)
    if item is None:
        # The edit of an item we never saw: its current text is all there is, kept as version 1.
        at = content.created_at or edited_at
        item, conversation = await _create_item(
            community, content, at, conn, edited_at=edited_at, known=known
        )
        await _record_arrival(community, event, item, conversation, at, conn)
        return _Effect(conversation_id=conversation.id, item_id=item.id, changed=True)
    assert conversation is not None
    if item.version_count == 0:
        at = content.created_at or edited_at
        conversation = await _fill_placeholder(community, item, conversation, content, at, conn)
        await _record_arrival(community, event, item, conversation, at, conn)
    elif _same(item, content):
        return _Effect(detail="no change", conversation_id=conversation.id, item_id=item.id)
    else:
        await _add_version(item, content, edited_at, conn)
        await _refresh_preview(item, conversation, conn)
    return _Effect(conversation_id=conversation.id, item_id=item.id, changed=True)


def _placeholder_thread(event: ItemDeleted) -> ThreadRef:
    if event.thread is not None:
        return event.thread
    # Unknown: the comment is taken as the top of its own thread until its text (and parents) arrive.
    ref = event.ref
    return ThreadRef(channel=ref.channel, owner_id=ref.owner_id, object_id=ref.object_id, root_id=ref.item_id)


async def _item_deleted(
    community: Community, event: ItemDeleted, received: datetime, conn: Any, known: _Known
) -> _Effect:
    item, conversation = await _locked_item(community, event.ref.key, conn, known)
    if item is None:
        from_community = event.user_id == -community.vk_group_id or (
            (event.user_id or 0) > 0 and await _linked_operator_id(event.user_id, conn) is not None
        )
        direction = Direction.OUT if from_community else Direction.IN
        author_id = await _author(event.user_id, conn, known) if direction == Direction.IN else None
        conversation = await _open_conversation(
            community, _placeholder_thread(event), author_id, received, conn
        )
        item = await Item.create(
            community_id=community.id,
            conversation_id=conversation.id,
            channel=Channel(event.ref.channel.value),
            key=event.ref.key,
            vk_id=event.ref.item_id,
            direction=direction,
            author_id=author_id,
            from_vk_id=event.user_id,
            text="",
            created_at=received,
            version_count=0,
            using_db=conn,
        )
    assert conversation is not None
    if item.is_deleted:
        # Already deleted: the proxy's own deletion recorded first, or a repeated delete.
        open_tombstone = (
            await ItemTombstone.filter(item_id=item.id, restored_at__isnull=True).using_db(conn).exists()
        )
        if open_tombstone:
            # The proxy's own deletion, recorded when VK accepted it: its wait is settled here.
            await _withdraw_if_unwaited(conversation, item, item.deleted_at or received, conn)
            return _Effect(detail="already deleted", conversation_id=conversation.id, item_id=item.id)
    echo = await match_action_echo(community, "deleteComment", item_id=item.id, conn=conn)
    # A placeholder's author is unknown until its text arrives: the deleter is classified then.
    via = DeletedVia.PROXY if echo is not None else _deleted_via(event.deleter_id, item.from_vk_id)
    await ItemTombstone.create(
        item_id=item.id,
        deleted_at=received,
        deleted_via=via,
        deleter_vk_id=event.deleter_id,
        deleted_by_id=echo.operator_id if echo else None,  # type: ignore[attr-defined]
        last_text=item.text,
        using_db=conn,
    )
    item.is_deleted = True
    item.deleted_at = received
    await item.save(using_db=conn, update_fields=["is_deleted", "deleted_at"])
    if via == DeletedVia.VK_ADMIN:
        await _journal_vk_delete(community, item, conversation, event.deleter_id, received, conn)
    await _withdraw_if_unwaited(conversation, item, received, conn)
    return _Effect(conversation_id=conversation.id, item_id=item.id, changed=True)


async def _resume_if_withdrawn(conversation: Conversation, item: Item, conn: Any) -> None:
    """A restored incoming item of the wait that was withdrawn last, with no answer, new wait or closing
    since: the author is waiting again, from when they started (docs/metrics.md, "Withdrawn wait")."""
    if item.direction != Direction.IN or conversation.waiting_since is not None:
        return
    if conversation.status != ConversationStatus.OPEN:
        return
    last = await ReactionSample.filter(conversation_id=conversation.id).order_by("-id").using_db(conn).first()
    if last is None or last.ended_by != conversations.WITHDRAWN or item.created_at < last.started_at:
        return
    if conversation.opened_at > last.started_at:
        return  # closed and reopened since: that wait belongs to an opening that is over
    answered = (
        await Item.filter(conversation_id=conversation.id, direction=Direction.OUT, created_at__gte=last.started_at)
        .using_db(conn)
        .exists()
    )
    if not answered:
        await conversations.withdrawal_undone(conversation, last, conn=conn)


async def _withdraw_if_unwaited(conversation: Conversation, item: Item, at: datetime, conn: Any) -> None:
    """A deleted item the author's wait counts (incoming, seen, not older than the wait): when no item
    that arrived since the wait started is left, nobody is waiting any more (docs/metrics.md)."""
    since = conversation.waiting_since
    if since is None or item.direction != Direction.IN or item.version_count == 0 or item.created_at < since:
        return
    still_waited_on = (
        await Item.filter(
            conversation_id=conversation.id, direction=Direction.IN, is_deleted=False, created_at__gte=since
        )
        .using_db(conn)
        .exists()
    )
    if not still_waited_on:
        await conversations.waiting_withdrawn(conversation, at=at, conn=conn)


async def _item_restored(
    community: Community, event: ItemRestored, received: datetime, conn: Any, known: _Known
) -> _Effect:
    content = await _in_person(_content(event), conn)
    item, conversation = await _locked_item(community, content.ref.key, conn, known)
    if item is None:
        at = content.created_at or received
        item, conversation = await _create_item(community, content, at, conn, known=known)
        await _record_arrival(community, event, item, conversation, at, conn)
        return _Effect(conversation_id=conversation.id, item_id=item.id, changed=True)
    assert conversation is not None
    changed = False
    if item.version_count == 0:
        at = content.created_at or received
        conversation = await _fill_placeholder(community, item, conversation, content, at, conn)
        await _record_arrival(community, event, item, conversation, at, conn)
        changed = True
    elif not _same(item, content):
        await _add_version(item, content, received, conn)
        await _refresh_preview(item, conversation, conn)
        changed = True
    tombstone = (
        await ItemTombstone.filter(item_id=item.id, restored_at__isnull=True)
        .order_by("-id")
        .using_db(conn)
        .first()
    )
    if tombstone is not None:
        echo = await match_action_echo(community, "restoreComment", item_id=item.id, conn=conn)
        tombstone.restored_at = received
        tombstone.restored_by_id = echo.operator_id if echo else None  # type: ignore[attr-defined]
        await tombstone.save(using_db=conn, update_fields=["restored_at", "restored_by_id"])
        if echo is None and tombstone.deleted_via != DeletedVia.AUTHOR:
            # An author may undo their own deletion; anything else was undone by an admin in VK.
            await journal.record(
                "vk.restore",
                actor_kind=ActorKind.OUTSIDE,
                community_id=community.id,
                conversation_id=conversation.id,
                item_id=item.id,
                text=item.text,
                params={"key": item.key},
                at=received,
                connection=conn,
            )
        changed = True
    if item.is_deleted:
        item.is_deleted = False
        item.deleted_at = None
        await item.save(using_db=conn, update_fields=["is_deleted", "deleted_at"])
        await _resume_if_withdrawn(conversation, item, conn)
        changed = True
    detail = "" if changed else "not deleted, no change"
    return _Effect(detail=detail, conversation_id=conversation.id, item_id=item.id, changed=changed)


# --- bans ---------------------------------------------------------------------------------------


async def _author_blocked(
    community: Community, event: AuthorBlocked, received: datetime, conn: Any, known: _Known
) -> _Effect:
    author_id = await _author(event.user_id, conn, known)
    echo = await match_action_echo(community, "groups.ban", user_id=event.user_id, conn=conn)
    # The outbox may be recording the same ban right now: one row either way (proxy/bans.py).
    ban = await bans.vk_reported_ban(
        community_id=community.id,
        author_id=author_id,
        at=received,
        until=event.unblock_date,
        reason=event.reason,
        comment=event.comment,
        operator_id=echo.operator_id if echo else None,  # type: ignore[attr-defined]
        admin_vk_id=event.admin_id,
        conn=conn,
    )
    by_proxy = echo is not None or ban.banned_by_id is not None
    if not by_proxy:
        await journal.record(
            "vk.ban",
            actor_kind=ActorKind.OUTSIDE,
            operator_id=await _linked_operator_id(event.admin_id, conn),
            vk_user_id=event.admin_id,
            community_id=community.id,
            text=event.comment,
            params={
                "user_id": event.user_id,
                "until": event.unblock_date.isoformat() if event.unblock_date else None,
                "reason": event.reason,
            },
            at=received,
            connection=conn,
        )
    return _Effect(changed=True)


async def _author_unblocked(
    community: Community, event: AuthorUnblocked, received: datetime, conn: Any, known: _Known
) -> _Effect:
    author_id = await _author(event.user_id, conn, known)
    await (
        Ban.filter(community_id=community.id, author_id=author_id, lifted_at__isnull=True)
        .using_db(conn)
        .update(lifted_at=received)
    )
    echo = await match_action_echo(community, "groups.unban", user_id=event.user_id, conn=conn)
    if event.by_end_date:
        await journal.record(
            "ban.expired",
            actor_kind=ActorKind.SYSTEM,
            community_id=community.id,
            params={"user_id": event.user_id},
            at=received,
            connection=conn,
        )
    elif echo is None:
        await journal.record(
            "vk.unban",
            actor_kind=ActorKind.OUTSIDE,
            operator_id=await _linked_operator_id(event.admin_id, conn),
            vk_user_id=event.admin_id,
            community_id=community.id,
            params={"user_id": event.user_id},
            at=received,
            connection=conn,
        )
    return _Effect(changed=True)


# --- content PostgreSQL cannot store ----------------------------------------------------------


def _clean(value: Any) -> Any:
    """Strings without NUL (PostgreSQL text refuses it) and without lone surrogates (not UTF-8)."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k) if isinstance(k, str) else k: _clean(v) for k, v in value.items()}
    return value


def _sanitized(event: DomainEvent) -> DomainEvent:
    """The event with every text and JSON field cleaned; ``raw`` is stored escaped, as received."""
    changes = {}
    for field in dataclasses.fields(event):
        if field.name == "raw":
            continue
        value = getattr(event, field.name)
        if isinstance(value, str | list | dict):
            cleaned = _clean(value)
            if cleaned != value:
                changes[field.name] = cleaned
    return dataclasses.replace(event, **changes) if changes else event
