"""The inbox refuses forged requests, strangers and password guessers, and shows hostile text as text."""

from __future__ import annotations

from proxy.models import Conversation, ConversationStatus, JournalEntry, OutboxRow
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import PASSWORD, csrf_token


async def test_state_change_without_csrf_token_is_refused_and_changes_nothing(inbox_client, mirror, world) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "hello")
    refused = await inbox_client.post(f"/conversations/{conversation.id}/close", data={})
    assert refused.status == 403
    assert "CSRF" in await refused.text()
    wrong = await inbox_client.post(
        f"/conversations/{conversation.id}/close", headers={"X-CSRF-Token": "forged", "HX-Request": "true"}
    )
    assert wrong.status == 403
    assert (await Conversation.get(id=conversation.id)).status == ConversationStatus.OPEN
    assert await JournalEntry.filter(action="conversation.close").count() == 0

    token = await csrf_token(inbox_client)
    accepted = await inbox_client.post(
        f"/conversations/{conversation.id}/close", headers={"X-CSRF-Token": token, "HX-Request": "true"}
    )
    assert accepted.status == 200
    assert (await Conversation.get(id=conversation.id)).status == ConversationStatus.CLOSED


async def test_log_out_needs_the_token_too(inbox_client) -> None:
    assert (await inbox_client.post("/logout")).status == 403
    assert (await inbox_client.get("/", allow_redirects=False)).status == 200
    token = await csrf_token(inbox_client)
    assert (await inbox_client.post("/logout", data={"csrf_token": token}, allow_redirects=False)).status == 302
    assert (await inbox_client.get("/", allow_redirects=False)).status == 302


async def test_cross_site_log_in_is_refused(client_for, operator) -> None:
    client = await client_for(operator)
    refused = await client.post(
        "/login", data={"login": operator.login, "password": PASSWORD}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status == 403


async def test_operator_of_another_community_is_refused(client_for, outsider, mirror, world) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "private matter")
    client = await client_for(outsider)
    # Not yours answers like missing (tests/test_not_yours.py): 404, telling nothing.
    assert (await client.get(f"/conversations/{conversation.id}")).status == 404
    assert (await client.get(f"/conversations/{conversation.id}/timeline", headers={"HX-Request": "1"})).status == 404
    token = await csrf_token(client)
    refused = await client.post(
        f"/conversations/{conversation.id}/reply", data={"text": "hi", "csrf_token": token}
    )
    assert refused.status == 404
    assert await OutboxRow.all().count() == 0
    inbox = await client.get("/")
    assert "private matter" not in await inbox.text()


async def test_hostile_content_is_shown_as_text(inbox_client, mirror, world) -> None:
    hostile = '<script>alert(1)</script><div hx-get="/logout" hx-trigger="load">x</div>'
    conversation, _, _ = await mirror.message(world.members[0], hostile)
    await Conversation.filter(id=conversation.id).update(preview=hostile)
    for url in ("/", f"/conversations/{conversation.id}"):
        response = await inbox_client.get(url)
        body = await response.text()
        assert response.status == 200
        assert "<script>alert" not in body
        assert 'hx-get="/logout"' not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
