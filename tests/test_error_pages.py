"""One styled, translated error page for people (web/error_pages.py), short answers for htmx and programs.

A browser navigating gets the page (400, 403, 404, 429, 500) in the reader's language, with what to do and a
way back, and the security headers; htmx gets one translated line for #flash; CSV exports, JSON and the VK
callback endpoint keep the answer the view gave. Refusals are still journaled.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy import refusals
from proxy.models import JournalEntry
from proxy.runtime.app import create_app
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token, log_in
from web.throttle import PER_ADDRESS_LOGIN_FREE

PAGE = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
HX = {"HX-Request": "true"}


async def _page(client: Any, url: str, *, method: str = "GET", headers: dict | None = None, **kwargs: Any):
    response = await client.request(
        method, url, headers={**PAGE, **(headers or {})}, allow_redirects=False, **kwargs
    )
    return response, await response.text()


async def test_a_missing_page_is_the_styled_page_in_the_readers_language(client_for, operator) -> None:
    client = await client_for(operator)
    response, html = await _page(client, "/no/such/page")
    assert response.status == 404
    assert "<html" in html and 'data-status="404"' in html and "Не найдено" in html
    assert "Входящие" in html and 'href="/"' in html  # the usual header, and the way back
    assert "404: Not Found" not in html and "Not found" not in html
    assert "Content-Security-Policy" in response.headers and response.headers["X-Frame-Options"] == "DENY"
    operator.locale = "en"
    await operator.save(update_fields=["locale"])
    client = await client_for(operator)
    response, html = await _page(client, "/no/such/page")
    assert response.status == 404 and "Not found" in html and "Не найдено" not in html


async def test_another_communitys_conversation_is_the_same_page_and_the_refusal_is_journaled(
    client_for, operator, outsider, mirror, world
) -> None:
    conversation, _item, _ = await mirror.message(world.members[0], "private matter")
    client = await client_for(outsider)
    theirs, theirs_html = await _page(client, f"/conversations/{conversation.id}")
    missing, missing_html = await _page(client, "/conversations/987654")
    assert theirs.status == missing.status == 404
    assert (
        "Не найдено" in theirs_html and "private matter" not in theirs_html and "Not found" not in theirs_html
    )
    assert theirs_html == missing_html
    assert await refusals.flush() >= 1
    assert await JournalEntry.filter(action="access.denied", operator_id=outsider.id).exists()


async def test_a_bad_parameter_is_explained_in_the_readers_language(client_for, operator) -> None:
    client = await client_for(operator)
    response, html = await _page(client, "/?channel=bogus")
    assert "channel: допустимо одно из" in html and "must be one of" not in html
    response, html = await _page(client, "/timeline?author=x")
    assert response.status in (400, 403)
    assert "must be" not in html and "<html" in html
    response, html = await _page(client, "/stats/drill?metric=nope")
    assert response.status == 400 and "<html" in html and "Такой запрос выполнить нельзя" in html


async def test_htmx_gets_one_translated_line_for_the_flash_box(client_for, operator) -> None:
    client = await client_for(operator)
    response = await client.get("/conversations/987654/timeline", headers=HX)
    text = await response.text()
    assert response.status == 404 and text.startswith("Не найдено") and "<" not in text
    token = await csrf_token(client)
    response = await client.post("/conversations/987654/close", headers={**HX, "X-CSRF-Token": token})
    assert response.status == 404 and (await response.text()).startswith("Не найдено")


async def test_a_refused_form_is_the_page_with_what_to_do(client_for, operator) -> None:
    client = await client_for(operator)
    response, html = await _page(
        client, "/conversations/1/close", method="POST", data={"csrf_token": "forged"}
    )
    assert response.status == 403 and "<html" in html and 'data-status="403"' in html
    assert "Не разрешено" in html or "Нельзя" in html or "доступ" in html


async def test_programs_keep_their_short_answers(client_for, operator) -> None:
    client = await client_for(operator)
    csv = await client.get("/audit/journal.csv?from=yesterday", headers=PAGE)
    assert csv.status == 400 and "<html" not in await csv.text()
    series = await client.get("/stats/series.json?from=yesterday", headers=PAGE)
    assert series.status in (400, 404) and "<html" not in await series.text()
    callback = await client.post("/callback/vk/424242", data=b"not json", headers=PAGE)
    assert callback.status in (400, 404) and "<html" not in await callback.text()


async def test_an_unexpected_failure_is_the_500_page(
    aiohttp_client, vk_settings, db, operator, caplog
) -> None:
    app = create_app(vk_settings)

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("the database went away")

    app.router.add_get("/broken-for-the-test", broken)
    client = await aiohttp_client(app)
    await log_in(client, operator)
    response, html = await _page(client, "/broken-for-the-test")
    assert response.status == 500 and "Что-то пошло не так" in html and "database went away" not in html
    assert "Content-Security-Policy" in response.headers
    assert "the database went away" in caplog.text  # logged for the admin
    response = await client.get("/broken-for-the-test", headers=HX)
    assert response.status == 500 and (await response.text()).startswith("Что-то пошло не так")


async def test_too_many_requests_is_the_styled_page_in_both_languages(
    aiohttp_client, vk_settings, db, operator
) -> None:
    app = create_app(vk_settings)

    async def busy(request: web.Request) -> web.Response:
        raise web.HTTPTooManyRequests()

    app.router.add_get("/busy-for-the-test", busy)
    client = await aiohttp_client(app)
    await log_in(client, operator)
    response, html = await _page(client, "/busy-for-the-test")
    assert response.status == 429 and 'data-status="429"' in html and 'lang="ru"' in html
    assert (
        "<title>Слишком много запросов · VK Proxy</title>" in html
        and "<h1>Слишком много запросов</h1>" in html
    )
    assert "Подождите минуту и попробуйте снова." in html and "Входящие" in html  # the usual header
    assert "css/app.css" in html and "Too Many Requests" not in html and "Too many requests" not in html
    assert "Content-Security-Policy" in response.headers
    htmx = await client.get("/busy-for-the-test", headers=HX)
    assert htmx.status == 429 and await htmx.text() == "Слишком много запросов"

    operator.locale = "en"
    await operator.save(update_fields=["locale"])
    response, html = await _page(client, "/busy-for-the-test")
    assert response.status == 429 and 'data-status="429"' in html and 'lang="en"' in html
    assert "<title>Too many requests · VK Proxy</title>" in html and "<h1>Too many requests</h1>" in html
    assert "Wait a minute and try again." in html and "Слишком" not in html


async def test_the_login_throttles_429_is_the_styled_login_page_in_the_browsers_language(
    aiohttp_client, vk_settings, db, operator
) -> None:
    client = await aiohttp_client(create_app(vk_settings))
    expected = {
        "ru-RU,ru;q=0.9": ('lang="ru"', "Слишком много неудачных попыток. Попробуйте снова через"),
        "en-US,en;q=0.9": ('lang="en"', "Too many failed attempts. Try again in"),
    }
    wrong = {"login": operator.login, "password": "wrong"}
    for _n in range(PER_ADDRESS_LOGIN_FREE):  # the free attempts, then each language is refused
        response = await client.post("/login", data=wrong, headers=PAGE, allow_redirects=False)
        assert response.status == 401
    for language, (lang, message) in expected.items():
        headers = {**PAGE, "Accept-Language": language}
        response = await client.post("/login", data=wrong, headers=headers, allow_redirects=False)
        html = await response.text()
        assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
        assert "<html" in html and lang in html and "css/app.css" in html and message in html
        assert 'name="password"' in html  # the form again, to try after the wait
        assert "Content-Security-Policy" in response.headers
