"""Every background worker's start and stop, as aiohttp cleanup contexts, in the order the app runs them.

The workers themselves (what they do) live beside their domain: `outbox.OutboxWorker`,
`inbound.supervise_longpoll`, `sla_alerts.check_every_interval`, `author_profiles.keep_names_filled`,
`refusals.flush_each_window`, `demo.warm_up_then_run`, `rules.worker.keep_evaluating`, `audit.checkpoint_task.issue_every_interval`,
`rate_limit.SharedRateLimits`, `live.LiveHub.listening`. Here is only when each starts and stops, so that none of those modules depends
on the application's lifecycle.

`create_app` (proxy/runtime/app.py) opens the database first and then these, in `CONTEXTS` order;
aiohttp closes them in the reverse order, so each worker stops before what it needs does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from aiohttp import web

from proxy import author_profiles, demo, inbound, refusals, sla_alerts, thread_parents
from proxy.appkeys import BACKGROUND, CONNECTIONS, LIVE, OUTBOX_WAKEUPS, PARENT_WAKEUP, SETTINGS
from proxy.audit import checkpoint_task, journal
from proxy.live import asyncpg_dsn
from proxy.outbox import OUTBOX_CHANNEL, OutboxWorker
from proxy.rate_limit import POOL_SIZE, SharedRateLimits
from proxy.rules import worker as rules_worker

log = logging.getLogger(__name__)

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


async def _stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def journal_key_context(app: web.Application) -> AsyncIterator[None]:
    """Entries carry the journal key's MAC from the start (if a key is set), and checkpoints are issued
    every interval when PROXY_JOURNAL_CHECKPOINT_INTERVAL is set and workers run.

    First in CONTEXTS, so every entry any worker journals, up to the last at stop, carries the MAC.
    """
    settings = app[SETTINGS]
    journal.use_key(settings.journal_key)
    task = http = None
    if settings.workers and settings.journal_key is not None and settings.journal_checkpoint_interval > 0:
        http = aiohttp.ClientSession()
        task = asyncio.create_task(
            checkpoint_task.issue_every_interval(settings, http), name="journal-checkpoints"
        )
        app[BACKGROUND]["journal_checkpoints"] = task
    try:
        yield
    finally:
        if task is not None:
            await _stop(task)
        if http is not None:
            await http.close()
        journal.use_key(None)


async def refusals_context(app: web.Application) -> AsyncIterator[None]:
    """Journal each window of counted refusals after it ends (when workers run), and everything at stop.

    Comes right after the database's context, so that the last flush runs while the database is open.
    """
    task = None
    if app[SETTINGS].workers:
        task = asyncio.create_task(refusals.flush_each_window(), name="refusals")
        app[BACKGROUND]["refusals"] = task
    yield
    if task is not None:
        await _stop(task)
    await refusals.flush_at_stop()


async def shared_rate_limits_context(app: web.Application) -> AsyncIterator[None]:
    """On PostgreSQL, every VK client of this instance books its calls in the shared window."""
    database_url = app[SETTINGS].database_url
    if database_url.startswith("sqlite"):
        yield
        return
    import asyncpg  # only PostgreSQL deployments need it here

    pool = await asyncpg.create_pool(
        asyncpg_dsn(database_url),
        min_size=1,
        max_size=POOL_SIZE,
        server_settings={"application_name": "proxy-rate-limit"},
    )
    previous = app[CONNECTIONS].use_shared_limits(SharedRateLimits(pool))
    try:
        yield
    finally:
        app[CONNECTIONS].use_shared_limits(previous)
        await pool.close()


async def outbox_worker_context(app: web.Application) -> AsyncIterator[None]:
    """One outbox worker while the app runs (when settings.workers is on).

    The worker is at app[BACKGROUND]["outbox_worker"] (add listeners there), its task at ["outbox"].
    Actions queued in this process wake it through app[OUTBOX_WAKEUPS]; on PostgreSQL it is also woken
    by rows queued on other instances (NOTIFY proxy_outbox).
    """
    settings = app[SETTINGS]
    if not settings.workers:
        yield
        return
    worker = OutboxWorker(settings, wakeups=app[OUTBOX_WAKEUPS], opened=app[CONNECTIONS])
    hub = app[LIVE]
    await hub.listen(OUTBOX_CHANNEL, worker.wake, worker.wake)
    task = asyncio.create_task(worker.run(), name="outbox-worker")
    app[BACKGROUND]["outbox"] = task
    app[BACKGROUND]["outbox_worker"] = worker
    try:
        yield
    finally:
        hub.unlisten(OUTBOX_CHANNEL, worker.wake)
        await _stop(task)


async def demo_context(app: web.Application) -> AsyncIterator[None]:
    """The demo emulator and its traffic for the app's lifetime (only with PROXY_DEMO)."""
    settings = app[SETTINGS]
    if not settings.demo:
        yield
        return
    if await demo.has_real_community():
        log.info("demo mode: a community with real tokens is configured, so no emulated community runs")
        yield
        return
    emulator, traffic = await demo.start_demo(settings)
    task = asyncio.create_task(demo.warm_up_then_run(traffic), name="demo-traffic")
    app[BACKGROUND]["demo"] = emulator
    bot_emulator, bot_traffic = await demo.start_demo_bot(settings)
    # The first round once the service listens, then one every DEMO_BOT_ROUND_SECONDS.
    bot_traffic.start()
    app[BACKGROUND]["demo_bot"] = bot_emulator
    log.info(
        "demo mode: emulated VK at %s, community %s posts to %s",
        emulator.base_url,
        demo.DEMO_GROUP_ID,
        f"{settings.public_url.rstrip('/')}/callback/vk/{demo.DEMO_GROUP_ID}",
    )
    try:
        yield
    finally:
        await _stop(task)
        await bot_traffic.stop()
        await emulator.close()
        await bot_emulator.close()
        app[BACKGROUND].pop("demo", None)
        app[BACKGROUND].pop("demo_bot", None)


