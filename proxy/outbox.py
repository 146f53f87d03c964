"""The outbox worker: performs queued operator actions on VK, exactly once, and records how they ended.

An action is queued by proxy/actions.py (journal entry + outbox row, one transaction). A worker claims
due rows (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so any number of workers on any number of
instances never claim one row twice; SQLite has one process and serial transactions), marks them
`sending` with a lease, commits, and only then calls VK, outside any transaction. The result is
recorded in a second transaction together with what it changes (the waiting period a reply ends, the
tombstone of a deleted comment, the ban: proxy/moderation.py writes those two).

That transaction takes its locks in the project's order (docs/architecture.md, "Lock order";
proxy/locks.py): the row's conversation, the item its action changes, the outbox row, the ban, and
the journal last (its outcome is filled after everything else). Ingest taking in VK's echo of the
same action holds the conversation (and the item) while it matches the row (proxy/echo.py); taking
the row first and the conversation second, the two deadlocked.

A worker killed between the VK call and the update leaves a `sending` row behind; once its lease
expires the row is claimed again and re-sent with the same idempotency key (random_id / guid), which VK
deduplicates. Within a conversation rows are performed in the order they were queued: a row is claimed
only when no earlier row of its conversation is still pending or sending.

Several instances: VK's per-token rate limit is booked in PostgreSQL (proxy/rate_limit.py), so the
workers of all instances together stay within it, and a claim takes no more rows of one community's
token than that token can send in IN_FLIGHT_SECONDS counting the rows already in flight anywhere, so
no claimed row waits for its turn past its lease (3 calls a second on a user token go fast). A new row
wakes the workers of every instance: the INSERT's trigger sends NOTIFY proxy_outbox when the action
commits (migration 0004), heard on the instance's LISTEN connection (proxy/live.py); the poll every
POLL_INTERVAL_SECONDS stays as the fallback, and a re-opened LISTEN connection wakes the worker too.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from proxy import conversations, locks, moderation
from proxy.action_methods import AUTHOR_METHODS, REPLY_METHODS  # noqa: F401 (named here by callers)
from proxy.audit import journal
from proxy.clock import utcnow
from proxy.communities import MissingToken, admin_token, community_token
from proxy.connectors.base import (
    ActionFailed,
    ActionKind,
    ActionPerformer,
    ActionResult,
    PlannedCall,
    TokenNeed,
)
from proxy.connectors.registry import Connections, kind_of, network_name_of, slowest_rate
from proxy.ingest import IngestResult, ingest
from proxy.metrics import OUTBOX_FAILED, OUTBOX_SENT
from proxy.models import (
    Community,
    Conversation,
    Item,
    JournalEntry,
    Network,
    OutboxRow,
    OutboxStatus,
    Outcome,
)
from proxy.networks import connections
from proxy.settings import Settings

log = logging.getLogger(__name__)

# How long a claimed row is ours: longer than a VK call can take (request timeout 15 s, rate limit wait).
LEASE = timedelta(seconds=60)
# VK calls per row before a transient failure becomes final (about ten minutes of backoff in all).
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 300.0
POLL_INTERVAL_SECONDS = 2.0
BATCH_SIZE = 50
# Rows of one community's token in flight at once (all instances): what the token sends in this long,
# well inside LEASE. Community token: 20/s -> 200 rows; admin user token: 3/s -> 30 rows.
IN_FLIGHT_SECONDS = 10
# NOTIFY channel of the outbox INSERT trigger (migration 0004 names it too).
OUTBOX_CHANNEL = "proxy_outbox"


OnChange = Callable[[int | None], Awaitable[None] | None]
OnIngested = Callable[[IngestResult], Awaitable[None] | None]
# Each network's performer for one round of deliveries (Connections.performers).
Performers = Mapping[Network, ActionPerformer]

# Due rows (pending and due, or sending with an expired lease), the first open row of each conversation,
# at most the token's in-flight allowance per community and token kind (`place` counts this claim's
# rows, the subquery the rows other claims hold).
# The outer WHERE repeats the due condition on purpose. The subquery reads the statement's snapshot; a row
# another instance's claim committed after that snapshot is no longer locked, so SKIP LOCKED does not skip
# it, and PostgreSQL re-checks only the outer conditions against the row's newest version. Without them
# both claims took the row and VK got the call twice (tests/test_outbox_multi.py, the racing claims).
_CLAIM_SQL = """
SELECT id FROM outbox
WHERE ((status = 'pending' AND next_attempt_at <= {due}) OR (status = 'sending' AND locked_until < {expired}))
AND id IN (
    SELECT due.id FROM (
        SELECT o.id, o.community_id, o.token_kind,
               ROW_NUMBER() OVER (PARTITION BY o.community_id, o.token_kind ORDER BY o.next_attempt_at, o.id)
                   AS place
        FROM outbox o
        WHERE ((o.status = 'pending' AND o.next_attempt_at <= {due})
               OR (o.status = 'sending' AND o.locked_until < {expired}))
          AND (o.conversation_id IS NULL OR o.id IN (
                SELECT MIN(id) FROM outbox
                WHERE status IN ('pending', 'sending') AND conversation_id IS NOT NULL
                GROUP BY conversation_id))
    ) due
    WHERE due.place + (
        SELECT COUNT(*) FROM outbox held
        WHERE held.community_id = due.community_id AND held.token_kind = due.token_kind
          AND held.status = 'sending' AND held.locked_until >= {held}
    ) <= CASE WHEN due.token_kind = 'admin' THEN CAST({admin_allowance} AS INTEGER)
              ELSE CAST({community_allowance} AS INTEGER) END
)
ORDER BY next_attempt_at, id
LIMIT {limit}
"""


class Wakeups:
    """The wake-up events of the outbox workers one app runs (the app holds it: appkeys.OUTBOX_WAKEUPS).

    Whoever queues an action in the app's process wakes them after the commit (web/views/actions.py),
    so a row queued here does not wait for the next poll; other instances hear NOTIFY proxy_outbox.
    """

    def __init__(self) -> None:
        self._events: set[asyncio.Event] = set()

    def add(self, event: asyncio.Event) -> None:
        self._events.add(event)

    def discard(self, event: asyncio.Event) -> None:
        self._events.discard(event)

    def wake(self) -> None:
        """Tell the workers that a row was queued (call after the commit)."""
        for event in list(self._events):
            event.set()


def backoff(attempts: int) -> timedelta:
    """The wait before attempt `attempts + 1`: 5 s, 10 s, 20 s ... at most 5 minutes."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS))


