"""Per-operator KPIs for a period: what operators.csv and the stats page show (docs/metrics.md).

Everything is aggregated in the database, in four queries grouped by operator (reactions, replies and
handled conversations, closings, moderation), run at the same time, then joined here by operator id. Work that no operator
can be credited with (a reply written directly in VK by an admin no operator is linked to) lands in one
"outside the proxy" row, so the rows add up to the team's totals.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from proxy.db.sql import SqlQuery, percentile
from proxy.models import Operator, Role
from proxy.stats.credit import BAN, DELETION, REPLY
from proxy.stats.period import Period
from proxy.stats.reactions import EMPTY, ReactionFigures, period_bound, reaction_figures, sorted_percentile
from proxy.stats.where import EVERY_COMMUNITY, CommunityFilter

OUTSIDE_LABEL = "(outside the proxy)"

OPERATORS_CSV_HEADER = (
    "operator,replies,replies_outside_proxy,handled,reaction_count,reaction_avg_s,reaction_median_s,"
    "reaction_p90_s,reaction_min_s,reaction_max_s,first_reaction_avg_s,closed_with_reply,"
    "closed_without_reply,deleted,restored,bans,sla_met_pct,dialog_avg_s"
).split(",")


@dataclass
class OperatorKpi:
    """One operator's figures for a period; `operator_id` None is the "outside the proxy" row."""

    operator_id: int | None
    login: str
    display_name: str = ""
    replies: int = 0
    replies_outside_proxy: int = 0
    handled: int = 0
    replied_conversations: int = 0
    reaction: ReactionFigures = field(default_factory=lambda: EMPTY)
    closed_with_reply: int = 0
    closed_without_reply: int = 0
    deleted: int = 0
    restored: int = 0
    bans: int = 0
    dialog_avg: float | None = None
    dialog_median: float | None = None

    @property
    def is_outside(self) -> bool:
        return self.operator_id is None

    @property
    def all_replies(self) -> int:
        return self.replies + self.replies_outside_proxy

    @property
    def reply_share_pct(self) -> float | None:
        """Handled conversations the operator replied in, in percent of all they handled."""
        return 100.0 * self.replied_conversations / self.handled if self.handled else None

    @property
    def touches_per_conversation(self) -> float | None:
        """Replies (through the proxy and outside it) per handled conversation."""
        return self.all_replies / self.handled if self.handled else None

    @property
    def has_activity(self) -> bool:
        return bool(
            self.all_replies
            or self.handled
            or self.reaction.count
            or self.closed_with_reply
            or self.closed_without_reply
            or self.deleted
            or self.restored
            or self.bans
        )


def seconds_cell(value: float | None) -> float | None:
    """Seconds as exported: one decimal place."""
    return None if value is None else round(value, 1)


def operator_csv_row(kpi: OperatorKpi) -> list[Any]:
    """The operators.csv cells for one row, in OPERATORS_CSV_HEADER order (None: empty cell)."""
    r = kpi.reaction
    return [
        OUTSIDE_LABEL if kpi.is_outside else kpi.login,
        kpi.replies,
        kpi.replies_outside_proxy,
        kpi.handled,
        r.count,
        seconds_cell(r.avg),
        seconds_cell(r.median),
        seconds_cell(r.p90),
        seconds_cell(r.min),
        seconds_cell(r.max),
        seconds_cell(r.first_avg),
        kpi.closed_with_reply,
        kpi.closed_without_reply,
        kpi.deleted,
        kpi.restored,
        kpi.bans,
        None if r.sla_met_pct is None else round(r.sla_met_pct, 1),
        seconds_cell(kpi.dialog_avg),
    ]


def _in_period(q: SqlQuery, column: str, period: Period) -> str:
    return f"{column} >= {period_bound(q, period.start)} AND {column} < {period_bound(q, period.end)}"


