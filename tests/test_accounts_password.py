"""Changing your own password on your account page (GET /account, POST /account/password).

Before, nobody could: the admin's form said they "cannot change it themselves yet", while `proxy bootstrap`
told the first admin to change theirs after logging in. The current password is needed, the new one twice
and under the password policy; a refusal writes nothing; the check of the current password counts as a
log in attempt to the throttle; argon2 runs off the event loop; the change is journaled, and "end my other
sessions" (on by default) ends them.

The throttle's clock is replaced where the delay is what is tested, so no assertion depends on how fast
the machine is.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from proxy import accounts
from proxy.models import JournalEntry, Operator, Role
from proxy.settings import Settings
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import PASSWORD, csrf_token
from tests.test_auth_sessions import status
from tests.test_auth_throttle import FakeClock
from web.throttle import LOGIN_THROTTLE, PER_ADDRESS_LOGIN_FREE

NEW = "a new horse, stapled"


async def change(client: TestClient, current: str, new: str, again: str | None = None, **extra: str):
    form = {
        "csrf_token": await csrf_token(client),
        "current_password": current,
        "new_password": new,
        "repeat_password": new if again is None else again,
        **extra,
    }
    return await client.post("/account/password", data=form, allow_redirects=False)


async def stored(operator: Operator) -> Operator:
    return await Operator.get(id=operator.id)


async def test_the_account_page_has_the_form_and_the_top_bar_leads_there(client_for, operator) -> None:
    client = await client_for(operator)
    inbox = await (await client.get("/")).text()
    assert '<a href="/account" ' in inbox
    # The button moved from the top bar to the account page.
    assert 'action="/sessions/end"' not in inbox
    page = await (await client.get("/account")).text()
    for field in ("current_password", "new_password", "repeat_password"):
        assert f'name="{field}"' in page
    assert 'name="end_others" value="1" checked' in page  # on by default
    assert 'action="/sessions/end"' in page


async def test_a_new_password_with_the_others_ended(client_for, operator) -> None:
    here = await client_for(operator)
    elsewhere = await client_for(operator)
    version = (await stored(operator)).session_version

    response = await change(here, PASSWORD, NEW, end_others="1")

    assert response.status == 303 and response.headers["Location"] == "/account"
    assert await accounts.authenticate(operator.login, NEW) is not None
    assert await accounts.authenticate(operator.login, PASSWORD) is None
    assert (await stored(operator)).session_version == version + 1
    assert await status(here, "GET", "/") == 200  # this session stays
    assert await status(elsewhere, "GET", "/") == 302  # every other ends
    page = await (await here.get("/account")).text()
    assert "Пароль изменён, все другие сеансы вашей учётной записи завершены." in page
    [entry] = await JournalEntry.filter(action="account.password_change")
    assert entry.operator_id == operator.id
    assert entry.params == {"login": "olga", "account_id": operator.id, "other_sessions_ended": True}
    assert PASSWORD not in str(entry.params) and NEW not in str(entry.params)


async def test_a_new_password_keeping_the_other_sessions(client_for, operator) -> None:
    here = await client_for(operator)
    elsewhere = await client_for(operator)
    version = (await stored(operator)).session_version

    response = await change(here, PASSWORD, NEW)  # the box unticked: no end_others in the form

    assert response.status == 303
    assert await accounts.authenticate(operator.login, NEW) is not None
    assert (await stored(operator)).session_version == version
    assert await status(elsewhere, "GET", "/") == 200
    [entry] = await JournalEntry.filter(action="account.password_change")
    assert entry.params["other_sessions_ended"] is False


@pytest.mark.parametrize(
    ("current", "new", "again", "field", "words"),
    [
        ("wrong password!", NEW, None, "current_password", "Текущий пароль неверен."),
        (PASSWORD, NEW, NEW + "x", "repeat_password", "Новые пароли не совпадают"),
        (PASSWORD, "short", None, "new_password", "не короче 8 символов"),
        (PASSWORD, "password1", None, "new_password", "самых распространённых"),
        (PASSWORD, PASSWORD, None, "new_password", "совпадает с текущим"),
        ("", NEW, None, "current_password", "Введите текущий пароль."),
    ],
)
async def test_a_refused_change_says_why_and_writes_nothing(
    client_for, operator, current, new, again, field, words
) -> None:
    here = await client_for(operator)
    elsewhere = await client_for(operator)
    before = await stored(operator)
    journal = await JournalEntry.all().count()

    response = await change(here, current, new, again, end_others="1")

    assert response.status == 422
    page = await response.text()
    assert words in page
    assert f'name="{field}" type="password" required' in page and 'aria-invalid="true"' in page
    after = await stored(operator)
    assert (after.password_hash, after.session_version) == (before.password_hash, before.session_version)
    assert await JournalEntry.all().count() == journal
    assert await status(elsewhere, "GET", "/") == 200


async def test_the_current_password_is_throttled_like_a_log_in(client_for, operator) -> None:
    here = await client_for(operator)
    clock = FakeClock()
    here.server.app[LOGIN_THROTTLE].clock = clock
    for _ in range(PER_ADDRESS_LOGIN_FREE):
        assert (await change(here, "wrong password!", NEW)).status == 422
    # Guesses past the free ones wait, whatever they guess: the right password too, until the delay ends.
    response = await change(here, PASSWORD, NEW)
    assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
    assert "Слишком много неудачных попыток" in await response.text()
    assert await accounts.authenticate(operator.login, NEW) is None
    clock.now += 60
    assert (await change(here, PASSWORD, NEW)).status == 303
    assert await accounts.authenticate(operator.login, NEW) is not None


async def test_a_refusal_by_the_policy_is_not_a_guess(client_for, operator) -> None:
    """What is refused before the current password is looked at is not counted against the owner."""
    here = await client_for(operator)
    here.server.app[LOGIN_THROTTLE].clock = FakeClock()
    for _ in range(PER_ADDRESS_LOGIN_FREE + 3):
        assert (await change(here, PASSWORD, "password1")).status == 422
    assert (await change(here, PASSWORD, NEW)).status == 303


async def test_argon2_runs_off_the_event_loop(client_for, operator, monkeypatch) -> None:
    here = await client_for(operator)
    threads: list[tuple[str, bool]] = []
    hash_password, password_matches = accounts.hash_password, accounts.password_matches

    def on_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    def hashing(password: str) -> str:
        threads.append(("hash", on_loop() or threading.current_thread() is threading.main_thread()))
        return hash_password(password)

    def matching(password_hash: str, password: str) -> bool:
        threads.append(("verify", on_loop() or threading.current_thread() is threading.main_thread()))
        return password_matches(password_hash, password)

    monkeypatch.setattr(accounts, "hash_password", hashing)
    monkeypatch.setattr(accounts, "password_matches", matching)
    assert (await change(here, PASSWORD, NEW)).status == 303
    assert threads == [("verify", False), ("hash", False)]


async def test_the_change_needs_the_csrf_token(client_for, operator) -> None:
    here = await client_for(operator)
    form = {"current_password": PASSWORD, "new_password": NEW, "repeat_password": NEW}
    assert (await here.post("/account/password", data=form, allow_redirects=False)).status == 403
    assert await accounts.authenticate(operator.login, PASSWORD) is not None


async def test_the_admin_s_hint_points_to_the_account_page(client_for) -> None:
    admin = await Operator.create(login="ada", display_name="Ada", password_hash="x", role=Role.ADMIN)
    client = await client_for(admin)
    page = await (await client.get("/admin/operators")).text()
    assert "сменить сами они пока не могут" not in page
    assert "сменить его можно на странице своей учётной записи" in page


async def test_bootstrap_says_where_to_change_the_first_password(
    db_url: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    from proxy.cli.service import cmd_bootstrap

    monkeypatch.chdir(tmp_path)  # where it writes data/first-admin.txt
    settings = Settings.from_env({}, database_url=db_url, workers=False)
    assert await cmd_bootstrap(argparse.Namespace(), settings) == 0
    said = capsys.readouterr().out
    assert "account page" in said and f"http://{settings.host}:{settings.port}/account" in said
