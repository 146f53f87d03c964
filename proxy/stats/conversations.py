"""The conversations behind the figures: one row per conversation, fetched page by page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from proxy.business_hours import business_seconds
from proxy.clock import utcnow
from proxy.db.sql import SqlQuery
from proxy.stats.operators import seconds_cell
from proxy.stats.period import Period
from proxy.stats.where import EVERY_COMMUNITY, CommunityFilter

PAGE_SIZE = 1000

CONVERSATIONS_CSV_HEADER = [
    "conversation",
    "community",
    "network",
    "channel",
    "author",
    "author_vk_id",
    "opened_at",
    "first_reaction_s",
    "replies",
    "closed_at",
    "closing_kind",
    "close_reason",
    "closer",
    "duration_s",
    "sla_met",
]


@dataclass(frozen=True)
class ConversationRow:
    """A conversation's latest opening: when, how fast the first answer came, how it ended, SLA."""

    conversation_id: int
    community: str
    network: str
    channel: str
    author: str
    author_vk_id: int | None
    opened_at: datetime
    first_reaction: float | None
    replies: int
    closed_at: datetime | None
    closing_kind: str | None
    close_reason: str | None
    closer: str | None
    duration: float | None
    sla_met: bool | None

    def csv_cells(self) -> list[Any]:
        return [
            self.conversation_id,
            self.community,
            self.network,
            self.channel,
            self.author,
            self.author_vk_id,
            self.opened_at,
            seconds_cell(self.first_reaction),
            self.replies,
            self.closed_at,
            self.closing_kind,
            self.close_reason,
            self.closer,
            seconds_cell(self.duration),
            None if self.sla_met is None else ("yes" if self.sla_met else "no"),
        ]


def _moment(epoch: Any) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(int(epoch), UTC)


def _sla_met(row: dict[str, Any], now: datetime) -> bool | None:
    """No when a reply came late or the current wait is already past the SLA; yes when every reply of
    this opening came in time; unknown while nothing was answered and the SLA is not yet missed."""
    if int(row["breaches"]):
        return False
    if row["waiting_since"] is not None:
        since = datetime.fromtimestamp(int(row["waiting_since"]), UTC)
        hours = row["business_hours"]
        if isinstance(hours, str):
            hours = json.loads(hours)
        waited = business_seconds(since, now, hours) if hours else (now - since).total_seconds()
        if waited > int(row["sla_seconds"]):
            return False
    return True if int(row["reactions"]) else None


async def _page(
    period: Period, after: int, within: CommunityFilter, operator_id: int | None, limit: int
) -> list[dict[str, Any]]:
    q = SqlQuery()
    start, end = q.p(period.start), q.p(period.end)
    where = [
        f"cv.id > {q.p(after)}",
        f"((cv.opened_at >= {start} AND cv.opened_at < {end}) OR (cv.closed_at >= {start} AND cv.closed_at < {end}))",
    ]
    if within:
        where.append(within.condition(q, "cv.community_id"))
    if operator_id is not None:
        op = q.p(operator_id)
        where.append(
            f"(cv.closed_by_id = {op} OR cv.assignee_id = {op} OR EXISTS "
            f"(SELECT 1 FROM item mine WHERE mine.conversation_id = cv.id AND mine.sent_by_id = {op}))"
        )
    replies_of_this_opening = (
        "s.conversation_id = cv.id AND s.ended_by = 'reply' AND s.started_at >= cv.opened_at"
    )
    sql = f"""
        SELECT cv.id, cm.name AS community, cm.network, cm.sla_seconds, cm.business_hours, cv.channel, cv.status,
               a.name AS author_name, a.vk_id AS author_vk_id,
               {q.whole_epoch("cv.opened_at")} AS opened, {q.whole_epoch("cv.closed_at")} AS closed,
               {q.epoch("cv.closed_at")} - {q.epoch("cv.opened_at")} AS duration,
               cv.closing_kind, closer.login AS closer,
               (SELECT cc.reason FROM conversation_close cc WHERE cc.conversation_id = cv.id
                 ORDER BY cc.closed_at DESC, cc.id DESC LIMIT 1) AS close_reason,
               {q.whole_epoch("cv.waiting_since")} AS waiting_since,
               (SELECT s.seconds FROM reaction_sample s
                 WHERE {replies_of_this_opening} AND s.is_first = TRUE ORDER BY s.ended_at LIMIT 1) AS first_reaction,
               (SELECT COUNT(*) FROM item i
                 WHERE i.conversation_id = cv.id AND i.direction = 'out' AND i.created_at >= cv.opened_at) AS replies,
               (SELECT COUNT(*) FROM reaction_sample s WHERE {replies_of_this_opening}) AS reactions,
               (SELECT COUNT(*) FROM reaction_sample s WHERE {replies_of_this_opening}
                  AND COALESCE(s.business_seconds, s.seconds) > cm.sla_seconds) AS breaches
        FROM conversation cv
        JOIN community cm ON cm.id = cv.community_id
        LEFT JOIN author a ON a.id = cv.author_id
        LEFT JOIN operator closer ON closer.id = cv.closed_by_id
        WHERE {" AND ".join(where)}
        ORDER BY cv.id
        LIMIT {int(limit)}
    """
    return await q.rows(sql)


async def conversation_rows(
    period: Period,
    *,
    within: CommunityFilter = EVERY_COMMUNITY,
    operator_id: int | None = None,
    now: datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> AsyncIterator[ConversationRow]:
    """Conversations opened (latest opening) or closed in the period, by id, `page_size` per query.

    With `operator_id`: only conversations that operator replied in through the proxy, closed, or is
    assigned to. Figures describe the latest opening: its first reaction, replies since it opened, and
    whether the SLA was met (see `_sla_met`).
    """
    now = now or utcnow()
    after = 0
    while True:
        page = await _page(period, after, within, operator_id, page_size)
        for row in page:
            closed = row["status"] == "closed"
            yield ConversationRow(
                conversation_id=int(row["id"]),
                community=row["community"],
                network=row["network"],
                channel=row["channel"],
                author=row["author_name"] or "",
                author_vk_id=row["author_vk_id"],
                opened_at=datetime.fromtimestamp(int(row["opened"]), UTC),
                first_reaction=None if row["first_reaction"] is None else float(row["first_reaction"]),
                replies=int(row["replies"]),
                closed_at=_moment(row["closed"]) if closed else None,
                closing_kind=row["closing_kind"] if closed else None,
                close_reason=row["close_reason"] if closed else None,
                closer=row["closer"] if closed else None,
                duration=float(row["duration"]) if closed and row["duration"] is not None else None,
                sla_met=_sla_met(row, now),
            )
        if len(page) < page_size:
            return
        after = int(page[-1]["id"])
