"""Logging out, a new password, a new role and disabling end every session of the account at once, and
the "end all my sessions" button ends every other one.

Before, a cookie copied before `POST /logout` still opened conversations and posted notes for the cookie's
12 hours: logging out only forgot the cookie in the browser that pressed the button.
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from proxy import accounts
from proxy.models import JournalEntry, Note, Operator, Role
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token


@pytest.fixture
async def admin(community) -> Operator:
    return await Operator.create(login="ada", display_name="Ada", password_hash="x", role=Role.ADMIN)


async def status(client: TestClient, method: str, url: str, **kwargs) -> int:
    response = await client.request(method, url, allow_redirects=False, **kwargs)
    return response.status


async def copy_of(aiohttp_client, client: TestClient) -> TestClient:
    """Another client of the same server holding a copy of the client's cookies (a stolen cookie)."""
    thief = await aiohttp_client(client.server)
    thief.session.cookie_jar.update_cookies(client.session.cookie_jar.filter_cookies(client.make_url("/")))
    return thief


async def test_a_cookie_copied_before_log_out_is_dead_after_it(
    client_for, aiohttp_client, operator, mirror, world
) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "question")
    client = await client_for(operator)
    token = await csrf_token(client)
    thief = await copy_of(aiohttp_client, client)
    assert await status(thief, "GET", f"/conversations/{conversation.id}") == 200

    assert await status(client, "POST", "/logout", data={"csrf_token": token}) == 302

    assert await status(thief, "GET", f"/conversations/{conversation.id}") == 302
    note = {"text": "after log out", "csrf_token": token}
    assert await status(thief, "POST", f"/conversations/{conversation.id}/notes", data=note) == 302
    assert await Note.all().count() == 0


async def test_log_out_ends_the_account_s_other_sessions_too(client_for, operator) -> None:
    first = await client_for(operator)
    second = await client_for(operator)
    await first.post("/logout", data={"csrf_token": await csrf_token(first)})
    assert await status(second, "GET", "/") == 302


async def test_a_new_password_ends_every_session(client_for, operator, admin) -> None:
    client = await client_for(operator)
    await accounts.reset_password(operator.id, by=admin)
    assert await status(client, "GET", "/") == 302


async def test_a_new_role_ends_every_session(client_for, operator, admin) -> None:
    client = await client_for(operator)
    changed = await accounts.update_account(
        operator.id,
        by=admin,
        display_name=operator.display_name,
        role=Role.MANAGER,
        vk_user_id=None,
        telegram_user_id=None,
    )
    assert "role" in changed
    assert await status(client, "GET", "/") == 302


async def test_a_new_display_name_keeps_the_sessions(client_for, operator, admin) -> None:
    client = await client_for(operator)
    await accounts.update_account(
        operator.id,
        by=admin,
        display_name="Another name",
        role=operator.role,
        vk_user_id=operator.vk_user_id,
        telegram_user_id=None,
    )
    assert await status(client, "GET", "/") == 200


async def test_disabling_through_the_admin_operation_ends_every_session(client_for, operator, admin) -> None:
    client = await client_for(operator)
    await accounts.set_account_active(operator.id, False, by=admin)
    assert await status(client, "GET", "/") == 302


async def test_the_end_all_my_sessions_button_ends_the_others_and_keeps_this_one(
    client_for, aiohttp_client, operator
) -> None:
    here = await client_for(operator)
    elsewhere = await client_for(operator)
    stolen = await copy_of(aiohttp_client, here)
    # The button is on the account page (the top bar's name opens it), no longer in the top bar.
    page = await (await here.get("/account")).text()
    assert 'action="/sessions/end"' in page

    response = await here.post("/sessions/end", data={"csrf_token": await csrf_token(here)})
    assert response.status == 200
    assert "sessions-ended" in await response.text()

    assert await status(here, "GET", "/") == 200
    assert await status(elsewhere, "GET", "/") == 302
    # A copy of this browser's cookie taken before the button was pressed holds the old version.
    assert await status(stolen, "GET", "/") == 302
    assert await JournalEntry.filter(action="auth.sessions_ended", operator_id=operator.id).count() == 1
    assert (await Operator.get(id=operator.id)).session_version == operator.session_version + 1


async def test_the_button_needs_the_csrf_token(client_for, operator) -> None:
    client = await client_for(operator)
    other = await client_for(operator)
    assert await status(client, "POST", "/sessions/end") == 403
    assert await status(other, "GET", "/") == 200
