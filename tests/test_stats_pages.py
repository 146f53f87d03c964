"""The statistics pages: /stats (table, sorting, rankings, communities), /stats/series.json, /stats/drill.

The figures on the page must be operators.csv's (the same proxy.stats functions), and every drill-down
must list exactly the events its figure counts: checked on the worked example of docs/metrics.md with
literal values, and on a random team's ten days for every operator, every community and every figure.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from html import unescape

import pytest

from proxy import accounts, refusals
from proxy.access import NOT_FOUND
from proxy.models import JournalEntry, Operator, Role
from proxy.stats import community_figures, operator_kpis, parse_period, time_series
from proxy.stats.communities import COMMUNITIES_CSV_HEADER, community_csv_row
from proxy.stats.drill import Who, drill
from proxy.stats.operators import OPERATORS_CSV_HEADER, operator_csv_row
from proxy.stats.where import CommunityFilter
from tests.stats_fixtures import MSK, build_worked_example, make_operator
from tests.stats_pages_fixtures import build_random_world
from web.csv_stream import format_cell
from web.views.stats import COMMUNITY_DRILL, OPERATOR_DRILL, SUMMED

PERIOD = "from=2024-03-04&to=2024-03-06"
HX = {"HX-Request": "true"}


async def _log_in(client, login: str) -> None:
    await Operator.filter(login=login).update(password_hash=accounts.hash_password("correct horse"))
    resp = await client.post("/login", data={"login": login, "password": "correct horse", "next": "/healthz"})
    assert resp.status == 200 and resp.url.path == "/healthz"


async def _get(client, path: str, **kwargs) -> tuple[int, str]:
    resp = await client.get(path, **kwargs)
    return resp.status, await resp.text()


def _attrs(text: str) -> dict[str, str]:
    return {k: unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', text)}


def table(html: str, table_id: str, row_attr: str) -> dict[str, dict[str, dict[str, str]]]:
    """{row key: {column: attributes of its cell}} of the rows carrying `row_attr`, in page order."""
    found = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert found, f"no table {table_id}"
    rows = {}
    for tr, body in re.findall(r"<tr([^>]*)>(.*?)</tr>", found.group(0), re.S):
        attrs = _attrs(tr)
        if row_attr not in tr:
            continue
        cells = {}
        for cell in re.findall(r"<t[hd]([^>]*)>", body):
            a = _attrs(cell)
            if "data-col" in a:
                cells[a["data-col"]] = a
        rows[attrs.get(row_attr, row_attr)] = cells
    return rows


def values(rows: dict[str, dict[str, dict[str, str]]]) -> dict[str, dict[str, str]]:
    return {key: {col: a["data-value"] for col, a in cells.items()} for key, cells in rows.items()}


def _key(kpi) -> str:
    return "outside" if kpi.is_outside else str(kpi.operator_id)


def drill_rows(html: str) -> list[tuple[int | None, int, str]]:
    """(conversation id, events, the row's last cell text) of each line of the drill-down table."""
    if 'id="drill-table"' not in html:
        return []
    body = re.search(r'<table[^>]*id="drill-table".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    rows = []
    for tr, cells in re.findall(r"<tr([^>]*)>(.*?)</tr>", body, re.S):
        a = _attrs(tr)
        last = re.sub(r"<[^>]+>", "", re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)[-1]).strip()
        rows.append(
            (int(a["data-conversation"]) if a["data-conversation"] else None, int(a["data-events"]), last)
        )
    return rows


def drill_figure(html: str) -> int:
    return int(re.search(r'data-figure="(\d+)"', html).group(1))


# --- the page ---------------------------------------------------------------------------------------


async def test_the_table_holds_the_figures_of_operators_csv(client) -> None:
    ex = await build_worked_example()
    await _log_in(client, "maria")
    status, html = await _get(client, f"/stats?{PERIOD}")
    assert status == 200
    shown = values(table(html, "operators-table", "data-operator"))
    kpis = await operator_kpis(parse_period("2024-03-04", "2024-03-06", MSK))
    assert shown == {
        _key(k): {c: format_cell(v) for c, v in zip(OPERATORS_CSV_HEADER, operator_csv_row(k), strict=True)}
        for k in kpis
    }
    # The same cells as the export with the same parameters, row by row.
    status, body = await _get(client, f"/stats/operators.csv?{PERIOD}")
    exported = list(csv.reader(io.StringIO(body)))
    assert [list(row.values()) for row in shown.values()] == exported[1:]
    assert shown[str(ex.anna.id)]["reaction_p90_s"] == "1080"
    # Totals: the sum of each column whose rows add up.
    totals = values(table(html, "operators-table", "data-totals"))["data-totals"]
    for column in SUMMED:
        index = OPERATORS_CSV_HEADER.index(column)
        assert int(totals[column]) == sum(int(row[index]) for row in exported[1:]), column
    assert totals["reaction_count"] == "4" and totals["closed_without_reply"] == "1"
    # The figures are shown in words, the exact seconds in the title.
    assert "10 мин" in html and 'title="1080 s"' in html


async def test_sla_highlighting(client) -> None:
    ex = await build_worked_example()
    await _log_in(client, "maria")
    status, html = await _get(client, f"/stats?{PERIOD}")
    rows = table(html, "operators-table", "data-operator")
    anna = rows[str(ex.anna.id)]
    # SLA 900 s: anna's median 600 is within it, her p90 1080 is not.
    assert "over-sla" not in anna["reaction_median_s"]["class"]
    assert "over-sla" in anna["reaction_p90_s"]["class"]
    assert "over-sla" not in rows["outside"]["reaction_p90_s"]["class"]
    # A stricter SLA turns anna's median red as well.
    ex.community.sla_seconds = 500
    await ex.community.save(update_fields=["sla_seconds"])
    status, html = await _get(client, f"/stats?{PERIOD}&community={ex.community.id}")
    anna = table(html, "operators-table", "data-operator")[str(ex.anna.id)]
    assert "over-sla" in anna["reaction_median_s"]["class"]
    # The community row: median 450 within 500, p90 1020 over it; A has waited since 09:00 on the 6th.
    shop = table(html, "communities-table", "data-community")[str(ex.community.id)]
    assert "over-sla" not in shop["reaction_median_s"]["class"]
    assert "over-sla" in shop["reaction_p90_s"]["class"]
    assert "over-sla" in shop["oldest_waiting_s"]["class"]


async def test_rankings_and_communities_for_a_manager(client) -> None:
    ex = await build_worked_example()
    await _log_in(client, "maria")
    status, html = await _get(client, f"/stats?{PERIOD}")
    achievements = {
        login: re.findall(r'data-achievement="(\w+)"', body)
        for login, body in re.findall(r'<tr data-ranking="(\w+)"[^>]*>(.*?)</tr>', html, re.S)
    }
    assert achievements == {
        "anna": ["most_handled", "highest_reply_share", "fastest_reaction", "leader"],
        "boris": ["shortest_dialog"],
    }
    assert "Лидер" in html
    shown = values(table(html, "communities-table", "data-community"))
    assert int(shown[str(ex.community.id)].pop("oldest_waiting_s")) > 0
    figures = await community_figures(parse_period("2024-03-04", "2024-03-06", MSK))
    assert shown == {
        str(f.community_id): {
            c: format_cell(v)
            for c, v in zip(COMMUNITIES_CSV_HEADER, community_csv_row(f), strict=True)
            # The network beside the figures; "now" moves on between the two readings.
            if (c in COMMUNITY_DRILL or c == "network") and c != "oldest_waiting_s"
        }
        for f in figures
    }
    assert shown[str(ex.community.id)]["incoming"] == "7"


async def test_sorting_is_in_the_url(client) -> None:
    ex = await build_worked_example()
    carl = await make_operator("carl")  # idle: a row of zeros
    await _log_in(client, "maria")

    async def order(sort: str) -> list[str]:
        status, html = await _get(client, f"/stats?{PERIOD}&sort={sort}")
        assert status == 200
        return list(table(html, "operators-table", "data-operator"))

    anna, boris, carl_id = str(ex.anna.id), str(ex.boris.id), str(carl.id)
    assert await order("handled") == [carl_id, boris, anna, "outside"]
    assert await order("-handled") == [anna, boris, carl_id, "outside"]
    assert await order("-operator") == [carl_id, boris, anna, "outside"]
    # Empty cells last whichever the direction; the outside row stays at the bottom.
    assert await order("reaction_median_s") == [anna, boris, carl_id, "outside"]
    assert await order("-deleted") == [anna, boris, carl_id, "outside"]
    status, html = await _get(client, f"/stats?{PERIOD}&sort=handled")
    link = re.search(r'<th[^>]*aria-sort="ascending"[^>]*>\s*<a href="([^"]+)"[^>]*data-sort="handled"', html)
    assert link and "sort=-handled" in unescape(link.group(1))
    # The order survives a change of the filters: the form submits it too.
    assert 'name="sort" value="handled" form="stats-filters"' in html


async def test_partials_for_htmx(client) -> None:
    await build_worked_example()
    await _log_in(client, "maria")
    status, body = await _get(client, f"/stats?{PERIOD}", headers=HX)
    assert status == 200 and body.lstrip().startswith('<div id="report"') and "<html" not in body
    status, body = await _get(
        client, f"/stats?{PERIOD}&sort=-handled", headers={**HX, "HX-Target": "operators"}
    )
    assert body.lstrip().startswith('<section id="operators"') and "<html" not in body
    status, body = await _get(client, f"/stats?{PERIOD}")
    assert body.lstrip().startswith("<!doctype html>")
    status, body = await _get(client, f"/stats/drill?{PERIOD}&metric=closings", headers=HX)
    assert body.lstrip().startswith('<section id="drill"')


async def test_pages_obey_the_content_security_policy(client) -> None:
    ex = await build_worked_example()
    await _log_in(client, "maria")
    for path in (f"/stats?{PERIOD}", f"/stats/drill?{PERIOD}&metric=reactions&operator={ex.anna.id}"):
        status, html = await _get(client, path)
        assert status == 200
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"<script(?![^>]*\ssrc=)", html), path
        assert "hx-on" not in html
    assert 'src="/static/vendor/uPlot-1.6.32.iife.min.js"' in (await _get(client, f"/stats?{PERIOD}"))[1]


