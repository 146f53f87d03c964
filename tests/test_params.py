"""Malformed parameters answer 400 (a path id no row can have: 404) with the reason, before anything is
written or streamed; web/params.py parses every parameter of every route.

Each request below once answered 500, or 200 followed by a stream cut short. The property test walking
every route with hostile values is tests/test_property_routes.py; these are the cases it was written for.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from proxy.access import NOT_FOUND
from proxy.models import Operator, Role
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token
from tests.test_property_routes import row_counts
from web import params

INT32_TOO_BIG = str(2**31)
INT64_TOO_BIG = str(2**63)


@pytest.fixture
async def admin(community) -> Operator:
    return await Operator.create(login="ada", display_name="Ada", password_hash="x", role=Role.ADMIN)


@pytest.fixture
async def clients(client_for, operator, manager, admin) -> dict[str, TestClient]:
    return {
        "operator": await client_for(operator),
        "manager": await client_for(manager),
        "admin": await client_for(admin),
    }


async def refused(client: TestClient, url: str, *, status: int = 400, **kwargs: Any) -> str:
    """Ask for `url`; assert the answer is `status`, that the body arrives whole, and nothing was written."""
    before = await row_counts()
    response = await client.request(kwargs.pop("method", "GET"), url, allow_redirects=False, **kwargs)
    body = await response.text()  # a stream cut short raises here
    assert response.status == status, (url, response.status, body[:300])
    assert await row_counts() == before, f"{url} wrote something"
    return body


# --- dates: a day any time zone can turn into an instant ---------------------------------------------------

EXPORTS = [
    "/stats/operators.csv", "/stats/rankings.csv", "/stats/communities.csv", "/stats/timeseries.csv",
    "/stats/hourly.csv", "/stats/conversations.csv", "/audit/journal.csv", "/audit/deleted.csv",
]  # fmt: skip


async def test_extreme_dates_on_exports_are_400(clients) -> None:
    for dates in ("to=9999-12-31", "from=0001-01-01", "from=0001-01-01&to=0001-01-07"):
        for url in EXPORTS:
            body = await refused(clients["manager"], f"{url}?{dates}")
            assert "must be a day from 2000-01-01 to 2099-12-31" in body, (url, body)


async def test_extreme_dates_on_pages_are_400(clients) -> None:
    manager = clients["manager"]
    for url in (
        "/stats",
        "/stats/series.json",
        "/stats/drill?metric=replies",
        "/journal",
        "/deleted",
        "/search?q=x",
    ):
        for dates in ("to=9999-12-31", "from=0001-01-01"):
            joiner = "&" if "?" in url else "?"
            await refused(manager, f"{url}{joiner}{dates}")
    await refused(manager, "/timeline?operator=1&to=9999-12-31")


async def test_the_conversations_export_refuses_before_streaming(clients) -> None:
    """It used to answer 200 and then cut the stream at the first row's end of period."""
    body = await refused(clients["manager"], "/stats/conversations.csv?to=9999-12-31")
    assert body.startswith("to must be a day")


# --- ids: ASCII digits, within the column ----------------------------------------------------------------


ID_CHECKS = [
    ("manager", "/stats?community={}"),
    ("manager", "/stats/operators.csv?community={}"),
    ("manager", "/stats/series.json?community={}"),
    ("manager", "/stats/drill?metric=replies&operator={}"),
    ("operator", "/?community={}"),
    ("manager", "/journal?operator={}"),
    ("manager", "/audit/journal.csv?community={}"),
    ("admin", "/admin/tokens?operator={}"),
    ("admin", "/admin/canned?community={}"),
]
BIGINT_CHECKS = [
    "/timeline?author={}",
    "/timeline?conversation={}",
    "/deleted?author={}",
    "/journal?before={}",
    "/live?conversation={}",
    "/conversations/next?after={}",  # this one fell back to the first conversation: no harm, but unparsed
]


async def test_malformed_community_and_operator_ids_are_400(clients) -> None:
    for value in ["²", "٣", "３", "0", "-1", INT32_TOO_BIG, INT64_TOO_BIG, "9" * 30]:
        for role, url in ID_CHECKS:
            await refused(clients[role], url.format(value))


async def test_malformed_bigint_ids_are_400(clients) -> None:
    for value in ["²", INT64_TOO_BIG]:
        for url in BIGINT_CHECKS:
            await refused(clients["manager"], url.format(value))


async def test_a_nonexistent_community_is_refused_before_an_export_is_journaled(clients) -> None:
    """community=0 (or any missing id) reached the journal as a foreign key that does not exist."""
    for url in ("/audit/journal.csv?community=0", "/audit/deleted.csv?community=0"):
        await refused(clients["manager"], url)
    for url in ("/audit/journal.csv?community=987654", "/audit/deleted.csv?community=987654"):
        # The answer of a community outside an operator's scope (proxy/access.py: NotFound).
        assert await refused(clients["manager"], url, status=404) == NOT_FOUND