async def select_due(conn: Any, *, limit: int, now: datetime) -> list[int]:
    """Ids of due rows, locked for the caller's transaction; rows another worker holds are skipped."""
    allowance = {kind: slowest_rate(kind) * IN_FLIGHT_SECONDS for kind in TokenNeed}
    by_name = {
        "due": now, "expired": now, "held": now, "admin_allowance": allowance[TokenNeed.ADMIN],
        "community_allowance": allowance[TokenNeed.COMMUNITY], "limit": limit,
    }  # fmt: skip
    if conn.capabilities.dialect == "postgres":
        numbered = {name: f"${n}" for n, name in enumerate(by_name, 1)}
        sql, values = _CLAIM_SQL.format(**numbered) + "FOR UPDATE SKIP LOCKED", list(by_name.values())
    else:  # SQLite's `?` takes the values in the order the names appear
        sql = _CLAIM_SQL.format(**dict.fromkeys(by_name, "?"))
        values = [by_name[name] for name in re.findall(r"\{(\w+)\}", _CLAIM_SQL)]
    _, rows = await conn.execute_query(sql, values)
    return [row["id"] for row in rows]


async def claim(
    *, limit: int = BATCH_SIZE, now: datetime | None = None, lease: timedelta = LEASE
) -> list[int]:
    """Claim due rows: mark them `sending` until now + lease and commit. Returns their ids."""
    now = now or utcnow()
    async with in_transaction() as conn:
        ids = await select_due(conn, limit=limit, now=now)
        if ids:
            await (
                OutboxRow.filter(id__in=ids)
                .using_db(conn)
                .update(status=OutboxStatus.SENDING, locked_until=now + lease, attempts=F("attempts") + 1)
            )
    return ids


