"""Waking getUpdates calls that wait for a bot's updates (the long poll)."""

from __future__ import annotations

import asyncio
import contextlib

from .basics import Bot
from .state import TgState


class UpdateSignals:
    """Wakes getUpdates waiting for a bot's updates; a newer getUpdates ends an older one with 409."""

    def __init__(self, state: TgState) -> None:
        self.state = state
        self._events: dict[int, asyncio.Event] = {}
        self._generations: dict[int, int] = {}

    def open(self) -> None:
        self.state.add_listener(self._on_update)

    def close(self) -> None:
        self.state.remove_listener(self._on_update)

    def _on_update(self, bot: Bot) -> None:
        if bot.id in self._events:
            self._events[bot.id].set()

    def begin(self, bot: Bot) -> int:
        self._generations[bot.id] = self._generations.get(bot.id, 0) + 1
        self._wake(bot.id)
        return self._generations[bot.id]

    def _wake(self, bot_id: int) -> None:
        if bot_id in self._events:
            self._events[bot_id].set()

    def superseded(self, bot: Bot, generation: int) -> bool:
        return self._generations.get(bot.id) != generation

    async def wait(self, bot: Bot, seconds: float) -> None:
        event = self._events.setdefault(bot.id, asyncio.Event())
        event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
