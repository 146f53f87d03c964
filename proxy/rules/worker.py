"""The rules worker: every incoming item is evaluated against the active rules once, across every instance,
after ingest committed it, and the matching rules act (proxy/rules/acting.py).

Why after ingest and not inside it: ingest answers VK within its timeout and runs in one statement where
it can (docs/architecture.md); a thousand rules, a slow pattern or a rule's own writes must never delay
it or make it fail. The worker reads the items taken in during the last LOOKBACK that no `rule_check`
row covers, oldest first. Per item, one transaction: the `rule_check` row is inserted first (ON CONFLICT
DO NOTHING: the instance that inserts it evaluates the item, another one skips it), then the item's
conversation and the item are locked, then each hit's journal entry, its actions and its `rule_hit` row
are written. An instance that dies mid-item rolls back its claim, and the item is evaluated again. Nothing
is checked while no rule is active, so a team without rules pays nothing.

A rule applies to items taken in after its current version was saved (`updated_at`): switching a rule
on does not act on the last minutes' comments. A rule whose evaluation fails (a pattern ran out of its
time) is skipped for that item, counted (proxy_rule_failures_total) and its error shown on the rules
page (`ModerationRule.last_error`); the other rules still act.

Every instance sees a rule change within STAMP_SECONDS: the compiled set is rebuilt when the rules'
count or newest `updated_at` changes (`store.rules_stamp`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from tortoise import connections
from tortoise.transactions import in_transaction

from proxy import locks, sla_alerts
from proxy.audit import journal
from proxy.clock import utcnow
from proxy.db.sql import SqlQuery
from proxy.live import LiveHub, LiveMessage, new_item_or_timeout
from proxy.metrics import RULE_EVALUATION_SECONDS, RULE_FAILURES, RULE_HITS
from proxy.models import ActorKind, Item, ModerationRule, Outcome, RuleHit, RuleMode, TeamSetting
from proxy.outbox import Wakeups
from proxy.rules import acting
from proxy.rules.matching import Candidate, Hit, RuleFailure, RuleSet
from proxy.rules.store import rules_stamp
from proxy.settings import Settings

log = logging.getLogger(__name__)

LOOKBACK = timedelta(minutes=10)
BATCH = 200
POLL_SECONDS = 1.0
STAMP_SECONDS = 1.0
# A rule's error is written back at most this often (a broken pattern fails on every item).
ERROR_WRITE_SECONDS = 60.0


class CompiledRules:
    """The active rules, compiled once and rebuilt when any rule changes (checked every STAMP_SECONDS)."""

    def __init__(self) -> None:
        self.rules = RuleSet.compile([])
        self.earliest_update: datetime | None = None
        self._stamp: Any = None
        self._checked = float("-inf")

    async def current(self) -> RuleSet:
        if time.monotonic() - self._checked < STAMP_SECONDS:
            return self.rules
        self._checked = time.monotonic()
        stamp = await rules_stamp()
        if stamp != self._stamp:
            active = await ModerationRule.filter(archived=False, mode__in=[RuleMode.DRY_RUN, RuleMode.ON])
            self.rules = RuleSet.compile(active)
            self.earliest_update = min((r.updated_at for r in active), default=None)
            self._stamp = stamp
            for rule_id, error in self.rules.broken.items():
                log.warning("moderation rule %s does not compile and is skipped: %s", rule_id, error)
        return self.rules


@dataclass
class RoundResult:
    checked: int = 0
    hits: int = 0
    alerts: list[tuple[int, str]] = field(default_factory=list)  # (journal entry id, text) to post
    conversations: set[tuple[int, int]] = field(default_factory=set)  # (community id, conversation id)


async def _recent_unchecked(since: datetime, limit: int) -> list[dict[str, Any]]:
    q = SqlQuery(connections.get("default"))
    return await q.rows(
        "SELECT i.id, i.community_id, i.conversation_id, i.channel, i.text, i.attachments, i.author_id,"
        " i.created_at, i.recorded_at, a.vk_id AS author_vk_id"
        " FROM item i LEFT JOIN author a ON a.id = i.author_id"
        f" WHERE i.direction = 'in' AND i.recorded_at >= {q.p(since)}"
        " AND NOT EXISTS (SELECT 1 FROM rule_check c WHERE c.item_id = i.id)"
        f" ORDER BY i.recorded_at, i.id LIMIT {int(limit)}"
    )


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo("UTC"))


async def _candidate(row: dict[str, Any], rules: RuleSet, tz: ZoneInfo) -> Candidate:
    created_at = _aware(row["created_at"])
    author_id = row["author_id"]
    is_new = False
    same_text: tuple[datetime, ...] = ()
    if author_id is not None and rules.needs_new_author:
        is_new = not await Item.filter(
            community_id=row["community_id"], author_id=author_id, direction="in", id__lt=row["id"]
        ).exists()
    if author_id is not None and rules.repeat_window is not None:
        earlier = await Item.filter(
            community_id=row["community_id"], author_id=author_id, direction="in",
            created_at__gte=created_at - rules.repeat_window, created_at__lte=created_at,
        ).exclude(id=row["id"]).values_list("text", "created_at")  # fmt: skip
        mine = _normalised(row["text"] or "")
        same_text = tuple(_aware(at) for text, at in earlier if _normalised(text or "") == mine)
    attachments = row["attachments"]
    if isinstance(attachments, str):
        attachments = json.loads(attachments or "[]")
    kinds = frozenset(a["type"] for a in attachments or [] if isinstance(a, dict) and isinstance(a.get("type"), str))
    return Candidate(
        community_id=row["community_id"],
        channel=str(row["channel"]),
        text=row["text"] or "",
        attachment_kinds=kinds,
        author_vk_id=row["author_vk_id"],
        is_new_author=is_new,
        local_hour=created_at.astimezone(tz).hour,
        same_text_times=same_text,
        arrived_at=created_at,
    )


async def _claim(conn: Any, item_id: int, now: datetime) -> bool:
    """Insert the item's rule_check row: True when this transaction is the one that evaluates it."""
    q = SqlQuery(conn)
    rows = await q.rows(
        f"INSERT INTO rule_check (item_id, checked_at) VALUES ({q.p(item_id)}, {q.p(now)})"
        " ON CONFLICT (item_id) DO NOTHING RETURNING item_id"
    )
    return bool(rows)