def _token(settings: Settings, community: Community, kind: str) -> str:
    if kind == TokenNeed.ADMIN:
        return admin_token(settings, community)
    return community_token(settings, community)


async def perform(settings: Settings, performers: Performers, row: OutboxRow) -> ActionResult:
    """Make a row's call on its community's network (no bookkeeping). Raises ActionFailed; a missing
    token is a permanent failure."""
    community = await Community.get(id=row.community_id)
    try:
        token = _token(settings, community, row.token_kind)
    except MissingToken as exc:
        raise ActionFailed(str(exc), code=None, transient=False) from exc
    call = PlannedCall(row.method, dict(row.params), TokenNeed(row.token_kind))
    return await performers[community.network].perform(call, token)


async def deliver_due(
    settings: Settings,
    *,
    limit: int = BATCH_SIZE,
    now: datetime | None = None,
    on_change: OnChange | None = None,
    opened: Connections | None = None,
) -> int:
    """Claim due rows and perform them; returns how many were claimed.

    `now` is when the rows are judged due (tests pass a later time to skip a backoff or a lease).
    `on_change(conversation_id)` is called after each row's outcome is committed. `opened` is the
    application's connections (without, the round opens its own).
    """
    now = now or utcnow()
    ids = await claim(limit=limit, now=now)
    if ids:
        await deliver_claimed(settings, ids, now=now, on_change=on_change, opened=opened)
    return len(ids)


async def deliver_claimed(
    settings: Settings,
    ids: list[int],
    *,
    now: datetime,
    on_change: OnChange | None = None,
    opened: Connections | None = None,
    on_author_change: OnChange | None = None,
    on_ingested: OnIngested | None = None,
) -> list[int]:
    """Perform rows this worker claimed (`claim`) and record each outcome; returns their conversations.

    `on_author_change(conversation_id)` is called too after a ban's or an unban's outcome (AUTHOR_METHODS)."""
    async with connections(settings, opened) as round_connections:
        with round_connections.performers() as performers:
            # One row per conversation is claimed at a time, so concurrent sends never reorder replies.
            about = await asyncio.gather(
                *(
                    _deliver_one(settings, performers, row_id, now, on_change, on_author_change, on_ingested)
                    for row_id in ids
                )
            )
    return [conversation_id for conversation_id in about if conversation_id is not None]


async def _deliver_one(
    settings: Settings,
    performers: Performers,
    row_id: int,
    now: datetime,
    on_change: OnChange | None,
    on_author_change: OnChange | None = None,
    on_ingested: OnIngested | None = None,
) -> int | None:
    """Perform one claimed row and record its outcome; returns its conversation's id."""
    row = await OutboxRow.get(id=row_id)
    try:
        if row.attempts > MAX_ATTEMPTS:
            # Claimed again and again without an outcome: something kills the worker on this row.
            await record_failure(
                row,
                ActionFailed("the action was abandoned after repeated attempts", code=None, transient=False),
                now,
            )
        else:
            try:
                result = await perform(settings, performers, row)
            except ActionFailed as exc:
                await record_failure(row, exc, now)
            else:
                if await record_success(row, result) and result.events:
                    await _ingest_unechoed(row, result, on_ingested)
    except Exception:
        # The row stays `sending`; its lease runs out and it is tried again with the same key.
        log.exception("outbox row %s: recording the outcome failed", row_id)
        return None
    for told in (on_change, on_author_change if row.method in AUTHOR_METHODS else None):
        if told is not None:
            outcome = told(row.conversation_id)
            if inspect.isawaitable(outcome):
                await outcome
    return row.conversation_id  # type: ignore[no-any-return]


