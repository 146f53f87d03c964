"""The worked example of docs/metrics.md: exact figures on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from proxy.stats import community_figures, operator_kpis, parse_period, rank_operators, time_series
from proxy.stats.operators import OPERATORS_CSV_HEADER, operator_csv_row
from tests.stats_fixtures import MSK, NOW, build_worked_example

PERIOD = parse_period("2024-03-04", "2024-03-06", MSK)


async def test_operator_kpis_of_the_worked_example(db) -> None:
    await build_worked_example()
    rows = {k.login: k for k in await operator_kpis(PERIOD)}
    assert list(rows) == ["anna", "boris", "(outside the proxy)"]  # maria, a manager, did nothing
    assert len(OPERATORS_CSV_HEADER) == 18
    assert operator_csv_row(rows["anna"]) == [
        "anna",
        2,
        1,
        2,
        3,
        700.0,
        600.0,
        1080.0,
        300.0,
        1200.0,
        450.0,
        1,
        0,
        1,
        0,
        0,
        66.7,
        3000.0,
    ]
    assert operator_csv_row(rows["boris"]) == [
        "boris",
        0,
        0,
        1,
        0,
        None,
        None,
        None,
        None,
        None,
        None,
        0,
        1,
        1,
        1,
        1,
        None,
        1800.0,
    ]
    assert operator_csv_row(rows["(outside the proxy)"]) == [
        "(outside the proxy)",
        0,
        1,
        1,
        1,
        120.0,
        120.0,
        120.0,
        120.0,
        120.0,
        None,
        0,
        0,
        0,
        0,
        0,
        100.0,
        None,
    ]
    anna = rows["anna"]
    assert anna.reply_share_pct == 100.0 and anna.touches_per_conversation == 1.5
    assert rows["boris"].reply_share_pct == 0.0


async def test_community_figures_of_the_worked_example(db) -> None:
    await build_worked_example()
    [shop] = await community_figures(PERIOD, now=NOW)
    assert (shop.incoming, shop.replies, shop.handled) == (7, 4, 3)
    assert round(shop.touches_per_conversation, 2) == 1.33
    r = shop.reaction
    assert (r.count, r.avg, r.median, r.p90, r.min, r.max) == (4, 555.0, 450.0, 1020.0, 120.0, 1200.0)
    assert r.first_avg == 450.0 and r.sla_met_pct == 75.0
    assert (shop.closed_with_reply, shop.closed_without_reply, shop.dialog_avg) == (1, 1, 2400.0)
    assert (shop.repeat_contacts, shop.repeat_contact_pct) == (1, 50.0)
    assert (shop.unanswered_now, shop.oldest_waiting_seconds) == (1, 1800)


async def test_repeat_contact_window_is_seven_days(db) -> None:
    """A message 7 days after the close still counts; the close of an earlier period is not in scope."""
    ex = await build_worked_example()
    from proxy.models import Direction, Item

    last = await Item.filter(conversation=ex.a).order_by("-created_at").first()
    last.created_at = PERIOD.start.replace(day=11, hour=7, minute=50)  # 10:50 Moscow, exactly 7 days
    await last.save()
    [shop] = await community_figures(PERIOD, now=NOW)
    assert shop.repeat_contacts == 1
    last.created_at = PERIOD.start.replace(day=11, hour=7, minute=50, microsecond=1)
    await last.save()
    [shop] = await community_figures(PERIOD, now=NOW)
    assert shop.repeat_contacts == 0
    assert last.direction == Direction.IN


async def test_hourly_and_daily_series(db) -> None:
    await build_worked_example()
    hours = await time_series(parse_period("2024-03-04", "2024-03-04", MSK), "hour")
    assert len(hours) == 24
    busy = [
        (p.start.hour, p.incoming, p.replies, p.reaction_count, p.reaction_median)
        for p in hours
        if p.incoming or p.replies
    ]
    assert busy == [(10, 2, 2, 2, 750.0), (11, 2, 0, 0, None), (12, 2, 2, 2, 360.0)]
    days = await time_series(PERIOD, "day")
    assert [(p.start.date(), p.incoming, p.replies, p.reaction_median) for p in days] == [
        (date(2024, 3, 4), 6, 4, 450.0),
        (date(2024, 3, 5), 0, 0, None),
        (date(2024, 3, 6), 1, 0, None),
    ]


async def test_rankings_of_the_worked_example(db) -> None:
    await build_worked_example()
    rankings = rank_operators(await operator_kpis(PERIOD))
    assert [r.csv_cells() for r in rankings] == [
        [
            "anna",
            "yes",
            2,
            100.0,
            600.0,
            3000.0,
            1,
            1,
            1,
            2,
            5,
            "most_handled highest_reply_share fastest_reaction leader",
        ],
        ["boris", "yes", 1, 0.0, None, 1800.0, 2, 2, 2, 1, 7, "shortest_dialog"],
    ]


def test_operators_under_60_percent_of_the_median_are_left_out() -> None:
    """Handled 10, 8, 6, 3: median 7, threshold 4.2, so the operator with 3 is listed but not ranked."""
    from proxy.stats.operators import OperatorKpi
    from proxy.stats.reactions import ReactionFigures

    kpis = [
        OperatorKpi(operator_id=1, login="a", handled=10, replied_conversations=9, dialog_median=600.0),
        OperatorKpi(operator_id=2, login="b", handled=8, replied_conversations=8, dialog_median=600.0),
        OperatorKpi(
            operator_id=3,
            login="c",
            handled=6,
            replied_conversations=3,
            reaction=ReactionFigures(count=1, median=30.0),
        ),
        OperatorKpi(
            operator_id=4,
            login="d",
            handled=3,
            replied_conversations=3,
            reaction=ReactionFigures(count=1, median=5.0),
        ),
        OperatorKpi(operator_id=None, login="(outside the proxy)", handled=50),
    ]
    rows = [
        (
            r.kpi.login,
            r.eligible,
            [
                r.ranks.get(c)
                for c in ("most_handled", "highest_reply_share", "fastest_reaction", "shortest_dialog")
            ],
            r.rank_sum,
            r.achievements,
        )
        for r in rank_operators(kpis)
    ]
    assert rows == [
        ("a", True, [1, 2, 2, 1], 6, ["most_handled", "shortest_dialog", "leader"]),
        ("b", True, [2, 1, 2, 1], 6, ["highest_reply_share", "shortest_dialog"]),
        ("c", True, [3, 3, 1, 3], 10, ["fastest_reaction"]),
        ("d", False, [None, None, None, None], None, []),
    ]
