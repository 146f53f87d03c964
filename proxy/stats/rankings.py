"""Rankings with achievements, computed from operator KPIs (docs/metrics.md, "Rankings").

Four contests: most conversations handled, highest reply share, fastest median reaction, shortest median
dialog. Only operators who handled at least 60% of the median handled count take part; the leader
overall has the lowest sum of contest ranks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from proxy.stats.operators import OperatorKpi, seconds_cell

ELIGIBLE_SHARE_OF_MEDIAN = 0.6
LEADER = "leader"


@dataclass(frozen=True)
class Contest:
    name: str  # the achievement its winners get
    column: str  # its rank column in rankings.csv
    value: Callable[[OperatorKpi], float | None]
    higher_is_better: bool


CONTESTS = (
    Contest("most_handled", "rank_handled", lambda k: k.handled, True),
    Contest("highest_reply_share", "rank_reply_share", lambda k: k.reply_share_pct, True),
    Contest("fastest_reaction", "rank_reaction", lambda k: k.reaction.median, False),
    Contest("shortest_dialog", "rank_dialog", lambda k: k.dialog_median, False),
)

RANKINGS_CSV_HEADER = [
    "operator",
    "eligible",
    "handled",
    "reply_share_pct",
    "reaction_median_s",
    "dialog_median_s",
    *(c.column for c in CONTESTS),
    "rank_sum",
    "achievements",
]


@dataclass
class Ranking:
    kpi: OperatorKpi
    eligible: bool
    ranks: dict[str, int] = field(default_factory=dict)
    achievements: list[str] = field(default_factory=list)

    @property
    def rank_sum(self) -> int | None:
        return sum(self.ranks.values()) if self.eligible else None

    def csv_cells(self) -> list[Any]:
        share = self.kpi.reply_share_pct
        return [
            self.kpi.login,
            "yes" if self.eligible else "no",
            self.kpi.handled,
            None if share is None else round(share, 1),
            seconds_cell(self.kpi.reaction.median),
            seconds_cell(self.kpi.dialog_median),
            *(self.ranks.get(c.name) for c in CONTESTS),
            self.rank_sum,
            " ".join(self.achievements),
        ]


def eligibility_threshold(kpis: list[OperatorKpi]) -> float:
    """60% of the median handled count of the operators who handled anything (0 when nobody did)."""
    counts = [k.handled for k in kpis if k.handled > 0]
    return ELIGIBLE_SHARE_OF_MEDIAN * median(counts) if counts else 0.0


def _rank(value: float | None, values: list[float], higher_is_better: bool) -> int:
    """Competition ranking (1, 2, 2, 4): 1 + how many did strictly better; no value ranks last."""
    if value is None:
        return len(values) + 1
    better = [v for v in values if (v > value if higher_is_better else v < value)]
    return 1 + len(better)


def rank_operators(kpis: list[OperatorKpi]) -> list[Ranking]:
    """Rank operators (the "outside the proxy" row never takes part).

    Order: eligible operators by rank sum (ties: more handled, then login), the leader first; then the
    operators left out of the contest, by handled count descending and login.
    """
    people = [k for k in kpis if not k.is_outside]
    threshold = eligibility_threshold(people)
    rankings = [Ranking(kpi=k, eligible=k.handled > 0 and k.handled >= threshold) for k in people]
    contestants = [r for r in rankings if r.eligible]
    for contest in CONTESTS:
        values = [v for r in contestants if (v := contest.value(r.kpi)) is not None]
        for r in contestants:
            r.ranks[contest.name] = _rank(contest.value(r.kpi), values, contest.higher_is_better)
            if r.ranks[contest.name] == 1 and contest.value(r.kpi) is not None:
                r.achievements.append(contest.name)
    contestants.sort(key=lambda r: (r.rank_sum, -r.kpi.handled, r.kpi.login))
    if contestants:
        contestants[0].achievements.append(LEADER)
    left_out = sorted((r for r in rankings if not r.eligible), key=lambda r: (-r.kpi.handled, r.kpi.login))
    return contestants + left_out
