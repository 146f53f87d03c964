"""Drill-down: the conversations behind one figure of the stats page, counted the way the figure is.

Each metric selects the events a figure counts (replies, reaction samples, closings, deletions...),
with the same filters and the same attribution as `operator_kpis` and `community_figures`, so the
list adds up to the figure: for "handled" one row per conversation (the figure is the number of rows),
for replies and incoming items one row per conversation with its number of items (the figure is their
sum), and for everything else one row per event (a conversation closed twice without a reply is listed
twice, as it is counted twice).

Whose figure: one operator, the "outside the proxy" row, or everyone (the team or one community).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from proxy.clock import utcnow
from proxy.db.sql import SqlQuery
from proxy.stats.credit import BAN, DELETION, REPLY
from proxy.stats.period import Period, StatsParamError
from proxy.stats.where import EVERY_COMMUNITY, CommunityFilter

# Rows shown at most; the totals still count every row.
DRILL_LIMIT = 500


@dataclass(frozen=True)
class Who:
    """Whose figure: `operator_id`, or the "outside the proxy" row (`outside`), or everyone (neither)."""

    operator_id: int | None = None
    outside: bool = False

    @property
    def everyone(self) -> bool:
        return self.operator_id is None and not self.outside


EVERYONE = Who()
OUTSIDE = Who(outside=True)


@dataclass(frozen=True)
class Metric:
    name: str
    # "rows": the figure is the number of rows (handled); "events": the sum of the rows' events.
    counts: str
    # False: a community figure nobody is credited with (incoming items, the queue now).
    attributed: bool = True
    # Reaction lists come slowest first; everything else in time order.
    slowest_first: bool = False
    # Per-conversation metrics group their events by conversation.
    grouped: bool = False
    # Not bound to the period: the queue as it is now.
    now: bool = False


METRICS = {
    m.name: m
    for m in (
        Metric("replies", "events", grouped=True),
        Metric("replies_outside_proxy", "events", grouped=True),
        Metric("outgoing", "events", grouped=True),
        Metric("incoming", "events", attributed=False, grouped=True),
        Metric("handled", "rows", grouped=True),
        Metric("reactions", "events", slowest_first=True),
        Metric("first_reactions", "events", slowest_first=True),
        Metric("slowest", "events", slowest_first=True),
        Metric("sla_missed", "events", slowest_first=True),
        Metric("closings", "events"),
        Metric("closed_with_reply", "events"),
        Metric("closed_without_reply", "events"),
        Metric("deleted", "events"),
        Metric("restored", "events"),
        Metric("bans", "events"),
        Metric("unanswered_now", "events", attributed=False, now=True),
    )
}


def metric(name: str | None) -> Metric:
    """The metric called `name`; StatsParamError naming the valid ones otherwise."""
    if not name:
        raise StatsParamError(f"metric is required: one of {', '.join(METRICS)}")
    if name not in METRICS:
        raise StatsParamError(f"metric must be one of {', '.join(METRICS)}, got {name!r}")
    return METRICS[name]


@dataclass(frozen=True)
class DrillRow:
    """One line of the list: the conversation, when its event happened (the latest of its events for a
    grouped metric), how many events it holds, and the seconds the figure measures (reaction time,
    dialog duration, time waited so far), when it measures any."""

    conversation_id: int | None
    community: str
    channel: str | None
    author: str
    author_vk_id: int | None
    at: datetime
    events: int
    seconds: float | None


@dataclass(frozen=True)
class Drill:
    metric: Metric
    rows: list[DrillRow]
    total_rows: int
    total_events: int
    # "Closed without a reply" by the reason the operator gave (None: none given), most first; they add
    # up to the figure. Empty for every other metric.
    reasons: list[tuple[str | None, int]] = field(default_factory=list)

    @property
    def figure(self) -> int:
        """The count the list stands for (the figure on the page, for a count)."""
        return self.total_rows if self.metric.counts == "rows" else self.total_events

    @property
    def truncated(self) -> bool:
        return len(self.rows) < self.total_rows


def _null(sql_type: str) -> str:
    # A typed NULL: PostgreSQL cannot infer the type of a bare NULL column in a CTE used by MAX/UNION.
    return f"CAST(NULL AS {sql_type})"


def _in(q: SqlQuery, column: str, period: Period) -> str:
    return f"{column} >= {q.p(period.start)} AND {column} < {q.p(period.end)}"


def _events(q: SqlQuery, m: Metric, period: Period, within: CommunityFilter) -> str:
    """SELECT of the metric's events: conv, cm (community), author (when the event names one), at (epoch
    seconds), v (seconds measured), op (credited operator; NULL: outside the proxy)."""
    ep = q.epoch
    no_author, no_v = _null("BIGINT"), _null("DOUBLE PRECISION")

    def community(column: str) -> str:
        return within.and_condition(q, column)

    def items(direction: str, extra: str = "") -> str:
        # Credited as in operators._replies_and_handled (proxy/stats/credit.py).
        return f"""
            SELECT i.conversation_id AS conv, i.community_id AS cm, {no_author} AS author,
                   {ep("i.created_at")} AS at, {no_v} AS v, {REPLY.operator()} AS op
            FROM item i
            {REPLY.join()}
            WHERE i.direction = '{direction}' AND {_in(q, "i.created_at", period)}{community("i.community_id")}{extra}
        """

    def closings(kind: str | None) -> str:
        extra = f" AND cc.kind = '{kind}'" if kind else ""
        return f"""
            SELECT cc.conversation_id AS conv, cc.community_id AS cm, {no_author} AS author,
                   {ep("cc.closed_at")} AS at, cc.duration_seconds AS v, cc.operator_id AS op
            FROM conversation_close cc
            WHERE {_in(q, "cc.closed_at", period)}{community("cc.community_id")}{extra}
        """

    def reactions(extra: str = "") -> str:
        return f"""
            SELECT s.conversation_id AS conv, s.community_id AS cm, {no_author} AS author,
                   {ep("s.ended_at")} AS at, s.seconds AS v, s.operator_id AS op
            FROM reaction_sample s JOIN community c ON c.id = s.community_id
            WHERE s.ended_by = 'reply' AND {_in(q, "s.ended_at", period)}{community("s.community_id")}{extra}
        """

    name = m.name
    if name == "replies":
        return items("out", f" AND i.sent_by_id IS NOT NULL AND {REPLY.by_person()}")
    if name == "replies_outside_proxy":
        return items("out", f" AND i.sent_by_id IS NULL AND {REPLY.by_person()}")
    if name == "outgoing":
        return items("out")
    if name == "incoming":
        return items("in")
    if name == "handled":
        return f"{items('out', f' AND {REPLY.by_person()}')} UNION ALL {closings(None)}"
    if name in ("reactions", "slowest"):
        return reactions()
    if name == "first_reactions":
        return reactions(" AND s.is_first = TRUE")
    if name == "sla_missed":
        # The complement of reactions.reaction_figures' "met".
        return reactions(" AND COALESCE(s.business_seconds, s.seconds) > c.sla_seconds")
    if name == "closings":
        return closings(None)
    if name in ("closed_with_reply", "closed_without_reply"):
        return closings(name.removeprefix("closed_"))
    if name == "deleted":
        # As operators._moderation: moderators' deletions only, the linked VK admin when no operator.
        return f"""
            SELECT i.conversation_id AS conv, i.community_id AS cm, {no_author} AS author,
                   {ep("t.deleted_at")} AS at, {no_v} AS v, {DELETION.operator()} AS op
            FROM item_tombstone t JOIN item i ON i.id = t.item_id
            {DELETION.join()}
            WHERE t.deleted_via IN ('proxy', 'vk_admin') AND {DELETION.by_person()}
              AND {_in(q, "t.deleted_at", period)}{community("i.community_id")}
        """
    if name == "restored":
        return f"""
            SELECT i.conversation_id AS conv, i.community_id AS cm, {no_author} AS author,
                   {ep("t.restored_at")} AS at, {no_v} AS v, t.restored_by_id AS op
            FROM item_tombstone t JOIN item i ON i.id = t.item_id
            WHERE (t.restored_by_id IS NOT NULL OR t.deleted_via IN ('proxy', 'vk_admin'))
              AND {_in(q, "t.restored_at", period)}{community("i.community_id")}
        """
    if name == "bans":
        # A ban belongs to an author, not a conversation: list the author's latest conversation there.
        return f"""
            SELECT (SELECT MAX(cv.id) FROM conversation cv
                     WHERE cv.community_id = b.community_id AND cv.author_id = b.author_id) AS conv,
                   b.community_id AS cm, b.author_id AS author,
                   {ep("b.banned_at")} AS at, {no_v} AS v, {BAN.operator()} AS op
            FROM ban b
            {BAN.join()}
            WHERE {BAN.by_person()} AND {_in(q, "b.banned_at", period)}{community("b.community_id")}
        """
    if name == "unanswered_now":
        return f"""
            SELECT cv.id AS conv, cv.community_id AS cm, {no_author} AS author,
                   {ep("cv.waiting_since")} AS at, {no_v} AS v, {_null("INTEGER")} AS op
            FROM conversation cv
            WHERE cv.status = 'open' AND cv.waiting_since IS NOT NULL{community("cv.community_id")}
        """
    raise StatsParamError(f"unknown metric {name!r}")  # METRICS and this function disagree


async def drill(
    period: Period,
    metric_name: str,
    who: Who = EVERYONE,
    *,
    within: CommunityFilter = EVERY_COMMUNITY,
    limit: int = DRILL_LIMIT,
    now: datetime | None = None,
) -> Drill:
    """The events behind `metric_name` for `who` in the period (and the communities asked for), as conversation rows.

    StatsParamError for an unknown metric, or a community-only metric asked of one operator.
    """
    m = metric(metric_name)
    if not m.attributed and not who.everyone:
        raise StatsParamError(f"{m.name} is a community figure, not an operator's: leave operator out")
    q = SqlQuery()
    events = _events(q, m, period, within)
    if who.outside:
        mine = "op IS NULL"
    elif who.operator_id is not None:
        mine = f"op = {q.p(who.operator_id)}"
    else:
        mine = "1 = 1"
    behind = "v = (SELECT MAX(v) FROM mine)" if m.name == "slowest" else "1 = 1"
    if m.grouped:
        listed = "SELECT conv, MIN(cm) AS cm, MIN(author) AS author, MAX(at) AS at, COUNT(*) AS n, MAX(v) AS v FROM picked GROUP BY conv"
    else:
        listed = "SELECT conv, cm, author, at, 1 AS n, v FROM picked"
    ctes = f"raw AS ({events}), mine AS (SELECT * FROM raw WHERE {mine}), picked AS (SELECT * FROM mine WHERE {behind}), listed AS ({listed})"
    order = "x.v DESC, x.at, x.conv" if m.slowest_first else "x.at, x.conv"
    rows_sql = f"""
        WITH {ctes}
        SELECT x.conv, x.at, x.n, x.v, cm.name AS community, cv.channel,
               a.name AS author_name, a.vk_id AS author_vk_id
        FROM listed x
        JOIN community cm ON cm.id = x.cm
        LEFT JOIN conversation cv ON cv.id = x.conv
        LEFT JOIN author a ON a.id = COALESCE(x.author, cv.author_id)
        ORDER BY {order}
        LIMIT {int(limit)}
    """
    totals_sql = f"WITH {ctes} SELECT COUNT(*) AS n_rows, SUM(n) AS n_events FROM listed"
    # Both statements share the parameters collected while building the SQL text.
    params = list(q.params)
    rows = await q.rows(rows_sql)
    totals_query = SqlQuery(q.connection)
    totals_query.params = params
    totals = (await totals_query.rows(totals_sql))[0]
    moment = now or utcnow()
    result = []
    for row in rows:
        at = datetime.fromtimestamp(float(row["at"]), UTC)
        seconds = None if row["v"] is None else float(row["v"])
        if m.now:
            seconds = max(0.0, (moment - at).total_seconds())
        result.append(
            DrillRow(
                conversation_id=None if row["conv"] is None else int(row["conv"]),
                community=row["community"],
                channel=row["channel"],
                author=row["author_name"] or "",
                author_vk_id=row["author_vk_id"],
                at=at,
                events=int(row["n"]),
                seconds=seconds,
            )
        )
    reasons = await close_reasons(period, who, within=within) if m.name == "closed_without_reply" else []
    return Drill(
        metric=m,
        rows=result,
        total_rows=int(totals["n_rows"] or 0),
        total_events=int(totals["n_events"] or 0),
        reasons=reasons,
    )


async def close_reasons(
    period: Period, who: Who = EVERYONE, *, within: CommunityFilter = EVERY_COMMUNITY
) -> list[tuple[str | None, int]]:
    """Closings without a reply in the period, counted by the reason given (conversation_close.reason,
    migration 0013; None: no reason), with the drill's filters and attribution (the closer)."""
    q = SqlQuery()
    where = [_in(q, "cc.closed_at", period), "cc.kind = 'without_reply'"]
    if within:
        where.append(within.condition(q, "cc.community_id"))
    if who.outside:
        where.append("cc.operator_id IS NULL")
    elif who.operator_id is not None:
        where.append(f"cc.operator_id = {q.p(who.operator_id)}")
    rows = await q.rows(
        f"SELECT cc.reason, COUNT(*) AS n FROM conversation_close cc WHERE {' AND '.join(where)} GROUP BY cc.reason"
    )
    counted = [(row["reason"], int(row["n"])) for row in rows]
    return sorted(counted, key=lambda pair: (-pair[1], pair[0] is None, pair[0] or ""))