async def test_path_ids_no_row_can_have_are_404(clients) -> None:
    admin = clients["admin"]
    for path in (
        f"/conversations/{INT64_TOO_BIG}",
        f"/conversations/{INT64_TOO_BIG}/timeline",
        f"/conversations/1/items/{INT64_TOO_BIG}/versions",
        f"/outbox/{INT64_TOO_BIG}",
        f"/admin/communities/{INT32_TOO_BIG}",
        f"/admin/operators/{INT32_TOO_BIG}",
        f"/admin/canned/{INT32_TOO_BIG}",
    ):
        await refused(admin, path, status=404)
    token = await csrf_token(admin)
    for path in (
        f"/items/{INT64_TOO_BIG}/delete",
        f"/items/{INT64_TOO_BIG}/restore",
        f"/deleted/{INT64_TOO_BIG}/restore",
        f"/conversations/{INT64_TOO_BIG}/notes",
        f"/admin/tokens/{INT32_TOO_BIG}/revoke",
        f"/admin/canned/{INT32_TOO_BIG}/delete",
    ):
        await refused(admin, path, status=404, method="POST", data={"csrf_token": token})


# --- text: no NUL, bounded --------------------------------------------------------------------------------


async def test_nul_in_search_text_is_400(clients) -> None:
    for url in ("/search?q=a%00b", "/deleted?q=%00", "/audit/deleted.csv?q=%00"):
        body = await refused(clients["manager"], url)
        assert "NUL" in body, (url, body)


async def test_nul_anywhere_in_a_form_is_400_and_changes_nothing(clients, mirror, world) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "a question")
    for role, path, form in [
        ("operator", f"/conversations/{conversation.id}/notes", {"text": "a\x00b"}),
        ("operator", f"/conversations/{conversation.id}/reply", {"text": "hello", "reply_to_item_id": "²"}),
        ("admin", "/admin/canned", {"title": "t\x00", "text": "hello"}),
        ("admin", "/admin/operators", {"login": "x\x00", "role": "operator", "password": "long enough pw"}),
        ("admin", "/admin/tokens", {"operator": INT32_TOO_BIG, "name": "sheet"}),
    ]:
        client = clients[role]
        response = await client.post(
            path, data={**form, "csrf_token": await csrf_token(client)}, allow_redirects=False
        )
        assert response.status in (400, 422), (path, response.status, await response.text())


async def test_a_nul_in_the_log_in_form_is_refused_without_a_database_error(client, db) -> None:
    before = await row_counts()
    response = await client.post("/login", data={"login": "ada\x00", "password": "x"})
    assert response.status == 400, await response.text()
    assert await row_counts() == before


# --- the parsers themselves -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["²", "٣", "３", "0", "-1", "+1", " 1", "1.0", INT32_TOO_BIG, "0x1f", ""])
def test_an_id_is_ascii_digits_within_its_column(raw: str) -> None:
    with pytest.raises(params.ParamError):
        params.ids_up_to(params.INT32_MAX)(raw, "community")
    assert params.ids_up_to(params.INT32_MAX)(str(2**31 - 1), "community") == 2**31 - 1
    assert params.ids_up_to(params.INT64_MAX)(INT32_TOO_BIG, "item") == 2**31


@pytest.mark.parametrize(
    "raw", ["1999-12-31", "2100-01-01", "0001-01-01", "9999-12-31", "2024-02-30", "２０２４-01-01"]
)
def test_a_day_is_within_the_range_every_time_zone_can_hold(raw: str) -> None:
    with pytest.raises(params.ParamError):
        params.day(raw, "from")
    assert params.day("2000-01-01", "from") == date(2000, 1, 1)
    assert params.day("2099-12-31", "to") == date(2099, 12, 31)


def test_text_holds_no_control_character_and_has_a_limit() -> None:
    param = params.Param("probe", params.text, max_length=5)
    assert param.read({"probe": " a\tb\n "}) == "a\tb"
    for raw in ("a\x00b", "\x1b[31m", "toolong"):
        with pytest.raises(params.ParamError):
            param.read({"probe": raw})
    assert param.read({"probe": "   "}) is None


async def test_the_drill_down_keeps_the_operator_it_was_asked_for(clients, operator) -> None:
    """The link from one figure to the whole list carries the parameters as they were read."""
    response = await clients["manager"].get(f"/stats/drill?metric=slowest&operator={operator.id}")
    assert response.status == 200
    assert f"metric=reactions&amp;operator={operator.id}" in await response.text()
