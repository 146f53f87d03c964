"""Webhook delivery: POST each pending update of a bot with a webhook to its URL, the way Telegram does.

One update at a time per bot, in update_id order; only a 2xx answer confirms it. On any other answer
or a connection error the update stays pending (getWebhookInfo shows it, with last_error_message) and
is sent again after a growing pause; Telegram keeps retrying, so the emulator never gives up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import aiohttp

from .basics import Bot, WebhookConfig
from .state import TgState

MAX_HISTORY = 10_000
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Pauses between attempts at one update; the last repeats.
WEBHOOK_RETRY_SCHEDULE: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0)


@dataclass
class WebhookAttempt:
    """One POST of one update."""

    bot_id: int
    update_id: int
    url: str
    status: int | None
    delivered: bool
    error: str | None = None
    had_secret: bool = False
    at: float = field(default_factory=time.time)


class WebhookDelivery:
    """Delivers the updates of bots that have a webhook; start() it inside a running loop."""

    def __init__(
        self,
        state: TgState,
        *,
        retry_schedule: Sequence[float] = WEBHOOK_RETRY_SCHEDULE,
        timeout: float = 5.0,
    ) -> None:
        self.state = state
        self.retry_schedule = tuple(retry_schedule) or WEBHOOK_RETRY_SCHEDULE
        self.timeout = timeout
        # Bounded so a long-running demo emulator does not grow without limit.
        self.attempts: deque[WebhookAttempt] = deque(maxlen=MAX_HISTORY)
        self._wakeups: dict[int, asyncio.Event] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._progress: asyncio.Condition | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._progress = asyncio.Condition()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self.state.add_listener(self._on_update)
        for bot in self.state.bots.values():
            self._on_update(bot)

    async def stop(self) -> None:
        self.state.remove_listener(self._on_update)
        for task in self._workers.values():
            task.cancel()
        for task in self._workers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _on_update(self, bot: Bot) -> None:
        if bot.webhook is None or self._session is None:
            return
        if bot.id not in self._workers:
            self._wakeups[bot.id] = asyncio.Event()
            self._workers[bot.id] = asyncio.create_task(self._work(bot), name=f"tg-emulator-webhook-{bot.id}")
        self._wakeups[bot.id].set()

    async def wait_idle(self, bot_id: int | None = None) -> None:
        """Wait until no bot with a webhook (or the one bot) has an update pending; wrap in a timeout."""
        assert self._progress is not None, "start() first"

        def idle() -> bool:
            bots = [self.state.bots[bot_id]] if bot_id is not None else self.state.bots.values()
            return all(bot.webhook is None or not bot.pending for bot in bots)

        async with self._progress:
            await self._progress.wait_for(idle)

    async def _work(self, bot: Bot) -> None:
        wakeup = self._wakeups[bot.id]
        failures = 0
        while True:
            webhook = bot.webhook
            if webhook is None or not bot.pending:
                wakeup.clear()
                await wakeup.wait()
                continue
            update = bot.pending[0]
            delivered = await self._deliver(bot, webhook, update)
            if delivered:
                failures = 0
                if bot.pending and bot.pending[0] is update:
                    bot.pending.popleft()
            else:
                pause = self.retry_schedule[min(failures, len(self.retry_schedule) - 1)]
                failures += 1
                await asyncio.sleep(pause)
            assert self._progress is not None
            async with self._progress:
                self._progress.notify_all()

    async def _deliver(self, bot: Bot, webhook: WebhookConfig, update: dict[str, Any]) -> bool:
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if webhook.secret_token:
            headers[SECRET_HEADER] = webhook.secret_token
        status: int | None = None
        error: str | None = None
        try:
            body = json.dumps(update, ensure_ascii=False).encode()
            async with self._session.post(webhook.url, data=body, headers=headers) as response:
                status = response.status
                await response.read()
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError:
            error = "Connection refused"
        except aiohttp.ClientError as exc:
            error = f"Connection error: {type(exc).__name__}"
        delivered = status is not None and 200 <= status < 300
        if not delivered:
            webhook.last_error_date = self.state.now()
            if error is None:
                reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
                error = f"Wrong response from the webhook: {status} {reason}".rstrip()
            webhook.last_error_message = error
        self.attempts.append(
            WebhookAttempt(
                bot.id, update["update_id"], webhook.url, status, delivered, error, bool(webhook.secret_token)
            )
        )
        return delivered

    def delivered_update_ids(self, bot_id: int) -> list[int]:
        return [a.update_id for a in self.attempts if a.delivered and a.bot_id == bot_id]
