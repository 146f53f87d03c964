"""The connector interface for operator actions: what the proxy asks a network to do, and what came back.

The core plans an action when the operator asks for it (so the outbox row records the exact call and
the token it needs before anything is sent), then performs the planned call later, from the outbox
worker. A connector never reads the store: it gets everything in the request, and the token when it
performs the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class ActionKind(StrEnum):
    """The generic actions an operator can take on a network."""

    REPLY = "reply"
    DELETE_COMMENT = "delete_comment"
    RESTORE_COMMENT = "restore_comment"
    BAN = "ban"
    UNBAN = "unban"
    MARK_ANSWERED = "mark_answered"
    MARK_READ = "mark_read"


class TokenNeed(StrEnum):
    """Which of a community's tokens a call needs (stored as OutboxRow.token_kind)."""

    COMMUNITY = "community"
    ADMIN = "admin"  # a community admin's user token


@dataclass(frozen=True, kw_only=True)
class ActionRequest:
    """One action, addressed in the network's own ids.

    `channel` is a models.Channel value. `object_id` is what the comment hangs on (post, photo, video,
    market item, topic), or the peer for dialogs; `item_id` the comment to delete or restore;
    `reply_to` the comment (or message) to answer; `user_id` the author to ban or unban.
    """

    kind: ActionKind
    channel: str
    group_id: int
    owner_id: int | None = None
    object_id: int | None = None
    item_id: int | None = None
    reply_to: int | None = None
    user_id: int | None = None
    text: str = ""
    # messages.send random_id (a positive int32 as a string) or *.createComment guid.
    idempotency_key: str | None = None
    reason: int = 0
    comment: str = ""
    until: datetime | None = None


@dataclass(frozen=True)
class PlannedCall:
    """The exact network call an action becomes; `params` are JSON-able and stored on the outbox row."""

    method: str
    params: dict[str, Any]
    token: TokenNeed


@dataclass(frozen=True)
class ActionResult:
    """What the network answered: its raw response, the ids it gave, and the created item's key."""

    response: Any
    vk_ids: dict[str, int] = field(default_factory=dict)
    # The store's key of the item the action created (a comment), e.g. "wall:-1_3:42".
    item_key: str | None = None


class ActionFailed(Exception):
    """A call the network refused or that did not get through.

    `transient`: trying again later may succeed. `operator_message`: plain words for the operator.
    """

    def __init__(self, operator_message: str, *, code: int | None, transient: bool, detail: str = "") -> None:
        self.operator_message = operator_message
        self.code = code
        self.transient = transient
        self.detail = detail
        super().__init__(detail or operator_message)


class UnsupportedAction(ValueError):
    """The network has no way to do this action on this channel."""


class Connector(Protocol):
    """A network's side of operator actions."""

    def plan(self, request: ActionRequest) -> PlannedCall:
        """The call performing `request`; raises UnsupportedAction."""
        ...

    async def perform(self, call: PlannedCall, token: str) -> ActionResult:
        """Make the call with the token it needs; raises ActionFailed."""
        ...
