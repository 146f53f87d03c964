"""The background checkpoint task, and the alarm it raises when no checkpoint can be made.

Every PROXY_JOURNAL_CHECKPOINT_INTERVAL seconds the task issues a checkpoint (proxy/audit/checkpoints.py).
When it cannot, most seriously because the journal no longer verifies (an entry forged, changed or
removed: signing it would make it signed history), checkpoints stop, and a log line alone would let
that go unseen. So a failure is made visible:

- journaled once as `journal.checkpoint_refused` (the reason as its text), and again only when the reason
  changes: at most one entry per interval, none while the same reason persists;
- posted, with that first entry, to PROXY_JOURNAL_CHECKPOINT_WEBHOOK as a JSON object (the checkpoints
  themselves go there as text/plain notes, so a receiver tells the two apart by Content-Type);
- shown on the managers' checkpoints page (web/views/checkpoints.py) until a checkpoint is made again,
  which is journaled as `journal.checkpoint_resumed`.

The state lives in the journal, not in the process: it holds across restarts and is the same for every
instance's page.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from proxy.audit import checkpoints, journal
from proxy.models import ActorKind, JournalEntry

log = logging.getLogger(__name__)

REFUSED = "journal.checkpoint_refused"
RESUMED = "journal.checkpoint_resumed"
ALERT_TYPE = "journal.checkpoint_refused"  # the "type" of the webhook's JSON object


@dataclass(frozen=True)
class Refusal:
    """The checkpoint failure in force: its reason, when it was journaled, and in which entry."""

    reason: str
    at: datetime
    entry_id: int


async def current_refusal(*, connection: Any = None) -> Refusal | None:
    """The last failure journaled if no checkpoint was made since, else None."""
    query = JournalEntry.filter(action__in=(REFUSED, RESUMED)).order_by("-created_at", "-id")
    latest = await (query.using_db(connection) if connection is not None else query).first()
    if latest is None or latest.action != REFUSED:
        return None
    return Refusal(latest.text, latest.created_at, latest.id)


async def note_refusal(
    reason: str, *, origin: str, webhook: str | None, http: aiohttp.ClientSession | None
) -> Refusal | None:
    """Journal the failure and post it to the webhook, unless it is the one in force already: the new
    Refusal, or None when nothing was new."""
    current = await current_refusal()
    if current is not None and current.reason == reason:
        return None
    entry = await journal.record(REFUSED, actor_kind=ActorKind.SYSTEM, text=reason)
    refusal = Refusal(reason, entry.created_at, entry.id)
    if webhook is not None:
        if http is None:
            async with aiohttp.ClientSession() as session:
                await _post_alert(session, webhook, origin, refusal)
        else:
            await _post_alert(http, webhook, origin, refusal)
    return refusal


async def note_success(size: int) -> bool:
    """Journal that checkpoints are made again, if a failure was in force (True then)."""
    if await current_refusal() is None:
        return False
    await journal.record(RESUMED, actor_kind=ActorKind.SYSTEM, params={"size": size})
    return True


async def _post_alert(http: aiohttp.ClientSession, url: str, origin: str, refusal: Refusal) -> None:
    body = {
        "type": ALERT_TYPE,
        "origin": origin,
        "reason": refusal.reason,
        "at": refusal.at.isoformat(),
        "journal_entry": refusal.entry_id,
    }
    try:
        async with http.post(
            url, json=body, timeout=aiohttp.ClientTimeout(total=checkpoints.WEBHOOK_SECONDS)
        ) as response:
            if response.status // 100 != 2:
                log.error("checkpoint refusal not posted: the webhook answered HTTP %s", response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.error("checkpoint refusal not posted: %s", exc or type(exc).__name__)


async def issue_once(settings: Any, http: aiohttp.ClientSession | None) -> checkpoints.Issued | None:
    """One round of the task: issue a checkpoint, journal a failure or the return to success."""
    directory = Path(settings.journal_checkpoint_dir) if settings.journal_checkpoint_dir else None
    webhook = settings.journal_checkpoint_webhook
    try:
        issued = await checkpoints.issue(
            settings.journal_key, directory=directory, webhook=webhook, http=http
        )
    except (checkpoints.CheckpointError, OSError) as exc:
        reason = str(exc) if isinstance(exc, checkpoints.CheckpointError) else f"the checkpoint file: {exc}"
        log.error("journal checkpoint not issued: %s", reason)
        await note_refusal(reason, origin=settings.journal_key.name, webhook=webhook, http=http)
        return None
    if issued.new_file:
        log.info("journal checkpoint: %d entries, %s", issued.checkpoint.size, issued.path or "posted")
    await note_success(issued.checkpoint.size)
    return issued


async def issue_every_interval(settings: Any, http: aiohttp.ClientSession | None) -> None:
    """The background task: a checkpoint every settings.journal_checkpoint_interval seconds."""
    while True:
        await asyncio.sleep(settings.journal_checkpoint_interval)
        try:
            await issue_once(settings, http)
        except Exception:  # a database hiccup must not end the task
            log.exception("journal checkpoint not issued")
