"""Nobody reaches what is not theirs: other communities, manager exports, the app logged out, API tokens
beyond reading exports, and a disabled account's open session.

A forbidden object and a missing one get the same answer, so an operator cannot learn which ids exist.
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from proxy.accounts import create_api_token
from proxy.clock import utcnow
from proxy.models import ApiToken, JournalEntry, Note, Operator, OutboxRow
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token
from tests.ingest_samples import table_counts

MISSING = 987_654


async def answer(client: TestClient, method: str, url: str, **kwargs) -> tuple[int, str]:
    response = await client.request(method, url, allow_redirects=False, **kwargs)
    return response.status, await response.text()


async def test_another_communitys_conversation_and_a_missing_one_look_the_same(
    client_for, outsider, mirror, world
) -> None:
    conversation, item, _ = await mirror.message(world.members[0], "private matter")
    client = await client_for(outsider)
    token = await csrf_token(client)
    hx = {"HX-Request": "true"}
    requests = [
        ("GET", "/conversations/{id}", {}),
        ("GET", "/conversations/{id}/timeline", {"headers": hx}),
        ("GET", "/conversations/{id}/note", {"headers": hx}),
        ("GET", "/conversations/{id}/items/" + str(item.id) + "/versions", {"headers": hx}),
        ("GET", "/live?conversation={id}", {}),
        ("POST", "/conversations/{id}/reply", {"data": {"text": "hi", "csrf_token": token}}),
        ("POST", "/conversations/{id}/notes", {"data": {"text": "hi", "csrf_token": token}}),
        ("POST", "/conversations/{id}/close", {"data": {"csrf_token": token}}),
        ("POST", "/conversations/{id}/assign", {"data": {"csrf_token": token}}),
    ]
    before = await table_counts()
    for method, template, kwargs in requests:
        forbidden = await answer(client, method, template.format(id=conversation.id), **kwargs)
        missing = await answer(client, method, template.format(id=MISSING), **kwargs)
        assert forbidden[0] == 404, (template, forbidden)
        assert missing == forbidden, (
            f"{template}: a missing id answers {missing}, a forbidden one {forbidden}"
        )
    # A refusal writes nothing (refusals are counted and journaled once a minute: proxy/refusals.py).
    assert await table_counts() == before
    assert await OutboxRow.all().count() == 0 and await Note.all().count() == 0
    assert "private matter" not in (await answer(client, "GET", "/"))[1]


async def test_an_operator_cannot_read_manager_exports_by_id(client_for, operator, outsider, manager) -> None:
    client = await client_for(operator)
    for url in (
        f"/audit/journal.csv?operator={manager.id}",
        f"/audit/journal.csv?operator={MISSING}",
        "/audit/deleted.csv",
    ):
        status, _ = await answer(client, "GET", url)
        assert status == 403, url
    # Their own journal is theirs to read.
    assert (await answer(client, "GET", f"/audit/journal.csv?operator={operator.id}"))[0] == 200


BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_logged_out_requests_go_to_log_in(client: TestClient) -> None:
    for method, url in [
        ("GET", "/"),
        ("GET", "/conversations/1"),
        ("GET", "/live"),
        ("GET", "/stats/operators.csv"),
        ("GET", "/audit/journal.csv"),
        ("POST", "/conversations/1/reply"),
    ]:
        response = await client.request(method, url, allow_redirects=False, headers=BROWSER_ACCEPT)
        assert response.status == 302, (method, url, response.status)
        assert response.headers["Location"].startswith("/login"), (url, response.headers["Location"])
    response = await client.get(
        "/conversations/1/timeline", headers={"HX-Request": "true"}, allow_redirects=False
    )
    assert (response.status, response.headers.get("HX-Redirect")) == (401, "/login")


def export_paths() -> list[str]:
    from web.auth import is_export_path
    from web.routes import ROUTES

    paths = [path for method, path, _handler, _name in ROUTES if method == "GET" and is_export_path(path)]
    assert len(paths) >= 8
    return paths


async def test_a_script_without_a_session_gets_401_and_the_scheme_to_use(client: TestClient) -> None:
    for path in export_paths():
        for headers in ({}, {"Accept": "text/csv"}, {"Accept": "*/*"}):
            response = await client.get(path, headers=headers, allow_redirects=False)
            assert response.status == 401, (path, headers, response.status)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert "<html" not in (await response.text()).lower()
        # A browser following an export link is sent to the log in form.
        response = await client.get(path, headers=BROWSER_ACCEPT, allow_redirects=False)
        assert response.status == 302 and response.headers["Location"].startswith("/login"), path
    # Credentials of another kind, on an export or on a page: 401 with the scheme that works.
    for path in ("/stats/operators.csv", "/", "/conversations/1"):
        for authorization in ("Basic b2xnYTpwYXNzd29yZA==", "Token abc", "garbage"):
            response = await client.get(
                path, headers={**BROWSER_ACCEPT, "Authorization": authorization}, allow_redirects=False
            )
            assert (response.status, response.headers.get("WWW-Authenticate")) == (401, "Bearer"), (
                path, authorization, response.status,
            )


async def test_api_tokens_read_exports_only_and_stop_when_revoked(
    client_for, aiohttp_client, operator, mirror, world
) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "question")
    logged_in = await client_for(operator)  # the same app, without a session for the token requests
    client = await aiohttp_client(logged_in.server)
    token = await create_api_token(operator.login, "kpi sheet")
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await answer(client, "GET", "/stats/operators.csv", headers=bearer))[0] == 200
    assert (await answer(client, "GET", "/audit/journal.csv", headers=bearer))[0] == 200
    before = await table_counts()
    for method, url in [
        ("POST", f"/conversations/{conversation.id}/reply"),
        ("POST", f"/conversations/{conversation.id}/notes"),
        ("POST", f"/conversations/{conversation.id}/close"),
        ("POST", "/logout"),
        ("GET", "/"),
        ("GET", f"/conversations/{conversation.id}"),
        ("GET", "/live"),
    ]:
        status, _ = await answer(client, method, url, headers=bearer, data={"text": "через токен"})
        assert status == 403, (method, url, status)
    assert await table_counts() == before, "a refused token request wrote something"

    await ApiToken.filter(token_hash__isnull=False).update(revoked_at=utcnow())
    status, _ = await answer(client, "GET", "/stats/operators.csv", headers=bearer)
    assert status == 401
    assert (
        await answer(client, "GET", "/stats/operators.csv", headers={"Authorization": "Bearer vkp_guess"})
    )[0] == 401


async def test_a_disabled_owner_s_token_stops_working(client_for, aiohttp_client, operator) -> None:
    client = await aiohttp_client((await client_for(operator)).server)
    token = await create_api_token(operator.login)
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await answer(client, "GET", "/stats/operators.csv", headers=bearer))[0] == 200
    await Operator.filter(id=operator.id).update(is_active=False)
    assert (await answer(client, "GET", "/stats/operators.csv", headers=bearer))[0] == 401


async def test_a_disabled_operator_s_session_stops_at_once(client_for, operator, mirror, world) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "question")
    client = await client_for(operator)
    token = await csrf_token(client)
    assert (await answer(client, "GET", f"/conversations/{conversation.id}"))[0] == 200
    await Operator.filter(id=operator.id).update(is_active=False)
    status, _ = await answer(client, "GET", f"/conversations/{conversation.id}")
    assert status == 302
    journal_before = await JournalEntry.all().count()
    status, _ = await answer(
        client, "POST", f"/conversations/{conversation.id}/notes", data={"text": "late", "csrf_token": token}
    )
    assert status == 302 and await Note.all().count() == 0
    assert await JournalEntry.all().count() == journal_before
    # Enabled again, the old session stays ended: it must log in anew.
    await Operator.filter(id=operator.id).update(is_active=True)
    assert (await answer(client, "GET", "/"))[0] == 302


async def test_a_bumped_session_version_ends_every_open_session(client_for, operator) -> None:
    first = await client_for(operator)
    second = await client_for(operator)
    assert (await answer(first, "GET", "/"))[0] == 200 and (await answer(second, "GET", "/"))[0] == 200
    await Operator.filter(id=operator.id).update(session_version=operator.session_version + 1)
    assert (await answer(first, "GET", "/"))[0] == 302
    assert (await answer(second, "GET", "/"))[0] == 302
