"""The language of the pages: each person's choice on their account page, the browser's by default.

Before, the log in page followed the browser, but after logging in every page was Russian, even for an
English browser: every account was created with locale "ru" and nothing could change it. Now "" (the
default, and what migration 0014 makes of the "ru" nobody chose) follows the browser, and "ru" or "en"
is a choice made on the account page. The live inbox renders in the same language as the page.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from aiohttp.test_utils import TestClient
from tortoise import connections

from proxy import db as proxy_db
from proxy.appkeys import LIVE
from proxy.clock import utcnow
from proxy.models import Author, Channel, Conversation, JournalEntry, Operator
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token
from tests.test_ban_migration import _migrate, empty_url  # noqa: F401 (the fixture)

ENGLISH = {"Accept-Language": "en-GB,en;q=0.9,ru;q=0.5"}
RUSSIAN = {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}


def language_of(page: str) -> str:
    return page.split('<html lang="', 1)[1].split('"', 1)[0]


async def language(client: TestClient, path: str = "/", **headers: str) -> str:
    return language_of(await (await client.get(path, headers=headers)).text())


async def test_a_new_account_follows_the_browser_after_logging_in(client_for, operator) -> None:
    assert (await Operator.get(id=operator.id)).locale == ""
    client = await client_for(operator)
    assert await language(client, **ENGLISH) == "en"
    assert "Inbox" in await (await client.get("/", headers=ENGLISH)).text()
    assert await language(client, **RUSSIAN) == "ru"
    assert await language(client) == "ru"  # no Accept-Language: the default


async def test_a_chosen_language_wins_over_the_browser(client_for, operator) -> None:
    client = await client_for(operator)
    form = {"csrf_token": await csrf_token(client), "locale": "ru"}
    response = await client.post("/account/language", data=form, headers=ENGLISH, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/account"
    assert (await Operator.get(id=operator.id)).locale == "ru"
    assert await language(client, **ENGLISH) == "ru"
    # The flash says it in the language chosen.
    assert "Сохранено." in await (await client.get("/account", headers=ENGLISH)).text()

    form["locale"] = "en"
    await client.post("/account/language", data=form, headers=RUSSIAN)
    assert await language(client, **RUSSIAN) == "en"

    form["locale"] = ""
    await client.post("/account/language", data=form)
    assert await language(client, **RUSSIAN) == "ru" and await language(client, **ENGLISH) == "en"
    changes = [e.params for e in await JournalEntry.filter(action="account.locale").order_by("id")]
    assert [(c["from"], c["to"]) for c in changes] == [("", "ru"), ("ru", "en"), ("en", "")]
    assert {c["account_id"] for c in changes} == {operator.id}


async def test_the_account_page_offers_the_three_choices(client_for, operator) -> None:
    client = await client_for(operator)
    page = await (await client.get("/account", headers=ENGLISH)).text()
    assert 'name="locale" value="" checked' in page
    assert "Browser's language" in page and "Now: English" in page
    assert 'value="ru"' in page and "Русский" in page and 'value="en"' in page and "English" in page


async def test_an_unknown_language_is_refused_and_nothing_written(client_for, operator) -> None:
    client = await client_for(operator)
    journal = await JournalEntry.all().count()
    form = {"csrf_token": await csrf_token(client), "locale": "de"}
    response = await client.post("/account/language", data=form)
    assert response.status == 422
    assert "Выберите один из предложенных языков." in await response.text()
    assert (await Operator.get(id=operator.id)).locale == ""
    assert await JournalEntry.all().count() == journal


async def test_an_explicit_language_set_by_hand_still_holds(client_for, operator) -> None:
    """What tests/browser_fixtures.py `shoot_in_every_view` does: locale "ru" / "en" on the row."""
    client = await client_for(operator)
    for locale in ("en", "ru"):
        await Operator.filter(id=operator.id).update(locale=locale)
        assert await language(client, **(RUSSIAN if locale == "en" else ENGLISH)) == locale


async def _next_row(stream) -> dict:
    while True:
        raw = (await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 10)).decode()
        if raw.startswith(":"):
            continue
        fields = dict(line.split(": ", 1) for line in raw.strip().split("\n"))
        if fields["event"] == "row":
            return json.loads(fields["data"])


async def test_the_live_inbox_speaks_the_page_s_language(client_for, operator, manager, community) -> None:
    """A stream renders in what `preferred_locale` gives: the browser's language when none was chosen."""
    await Operator.filter(id=manager.id).update(locale="ru")  # chosen: Russian whatever the browser says
    browser_english, chose_russian = await client_for(operator), await client_for(manager)
    streams = [
        await browser_english.get("/live", headers=ENGLISH),
        await chose_russian.get("/live", headers=ENGLISH),
    ]
    for stream in streams:
        assert await stream.content.readuntil(b"\n\n") == b": connected\n\n"
    author = await Author.create(vk_id=5151, name="Someone")
    now = utcnow()
    conversation = await Conversation.create(
        community=community, channel=Channel.WALL, key="wall:-1_77_1", author=author,
        opened_at=now - timedelta(hours=1), waiting_since=now - timedelta(minutes=30),
        last_item_at=now - timedelta(minutes=30), preview="a question",
    )  # fmt: skip
    await browser_english.server.app[LIVE].publish(
        "item_created", {"community_id": community.id, "conversation_id": conversation.id}
    )
    english, russian = [(await _next_row(stream))["html"] for stream in streams]
    assert "30 minutes" in english
    assert "30 минут" in russian
    for stream in streams:
        stream.close()


INSERT_OPERATOR = (
    "INSERT INTO operator (login, display_name, password_hash, role, is_active, locale, created_at, "
    "session_version) VALUES ('{login}', '{login}', 'x', 'operator', TRUE, '{locale}', CURRENT_TIMESTAMP, 1)"
)


async def test_migration_0014_turns_the_ru_nobody_chose_into_the_browser_s(empty_url: str) -> None:  # noqa: F811
    await _migrate(empty_url, "models.0011_journal_macs")
    await proxy_db.open_database(empty_url)
    try:
        for login, locale in (("olga", "ru"), ("emma", "en")):
            await connections.get("default").execute_query(INSERT_OPERATOR.format(login=login, locale=locale))
    finally:
        await proxy_db.close_database()

    await _migrate(empty_url)

    await proxy_db.open_database(empty_url)
    try:
        assert (await Operator.get(login="olga")).locale == ""  # no one chose the "ru" every account got
        assert (await Operator.get(login="emma")).locale == "en"  # only a choice could have written this
        assert (await Operator.create(login="nina", password_hash="x")).locale == ""
    finally:
        await proxy_db.close_database()
