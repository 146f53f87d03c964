"""Typed keys of the emulator application's state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .delivery import CallbackDelivery
    from .longpoll import LongPollHub
    from .state import EmulatorState

STATE_KEY: web.AppKey[EmulatorState] = web.AppKey("vk_emulator_state")
HUB_KEY: web.AppKey[LongPollHub] = web.AppKey("vk_emulator_longpoll_hub")
DELIVERY_KEY: web.AppKey[CallbackDelivery] = web.AppKey("vk_emulator_delivery")
