"""After logging in, `next` takes the browser only to a path of this site, however it is spelled.

`GET /login?next=/%09/evil.example/phish` answered `Location: //evil.example/phish` before: the check
looked at the text, and a browser drops the tab, reads `//` as another host and follows it. The browser
test logs in through the form in Chromium and records every request it makes.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from proxy import accounts
from proxy.models import Role
from proxy.runtime.app import create_app
from tests.browser_fixtures import browser  # noqa: F401
from web.params import local_path

PASSWORD = "correct horse battery"
EVIL = "evil.example"
# Each decodes (as a query value) to something a browser would read as another site.
HOSTILE_NEXT = [
    "/\t/evil.example/phish",
    "/\n/evil.example/phish",
    "/\r\n/evil.example/phish",
    "//evil.example/phish",
    "/\\evil.example/phish",
    "\\\\evil.example/phish",
    "\\/evil.example/phish",
    "/\t\\evil.example/phish",
    " //evil.example/phish",
    "https://evil.example/phish",
    "https:evil.example/phish",
    "HTTPS://evil.example/phish",
    "javascript:alert(document.domain)//",
    "data:text/html,<script>alert(1)</script>",
    "evil.example/phish",
]
SAFE_NEXT = ["/conversations/1?status=all&assigned=me", "/stats#report", "/%09/still-here"]


@pytest.mark.parametrize("raw", HOSTILE_NEXT)
def test_a_path_a_browser_would_read_as_another_site_is_refused(raw: str) -> None:
    target = local_path(raw, "next")
    assert target == "/"


@pytest.mark.parametrize("raw", SAFE_NEXT)
def test_a_path_of_this_site_is_kept(raw: str) -> None:
    assert local_path(raw, "next") == raw


async def test_the_location_after_log_in_is_a_path_of_this_site(client) -> None:
    await accounts.create_operator("olga", PASSWORD, Role.OPERATOR)
    for raw in HOSTILE_NEXT:
        page = await client.get(f"/login?next={quote(raw, safe='')}")
        assert EVIL not in await page.text(), raw
        response = await client.post(
            "/login", data={"login": "olga", "password": PASSWORD, "next": raw}, allow_redirects=False
        )
        assert response.status == 302, raw
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith("//") and "\\" not in location, (raw, location)
        client.session.cookie_jar.clear()


async def test_the_login_redirect_keeps_the_whole_address(client) -> None:
    response = await client.get("/conversations/1?status=all&assigned=me", allow_redirects=False)
    assert response.status == 302
    next_value = dict(parse_qsl(urlsplit(response.headers["Location"]).query))
    assert next_value == {"next": "/conversations/1?status=all&assigned=me"}


async def test_chromium_never_leaves_the_site_after_logging_in(aiohttp_server, settings, browser) -> None:  # noqa: F811
    server = await aiohttp_server(create_app(settings))
    await accounts.create_operator("olga", PASSWORD, Role.OPERATOR)
    base = f"http://127.0.0.1:{server.port}"
    context = await browser.new_context()
    page = await context.new_page()
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlsplit(request.url).hostname or request.url))
    for raw in HOSTILE_NEXT:
        await context.clear_cookies()
        await page.goto(f"{base}/login?next={quote(raw, safe='')}")
        await page.fill("input[name=login]", "olga")
        await page.fill("input[name=password]", PASSWORD)
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        assert urlsplit(page.url).netloc == f"127.0.0.1:{server.port}", (raw, page.url)
    assert EVIL not in hosts and all(host == "127.0.0.1" for host in hosts), sorted(set(hosts))
    await context.close()
