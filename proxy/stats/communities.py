"""Per-community figures for a period, and the live queue state (unanswered now, oldest waiting)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from proxy.clock import utcnow
from proxy.db.sql import SqlQuery
from proxy.stats.operators import seconds_cell
from proxy.stats.period import Period
from proxy.stats.reactions import EMPTY, ReactionFigures, reaction_figures
from proxy.stats.where import EVERY_COMMUNITY, CommunityFilter

REPEAT_CONTACT_DAYS = 7

COMMUNITIES_CSV_HEADER = (
    "community,network,incoming,replies,handled,touches_per_conversation,reaction_count,reaction_avg_s,"
    "reaction_median_s,reaction_p90_s,reaction_min_s,reaction_max_s,first_reaction_avg_s,"
    "business_reaction_avg_s,business_reaction_median_s,sla_met_pct,closed_with_reply,closed_without_reply,"
    "dialog_avg_s,repeat_contacts,repeat_contact_pct,unanswered_now,oldest_waiting_s"
).split(",")


@dataclass
class CommunityFigures:
    """One community's figures: period totals, and the queue as it is at `now`."""

    community_id: int
    name: str
    network: str
    sla_seconds: int
    incoming: int = 0
    replies: int = 0
    handled: int = 0
    reaction: ReactionFigures = field(default_factory=lambda: EMPTY)
    closed_with_reply: int = 0
    closed_without_reply: int = 0
    dialog_avg: float | None = None
    closes: int = 0
    repeat_contacts: int = 0
    unanswered_now: int = 0
    oldest_waiting_since: datetime | None = None
    oldest_waiting_seconds: int | None = None

    @property
    def touches_per_conversation(self) -> float | None:
        return self.replies / self.handled if self.handled else None

    @property
    def repeat_contact_pct(self) -> float | None:
        return 100.0 * self.repeat_contacts / self.closes if self.closes else None


def community_csv_row(f: CommunityFigures) -> list[Any]:
    """The communities.csv cells for one community, in COMMUNITIES_CSV_HEADER order."""
    r = f.reaction
    touches = f.touches_per_conversation
    repeat = f.repeat_contact_pct
    return [
        f.name,
        f.network,
        f.incoming,
        f.replies,
        f.handled,
        None if touches is None else round(touches, 2),
        r.count,
        seconds_cell(r.avg),
        seconds_cell(r.median),
        seconds_cell(r.p90),
        seconds_cell(r.min),
        seconds_cell(r.max),
        seconds_cell(r.first_avg),
        seconds_cell(r.business_avg),
        seconds_cell(r.business_median),
        None if r.sla_met_pct is None else round(r.sla_met_pct, 1),
        f.closed_with_reply,
        f.closed_without_reply,
        seconds_cell(f.dialog_avg),
        f.repeat_contacts,
        None if repeat is None else round(repeat, 1),
        f.unanswered_now,
        f.oldest_waiting_seconds,
    ]


async def _items(period: Period, within: CommunityFilter) -> dict[int, dict[str, int]]:
    q = SqlQuery()
    where = f"i.created_at >= {q.p(period.start)} AND i.created_at < {q.p(period.end)}"
    close_where = f"cc.closed_at >= {q.p(period.start)} AND cc.closed_at < {q.p(period.end)}"
    where += within.and_condition(q, "i.community_id")
    close_where += within.and_condition(q, "cc.community_id")
    sql = f"""
        SELECT community_id,
               SUM(CASE WHEN kind = 1 THEN 1 ELSE 0 END) AS incoming,
               SUM(CASE WHEN kind = 2 THEN 1 ELSE 0 END) AS replies,
               COUNT(DISTINCT CASE WHEN kind > 1 THEN conv END) AS handled
        FROM (
            SELECT i.community_id, i.conversation_id AS conv,
                   CASE WHEN i.direction = 'in' THEN 1 ELSE 2 END AS kind
            FROM item i WHERE {where}
            UNION ALL
            SELECT cc.community_id, cc.conversation_id AS conv, 3 AS kind
            FROM conversation_close cc WHERE {close_where}
        ) work
        GROUP BY community_id
    """
    return {
        row["community_id"]: {
            "incoming": int(row["incoming"]),
            "replies": int(row["replies"]),
            "handled": int(row["handled"]),
        }
        for row in await q.rows(sql)
    }


