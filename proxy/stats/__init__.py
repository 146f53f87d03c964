"""Statistics: reaction times, per-operator KPIs, per-community figures, time series, rankings.

Definitions: docs/metrics.md. Everything is aggregated in the database from the rows the conversation
state machine writes (reaction_sample, conversation_close) and the mirrored content (item, tombstones,
bans); nothing here loads raw rows into Python to add them up.

Entry points:

- `parse_period(from, to, tz)` -> `Period`;
- `operator_kpis(period, community_id=)`, `community_figures(period, community_id=, now=)`,
  `time_series(period, "hour"|"day"|"week"|"month", community_ids=, operator=, by_community=)`,
  `rank_operators(kpis)`, `conversation_rows(period, community_id=, operator_id=, now=)`.

Working time in business hours (`proxy.business_hours`) and the SLA breach alerts (`proxy.sla_alerts`)
belong to the core: the conversation state machine and a background worker use them, and nothing there
may depend on statistics.
"""

from proxy.stats.communities import CommunityFigures, community_figures
from proxy.stats.conversations import ConversationRow, conversation_rows
from proxy.stats.operators import OperatorKpi, operator_kpis
from proxy.stats.period import Period, StatsParamError, parse_period
from proxy.stats.rankings import Ranking, rank_operators
from proxy.stats.reactions import ReactionFigures
from proxy.stats.timeseries import Point, time_series

__all__ = [
    "CommunityFigures",
    "ConversationRow",
    "OperatorKpi",
    "Period",
    "Point",
    "Ranking",
    "ReactionFigures",
    "StatsParamError",
    "community_figures",
    "conversation_rows",
    "operator_kpis",
    "parse_period",
    "rank_operators",
    "time_series",
]