async def _replies_and_handled(period: Period, within: CommunityFilter) -> dict[int | None, dict[str, int]]:
    """Replies through the proxy / outside it, handled and replied-in conversations, by operator."""
    q = SqlQuery()
    reply_filter = _in_period(q, "i.created_at", period)
    close_filter = _in_period(q, "cc.closed_at", period)
    reply_filter += within.and_condition(q, "i.community_id")
    close_filter += within.and_condition(q, "cc.community_id")
    # kind 1: a reply through the proxy, 2: a reply written in VK by a linked admin (or nobody known),
    # 3: a closing.
    sql = f"""
        SELECT op,
               SUM(CASE WHEN kind = 1 THEN 1 ELSE 0 END) AS replies,
               SUM(CASE WHEN kind = 2 THEN 1 ELSE 0 END) AS outside,
               COUNT(DISTINCT conv) AS handled,
               COUNT(DISTINCT CASE WHEN kind < 3 THEN conv END) AS replied_in
        FROM (
            SELECT {REPLY.operator()} AS op, i.conversation_id AS conv,
                   CASE WHEN i.sent_by_id IS NULL THEN 2 ELSE 1 END AS kind
            FROM item i
            {REPLY.join()}
            WHERE i.direction = 'out' AND {REPLY.by_person()} AND {reply_filter}
            UNION ALL
            SELECT cc.operator_id AS op, cc.conversation_id AS conv, 3 AS kind
            FROM conversation_close cc
            WHERE {close_filter}
        ) work
        GROUP BY op
    """
    return {
        row["op"]: {
            "replies": int(row["replies"]),
            "replies_outside_proxy": int(row["outside"]),
            "handled": int(row["handled"]),
            "replied_conversations": int(row["replied_in"]),
        }
        for row in await q.rows(sql)
    }


async def _closings(period: Period, within: CommunityFilter) -> dict[int | None, dict[str, Any]]:
    """Closings with / without reply and dialog durations (mean, median), by closing operator."""
    q = SqlQuery()
    where = _in_period(q, "cc.closed_at", period) + within.and_condition(q, "cc.community_id")
    if q.postgres:
        # One aggregate pass, no window (see reactions._postgres_sql).
        sql = f"""
            WITH g AS (
                SELECT cc.operator_id AS op, COUNT(*) AS n,
                       COUNT(*) FILTER (WHERE cc.kind = 'with_reply') AS with_reply,
                       COUNT(*) FILTER (WHERE cc.kind = 'without_reply') AS without_reply,
                       SUM(cc.duration_seconds) AS total,
                       array_agg(cc.duration_seconds ORDER BY cc.duration_seconds) AS vs
                FROM conversation_close cc
                WHERE {where}
                GROUP BY cc.operator_id
            )
            SELECT op, with_reply, without_reply, total / n AS dialog_avg,
                   {sorted_percentile("vs", "n", 1, 2)} AS dialog_median
            FROM g
        """
    else:
        sql = f"""
            WITH ranked AS (
                SELECT cc.operator_id AS op, cc.kind AS kind, cc.duration_seconds AS v,
                       ROW_NUMBER() OVER (PARTITION BY cc.operator_id ORDER BY cc.duration_seconds) - 1 AS r,
                       COUNT(*) OVER (PARTITION BY cc.operator_id) AS n
                FROM conversation_close cc
                WHERE {where}
            )
            SELECT op,
                   SUM(CASE WHEN kind = 'with_reply' THEN 1 ELSE 0 END) AS with_reply,
                   SUM(CASE WHEN kind = 'without_reply' THEN 1 ELSE 0 END) AS without_reply,
                   AVG(v) AS dialog_avg,
                   {percentile("v", "r", "n", 1, 2)} AS dialog_median
            FROM ranked GROUP BY op
        """
    return {
        row["op"]: {
            "closed_with_reply": int(row["with_reply"]),
            "closed_without_reply": int(row["without_reply"]),
            "dialog_avg": float(row["dialog_avg"]),
            "dialog_median": float(row["dialog_median"]),
        }
        for row in await q.rows(sql)
    }


