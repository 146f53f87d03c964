"""Typed keys of the emulator application's state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .delivery import WebhookDelivery
    from .signals import UpdateSignals
    from .state import TgState

STATE_KEY: web.AppKey[TgState] = web.AppKey("tg_emulator_state")
DELIVERY_KEY: web.AppKey[WebhookDelivery] = web.AppKey("tg_emulator_delivery")
SIGNALS_KEY: web.AppKey[UpdateSignals] = web.AppKey("tg_emulator_signals")
