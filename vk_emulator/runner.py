"""Run the emulator on a real port inside the current event loop (demo mode, benchmarks, scripts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .api import create_emulator_app
from .delivery import CallbackDelivery
from .keys import DELIVERY_KEY
from .state import EmulatorState


@dataclass
class RunningEmulator:
    """An emulator serving on `base_url` until close()."""

    state: EmulatorState
    app: web.Application
    runner: web.AppRunner
    base_url: str

    @property
    def delivery(self) -> CallbackDelivery:
        """The callback delivery of this emulator."""
        return self.app[DELIVERY_KEY]

    async def close(self) -> None:
        """Stop serving and stop the delivery task."""
        await self.runner.cleanup()


async def start_emulator(
    state: EmulatorState | None = None, *, host: str = "127.0.0.1", port: int = 0, **app_options: Any
) -> RunningEmulator:
    """Serve a new emulator app; port 0 picks a free port. Options go to create_emulator_app."""
    state = state or EmulatorState()
    app = create_emulator_app(state, **app_options)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    return RunningEmulator(state, app, runner, f"http://{bound_host}:{bound_port}")
