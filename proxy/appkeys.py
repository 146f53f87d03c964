"""Typed keys for everything the application object holds (docs/conventions.md, "One application factory")."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from proxy.connectors.registry import Connections
from proxy.live import LiveHub
from proxy.outbox import Wakeups
from proxy.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
# Background tasks started by cleanup contexts, by name, so tests can inspect them.
BACKGROUND = web.AppKey("background", dict[str, Any])
LIVE = web.AppKey("live", LiveHub)
# What wakes this instance's outbox workers after an action is queued here.
OUTBOX_WAKEUPS = web.AppKey("outbox_wakeups", Wakeups)
# The clients of every network (rate limiters, worker threads), closed with the app (proxy/networks.py).
CONNECTIONS = web.AppKey("connections", Connections)
# Set when a conversation page asks for a thread's parent, so the fetcher (proxy/thread_parents.py) starts.
PARENT_WAKEUP = web.AppKey("parent_wakeup", asyncio.Event)
