"""What a bot sends, against Telegram's stated broadcasting limits (Bot API FAQ, "My bot is hitting limits").

The limits: no more than one message a second in one chat, 20 a minute in one group, 30 a second
across all chats. Telegram enforces them loosely and answers 429 with `retry_after`; the emulator
records every accepted sendMessage, reports each send that went over a limit, and, when asked to
enforce, refuses such a send the way Telegram does.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

MAX_KEPT_SENDS = 20_000


@dataclass(frozen=True)
class RateLimit:
    name: str
    window: float
    limit: int
    groups_only: bool = False
    per_chat: bool = True


RATE_LIMITS = (
    RateLimit("per_chat_per_second", 1.0, 1),
    RateLimit("per_group_per_minute", 60.0, 20, groups_only=True),
    RateLimit("per_bot_per_second", 1.0, 30, per_chat=False),
)


@dataclass(frozen=True)
class Send:
    at: float
    chat_id: int
    is_group: bool


@dataclass(frozen=True)
class RateViolation:
    """A send that made `count` sends within `window` seconds where `limit` are allowed."""

    bot_id: int
    rule: str
    chat_id: int | None
    at: float
    count: int
    limit: int
    window: float


class SendLog:
    """The sends of every bot, in the order they were accepted."""

    def __init__(self) -> None:
        self.sends: dict[int, deque[Send]] = {}

    def record(self, bot_id: int, send: Send) -> None:
        self.sends.setdefault(bot_id, deque(maxlen=MAX_KEPT_SENDS)).append(send)

    @staticmethod
    def _in_scope(limit: RateLimit, send: Send, chat_id: int) -> bool:
        if limit.groups_only and not send.is_group:
            return False
        return not limit.per_chat or send.chat_id == chat_id

    def retry_after(self, bot_id: int, candidate: Send) -> int | None:
        """Seconds until `candidate` would stay within every limit; None if it already does."""
        wait = 0.0
        for limit in RATE_LIMITS:
            if limit.groups_only and not candidate.is_group:
                continue
            recent = [
                s.at
                for s in self.sends.get(bot_id, ())
                if s.at > candidate.at - limit.window and self._in_scope(limit, s, candidate.chat_id)
            ]
            if len(recent) >= limit.limit:
                oldest_to_expire = sorted(recent)[len(recent) - limit.limit]
                wait = max(wait, oldest_to_expire + limit.window - candidate.at)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def violations(self, bot_id: int | None = None) -> list[RateViolation]:
        """Every recorded send that went over a limit (a window is `(at - window, at]`)."""
        found = []
        for owner, sends in self.sends.items():
            if bot_id is not None and owner != bot_id:
                continue
            ordered = list(sends)
            for index, send in enumerate(ordered):
                for limit in RATE_LIMITS:
                    if limit.groups_only and not send.is_group:
                        continue
                    count = sum(
                        1
                        for earlier in ordered[: index + 1]
                        if earlier.at > send.at - limit.window
                        and self._in_scope(limit, earlier, send.chat_id)
                    )
                    if count > limit.limit:
                        found.append(
                            RateViolation(
                                owner,
                                limit.name,
                                send.chat_id if limit.per_chat else None,
                                send.at,
                                count,
                                limit.limit,
                                limit.window,
                            )
                        )
        return found
