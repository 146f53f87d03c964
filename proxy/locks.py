"""The one order in which writers lock rows (docs/architecture.md, "Lock order").

    conversation row -> item row -> outbox row -> ban row -> journal chain

A transaction takes the locks it needs in this order and never one earlier in the list after one later,
so two transactions never wait for each other in a circle (PostgreSQL would abort one as deadlocked).
The journal's advisory lock is always last: `proxy.audit.journal` takes it when an entry is written,
so an entry is written after every row change of its transaction (and an outcome filled last too).

The helpers here take a row together with the rows before it, so that the order is spelled once:
- `item`: an item's conversation, then the item (operator actions on a comment);
- `outbox_row`: an outbox row's conversation, its item when the action changes it, then the row (the
  outbox recording how an action ended, while ingest may be taking in VK's echo of it).
Ingest takes its conversation and item the same way (`ingest.items._locked_item`), and VK's echo of an
action reaches the outbox row last (`proxy.echo`); bans follow (`proxy.moderation`), then the journal.

Locks that never wait are outside the order: a row this transaction inserted, and the outbox claim's
`FOR UPDATE SKIP LOCKED`, which passes over rows others hold instead of waiting for them.
SQLite runs one write transaction at a time, so there the order costs nothing and matters nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy import conversations
from proxy.models import Conversation, Item, OutboxRow

__all__ = ["LockedRow", "item", "outbox_row"]


async def item(item_id: int, conn: Any) -> tuple[Conversation, Item]:
    """The item and its conversation, both locked: the conversation first."""
    while True:
        conversation_id = await _conversation_of(item_id, conn)
        conversation = await conversations.lock(conversation_id, conn)
        locked = await Item.filter(id=item_id).select_for_update().using_db(conn).get()
        # A placeholder item (known from its deletion only) moves to its real thread when its text
        # arrives; it cannot move again while its conversation is locked.
        if locked.conversation_id == conversation.id:  # type: ignore[attr-defined]
            return conversation, locked


async def _conversation_of(item_id: int, conn: Any) -> int:
    row = await Item.filter(id=item_id).using_db(conn).only("id", "conversation_id").get()
    return row.conversation_id  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LockedRow:
    """An outbox row locked with what its action changes (None: the row has none, or it was not asked)."""

    row: OutboxRow
    conversation: Conversation | None
    item: Item | None


async def outbox_row(row_id: int, conn: Any, *, with_item: bool = False) -> LockedRow:
    """The outbox row, locked after its conversation, or with `with_item` after its item and the item's
    conversation: the order ingest takes them in when VK's echo of the row's action arrives."""
    plain = await OutboxRow.filter(id=row_id).using_db(conn).only("id", "conversation_id", "item_id").get()
    conversation = None
    locked_item = None
    # A row's conversation and item never change: they can be read before anything is locked.
    if with_item and plain.item_id is not None:  # type: ignore[attr-defined]
        conversation, locked_item = await item(plain.item_id, conn)  # type: ignore[attr-defined]
    elif plain.conversation_id is not None:  # type: ignore[attr-defined]
        conversation = await conversations.lock(plain.conversation_id, conn)  # type: ignore[attr-defined]
    row = await OutboxRow.filter(id=row_id).select_for_update().using_db(conn).get()
    return LockedRow(row, conversation, locked_item)
