"""What one ingested event did (`IngestResult`), and what the steps of ingest hand each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from proxy.models import RawEventStatus

# "outbox": what an action created that its network does not echo (ActionResult.events).
Source = Literal["callback", "longpoll", "sync", "outbox"]


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
