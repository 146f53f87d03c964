"""Typed keys of the emulator application's state (the long-poll hub's key lives beside the hub, in longpoll.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .delivery import CallbackDelivery
    from .state import EmulatorState

STATE_KEY: web.AppKey[EmulatorState] = web.AppKey("vk_emulator_state")
DELIVERY_KEY: web.AppKey[CallbackDelivery] = web.AppKey("vk_emulator_delivery")