async def _claim_many(item_ids: list[int], now: datetime) -> None:
    """Mark items that matched no rule checked, in one statement (another instance may have already)."""
    if not item_ids:
        return
    q = SqlQuery(connections.get("default"))
    values = ", ".join(f"({q.p(item_id)}, {q.p(now)})" for item_id in item_ids)
    await q.execute(f"INSERT INTO rule_check (item_id, checked_at) VALUES {values} ON CONFLICT (item_id) DO NOTHING")


async def _apply(
    settings: Settings, row: dict[str, Any], hits: list[Hit], now: datetime, result: RoundResult
) -> None:
    async with in_transaction() as conn:
        if not await _claim(conn, row["id"], now):
            return
        if not hits:
            return
        conversation, item = await locks.item(row["id"], conn)
        for hit in hits:
            rule = acting.RuleRef(hit.rule.id, hit.rule.name, hit.rule.version, hit.rule.mode, hit.rule.actions)
            entry_id = await acting.journal_hit(conn, rule, hit.matched, conversation, item)
            if rule.mode == RuleMode.ON:
                done = await acting.perform(conn, settings, rule, hit.matched, conversation, item)
            else:
                done = [dict(a, queued=False, dry_run=True) for a in rule.actions]
            await RuleHit.create(
                rule_id=rule.id, rule_version=rule.version, mode=rule.mode, community_id=item.community_id,  # type: ignore[attr-defined]
                item_id=item.id, conversation_id=conversation.id, matched=hit.matched, actions=done,
                journal_entry_id=entry_id, item_recorded_at=_aware(row["recorded_at"]), created_at=utcnow(),
                using_db=conn,
            )  # fmt: skip
            RULE_HITS.labels(mode=str(rule.mode)).inc()
            result.hits += 1
            result.conversations.add((item.community_id, conversation.id))  # type: ignore[attr-defined]
            if rule.mode == RuleMode.ON and any(a["do"] == "alert" for a in rule.actions):
                text = f"Rule «{rule.name}» matched in conversation #{conversation.id}: {hit.matched}"
                result.alerts.append((entry_id, text))


async def _note_failures(failures: list[RuleFailure], written: dict[int, float]) -> None:
    for failure in failures:
        RULE_FAILURES.inc()
        if time.monotonic() - written.get(failure.rule_id, float("-inf")) < ERROR_WRITE_SECONDS:
            continue
        written[failure.rule_id] = time.monotonic()
        log.warning("moderation rule %s skipped for an item: %s", failure.rule_id, failure.error)
        await ModerationRule.filter(id=failure.rule_id).update(last_error=failure.error[:1000], last_error_at=utcnow())


