"""Statistics: reaction times, per-operator KPIs, per-community figures, time series, rankings, SLA alerts.

Definitions: docs/metrics.md. Everything is aggregated in the database from the rows the conversation
state machine writes (reaction_sample, conversation_close) and the mirrored content (item, tombstones,
bans); nothing here loads raw rows into Python to add them up.

Entry points:

- `business_seconds(start, end, hours)`: working time between two instants (the state machine stores it
  on each reaction sample of a community with business hours);
- `parse_period(from, to, tz)` -> `Period`;
- `operator_kpis(period, community_id=)`, `community_figures(period, community_id=, now=)`,
  `time_series(period, "hour"|"day", community_ids=, operator=, by_community=)`,
  `rank_operators(kpis)`, `conversation_rows(period, community_id=, operator_id=, now=)`;
- `check_sla_breaches(settings, http_session)` and the `sla_alerts_context` worker.
"""

from proxy.stats.business_hours import BusinessHoursError, business_seconds, parse_business_hours
from proxy.stats.communities import CommunityFigures, community_figures
from proxy.stats.conversations import ConversationRow, conversation_rows
from proxy.stats.operators import OperatorKpi, operator_kpis
from proxy.stats.period import Period, StatsParamError, parse_period
from proxy.stats.rankings import Ranking, rank_operators
from proxy.stats.reactions import ReactionFigures
from proxy.stats.timeseries import Point, time_series

__all__ = [
    "BusinessHoursError",
    "CommunityFigures",
    "ConversationRow",
    "OperatorKpi",
    "Period",
    "Point",
    "Ranking",
    "ReactionFigures",
    "StatsParamError",
    "business_seconds",
    "community_figures",
    "conversation_rows",
    "operator_kpis",
    "parse_business_hours",
    "parse_period",
    "rank_operators",
    "time_series",
]