async def test_an_operator_sees_only_their_own(client) -> None:
    ex = await build_worked_example()
    # Boris serves the shop: its incoming volume is in his scope (proxy/access.py), another's is not.
    await ex.boris.communities.add(ex.community)
    await _log_in(client, "boris")
    status, html = await _get(client, f"/stats?{PERIOD}")
    assert status == 200
    assert list(table(html, "operators-table", "data-operator")) == [str(ex.boris.id)]
    assert "Anna" not in html and "(outside the proxy)" not in html
    assert 'id="communities-table"' not in html and "communities.csv" not in html
    assert re.findall(r'data-ranking="(\w+)"', html) == ["boris"]
    assert "data-totals" not in html
    # Their series: the community's incoming volume, none of anna's replies.
    series = await (await client.get(f"/stats/series.json?{PERIOD}&bucket=day")).json()
    assert series["incoming"] == [6, 0, 1] and series["replies"] == [0, 0, 0]

    assert drill_rows((await _get(client, f"/stats/drill?{PERIOD}&metric=closed_without_reply"))[1]) == [
        (ex.b.id, 1, "30 мин")
    ]
    own = await _get(client, f"/stats/drill?{PERIOD}&metric=bans&operator={ex.boris.id}")
    assert own[0] == 200 and drill_rows(own[1])[0][0] == ex.b.id

    assert await JournalEntry.filter(action="access.denied").count() == 0
    for query, target in (
        (f"metric=closed_without_reply&operator={ex.anna.id}", f"operator:{ex.anna.id}"),
        ("metric=replies_outside_proxy&operator=outside", "operator:outside"),
        ("metric=incoming", "operator:everyone"),
    ):
        status, body = await _get(client, f"/stats/drill?{PERIOD}&{query}")
        assert (status, body) == (403, "operators see only their own figures"), query
        await refusals.flush()  # refusals are counted, then journaled with the others of their minute
        entry = await JournalEntry.filter(action="access.denied").order_by("-id").first()
        assert entry.operator_id == ex.boris.id
        assert {k: entry.params[k] for k in ("action", "targets", "reason", "count")} == {
            "action": "stats.drill",
            "targets": [target],
            "reason": "operators see only their own figures",
            "count": 1,
        }
    assert await JournalEntry.filter(action="access.denied").count() == 3