async def evaluate_due(
    settings: Settings,
    compiled: CompiledRules,
    *,
    now: datetime | None = None,
    limit: int = BATCH,
    errors_written: dict[int, float] | None = None,
) -> RoundResult:
    """Evaluate the recent items no instance has evaluated yet (at most `limit`); what it did."""
    result = RoundResult()
    rules = await compiled.current()
    if rules.is_empty or compiled.earliest_update is None:
        return result
    now = now or utcnow()
    since = max(now - LOOKBACK, compiled.earliest_update)
    tz = ZoneInfo(settings.timezone)
    written = errors_written if errors_written is not None else {}
    quiet: list[int] = []
    for row in await _recent_unchecked(since, limit):
        candidate = await _candidate(row, rules, tz)
        started = time.perf_counter()
        hits, failures = rules.evaluate(candidate)
        RULE_EVALUATION_SECONDS.observe(time.perf_counter() - started)
        recorded_at = _aware(row["recorded_at"])
        hits = [h for h in hits if _aware(h.rule.updated_at) <= recorded_at]
        await _note_failures(failures, written)
        result.checked += 1
        if not hits:
            quiet.append(row["id"])
            continue
        try:
            await _apply(settings, row, hits, now, result)
        except Exception as exc:
            # An item the rules cannot act on must not hold up every item after it: it is marked
            # checked without its hits, and the rules that matched it show the error.
            log.exception("moderation rules: acting on item %s failed; it is skipped", row["id"])
            async with in_transaction() as conn:
                await _claim(conn, row["id"], now)
            await _note_failures([RuleFailure(h.rule.id, f"acting failed: {exc}") for h in hits], written)
    # Most items match nothing: one statement marks them all checked (a transaction per item made the
    # worker fall behind bursts of several hundred items a second: docs/benchmarks.md, "rules").
    await _claim_many(quiet, now)
    return result


async def post_alerts(http: aiohttp.ClientSession, alerts: list[tuple[int, str]]) -> None:
    """Post each matched rule's alert to the team's SLA webhook, once; journaled "rule.alert"."""
    if not alerts:
        return
    setting = await TeamSetting.get_or_none(key=sla_alerts.WEBHOOK_SETTING)
    for hit_entry_id, text in alerts:
        outcome, detail = Outcome.DONE, "posted"
        if setting is None:
            outcome, detail = Outcome.FAILED, "no webhook is set (admin: SLA webhook)"
        else:
            try:
                await sla_alerts.post_alert(http, setting.value, text)
            except (sla_alerts.WebhookError, aiohttp.ClientError, TimeoutError) as exc:
                outcome, detail = Outcome.FAILED, str(exc)[:500]
        await journal.record(
            "rule.alert", actor_kind=ActorKind.RULE, text=text, outcome=outcome, outcome_detail=detail,
            params={"hit_entry_id": hit_entry_id},
        )  # fmt: skip


async def keep_evaluating(settings: Settings, wakeups: Wakeups | None, live: LiveHub | None) -> None:
    """Rounds forever (the runtime runs it while workers are on): at once when an item arrives, else
    every POLL_SECONDS; a full batch goes on at once."""
    compiled = CompiledRules()
    written: dict[int, float] = {}
    async with aiohttp.ClientSession() as http:
        if live is None:
            await _rounds(settings, compiled, written, wakeups, None, None, http)
            return
        async with live.subscribe() as queue:
            await _rounds(settings, compiled, written, wakeups, live, queue, http)


async def _rounds(
    settings: Settings,
    compiled: CompiledRules,
    written: dict[int, float],
    wakeups: Wakeups | None,
    live: LiveHub | None,
    queue: asyncio.Queue[LiveMessage] | None,
    http: aiohttp.ClientSession,
) -> None:
    while True:
        result = RoundResult()
        try:
            result = await evaluate_due(settings, compiled, errors_written=written)
            if result.hits and wakeups is not None:
                wakeups.wake()
            if live is not None:
                for community_id, conversation_id in result.conversations:
                    await live.publish(
                        "conversation_updated", {"community_id": community_id, "conversation_id": conversation_id}
                    )
            await post_alerts(http, result.alerts)
        except Exception:
            log.exception("moderation rules: round failed, will retry")
        if result.checked < BATCH:
            await new_item_or_timeout(queue, POLL_SECONDS)
