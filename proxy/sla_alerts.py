"""SLA breach alerts: flag each open conversation once when its wait passes its community's SLA, and
post the alert to the team's webhook (Slack-compatible JSON, or a Telegram bot's sendMessage).

The webhook is the TeamSetting "sla_webhook": ``{"kind": "slack", "url": "https://hooks.slack.com/..."}``
or ``{"kind": "telegram", "url": "https://api.telegram.org/bot<token>/sendMessage", "chat_id": "-100..."}``.
Without it, breaches are still flagged (the inbox highlights them) and nothing is posted.

Once per breach: `sla_breach_notified_at` is claimed with a conditional UPDATE before anything is posted,
so several instances never alert twice; the conversation state machine clears it when a new waiting
period starts, which makes the next breach alert again. An alert that fails to post is logged and
journaled ("sla.alert", failed) and not retried: a late duplicate is worse than a missed ping, and the
inbox still shows the breach.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp

from proxy.audit import journal
from proxy.business_hours import business_seconds
from proxy.clock import utcnow
from proxy.db.sql import SqlQuery
from proxy.models import ActorKind, Outcome, TeamSetting
from proxy.settings import Settings

log = logging.getLogger(__name__)

WEBHOOK_SETTING = "sla_webhook"
CHECK_INTERVAL_SECONDS = 30.0
BATCH = 200
POST_TIMEOUT = aiohttp.ClientTimeout(total=10)


class WebhookError(Exception):
    """The webhook setting is malformed or the receiver refused the alert."""


def alert_text(row: dict[str, Any], waited: float, public_url: str) -> str:
    """The one-line alert: where, who is waiting, for how long against which SLA, and a link."""
    author = row["author_name"] or (f"id{row['author_vk_id']}" if row["author_vk_id"] is not None else "?")
    return (
        f"SLA breach in {row['community']}: {row['channel']} conversation #{row['id']} from {author} "
        f"waiting {int(waited // 60)} min (SLA {int(row['sla_seconds']) // 60} min). "
        f"{public_url.rstrip('/')}/conversations/{row['id']}"
    )


async def post_alert(http: aiohttp.ClientSession, webhook: dict[str, Any], text: str) -> None:
    """Send one alert to a Slack-compatible webhook or a Telegram chat; WebhookError on refusal."""
    kind, url = webhook.get("kind"), webhook.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise WebhookError(f"sla_webhook url must be an http(s) URL, got {url!r}")
    if kind == "slack":
        body: dict[str, Any] = {"text": text}
    elif kind == "telegram":
        if not webhook.get("chat_id"):
            raise WebhookError("sla_webhook of kind telegram needs a chat_id")
        body = {"chat_id": webhook["chat_id"], "text": text, "disable_web_page_preview": True}
    else:
        raise WebhookError(f"sla_webhook kind must be slack or telegram, got {kind!r}")
    try:
        async with http.post(url, json=body, timeout=POST_TIMEOUT) as resp:
            if resp.status >= 300:
                raise WebhookError(f"webhook answered HTTP {resp.status}: {(await resp.text())[:200]}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise WebhookError(f"webhook unreachable: {type(exc).__name__}: {exc}") from None


async def _candidates(now: datetime) -> list[dict[str, Any]]:
    """Open conversations waiting longer than their SLA in wall-clock time and not yet alerted."""
    q = SqlQuery()
    # Wall-clock wait in whole seconds: an upper bound of working time, refined per row by `_waited`.
    past_sla = f"{q.whole_epoch('cv.waiting_since')} + cm.sla_seconds < {int(now.timestamp())}"
    sql = f"""
        SELECT cv.id, cv.channel, {q.epoch("cv.waiting_since")} AS waiting_since,
               cm.id AS community_id, cm.name AS community, cm.sla_seconds, cm.business_hours,
               a.name AS author_name, a.vk_id AS author_vk_id
        FROM conversation cv
        JOIN community cm ON cm.id = cv.community_id
        LEFT JOIN author a ON a.id = cv.author_id
        WHERE cv.status = 'open' AND cv.waiting_since IS NOT NULL AND cv.sla_breach_notified_at IS NULL
          AND {past_sla}
        ORDER BY cv.waiting_since
        LIMIT {BATCH}
    """
    return await q.rows(sql)


def _waited(row: dict[str, Any], now: datetime) -> float:
    """Seconds waited so far: working time for a community with business hours, wall-clock otherwise."""
    since = datetime.fromtimestamp(float(row["waiting_since"]), UTC)
    hours = row["business_hours"]
    if isinstance(hours, str):
        hours = json.loads(hours)
    return business_seconds(since, now, hours) if hours else (now - since).total_seconds()


async def _claim(conversation_id: int, now: datetime) -> bool:
    """Mark the breach as notified unless someone (another instance) already did."""
    q = SqlQuery()
    sql = (
        f"UPDATE conversation SET sla_breach_notified_at = {q.p(now)} "
        f"WHERE id = {q.p(conversation_id)} AND sla_breach_notified_at IS NULL AND waiting_since IS NOT NULL"
    )
    return await q.execute(sql) == 1


async def check_sla_breaches(
    settings: Settings, http_session: aiohttp.ClientSession, *, now: datetime | None = None
) -> int:
    """Flag every conversation newly past its SLA and post one alert each; the number flagged."""
    now = now or utcnow()
    setting = await TeamSetting.get_or_none(key=WEBHOOK_SETTING)
    webhook = setting.value if setting is not None and isinstance(setting.value, dict) else None
    flagged = 0
    for row in await _candidates(now):
        waited = _waited(row, now)
        if waited <= int(row["sla_seconds"]) or not await _claim(int(row["id"]), now):
            continue
        flagged += 1
        if webhook is None:
            continue
        text = alert_text(row, waited, settings.public_url)
        try:
            await post_alert(http_session, webhook, text)
            outcome, detail = Outcome.DONE, None
        except WebhookError as exc:
            log.warning("SLA alert for conversation %s not delivered: %s", row["id"], exc)
            outcome, detail = Outcome.FAILED, str(exc)
        await journal.record(
            "sla.alert",
            actor_kind=ActorKind.SYSTEM,
            community_id=int(row["community_id"]),
            conversation_id=int(row["id"]),
            text=text,
            params={"kind": webhook.get("kind"), "waited_seconds": round(waited)},
            outcome=outcome,
            outcome_detail=detail,
        )
    return flagged


async def check_every_interval(settings: Settings, http: aiohttp.ClientSession) -> None:
    """Check for breaches every CHECK_INTERVAL_SECONDS, forever (the runtime runs it while workers are on)."""
    while True:
        try:
            await check_sla_breaches(settings, http)
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed round must not end the worker; the next one retries
            log.exception("SLA breach check failed")
        await asyncio.sleep(CHECK_INTERVAL_SECONDS)