async def test_a_community_that_does_not_exist_is_not_found(client) -> None:
    """The same answer as a community outside an operator's scope (proxy/access.py: NotFound)."""
    await build_worked_example()
    await _log_in(client, "maria")
    for path in ("/stats?community=999999", "/stats/operators.csv?community=999999"):
        resp = await client.get(path)
        assert (resp.status, await resp.text()) == (404, NOT_FOUND), path


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/stats?from=2024-13-01", "from must be a date like 2025-03-01, got '2024-13-01'"),
        ("/stats?from=2024-03-06&to=2024-03-04", "from (2024-03-06) must not be after to (2024-03-04)"),
        ("/stats?community=abc", "community must be an id (a whole number), got 'abc'"),
        ("/stats?sort=nope", "sort must be a column of operators.csv (with - for descending), got 'nope'"),
        ("/stats?bucket=year", "bucket must be one of: hour, day, week, month, got 'year'"),
        ("/stats/series.json?bucket=year", "bucket must be one of: hour, day, week, month, got 'year'"),
        ("/stats/series.json?to=yesterday", "to must be a date like 2025-03-01, got 'yesterday'"),
        (
            "/stats/series.json?from=2023-01-01&to=2024-01-02&bucket=hour",
            "an hourly chart covers at most 366 days (this period has 367): choose bucket=day",
        ),
        ("/stats/drill", "metric is required: one of replies,"),
        ("/stats/drill?metric=nope", "metric must be one of: replies, replies_outside_proxy,"),
        (
            "/stats/drill?metric=replies&operator=abc",
            "operator must be an operator id or 'outside', got 'abc'",
        ),
        ("/stats/drill?metric=replies&operator=999999", "no operator with id 999999"),
        ("/stats/drill?metric=replies&from=03/04/2024", "from must be a date like 2025-03-01"),
        (
            "/stats/drill?metric=incoming&operator=outside",
            "incoming is a community figure, not an operator's",
        ),
    ],
)
async def test_bad_parameters_get_400_with_the_reason(client, path: str, message: str) -> None:
    await build_worked_example()
    await _log_in(client, "maria")
    resp = await client.get(path)
    assert resp.status == 400
    if path.startswith("/stats/series.json"):
        assert (await resp.json())["error"] == message
    else:
        assert message in unescape(await resp.text())
    if path.startswith("/stats?"):
        # The page still renders (with its form) around the reason; htmx gets the reason alone.
        assert "stats-filters" in await resp.text()
        status, body = await _get(client, path, headers=HX)
        # One line for the flash box, in the reader's language (web/error_pages.py).
        assert status == 400 and body and "<" not in body and not body.isascii()