async def _closings(period: Period, within: CommunityFilter) -> dict[int, dict[str, Any]]:
    """Closings, dialog duration and repeat contacts (the author wrote again within 7 days)."""
    q = SqlQuery()
    where = f"cc.closed_at >= {q.p(period.start)} AND cc.closed_at < {q.p(period.end)}"
    where += within.and_condition(q, "cc.community_id")
    sql = f"""
        SELECT cc.community_id,
               COUNT(*) AS closes,
               SUM(CASE WHEN cc.kind = 'with_reply' THEN 1 ELSE 0 END) AS with_reply,
               SUM(CASE WHEN cc.kind = 'without_reply' THEN 1 ELSE 0 END) AS without_reply,
               AVG(cc.duration_seconds) AS dialog_avg,
               SUM(CASE WHEN EXISTS (
                   SELECT 1 FROM item i
                   WHERE i.author_id = cv.author_id AND i.community_id = cc.community_id
                     AND i.direction = 'in' AND i.created_at > cc.closed_at
                     AND i.created_at <= {q.plus_days("cc.closed_at", REPEAT_CONTACT_DAYS)}
               ) THEN 1 ELSE 0 END) AS repeat_contacts
        FROM conversation_close cc JOIN conversation cv ON cv.id = cc.conversation_id
        WHERE {where}
        GROUP BY cc.community_id
    """
    return {
        row["community_id"]: {
            "closes": int(row["closes"]),
            "closed_with_reply": int(row["with_reply"]),
            "closed_without_reply": int(row["without_reply"]),
            "dialog_avg": float(row["dialog_avg"]),
            "repeat_contacts": int(row["repeat_contacts"]),
        }
        for row in await q.rows(sql)
    }


async def waiting_now(within: CommunityFilter = EVERY_COMMUNITY) -> dict[int, tuple[int, datetime]]:
    """Open conversations waiting for an answer right now, per community: (count, oldest wait start)."""
    q = SqlQuery()
    where = "cv.status = 'open' AND cv.waiting_since IS NOT NULL" + within.and_condition(q, "cv.community_id")
    sql = f"""
        SELECT cv.community_id, COUNT(*) AS n, MIN({q.whole_epoch("cv.waiting_since")}) AS oldest
        FROM conversation cv WHERE {where} GROUP BY cv.community_id
    """
    return {
        row["community_id"]: (int(row["n"]), datetime.fromtimestamp(int(row["oldest"]), UTC))
        for row in await q.rows(sql)
    }


async def community_figures(
    period: Period, *, within: CommunityFilter = EVERY_COMMUNITY, now: datetime | None = None
) -> list[CommunityFigures]:
    """Figures of every community (or one, or those of one network) for the period, sorted by name; the queue as of `now`."""
    now = now or utcnow()
    communities = within.communities()
    reactions = {
        key[0]: figures
        for key, figures in await reaction_figures(period, group_by=["s.community_id"], within=within)
    }
    parts = [await _items(period, within), await _closings(period, within)]
    queue = await waiting_now(within)
    rows = []
    for community in sorted(await communities, key=lambda c: (c.name, c.id)):
        figures = CommunityFigures(
            community_id=community.id,
            name=community.name,
            network=str(community.network.value),
            sla_seconds=community.sla_seconds,
            reaction=reactions.get(community.id, EMPTY),
        )
        for part in parts:
            for name, value in part.get(community.id, {}).items():
                setattr(figures, name, value)
        if community.id in queue:
            figures.unanswered_now, figures.oldest_waiting_since = queue[community.id]
            figures.oldest_waiting_seconds = max(0, int((now - figures.oldest_waiting_since).total_seconds()))
        rows.append(figures)
    return rows
