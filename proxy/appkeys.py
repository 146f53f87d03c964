"""Typed keys for everything the application object holds (docs/conventions.md, "One application factory")."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy.live import LiveHub
from proxy.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
# Background tasks started by cleanup contexts, by name, so tests can inspect them.
BACKGROUND = web.AppKey("background", dict[str, Any])
LIVE = web.AppKey("live", LiveHub)
