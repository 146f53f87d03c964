"""``getUpdates`` long polling, for a bot whose webhook cannot be reached (the alternative Telegram offers).

One instance polls a bot at a time (the core's leader lock: proxy/inbound.py `supervise_longpoll`).
Each answer's updates are normalized and handed to the sink, which stores them and only then the last
``update_id`` (`Community.longpoll_ts`); the next request asks from the one after it, which also tells
Telegram the earlier ones were received. A restart asks again from the stored one: an update stored but
not yet confirmed comes again, and its key makes it change nothing. Telegram refuses ``getUpdates``
(409) while a webhook is set: the admin's "connect" step removes it for a polling bot.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from proxy.connectors.base import LongPollSink
from proxy.events import DomainEvent

from . import bot_api
from .bot_api import TelegramError
from .normalize import MalformedEvent, normalize_all

log = logging.getLogger(__name__)

# Every kind of update the proxy reads; chat_member and message_reaction come only when asked for.
ALLOWED_UPDATES = (
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages", "message_reaction",
    "chat_member", "my_chat_member",
)  # fmt: skip
# Updates per answer (Telegram's maximum).
BATCH = 100
# How long to wait after a failed request before the next.
RETRY_SECONDS = 5.0


class TelegramPolling:
    """One bot's getUpdates loop (proxy.connectors.base.LongPoll)."""

    def __init__(
        self,
        *,
        base: str,
        token: str,
        bot_id: int,
        http: aiohttp.ClientSession,
        sink: LongPollSink,
        start_ts: str | None,
        wait: int,
    ) -> None:
        self.base = base
        self.token = token
        self.bot_id = bot_id
        self.http = http
        self.sink = sink
        self.offset = int(start_ts) + 1 if start_ts and start_ts.isdigit() else None
        self.wait = wait

    async def step(self) -> int:
        """One getUpdates request and what it brought; the number of updates received."""
        params: dict[str, Any] = {
            "timeout": self.wait,
            "limit": BATCH,
            "allowed_updates": list(ALLOWED_UPDATES),
        }
        if self.offset is not None:
            params["offset"] = self.offset
        updates = await bot_api.call(
            self.http, self.base, self.token, "getUpdates", params, seconds=self.wait + 10
        )
        if not isinstance(updates, list) or not updates:
            return 0
        batch: list[tuple[dict[str, Any], DomainEvent]] = []
        last = None
        for update in updates:
            update_id = update.get("update_id") if isinstance(update, dict) else None
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                log.warning("bot %s: getUpdates returned an update without update_id; skipped", self.bot_id)
                continue
            last = update_id if last is None else max(last, update_id)
            try:
                batch += [(update, event) for event in normalize_all(self.bot_id, update)]
            except MalformedEvent as exc:
                log.warning("bot %s: update %s not usable (%s)", self.bot_id, update_id, exc.reason)
        if last is not None:
            await self.sink.handle(batch, str(last))
            self.offset = last + 1
        return len(updates)

    async def run(self) -> None:
        """Receive updates until cancelled; a failed request is tried again after a pause."""
        while True:
            try:
                await self.step()
            except TelegramError as exc:
                log.warning("bot %s: getUpdates failed (%s)", self.bot_id, exc)
                await asyncio.sleep(exc.retry_after or RETRY_SECONDS)