async def sla_alerts_context(app: web.Application) -> AsyncIterator[None]:
    """Check for SLA breaches every 30 s while workers are on."""
    settings = app[SETTINGS]
    if not settings.workers:
        yield
        return
    http = aiohttp.ClientSession()
    task = asyncio.create_task(sla_alerts.check_every_interval(settings, http), name="sla-alerts")
    app[BACKGROUND]["sla_alerts"] = task
    try:
        yield
    finally:
        await _stop(task)
        await http.close()


async def author_profiles_context(app: web.Application) -> AsyncIterator[None]:
    """The naming worker, when this instance runs workers."""
    settings = app[SETTINGS]
    if not settings.workers:
        yield
        return
    task = asyncio.create_task(
        author_profiles.keep_names_filled(settings, app[CONNECTIONS], app[LIVE]), name="author-profiles"
    )
    try:
        yield
    finally:
        await _stop(task)


async def longpoll_context(app: web.Application) -> AsyncIterator[None]:
    """Long-poll consumers for the app's lifetime (only when background workers run)."""
    if not app[SETTINGS].workers:
        yield
        return
    supervisor = asyncio.create_task(inbound.supervise_longpoll(app), name="longpoll-supervisor")
    app[BACKGROUND]["longpoll"] = supervisor
    yield
    await _stop(supervisor)


async def live_listener_context(app: web.Application) -> AsyncIterator[None]:
    """Hear live updates and outbox wake-ups published by every instance (PostgreSQL LISTEN; nothing to
    do on SQLite). Last: the channels the workers above asked for are in place when it connects."""
    async with app[LIVE].listening(app[SETTINGS].database_url):
        yield


async def rules_context(app: web.Application) -> AsyncIterator[None]:
    """The moderation rules worker (proxy/rules/worker.py), when this instance runs workers."""
    settings = app[SETTINGS]
    if not settings.workers:
        yield
        return
    task = asyncio.create_task(
        rules_worker.keep_evaluating(settings, app[OUTBOX_WAKEUPS], app[LIVE]), name="moderation-rules"
    )
    app[BACKGROUND]["rules"] = task
    try:
        yield
    finally:
        await _stop(task)


# In start order (stopped in reverse), all after the database's context.
async def thread_parents_context(app: web.Application) -> AsyncIterator[None]:
    """The fetcher of comment threads' parents, when this instance runs workers (the wakeup is always
    there: pages set it whether or not a fetcher listens here)."""
    app[PARENT_WAKEUP] = asyncio.Event()
    settings = app[SETTINGS]
    if not settings.workers:
        yield
        return
    task = asyncio.create_task(
        thread_parents.keep_parents_fetched(settings, app[CONNECTIONS], app[PARENT_WAKEUP], app[LIVE]),
        name="thread-parents",
    )
    app[BACKGROUND]["thread-parents"] = task
    try:
        yield
    finally:
        await _stop(task)


CONTEXTS: tuple[CleanupContext, ...] = (
    journal_key_context,  # stops last: every entry journaled until then carries the MAC
    refusals_context,  # stops just before the database closes: its last counts go in
    shared_rate_limits_context,  # before anything that calls VK
    outbox_worker_context,
    demo_context,
    sla_alerts_context,
    author_profiles_context,
    thread_parents_context,
    rules_context,
    longpoll_context,
    live_listener_context,
)
