"""Run the emulator on a real port inside the current event loop (demo mode, benchmarks, tests, scripts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .api import create_tg_emulator_app
from .delivery import WebhookDelivery
from .keys import DELIVERY_KEY
from .state import TgState


@dataclass
class RunningTgEmulator:
    """An emulator serving the Bot API at `base_url` (`{base_url}/bot{token}/{method}`) until close()."""

    state: TgState
    app: web.Application
    runner: web.AppRunner
    base_url: str

    @property
    def delivery(self) -> WebhookDelivery:
        return self.app[DELIVERY_KEY]

    def api_url(self, token: str, method: str) -> str:
        return f"{self.base_url}/bot{token}/{method}"

    async def close(self) -> None:
        """Stop serving and stop webhook delivery."""
        await self.runner.cleanup()


async def start_tg_emulator(
    state: TgState | None = None, *, host: str = "127.0.0.1", port: int = 0, **app_options: Any
) -> RunningTgEmulator:
    """Serve a new emulator app; port 0 picks a free port. Options go to create_tg_emulator_app."""
    state = state or TgState()
    app = create_tg_emulator_app(state, **app_options)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    return RunningTgEmulator(state, app, runner, f"http://{bound_host}:{bound_port}")
