"""The stats CSV endpoints: literal CSV text, roles, API tokens, bad parameters, journaling."""

from __future__ import annotations

import pytest

from proxy import accounts
from proxy.access import NOT_FOUND
from proxy.clock import utcnow
from proxy.models import ActorKind, ApiToken, JournalEntry, Operator
from tests.stats_fixtures import build_worked_example

PERIOD = "from=2024-03-04&to=2024-03-06"
OPERATORS_HEADER = (
    "operator,replies,replies_outside_proxy,handled,reaction_count,reaction_avg_s,reaction_median_s,"
    "reaction_p90_s,reaction_min_s,reaction_max_s,first_reaction_avg_s,closed_with_reply,"
    "closed_without_reply,deleted,restored,bans,sla_met_pct,dialog_avg_s\r\n"
)


async def _log_in(client, login: str) -> None:
    await Operator.filter(login=login).update(password_hash=accounts.hash_password("correct horse"))
    # Following the redirect (to a page that needs no templates) lets the login request finish
    # completely before the test goes on.
    resp = await client.post("/login", data={"login": login, "password": "correct horse", "next": "/healthz"})
    assert resp.status == 200 and resp.url.path == "/healthz"


async def _exports() -> int:
    """How many exports the journal holds (also: the test's last word goes to the database, so the
    app's SQLite connection is not left to a request task at teardown)."""
    return await JournalEntry.filter(action="export.csv").count()


async def _get(client, path: str, **kwargs) -> tuple[int, str]:
    resp = await client.get(path, **kwargs)
    return resp.status, await resp.text()


async def test_operators_csv_for_a_manager(client) -> None:
    await build_worked_example()
    await _log_in(client, "maria")
    resp = await client.get(f"/stats/operators.csv?{PERIOD}")
    assert resp.status == 200
    assert resp.headers["Content-Disposition"] == 'attachment; filename="operators_2024-03-04_2024-03-06.csv"'
    assert await resp.text() == (
        OPERATORS_HEADER + "anna,2,1,2,3,700,600,1080,300,1200,450,1,0,1,0,0,66.7,3000\r\n"
        "boris,0,0,1,0,,,,,,,0,1,1,1,1,,1800\r\n"
        "(outside the proxy),0,1,1,1,120,120,120,120,120,,0,0,0,0,0,100,\r\n"
    )
    entry = await JournalEntry.filter(action="export.csv").get()
    assert entry.actor_kind == ActorKind.OPERATOR and entry.params == {
        "path": "/stats/operators.csv",
        "query": {"from": "2024-03-04", "to": "2024-03-06"},
    }


async def test_operators_csv_excel_dialect(client) -> None:
    ex = await build_worked_example()
    await _log_in(client, "maria")
    status, body = await _get(
        client, f"/stats/operators.csv?{PERIOD}&community={ex.community.id}&dialect=excel"
    )
    assert status == 200
    assert body == (
        "\ufeff"
        + OPERATORS_HEADER.replace(",", ";")
        + "anna;2;1;2;3;700;600;1080;300;1200;450;1;0;1;0;0;66,7;3000\r\n"
        "boris;0;0;1;0;;;;;;;0;1;1;1;1;;1800\r\n"
        "(outside the proxy);0;1;1;1;120;120;120;120;120;;0;0;0;0;0;100;\r\n"
    )
    assert await _exports() == 1


async def test_an_operator_sees_only_their_own_row(client) -> None:
    await build_worked_example()
    await _log_in(client, "boris")
    assert await _get(client, f"/stats/operators.csv?{PERIOD}") == (
        200,
        OPERATORS_HEADER + "boris,0,0,1,0,,,,,,,0,1,1,1,1,,1800\r\n",
    )
    status, body = await _get(client, f"/stats/rankings.csv?{PERIOD}")
    assert body.splitlines()[1:] == ["boris,yes,1,0,,1800,2,2,2,1,7,shortest_dialog"]
    assert (await client.get(f"/stats/communities.csv?{PERIOD}")).status == 403
    assert await _exports() == 2  # the refused one is not journaled


async def test_rankings_csv(client) -> None:
    await build_worked_example()
    await _log_in(client, "maria")
    assert await _get(client, f"/stats/rankings.csv?{PERIOD}") == (
        200,
        "operator,eligible,handled,reply_share_pct,reaction_median_s,dialog_median_s,rank_handled,"
        "rank_reply_share,rank_reaction,rank_dialog,rank_sum,achievements\r\n"
        "anna,yes,2,100,600,3000,1,1,1,2,5,most_handled highest_reply_share fastest_reaction leader\r\n"
        "boris,yes,1,0,,1800,2,2,2,1,7,shortest_dialog\r\n",
    )
    assert await _exports() == 1


async def test_conversations_csv(client) -> None:
    ex = await build_worked_example()
    await _log_in(client, "maria")
    a, b, c = ex.a.id, ex.b.id, ex.c.id
    assert await _get(client, f"/stats/conversations.csv?{PERIOD}") == (
        200,
        "conversation,community,network,channel,author,author_vk_id,opened_at,first_reaction_s,replies,closed_at,"
        "closing_kind,close_reason,closer,duration_s,sla_met\r\n"
        f"{a},Shop,vk,message,Ivan Petrov,11,2024-03-06 09:00:00,,0,,,,,,no\r\n"
        f"{b},Shop,vk,wall,Olga Smirnova,12,2024-03-04 11:00:00,,0,2024-03-04 11:30:00,without_reply,,boris,1800,\r\n"
        f"{c},Shop,vk,message,'=Petr,13,2024-03-04 12:00:00,600,2,,,,,,yes\r\n",
    )
    # anna replied in A and C (and is C's assignee); B is boris's alone.
    client.session.cookie_jar.clear()  # a new session: log out needs the CSRF token, which this test does not need
    await _log_in(client, "anna")
    status, body = await _get(client, f"/stats/conversations.csv?{PERIOD}")
    assert [line.split(",")[0] for line in body.splitlines()[1:]] == [str(a), str(c)]
    assert await _exports() == 2


