"""Something of another community answers an operator exactly like something that does not exist.

The operator of community 1 asks for community 2 (by its id, in the statistics pages, the chart's data
and the CSV exports), for its conversations and for its items (pages and POST actions), and for ids that
exist nowhere: each pair of answers must be the same status and the same body, and none may name or count
community 2. The probe of someone else's id is still a refusal, journaled as "access.denied"
(proxy/refusals.py), while the client sees only "not found" (proxy/access.py: NotFound).
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from proxy import refusals
from proxy.access import NOT_FOUND
from proxy.models import JournalEntry
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token
from tests.test_scope_isolation import HIDDEN_COMMUNITY, markers
from tests.test_scope_isolation import two_communities as two_communities  # noqa: F401  (a fixture)

MISSING = 999_999

COMMUNITY_URLS = [
    "/stats",
    "/stats/series.json",
    "/stats/timeseries.csv",
    "/stats/hourly.csv",
    "/stats/operators.csv",
    "/stats/rankings.csv",
    "/stats/conversations.csv",
    "/stats/drill?metric=incoming",
    "/journal",
    "/audit/journal.csv",
]


async def answer(client: TestClient, method: str, url: str, **kwargs: Any) -> tuple[int, str]:
    response = await client.request(method, url, allow_redirects=False, **kwargs)
    return response.status, await response.text()


def _with_community(url: str, community_id: int) -> str:
    return f"{url}{'&' if '?' in url else '?'}community={community_id}"


async def test_another_communitys_id_in_the_statistics_answers_not_found(
    client_for, operator, two_communities
) -> None:
    client = await client_for(operator)
    hidden = two_communities["hidden"]
    for url in COMMUNITY_URLS:
        for headers in ({}, {"HX-Request": "true"}):
            theirs = await answer(client, "GET", _with_community(url, hidden["community"].id), headers=headers)
            missing = await answer(client, "GET", _with_community(url, MISSING), headers=headers)
            assert theirs == missing, (url, headers, theirs, missing)
            # htmx gets the error page's one line in the reader's language (web/error_pages.py).
            said = "Не найдено" if headers and not (".json" in url or ".csv" in url) else NOT_FOUND
            assert theirs[0] == 404 and said in theirs[1], (url, headers, theirs)
            assert not [m for m in markers(hidden) if m in theirs[1]], url


async def test_the_hourly_csv_and_the_stats_page_name_no_other_community(
    client_for, operator, two_communities
) -> None:
    client = await client_for(operator)
    for url in ("/stats/hourly.csv", "/stats/communities.csv", "/stats", "/stats/timeseries.csv"):
        status, body = await answer(client, "GET", url)
        assert HIDDEN_COMMUNITY not in body, (url, status)


async def test_another_communitys_rows_answer_like_missing_ones(client_for, operator, two_communities) -> None:
    client = await client_for(operator)
    hidden = two_communities["hidden"]
    token = await csrf_token(client)
    form = {"data": {"csrf_token": token, "text": "hi", "days": "1"}}
    hx = {"headers": {"HX-Request": "true"}}
    conversation, item = hidden["conversation"].id, hidden["item"].id
    requests = [
        ("GET", "/conversations/{c}", {}),
        ("GET", "/conversations/{c}/author", hx),
        ("GET", "/conversations/{c}/items/{i}/versions", hx),
        ("GET", "/outbox/{i}", hx),
        *[
            ("POST", "/conversations/{c}/" + action, form)
            for action in ("reply", "notes", "close", "reopen", "assign", "read", "ban", "unban")
        ],
        ("POST", "/items/{i}/delete", form),
        ("POST", "/items/{i}/restore", form),
        ("POST", "/items/{i}/delete", {**form, **hx}),
        ("POST", "/deleted/{i}/restore", form),
    ]
    before = await JournalEntry.filter(action="access.denied").count()
    for method, template, kwargs in requests:
        theirs = await answer(client, method, template.format(c=conversation, i=item), **kwargs)
        missing = await answer(client, method, template.format(c=MISSING, i=MISSING), **kwargs)
        assert theirs == missing, f"{method} {template}: theirs {theirs}, missing {missing}"
        assert not [m for m in markers(hidden) if m in theirs[1]], template
    # The probe is still a refusal in the journal; the client was told only "not found".
    await refusals.flush()
    assert await JournalEntry.filter(action="access.denied").count() > before