async def test_series_json(client) -> None:
    await build_worked_example()
    await _log_in(client, "maria")
    resp = await client.get(f"/stats/series.json?{PERIOD}&bucket=hour")
    assert resp.status == 200 and resp.content_type == "application/json"
    data = await resp.json()
    assert set(data) == {
        "bucket",
        "from",
        "to",
        "tz",
        "sla_seconds",
        "t",
        "incoming",
        "replies",
        "reaction_count",
        "reaction_median_s",
    }
    assert (data["bucket"], data["from"], data["to"], data["tz"], data["sla_seconds"]) == (
        "hour",
        "2024-03-04",
        "2024-03-06",
        "Europe/Moscow",
        900,
    )
    assert len(data["t"]) == 72 and all(
        len(data[k]) == 72 for k in ("incoming", "replies", "reaction_median_s")
    )
    # t: local wall-clock time written as UTC seconds, one hour apart.
    assert data["t"][0] == int((datetime(2024, 3, 4) - datetime(1970, 1, 1)).total_seconds())
    assert {b - a for a, b in zip(data["t"], data["t"][1:], strict=False)} == {3600}
    hours = {i: (data["incoming"][i], data["replies"][i], data["reaction_median_s"][i]) for i in (10, 11, 12)}
    assert hours == {10: (2, 2, 750), 11: (2, 0, None), 12: (2, 2, 360)}
    points = await time_series(parse_period("2024-03-04", "2024-03-06", MSK), "hour")
    assert data["reaction_count"] == [p.reaction_count for p in points]
    day = await (await client.get(f"/stats/series.json?{PERIOD}&bucket=day")).json()
    assert (day["incoming"], day["replies"], day["reaction_median_s"]) == (
        [6, 0, 1],
        [4, 0, 0],
        [450, None, None],
    )


# --- drill-down -------------------------------------------------------------------------------------


