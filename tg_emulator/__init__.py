"""A Telegram Bot API emulator speaking the Bot API's wire format over HTTP: methods, getUpdates long
poll, webhook delivery with retries, faults and rate accounting. It imports nothing of the proxy."""

from __future__ import annotations

from .api import create_tg_emulator_app
from .basics import (
    GROUP_ANONYMOUS_BOT_ID,
    TELEGRAM_SERVICE_USER_ID,
    Bot,
    BusinessConnection,
    Chat,
    ChatMember,
    Message,
    TgError,
    TgUser,
)
from .delivery import SECRET_HEADER, WEBHOOK_RETRY_SCHEDULE, WebhookAttempt, WebhookDelivery
from .demo_traffic import DemoTraffic, DemoWorld, build_demo_world, play_round
from .faults import Fault, FaultPlan
from .keys import DELIVERY_KEY, SIGNALS_KEY, STATE_KEY
from .people import People
from .rates import RATE_LIMITS, RateViolation
from .runner import RunningTgEmulator, start_tg_emulator
from .state import TgState

__all__ = [
    "DELIVERY_KEY",
    "GROUP_ANONYMOUS_BOT_ID",
    "RATE_LIMITS",
    "SECRET_HEADER",
    "SIGNALS_KEY",
    "STATE_KEY",
    "TELEGRAM_SERVICE_USER_ID",
    "WEBHOOK_RETRY_SCHEDULE",
    "Bot",
    "BusinessConnection",
    "Chat",
    "ChatMember",
    "DemoTraffic",
    "DemoWorld",
    "Fault",
    "FaultPlan",
    "Message",
    "People",
    "RateViolation",
    "RunningTgEmulator",
    "TgError",
    "TgState",
    "TgUser",
    "WebhookAttempt",
    "WebhookDelivery",
    "build_demo_world",
    "create_tg_emulator_app",
    "play_round",
    "start_tg_emulator",
]
