"""Outbox: actions per second delivered to the VK emulator, one community token and ten communities."""

from __future__ import annotations

from bench.context import Context
from bench.results import BenchResult, FeatureMissing


async def run(context: Context) -> BenchResult:
    raise FeatureMissing("the outbox worker (proxy/outbox.py) is not there yet")
