"""Which communities a figure covers: one community, one network, both, or everything.

Every statistics query narrows its rows the same way through `CommunityFilter`, so "the Telegram figures"
mean the same rows in the KPIs, the community table, the series, the drill-downs and the exports
(docs/metrics.md, "Telegram": with no filter both networks count together).
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.queryset import QuerySet

from proxy.db.sql import SqlQuery
from proxy.events import Network
from proxy.models import Community


@dataclass(frozen=True)
class CommunityFilter:
    """The communities asked for: `community_id` alone, those on `network`, both (their intersection),
    or every community (neither). False when it narrows nothing."""

    community_id: int | None = None
    network: Network | None = None

    def __bool__(self) -> bool:
        return self.community_id is not None or self.network is not None

    def condition(self, q: SqlQuery, column: str) -> str:
        """SQL: the community id in `column` is one asked for ("1 = 1" when every one is)."""
        parts = []
        if self.community_id is not None:
            parts.append(f"{column} = {q.p(self.community_id)}")
        if self.network is not None:
            # A subquery rather than a join: the callers' FROM clauses stay as they are, and the
            # community table is small enough for the planner to hash.
            parts.append(f"{column} IN (SELECT id FROM community WHERE network = {q.p(self.network.value)})")
        return " AND ".join(parts) or "1 = 1"

    def and_condition(self, q: SqlQuery, column: str) -> str:
        """`condition` to append to a WHERE clause: " AND ..." or nothing."""
        return f" AND {self.condition(q, column)}" if self else ""

    def communities(self) -> QuerySet[Community]:
        """The communities asked for, as a query."""
        query = Community.all()
        if self.community_id is not None:
            query = query.filter(id=self.community_id)
        if self.network is not None:
            query = query.filter(network=self.network)
        return query


EVERY_COMMUNITY = CommunityFilter()