async def test_conversations_csv_pages_through_many(db) -> None:
    """Rows come page by page: a page size of 2 yields all three conversations in id order."""
    from proxy.stats import conversation_rows, parse_period
    from tests.stats_fixtures import MSK

    ex = await build_worked_example()
    rows = [r async for r in conversation_rows(parse_period("2024-03-04", "2024-03-06", MSK), page_size=2)]
    assert [r.conversation_id for r in rows] == [ex.a.id, ex.b.id, ex.c.id]


async def test_timeseries_csv_by_day_and_hour(client) -> None:
    await build_worked_example()
    await _log_in(client, "maria")
    assert await _get(client, f"/stats/timeseries.csv?{PERIOD}&bucket=day") == (
        200,
        "bucket_start,incoming,replies,reaction_count,reaction_median_s\r\n"
        "2024-03-04 00:00,6,4,4,450\r\n"
        "2024-03-05 00:00,0,0,0,\r\n"
        "2024-03-06 00:00,1,0,0,\r\n",
    )
    status, body = await _get(client, "/stats/timeseries.csv?from=2024-03-04&to=2024-03-04&bucket=hour")
    lines = body.split("\r\n")
    assert len(lines) == 1 + 24 + 1 and lines[-1] == ""
    assert lines[10:14] == [
        "2024-03-04 09:00,0,0,0,",
        "2024-03-04 10:00,2,2,2,750",
        "2024-03-04 11:00,2,0,0,",
        "2024-03-04 12:00,2,2,2,360",
    ]
    assert await _exports() == 2


async def test_hourly_csv_per_community(client) -> None:
    await build_worked_example()
    await _log_in(client, "maria")
    status, body = await _get(client, "/stats/hourly.csv?from=2024-03-04&to=2024-03-04")
    expected = ["community,hour_start,incoming,replies,reaction_count,reaction_median_s"]
    busy = {10: "2,2,2,750", 11: "2,0,0,", 12: "2,2,2,360"}
    expected += [f"Shop,2024-03-04 {h:02d}:00,{busy.get(h, '0,0,0,')}" for h in range(24)]
    assert (status, body) == (200, "\r\n".join(expected) + "\r\n")
    assert await _exports() == 1


async def test_api_token_reads_exports_only(client) -> None:
    await build_worked_example()
    token = await accounts.create_api_token("maria", "spreadsheet")
    auth = {"Authorization": f"Bearer {token}"}
    status, body = await _get(client, f"/stats/operators.csv?{PERIOD}", headers=auth)
    assert status == 200 and body.count("\r\n") == 4
    entry = await JournalEntry.filter(action="export.csv").get()
    assert entry.actor_kind == ActorKind.API and entry.operator_id == (await Operator.get(login="maria")).id
    # Read-only: any other method, or any page that is not a CSV export, is refused.
    assert (await client.post(f"/stats/operators.csv?{PERIOD}", headers=auth)).status == 403
    assert (await client.get("/", headers=auth)).status == 403
    assert (await client.post("/logout", headers=auth)).status == 403
    # Unknown and revoked tokens.
    assert (await client.get("/stats/operators.csv", headers={"Authorization": "Bearer nope"})).status == 401
    await ApiToken.all().update(revoked_at=utcnow())
    resp = await client.get(f"/stats/operators.csv?{PERIOD}", headers=auth)
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"


async def test_exports_need_a_login(client) -> None:
    # A browser is sent to the log in form; a script (no HTML asked for) is told how to authenticate.
    resp = await client.get(
        f"/stats/operators.csv?{PERIOD}", headers={"Accept": "text/html"}, allow_redirects=False
    )
    assert resp.status == 302 and resp.headers["Location"].startswith("/login")
    resp = await client.get(f"/stats/operators.csv?{PERIOD}", allow_redirects=False)
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("from=2024-13-01&to=2024-03-06", "from must be a date like 2025-03-01, got '2024-13-01'"),
        ("from=2024-03-06&to=4.3.2024", "to must be a date like 2025-03-01, got '4.3.2024'"),
        ("from=2024-03-07&to=2024-03-06", "from (2024-03-07) must not be after to (2024-03-06)"),
        ("from=2000-01-01&to=2024-03-06", "a period may span at most 3660 days"),
        (f"{PERIOD}&community=abc", "community must be an id (a whole number), got 'abc'"),
        (f"{PERIOD}&dialect=ods", "dialect must be one of: csv, excel, got 'ods'"),
    ],
)
async def test_bad_parameters_are_400_with_a_reason(client, query: str, reason: str) -> None:
    await build_worked_example()
    await _log_in(client, "maria")
    assert await _get(client, f"/stats/operators.csv?{query}") == (400, reason)
    # A community that does not exist answers like one outside an operator's scope (proxy/access.py).
    assert await _get(client, f"/stats/operators.csv?{PERIOD}&community=999") == (404, NOT_FOUND)
    assert await _get(client, f"/stats/timeseries.csv?{PERIOD}&bucket=year") == (
        400,
        "bucket must be one of: hour, day, week, month, got 'year'",
    )
    assert not await JournalEntry.filter(action="export.csv").exists()