async def _ingest_unechoed(row: OutboxRow, result: ActionResult, on_ingested: OnIngested | None) -> None:
    """Store what the action created that the network will not send back (ActionResult.events), after
    its outcome: ingest recognises it as this row's (proxy/echo.py, by `result_item_key`)."""
    community = await Community.get(id=row.community_id)
    for raw, event in result.events:
        ingested = await ingest(community, raw, event, source="outbox")
        if on_ingested is not None:
            outcome = on_ingested(ingested)
            if inspect.isawaitable(outcome):
                await outcome


async def _fill_outcome(entry_id: int, outcome: Outcome, detail: str, conn: Any) -> None:
    # The journal entry's outcome is filled once; a row recorded twice must not try again.
    if await JournalEntry.filter(id=entry_id, outcome_at__isnull=True).using_db(conn).exists():
        await journal.set_outcome(entry_id, outcome, detail, connection=conn)


def _success_detail(method: str, result: ActionResult) -> str:
    ids = ", ".join(f"{name} {value}" for name, value in result.vk_ids.items())
    accepted = f"{network_name_of(method)} accepted it"
    return f"{accepted} ({ids})" if ids else accepted


async def record_success(row: OutboxRow, result: ActionResult) -> bool:
    """Mark a row sent and apply what it changed; False if its outcome was already recorded."""
    accepted_at = utcnow()
    async with in_transaction() as conn:
        locked = await locks.outbox_row(row.id, conn, with_item=_changes_item(row.method))
        current = locked.row
        # A slow worker whose lease ran out and a second one may both get VK's answer: one records it.
        if current.status not in (OutboxStatus.SENDING, OutboxStatus.PENDING):
            return False
        current.status = OutboxStatus.SENT
        current.sent_at = accepted_at
        current.locked_until = None
        current.error_code = None
        current.error_message = None
        current.result = {"response": result.response, "vk_ids": result.vk_ids}
        if result.item_key:
            current.result_item_key = result.item_key
        await current.save(
            using_db=conn,
            update_fields=[
                "status", "sent_at", "locked_until", "error_code", "error_message", "result", "result_item_key",
            ],
        )  # fmt: skip
        await _apply_effects(locked, accepted_at, conn)
        await _fill_outcome(
            current.journal_entry_id, Outcome.DONE, _success_detail(current.method, result), conn
        )
    OUTBOX_SENT.labels(method=row.method).inc()  # once committed: a rolled-back record is not a send
    return True


async def record_failure(row: OutboxRow, failure: ActionFailed, now: datetime) -> None:
    """Schedule a retry of a transient failure, or record a final one on the row and its journal entry."""
    async with in_transaction() as conn:
        current = (await locks.outbox_row(row.id, conn)).row
        if current.status != OutboxStatus.SENDING:
            return
        current.error_code = failure.code
        current.error_message = failure.operator_message
        current.locked_until = None
        final_detail = None
        if failure.transient and current.attempts < MAX_ATTEMPTS:
            current.status = OutboxStatus.PENDING
            wait = backoff(current.attempts)
            if failure.retry_after is not None:
                # The network said how long: an earlier try is refused again and prolongs its penalty.
                wait = max(wait, timedelta(seconds=failure.retry_after))
            current.next_attempt_at = now + wait
        else:
            current.status = OutboxStatus.FAILED
            final_detail = failure.operator_message
            if failure.code is not None:
                final_detail = f"{network_name_of(current.method)} error {failure.code}: {final_detail}"
            if failure.transient:
                final_detail += f" (gave up after {current.attempts} attempts)"
        await current.save(
            using_db=conn,
            update_fields=["status", "next_attempt_at", "error_code", "error_message", "locked_until"],
        )
        if final_detail is not None:
            await _fill_outcome(current.journal_entry_id, Outcome.FAILED, final_detail, conn)
    if final_detail is not None:
        OUTBOX_FAILED.labels(method=row.method).inc()
    log.info("outbox row %s %s: %s", row.id, current.status, failure.detail or failure.operator_message)


