"""The raw event: stored verbatim, once per (vk_group_id, event_id), in the statement that claims it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from proxy.clock import utcnow
from proxy.db.sql import SqlQuery
from proxy.events import (
    AuthorBlocked,
    AuthorUnblocked,
    DomainEvent,
    ItemCreated,
    ItemDeleted,
    ItemEdited,
    ItemRestored,
)
from proxy.ingest.outcome import _Effect, _Known
from proxy.ingest.sanitize import _clean
from proxy.models import Community

# RawEvent.event_id and .type are VARCHAR(64); VK's ids are 40 characters.
_MAX_ID = 64
_DIGEST_PREFIX = "sha1:"


def _known_of(event: DomainEvent) -> _Known:
    """What to look up with the raw event: the item and the author an event names."""
    if isinstance(event, ItemCreated | ItemEdited | ItemRestored):
        return _Known(item_key=event.ref.key, author_vk_id=event.author_id)
    if isinstance(event, ItemDeleted):
        return _Known(item_key=event.ref.key, author_vk_id=event.user_id)
    if isinstance(event, AuthorBlocked | AuthorUnblocked):
        return _Known(author_vk_id=event.user_id)
    return _Known()


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
        f"LEFT JOIN author a ON a.network = {q.p(community.network)} AND a.vk_id = {author_vk_id}"
    )
    row = rows[0]
    known.looked_up = True
    known.item = (row["item_id"], row["conversation_id"]) if row["item_id"] is not None else None
    known.author_id = row["author_id"]
    return row["raw_id"]