async def test_drill_down_of_the_worked_example(client) -> None:
    ex = await build_worked_example()
    await _log_in(client, "maria")
    a, b, c = ex.a.id, ex.b.id, ex.c.id

    async def rows(metric: str, operator=None) -> list[tuple[int | None, int, str]]:
        who = "" if operator is None else f"&operator={operator}"
        status, html = await _get(client, f"/stats/drill?{PERIOD}&metric={metric}{who}")
        assert status == 200, html
        return drill_rows(html)

    anna, boris = ex.anna.id, ex.boris.id
    assert await rows("closed_without_reply", boris) == [(b, 1, "30 мин")]
    assert await rows("closed_with_reply", anna) == [(a, 1, "50 мин")]
    assert await rows("slowest", anna) == [(a, 1, "20 мин")]
    assert await rows("reactions", anna) == [(a, 1, "20 мин"), (c, 1, "10 мин"), (a, 1, "5 мин")]
    assert await rows("first_reactions", anna) == [(c, 1, "10 мин"), (a, 1, "5 мин")]
    assert await rows("sla_missed", anna) == [(a, 1, "20 мин")]
    assert await rows("replies", anna) == [(a, 2, "2")]
    assert await rows("replies_outside_proxy", anna) == [(c, 1, "1")]
    assert await rows("replies_outside_proxy", "outside") == [(c, 1, "1")]
    assert [r[0] for r in await rows("handled", anna)] == [a, c]
    assert [r[0] for r in await rows("deleted", anna)] == [b]
    assert [r[0] for r in await rows("restored", boris)] == [b]
    assert [r[0] for r in await rows("bans", boris)] == [b]
    assert await rows("deleted", ex.maria.id) == []
    # Community figures, nobody's in particular.
    # By the time of their latest item: A had one on the 6th.
    assert [(r[0], r[1]) for r in await rows("incoming")] == [(b, 2), (c, 2), (a, 3)]
    assert [r[0] for r in await rows("unanswered_now")] == [a]

    # Every linked figure of the table opens a list that adds up to it, and every row links on.
    status, html = await _get(client, f"/stats?{PERIOD}")
    links = re.findall(r'data-col="(\w+)" data-value="([^"]*)"[^>]*>\s*<a href="([^"]+)"', html)
    assert len(links) > 20
    for column, value, url in links:
        status, page = await _get(client, unescape(url))
        assert status == 200, url
        if column in OPERATOR_DRILL and not column.endswith(("_s", "_pct")):
            assert drill_figure(page) == int(value), (column, url)
        for conversation_id in re.findall(r'<tr data-conversation="(\d+)"', page):
            assert f'<a href="/conversations/{conversation_id}">' in page


async def test_drill_down_adds_up_to_every_figure(client) -> None:
    world = await build_random_world(8)
    manager = await Operator.create(login="boss", password_hash="x", role=Role.MANAGER)
    await _log_in(client, manager.login)
    period_query = "from=2024-03-03&to=2024-03-07"
    period = parse_period("2024-03-03", "2024-03-07", MSK)
    count_columns = [c for c in OPERATORS_CSV_HEADER[1:] if not c.endswith(("_s", "_pct"))]
    checked = 0
    for community in [None, *world["communities"]]:
        community_id = None if community is None else community.id
        scope = "" if community is None else f"&community={community_id}"
        kpis = await operator_kpis(period, within=CommunityFilter(community_id))
        assert any(k.is_outside for k in kpis)
        for kpi in kpis:
            cells = dict(zip(OPERATORS_CSV_HEADER, operator_csv_row(kpi), strict=True))
            who = "outside" if kpi.is_outside else kpi.operator_id
            for column in count_columns:
                url = f"/stats/drill?{period_query}{scope}&metric={OPERATOR_DRILL[column]}&operator={who}"
                status, html = await _get(client, url)
                assert drill_figure(html) == cells[column], (kpi.login, column, community)
                checked += 1
            slowest = await drill(
                period,
                "slowest",
                Who(operator_id=kpi.operator_id, outside=kpi.is_outside),
                within=CommunityFilter(community_id),
            )
            assert [r.seconds for r in slowest.rows] == [kpi.reaction.max] * slowest.total_rows
            assert (slowest.total_rows > 0) == (kpi.reaction.count > 0)
            status, html = await _get(
                client, f"/stats/drill?{period_query}{scope}&metric=sla_missed&operator={who}"
            )
            assert drill_figure(html) == kpi.reaction.count - kpi.reaction.sla_met
    # Per community: the figures of communities.csv.
    for figures in await community_figures(period):
        scope = f"&community={figures.community_id}"
        expected = {
            "incoming": figures.incoming,
            "outgoing": figures.replies,
            "handled": figures.handled,
            "reactions": figures.reaction.count,
            "closed_with_reply": figures.closed_with_reply,
            "closed_without_reply": figures.closed_without_reply,
            "closings": figures.closes,
            "unanswered_now": figures.unanswered_now,
        }
        for metric, figure in expected.items():
            status, html = await _get(client, f"/stats/drill?{period_query}{scope}&metric={metric}")
            assert drill_figure(html) == figure, (figures.name, metric)
            checked += 1
    assert checked > 150
