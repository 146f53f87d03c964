"""SLA breach alerts posted once per breach to a real local webhook receiver (Slack and Telegram)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web

from proxy.appkeys import BACKGROUND, SETTINGS
from proxy.models import (
    Author,
    Channel,
    Community,
    Conversation,
    ConversationStatus,
    JournalEntry,
    Outcome,
    TeamSetting,
)
from proxy.runtime.workers import sla_alerts_context
from proxy.settings import Settings
from proxy.sla_alerts import check_sla_breaches

# Monday 2024-03-04 12:00 UTC (15:00 in Moscow).
NOW = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
async def receiver(aiohttp_server):
    """A local HTTP server that records what it is sent; `status` sets its answer."""
    received: list[tuple[str, dict]] = []
    state = {"status": 200}

    async def hook(request: web.Request) -> web.Response:
        received.append((request.path, await request.json()))
        return web.json_response({"ok": state["status"] == 200}, status=state["status"])

    app = web.Application()
    app.router.add_post("/{tail:.*}", hook)
    server = await aiohttp_server(app)
    return server, received, state


@pytest.fixture
def sla_settings(db_url: str) -> Settings:
    return Settings.from_env({}, database_url=db_url, workers=False, public_url="https://proxy.example")


async def _waiting(community: Community, key: str, since: datetime, **extra) -> Conversation:
    author, _ = await Author.get_or_create(vk_id=42, defaults={"name": "Ivan Petrov"})
    return await Conversation.create(
        community=community,
        channel=Channel.MESSAGE,
        key=key,
        author=author,
        opened_at=since,
        waiting_since=since,
        status=ConversationStatus.OPEN,
        **extra,
    )


async def test_slack_alert_once_per_breach(db, receiver, sla_settings) -> None:
    server, received, _ = receiver
    shop = await Community.create(vk_group_id=1, name="Shop", sla_seconds=900)
    await TeamSetting.create(
        key="sla_webhook", value={"kind": "slack", "url": str(server.make_url("/hooks/T1"))}
    )
    late = await _waiting(shop, "message:42", NOW - timedelta(seconds=1000))
    await _waiting(shop, "message:43", NOW - timedelta(seconds=900))  # exactly at the SLA: not a breach
    closed = await _waiting(shop, "message:44", NOW - timedelta(hours=2))
    closed.status = ConversationStatus.CLOSED
    await closed.save()

    async with aiohttp.ClientSession() as http:
        assert await check_sla_breaches(sla_settings, http, now=NOW) == 1
        assert await check_sla_breaches(sla_settings, http, now=NOW + timedelta(minutes=1)) == 1  # 43 now
        assert await check_sla_breaches(sla_settings, http, now=NOW + timedelta(minutes=2)) == 0
        assert received[0] == (
            "/hooks/T1",
            {
                "text": f"SLA breach in Shop: message conversation #{late.id} from Ivan Petrov waiting 16 min "
                f"(SLA 15 min). https://proxy.example/conversations/{late.id}"
            },
        )
        assert len(received) == 2
        await late.refresh_from_db()
        assert late.sla_breach_notified_at == NOW

        # A new waiting period (the state machine clears the flag) breaches, and alerts, again.
        late.waiting_since, late.sla_breach_notified_at = NOW + timedelta(hours=1), None
        await late.save()
        assert await check_sla_breaches(sla_settings, http, now=NOW + timedelta(hours=1, minutes=15)) == 0
        assert await check_sla_breaches(sla_settings, http, now=NOW + timedelta(hours=1, minutes=16)) == 1
    assert len(received) == 3
    entries = await JournalEntry.filter(action="sla.alert").order_by("id")
    assert [(e.conversation_id, e.outcome) for e in entries] == [
        (late.id, Outcome.DONE),
        (late.id + 1, Outcome.DONE),
        (late.id, Outcome.DONE),
    ]


async def test_telegram_alert(db, receiver, sla_settings) -> None:
    server, received, _ = receiver
    shop = await Community.create(vk_group_id=1, name="Shop", sla_seconds=600)
    url = str(server.make_url("/bot123:abc/sendMessage"))
    await TeamSetting.create(key="sla_webhook", value={"kind": "telegram", "url": url, "chat_id": "-1001"})
    conv = await _waiting(shop, "message:42", NOW - timedelta(minutes=30))
    async with aiohttp.ClientSession() as http:
        assert await check_sla_breaches(sla_settings, http, now=NOW) == 1
    assert received == [
        (
            "/bot123:abc/sendMessage",
            {
                "chat_id": "-1001",
                "text": f"SLA breach in Shop: message conversation #{conv.id} from Ivan Petrov waiting 30 min "
                f"(SLA 10 min). https://proxy.example/conversations/{conv.id}",
                "disable_web_page_preview": True,
            },
        )
    ]


async def test_business_hours_count_working_time_only(db, receiver, sla_settings) -> None:
    server, received, _ = receiver
    hours = {"tz": "Europe/Moscow", "days": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00"}
    shop = await Community.create(vk_group_id=1, name="Shop", sla_seconds=900, business_hours=hours)
    await TeamSetting.create(key="sla_webhook", value={"kind": "slack", "url": str(server.make_url("/h"))})
    # Since Friday 17:55 Moscow: by Monday 09:05 that is 10 working minutes, by 09:11 it is 16.
    since = datetime(2024, 3, 1, 14, 55, tzinfo=UTC)
    await _waiting(shop, "message:42", since)
    async with aiohttp.ClientSession() as http:
        assert await check_sla_breaches(sla_settings, http, now=datetime(2024, 3, 4, 6, 5, tzinfo=UTC)) == 0
        assert await check_sla_breaches(sla_settings, http, now=datetime(2024, 3, 4, 6, 11, tzinfo=UTC)) == 1
    assert "waiting 16 min (SLA 15 min)" in received[0][1]["text"]


async def test_refused_alert_is_journaled_and_not_retried(db, receiver, sla_settings) -> None:
    server, received, state = receiver
    state["status"] = 500
    shop = await Community.create(vk_group_id=1, name="Shop", sla_seconds=900)
    await TeamSetting.create(key="sla_webhook", value={"kind": "slack", "url": str(server.make_url("/h"))})
    await _waiting(shop, "message:42", NOW - timedelta(hours=1))
    async with aiohttp.ClientSession() as http:
        assert await check_sla_breaches(sla_settings, http, now=NOW) == 1
        assert await check_sla_breaches(sla_settings, http, now=NOW) == 0
    assert len(received) == 1
    entry = await JournalEntry.get(action="sla.alert")
    assert entry.outcome == Outcome.FAILED and entry.outcome_detail.startswith("webhook answered HTTP 500")


async def test_without_webhook_breaches_are_flagged_only(db, sla_settings) -> None:
    shop = await Community.create(vk_group_id=1, name="Shop", sla_seconds=900)
    conv = await _waiting(shop, "message:42", NOW - timedelta(hours=1))
    async with aiohttp.ClientSession() as http:
        assert await check_sla_breaches(sla_settings, http, now=NOW) == 1
    await conv.refresh_from_db()
    assert conv.sla_breach_notified_at == NOW
    assert not await JournalEntry.filter(action="sla.alert").exists()


async def test_worker_runs_only_with_workers_on(db, sla_settings) -> None:
    app = web.Application()
    app[SETTINGS] = sla_settings
    app[BACKGROUND] = {}
    context = sla_alerts_context(app)
    await anext(context)
    assert "sla_alerts" not in app[BACKGROUND]
    await context.aclose()

    app[SETTINGS] = replace(sla_settings, workers=True)
    context = sla_alerts_context(app)
    await anext(context)
    task = app[BACKGROUND]["sla_alerts"]
    assert not task.done()
    await context.aclose()
    assert task.cancelled()