async def _moderation(period: Period, within: CommunityFilter) -> dict[int | None, dict[str, int]]:
    """Deletions, restorations and bans, by operator (through the proxy, or in VK by a linked admin)."""
    q = SqlQuery()
    deleted = _in_period(q, "t.deleted_at", period)
    restored = _in_period(q, "t.restored_at", period)
    banned = _in_period(q, "b.banned_at", period)
    deleted += within.and_condition(q, "i.community_id")
    restored += within.and_condition(q, "i.community_id")
    banned += within.and_condition(q, "b.community_id")
    # An author deleting or restoring their own comment is not moderation; "unknown" deleters
    # (VK's board_post_delete names nobody) are left out rather than guessed.
    sql = f"""
        SELECT op,
               SUM(CASE WHEN kind = 1 THEN 1 ELSE 0 END) AS deleted,
               SUM(CASE WHEN kind = 2 THEN 1 ELSE 0 END) AS restored,
               SUM(CASE WHEN kind = 3 THEN 1 ELSE 0 END) AS bans
        FROM (
            SELECT {DELETION.operator()} AS op, 1 AS kind
            FROM item_tombstone t JOIN item i ON i.id = t.item_id
            {DELETION.join()}
            WHERE t.deleted_via IN ('proxy', 'vk_admin') AND {DELETION.by_person()} AND {deleted}
            UNION ALL
            SELECT t.restored_by_id AS op, 2 AS kind
            FROM item_tombstone t JOIN item i ON i.id = t.item_id
            WHERE (t.restored_by_id IS NOT NULL OR t.deleted_via IN ('proxy', 'vk_admin')) AND {restored}
            UNION ALL
            SELECT {BAN.operator()} AS op, 3 AS kind
            FROM ban b
            {BAN.join()}
            WHERE {BAN.by_person()} AND {banned}
        ) moderation
        GROUP BY op
    """
    return {
        row["op"]: {
            "deleted": int(row["deleted"]),
            "restored": int(row["restored"]),
            "bans": int(row["bans"]),
        }
        for row in await q.rows(sql)
    }


async def operator_kpis(period: Period, *, within: CommunityFilter = EVERY_COMMUNITY) -> list[OperatorKpi]:
    """KPIs of every operator for the period (optionally in one community, or on one network), sorted by login.

    Rows: every operator with any activity in the period, and every active account with the operator
    role (with access to the community asked for, or to one on the network asked for), so that an idle operator shows as a row of zeros;
    then the "outside the proxy" row (operator_id None) when anything is attributed to it.
    """
    # Four independent reads: on PostgreSQL each runs on a connection of its own, at the same time.
    figures, *parts = await asyncio.gather(
        reaction_figures(period, group_by=["s.operator_id"], within=within),
        _replies_and_handled(period, within),
        _closings(period, within),
        _moderation(period, within),
    )
    reactions = {key[0]: value for key, value in figures}
    active_ids = set(reactions).union(*parts) - {None}
    idle = Operator.filter(is_active=True, role=Role.OPERATOR)
    if within.community_id is not None:
        idle = idle.filter(communities__id=within.community_id)
    if within.network is not None:
        idle = idle.filter(communities__network=within.network)
    operators = {o.id: o for o in await Operator.filter(id__in=active_ids)}
    operators.update({o.id: o for o in await idle.distinct()})

    rows = []
    for operator_id in [*sorted(operators, key=lambda i: operators[i].login), None]:
        op = operators.get(operator_id) if operator_id is not None else None
        kpi = OperatorKpi(
            operator_id=operator_id,
            login=op.login if op else OUTSIDE_LABEL,
            display_name=op.display_name if op else OUTSIDE_LABEL,
            reaction=reactions.get(operator_id, EMPTY),
        )
        for part in parts:
            for name, value in part.get(operator_id, {}).items():
                setattr(kpi, name, value)
        if op is not None or kpi.has_activity:
            rows.append(kpi)
    return rows
