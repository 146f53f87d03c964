"""A VK emulator speaking VK's wire format over HTTP: API methods, Bots Long Poll, Callback API delivery."""

from __future__ import annotations

from .api import create_emulator_app
from .delivery import VK_RETRY_SCHEDULE, CallbackDelivery, DeliveryAttempt
from .demo_traffic import DemoTraffic
from .faults import Fault, FaultPlan, LongPollFault
from .keys import DELIVERY_KEY, STATE_KEY
from .longpoll import HUB_KEY
from .runner import RunningEmulator, start_emulator
from .scenario import Scenario, World, build_demo_world
from .state import (
    API_VERSION,
    CallbackConfig,
    Comment,
    EmulatorState,
    Group,
    Message,
    Target,
    User,
    VkFault,
)

__all__ = [
    "API_VERSION",
    "DELIVERY_KEY",
    "HUB_KEY",
    "STATE_KEY",
    "VK_RETRY_SCHEDULE",
    "CallbackConfig",
    "CallbackDelivery",
    "Comment",
    "DeliveryAttempt",
    "DemoTraffic",
    "EmulatorState",
    "Fault",
    "FaultPlan",
    "Group",
    "LongPollFault",
    "Message",
    "RunningEmulator",
    "Scenario",
    "Target",
    "User",
    "VkFault",
    "World",
    "build_demo_world",
    "create_emulator_app",
    "start_emulator",
]
