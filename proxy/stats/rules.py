"""How each moderation rule did over a period: hits, actions, undos, and how fast it acted.

Figures come from the rule's hits (rule_hit) and the outbox rows its actions queued (outbox.rule_id),
never from the journal: a hit is counted in the period it happened in (its `created_at`), in the team's
time zone like every report (proxy/stats/period.py). Each figure set is one aggregate query over every
rule at once, so the rules page costs the same with one rule or a thousand.

- hits: matches in dry run and in "on", apart.
- acted: hits in "on" whose actions include one that goes to VK (delete, ban, reply).
- undone: hits an operator undid (restored the comment, lifted the ban): the rule's false positives.
- false-positive rate: undone / acted.
- queued: seconds from the proxy taking the item in to the rule queuing its actions (p50, p90).
- accepted: seconds from taking the item in to VK accepting the rule's first action (outbox sent_at).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.action_methods import BAN_METHODS, DELETE_METHODS
from proxy.db.sql import SqlQuery, percentile
from proxy.models import Item, OutboxRow, RuleHit, RuleMode
from proxy.stats.period import Period

HITS_PAGE_SIZE = 50


@dataclass(frozen=True)
class RuleFigures:
    hits_dry_run: int = 0
    hits_on: int = 0
    acted: int = 0
    undone: int = 0
    queued_p50: float | None = None
    queued_p90: float | None = None
    accepted_p50: float | None = None
    accepted_p90: float | None = None

    @property
    def hits(self) -> int:
        return self.hits_dry_run + self.hits_on

    @property
    def false_positive_rate(self) -> float | None:
        """Undos per hit that acted, 0..1; None before the rule has acted."""
        return self.undone / self.acted if self.acted else None


EMPTY = RuleFigures()


def _acted_sql(q: SqlQuery, alias: str) -> str:
    """SQL: the hit was in "on" and one of its actions was queued for VK.

    proxy/rules/acting.py writes an `outbox_id` into each action it queued (delete, ban, reply) and
    none into the others; the JSON's text is searched with the spaces taken out, since PostgreSQL
    writes `"outbox_id": 5` where SQLite keeps `"outbox_id":5`.
    """
    text = f"REPLACE(CAST({alias}.actions AS TEXT), ' ', '')"
    queued = q.p('%"outbox_id":%')
    return f"({alias}.mode = {q.p(RuleMode.ON.value)} AND {text} LIKE {queued})"


def _in_period(q: SqlQuery, column: str, period: Period) -> str:
    return f"{column} >= {q.p(period.start)} AND {column} < {q.p(period.end)}"


def _rules_filter(q: SqlQuery, column: str, rule_ids: list[int] | None) -> str:
    return "" if rule_ids is None else " AND " + q.one_of(column, rule_ids)


async def _counts(period: Period, rule_ids: list[int] | None) -> dict[int, dict[str, int]]:
    q = SqlQuery()
    acted = _acted_sql(q, "h")
    on = q.p(RuleMode.ON.value)
    dry = q.p(RuleMode.DRY_RUN.value)
    where = _in_period(q, "h.created_at", period) + _rules_filter(q, "h.rule_id", rule_ids)
    sql = f"""
        SELECT h.rule_id,
               SUM(CASE WHEN h.mode = {dry} THEN 1 ELSE 0 END) AS hits_dry_run,
               SUM(CASE WHEN h.mode = {on} THEN 1 ELSE 0 END) AS hits_on,
               SUM(CASE WHEN {acted} THEN 1 ELSE 0 END) AS acted,
               SUM(CASE WHEN h.undone_at IS NOT NULL THEN 1 ELSE 0 END) AS undone
        FROM rule_hit h WHERE {where}
        GROUP BY h.rule_id
    """
    return {
        int(row["rule_id"]): {k: int(row[k] or 0) for k in ("hits_dry_run", "hits_on", "acted", "undone")}
        for row in await q.rows(sql)
    }


async def _percentiles(q: SqlQuery, samples: str) -> dict[int, tuple[float | None, float | None]]:
    """p50 and p90 per rule of `samples` (SQL giving rule_id, v)."""
    sql = f"""
        SELECT rule_id, {percentile("v", "rk", "n", 1, 2)} AS p50, {percentile("v", "rk", "n", 9, 10)} AS p90
        FROM (
            SELECT rule_id, v,
                   ROW_NUMBER() OVER (PARTITION BY rule_id ORDER BY v) - 1 AS rk,
                   COUNT(*) OVER (PARTITION BY rule_id) AS n
            FROM ({samples}) samples
        ) ranked
        GROUP BY rule_id
    """
    return {
        int(row["rule_id"]): (
            None if row["p50"] is None else max(0.0, float(row["p50"])),
            None if row["p90"] is None else max(0.0, float(row["p90"])),
        )
        for row in await q.rows(sql)
    }


async def _queued(period: Period, rule_ids: list[int] | None) -> dict[int, tuple[float | None, float | None]]:
    q = SqlQuery()
    acted = _acted_sql(q, "h")
    where = _in_period(q, "h.created_at", period) + _rules_filter(q, "h.rule_id", rule_ids)
    samples = f"""
        SELECT h.rule_id, {q.epoch("h.created_at")} - {q.epoch("h.item_recorded_at")} AS v
        FROM rule_hit h WHERE {where} AND {acted}
    """
    return await _percentiles(q, samples)


async def _accepted(
    period: Period, rule_ids: list[int] | None
) -> dict[int, tuple[float | None, float | None]]:
    q = SqlQuery()
    sent = q.p("sent")
    where = _in_period(q, "h.created_at", period) + _rules_filter(q, "h.rule_id", rule_ids)
    # A hit's first action VK accepted. A rule's rows name the item, except a ban's, which names the
    # conversation (a ban queued before the item arrived is another hit's).
    samples = f"""
        SELECT h.rule_id, MIN({q.epoch("o.sent_at")}) - MIN({q.epoch("h.item_recorded_at")}) AS v
        FROM rule_hit h
        JOIN outbox o ON o.rule_id = h.rule_id AND (o.item_id = h.item_id OR (o.item_id IS NULL
             AND o.conversation_id = h.conversation_id AND o.created_at >= h.item_recorded_at))
        WHERE {where} AND o.status = {sent} AND o.sent_at IS NOT NULL
        GROUP BY h.id, h.rule_id
    """
    return await _percentiles(q, samples)


async def rule_figures(period: Period, rule_ids: list[int] | None = None) -> dict[int, RuleFigures]:
    """Figures per rule id for the period (rules without hits are absent: use EMPTY)."""
    counts = await _counts(period, rule_ids)
    queued = await _queued(period, rule_ids)
    accepted = await _accepted(period, rule_ids)
    out: dict[int, RuleFigures] = {}
    for rule_id in set(counts) | set(queued) | set(accepted):
        q50, q90 = queued.get(rule_id, (None, None))
        a50, a90 = accepted.get(rule_id, (None, None))
        out[rule_id] = RuleFigures(**counts.get(rule_id, {}), queued_p50=q50, queued_p90=q90,
                                   accepted_p50=a50, accepted_p90=a90)  # fmt: skip
    return out


# --- drill-down ------------------------------------------------------------------------------------


@dataclass
class HitRow:
    """One hit as the drill-down shows it."""

    hit: RuleHit
    item: Item
    text_parts: list[tuple[str, bool]]  # the item's text, (piece, matched) in order
    outbox: list[OutboxRow] = field(default_factory=list)
    undo: str | None = None  # "restore" or "unban" when one click can undo what the rule did


def marked_parts(text: str, matched: str) -> list[tuple[str, bool]]:
    """`text` cut into pieces, the ones `matched` names (case-insensitive) flagged, for <mark>."""
    needles = {n.strip() for n in _split_matched(matched) if len(n.strip()) >= 2}
    lower = text.lower()
    spans: list[tuple[int, int]] = []
    for needle in needles:
        start = lower.find(needle.lower())
        while start != -1:
            spans.append((start, start + len(needle)))
            start = lower.find(needle.lower(), start + len(needle))
    spans.sort()
    parts: list[tuple[str, bool]] = []
    at = 0
    for start, end in spans:
        if start < at:
            continue
        if start > at:
            parts.append((text[at:start], False))
        parts.append((text[start:end], True))
        at = end
    if at < len(text):
        parts.append((text[at:], False))
    return parts


def _split_matched(matched: str) -> list[str]:
    # `matched` lists what matched for people: "words: скидка, купи; link: spam.example"; the values
    # are what may appear in the text.
    pieces: list[str] = []
    for part in matched.replace(";", "\n").splitlines():
        _, _, values = part.rpartition(": ")
        pieces.extend(v.strip().strip('"«»') for v in values.split(","))
    return pieces


def outbox_ids(hit: RuleHit) -> list[int]:
    """The outbox rows the hit's actions queued (proxy/rules/acting.py records their ids)."""
    return [int(a["outbox_id"]) for a in hit.actions or [] if isinstance(a, dict) and a.get("outbox_id")]


