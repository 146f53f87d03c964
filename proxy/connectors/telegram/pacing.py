"""Telegram's limits on a bot's messages, held across instances.

Telegram states them as: about 30 messages a second per bot, no more than one a second in one chat, and
no more than 20 a minute in one group; past them it answers 429 with ``retry_after``, and a bot that keeps
going is held longer. Every call is paced by the bot's limiter; a message also by its chat's and, in a
group, by the group's. On PostgreSQL the limiters are the shared ones (proxy/rate_limit.py), keyed by the
bot's token and the chat; elsewhere, this process's own.
"""

from __future__ import annotations

import threading

from proxy.connectors.base import Limiter, SharedLimits
from proxy.connectors.pacing import RateLimiter

BOT_CALLS_PER_SECOND = 30
CHAT_MESSAGES_PER_SECOND = 1
GROUP_MESSAGES_PER_MINUTE = 20

# The methods that put a message in a chat (the per-chat limits count these).
MESSAGE_METHODS = frozenset({"sendMessage"})


class TelegramPacing:
    """The limiters of every bot and chat this application talks to."""

    def __init__(self) -> None:
        self._local: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()
        self._shared: SharedLimits | None = None

    def use_shared_limits(self, shared: SharedLimits | None) -> SharedLimits | None:
        previous, self._shared = self._shared, shared
        return previous

    def _limiter(self, token: str, scope: str, limit: int, period: float) -> Limiter:
        key = f"{scope}:{token}"
        with self._lock:
            local = self._local.get(key)
            if local is None:
                local = self._local[key] = RateLimiter(limit, period)
        shared = self._shared
        if shared is None:
            return local
        return shared.limiter(
            f"{token}#{scope}", f"telegram-{scope.split(':')[0]}", limit, local, period=period
        )

    async def acquire(self, token: str, method: str, chat_id: int | None) -> None:
        """Wait for this call's turn under every limit it counts against."""
        await self._limiter(token, "bot", BOT_CALLS_PER_SECOND, 1.0).acquire()
        if method not in MESSAGE_METHODS or chat_id is None:
            return
        await self._limiter(token, f"chat:{chat_id}", CHAT_MESSAGES_PER_SECOND, 1.0).acquire()
        if chat_id < 0:  # groups and supergroups have negative ids; private chats are the user's id
            await self._limiter(token, f"group:{chat_id}", GROUP_MESSAGES_PER_MINUTE, 60.0).acquire()