# --- what a performed action changes in the store ------------------------------------------------------


def _changes_item(method: str) -> bool:
    return kind_of(method) in (ActionKind.DELETE_COMMENT, ActionKind.RESTORE_COMMENT)


async def _apply_effects(locked: locks.LockedRow, at: datetime, conn: Any) -> None:
    row, kind = locked.row, kind_of(locked.row.method)
    if kind is ActionKind.REPLY and locked.conversation is not None:
        if row.rule_id is not None:
            # A rule's canned reply is not a person answering: the author still waits (docs/metrics.md).
            return
        # The author's wait ends when VK accepted the reply; a closed conversation stays closed.
        await conversations.community_replied(
            locked.conversation,
            at=at,
            operator_id=row.operator_id,
            outside_proxy=False,
            preview=row.text,
            conn=conn,
        )
    elif locked.item is not None and kind is ActionKind.DELETE_COMMENT:
        await _comment_deleted(row, locked.item, at, conn)
    elif locked.item is not None and kind is ActionKind.RESTORE_COMMENT:
        await _comment_restored(row, locked.item, at, conn)
    elif kind is ActionKind.BAN and locked.conversation is not None:
        await _author_banned(row, locked.conversation, at, conn)
    elif kind is ActionKind.UNBAN and locked.conversation is not None:
        await _author_unbanned(row, locked.conversation, at, conn)


async def _comment_deleted(row: OutboxRow, item: Item, at: datetime, conn: Any) -> None:
    """The item is deleted by the operator through the proxy, whether or not ingest saw VK's echo first."""
    community = await Community.get(id=row.community_id).using_db(conn)
    deleter = community.admin_vk_user_id if row.token_kind == TokenNeed.ADMIN else None
    await moderation.operator_deleted(item, row, at=at, deleter_vk_id=deleter, conn=conn)


async def _comment_restored(row: OutboxRow, item: Item, at: datetime, conn: Any) -> None:
    await moderation.operator_restored(item, row, at=at, conn=conn)


async def _author_banned(row: OutboxRow, conversation: Conversation, at: datetime, conn: Any) -> None:
    if conversation.author_id is None:  # type: ignore[attr-defined]
        return
    community = await Community.get(id=row.community_id).using_db(conn)
    end_date = row.params.get("end_date")
    # VK's echo (user_block) may be recording the same ban right now: one row either way (moderation.py).
    await moderation.operator_banned(
        community_id=row.community_id,  # type: ignore[attr-defined]
        author_id=conversation.author_id,  # type: ignore[attr-defined]
        at=at,
        until=datetime.fromtimestamp(int(end_date), at.tzinfo) if end_date else None,
        reason=int(row.params.get("reason", 0)),
        comment=row.params.get("comment", ""),
        operator_id=row.operator_id,  # type: ignore[attr-defined]
        admin_vk_id=community.admin_vk_user_id,
        conn=conn,
        rule_id=row.rule_id,
    )


async def _author_unbanned(row: OutboxRow, conversation: Conversation, at: datetime, conn: Any) -> None:
    if conversation.author_id is None:  # type: ignore[attr-defined]
        return
    await moderation.lift(row.community_id, conversation.author_id, at, conn)  # type: ignore[attr-defined]


# --- the background worker --------------------------------------------------------------------------