def undo_kind(hit: RuleHit, item: Item, rows: list[OutboxRow]) -> str | None:
    if hit.undone_at is not None or hit.mode != RuleMode.ON:
        return None
    sent = {row.method for row in rows if row.status == "sent"}
    if item.is_deleted and sent & DELETE_METHODS:
        return "restore"
    if sent & BAN_METHODS:
        return "unban"
    return None


async def rule_hits(
    rule_id: int, *, before: int | None = None, limit: int = HITS_PAGE_SIZE
) -> tuple[list[HitRow], int | None]:
    """The rule's hits, newest first, `limit` a page; and the id to continue before (None: last page).

    A fixed number of queries per page: the hits with their items, authors, communities and undoers,
    then the rule's outbox rows for those items.
    """
    query = RuleHit.filter(rule_id=rule_id)
    if before is not None:
        query = query.filter(id__lt=before)
    hits = (
        await query.order_by("-id")
        .limit(limit + 1)
        .prefetch_related("item", "item__author", "community", "undone_by")
    )
    more = len(hits) > limit
    hits = hits[:limit]
    wanted = {oid for hit in hits for oid in outbox_ids(hit)}
    by_id = {row.id: row for row in await OutboxRow.filter(id__in=wanted)} if wanted else {}
    shown = []
    for hit in hits:
        rows = [by_id[oid] for oid in outbox_ids(hit) if oid in by_id]
        shown.append(
            HitRow(
                hit=hit,
                item=hit.item,
                text_parts=marked_parts(hit.item.text, hit.matched),
                outbox=rows,
                undo=undo_kind(hit, hit.item, rows),
            )  # fmt: skip
        )
    return shown, (hits[-1].id if more else None)
