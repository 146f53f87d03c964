"""The common case in one statement (PostgreSQL): a new incoming item with its raw event, author and
conversation, batched with its neighbours by `db.group_commit`.

`tests/test_ingest_one_statement.py` proves it writes exactly the rows the general path writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from proxy import conversations, db
from proxy.clock import utcnow
from proxy.db.group_commit import group_commit
from proxy.db.sql import SqlQuery
from proxy.events import Channel as EventChannel
from proxy.events import Direction as EventDirection
from proxy.events import DomainEvent, ItemCreated
from proxy.ingest.content import (
    _address,
    _content,
    _first_version_sql,
    _item_values,
    _preview,
    _tops_its_thread,
)
from proxy.ingest.outcome import IngestResult, _Effect
from proxy.ingest.raw_events import _raw_values
from proxy.models import OPERATOR_ACCOUNT_COLUMN, Community, RawEventStatus


def _takes_one_statement(event: DomainEvent) -> bool:
    """A new comment or message from an author: most of what VK sends, and what a busy community
    sends at its peak. On PostgreSQL it is stored by one statement in autocommit."""
    return (
        isinstance(event, ItemCreated)
        and event.direction is EventDirection.IN
        and event.author_id is not None
        # Its conversation is the one of the item it answers, which only the general path looks up.
        and not event.thread.follows_reply
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
        thread_author=_tops_its_thread(content),
    )
    # Only comments and group messages can be written in person (_in_person); the operator's account
    # column is unique, so indexed.
    in_person = (
        "FALSE"
        if content.ref.channel in (EventChannel.MESSAGE, EventChannel.BUSINESS)
        else (
            f"EXISTS (SELECT 1 FROM operator WHERE {OPERATOR_ACCOUNT_COLUMN[community.network]} = {author_vk_id})"
        )
    )
    network = q.p(community.network)
    statement = (
        f"WITH existing AS (SELECT 1 FROM item WHERE community_id = {community_id} "
        f"AND key = {q.p(content.ref.key)}), "
        f"claimed AS (INSERT INTO raw_event ({', '.join(raw_values)}) "
        f"SELECT {', '.join(q.p(v) for v in raw_values.values())} WHERE NOT EXISTS (SELECT 1 FROM existing) "
        f"AND NOT {in_person} "
        "ON CONFLICT (vk_group_id, event_id) DO NOTHING RETURNING id), "
        f"known_author AS (SELECT id FROM author WHERE network = {network} AND vk_id = {author_vk_id}), "
        # A no-op update when a concurrent event inserted the author first: it returns the row.
        "new_author AS (INSERT INTO author (network, vk_id, name, screen_name, photo_url, first_seen_at) "
        f"SELECT {network}, {author_vk_id}, {q.p(content.author_name)}, '', '', {q.p(utcnow())} FROM claimed "
        "WHERE NOT EXISTS (SELECT 1 FROM known_author) "
        "ON CONFLICT (network, vk_id) DO UPDATE SET vk_id = EXCLUDED.vk_id RETURNING id), "
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