class OutboxWorker:
    """Delivers due rows until cancelled: woken by actions in this process, polling for the rest."""

    def __init__(
        self,
        settings: Settings,
        *,
        poll_interval: float | None = None,
        batch: int = BATCH_SIZE,
        wakeups: Wakeups | None = None,
        opened: Connections | None = None,
    ) -> None:
        self.settings = settings
        self.wakeups = wakeups  # the app's, through which actions queued in this process wake it
        self.connections = opened
        self.poll_interval = POLL_INTERVAL_SECONDS if poll_interval is None else poll_interval
        self.batch = batch
        self.rounds = 0  # claims made (each is followed by a sleep unless a full batch was claimed)
        # Called with a conversation id after each outcome is committed (the web layer publishes it).
        self.listeners: list[OnChange] = []
        # The same, after a ban's or an unban's outcome (the author card changes).
        self.author_listeners: list[OnChange] = []
        # Told of each item an action created that the network does not echo (Telegram's own messages).
        self.ingest_listeners: list[OnIngested] = []
        self._wakeup = asyncio.Event()
        self._in_flight = 0  # rows claimed and not yet performed

    def wake(self, _payload: str | None = None) -> None:
        """Deliver now (a row was queued here or, by NOTIFY, on another instance)."""
        self._wakeup.set()

    async def _changed(self, conversation_id: int | None) -> None:
        await self._tell(self.listeners, conversation_id)

    async def _author_changed(self, conversation_id: int | None) -> None:
        await self._tell(self.author_listeners, conversation_id)

    async def _ingested(self, result: IngestResult) -> None:
        for listener in list(self.ingest_listeners):
            try:
                outcome = listener(result)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                log.exception("outbox ingest listener failed")

    async def _tell(self, listeners: list[OnChange], conversation_id: int | None) -> None:
        for listener in list(listeners):
            try:
                outcome = listener(conversation_id)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                log.exception("outbox change listener failed")

    async def run(self) -> None:
        """Claim due rows, start performing them, then sleep until woken or the poll interval passes.

        A claim does not wait for the rows claimed before it to be performed: a reply queued while a
        batch is still going out (a slow VK answer, a rate-limit wait) is claimed at once and sent beside
        it, instead of after the whole batch. A worker holds at most `batch` rows at a time, so the
        workers of other instances take their share of a burst; the claim's in-flight allowance per
        token and its one row per conversation bound what runs at once and keep each conversation's order.
        """
        if self.wakeups is not None:
            self.wakeups.add(self._wakeup)
        deliveries: set[asyncio.Task[None]] = set()
        try:
            while True:
                self._wakeup.clear()
                room = self.batch - self._in_flight
                ids: list[int] = []
                if room > 0:
                    try:
                        ids = await claim(limit=room)
                    except Exception:
                        log.exception("outbox delivery failed; trying again shortly")
                if ids:
                    self._in_flight += len(ids)
                    delivery = asyncio.create_task(self._deliver(ids), name="outbox-delivery")
                    deliveries.add(delivery)
                    delivery.add_done_callback(deliveries.discard)
                self.rounds += 1
                # Full, it is woken when a delivery ends; otherwise by a new row or the poll.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.poll_interval)
        finally:
            if self.wakeups is not None:
                self.wakeups.discard(self._wakeup)
            for delivery in deliveries:
                delivery.cancel()
            # A cancelled delivery leaves its rows `sending`: their lease runs out and they are sent again.
            await asyncio.gather(*deliveries, return_exceptions=True)

    async def _deliver(self, ids: list[int]) -> None:
        try:
            done_in = await deliver_claimed(
                self.settings,
                ids,
                now=utcnow(),
                on_change=self._changed,
                opened=self.connections,
                on_author_change=self._author_changed,
                on_ingested=self._ingested,
            )
            # A conversation's next row could not be claimed beside this one: it can be now.
            if (
                done_in
                and await OutboxRow.filter(conversation_id__in=done_in, status=OutboxStatus.PENDING).exists()
            ):
                self._wakeup.set()
        except Exception:
            log.exception("outbox delivery failed; the rows are tried again when their lease runs out")
        finally:
            if self._in_flight >= self.batch:
                self._wakeup.set()  # it was full and left due rows for later
            self._in_flight -= len(ids)
