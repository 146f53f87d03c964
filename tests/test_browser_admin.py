"""An admin sets the proxy up in a real browser: adds a community (a bad form first), tests its connection
to VK, and VK's confirmation request is then answered with the string entered; then an operator account,
its community access, an API token and a canned response. Screenshots for docs/guide.md.

Runs on SQLite only (a browser run costs seconds; the pages themselves are tested on both databases in
tests/test_admin_pages.py).
"""

from __future__ import annotations

import aiohttp
import pytest

from proxy.models import ApiToken, CannedResponse, Community, JournalEntry, Operator, Role
from proxy.runtime.app import create_app
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import log_in_page
from tests.guide_shots import opening, shoot_guide

pytestmark = pytest.mark.browser
WAIT_MS = 15_000
CONFIRMATION = "e5f6a7b8"


@pytest.fixture
async def db_url(sqlite_factory):
    """One backend only: a fresh SQLite database."""
    url = await sqlite_factory.new_database()
    yield url
    await sqlite_factory.drop(url)


@pytest.fixture
async def server(aiohttp_server, vk_settings, community):
    """The service listening on a port (no background workers: nothing here needs them), VK emulated."""
    return await aiohttp_server(create_app(vk_settings))


async def test_admin_adds_a_community_and_vk_s_confirmation_is_answered(
    browser, server, world, vk_settings, operator
) -> None:
    base = str(server.make_url("/"))
    shop = world.state.add_group("Магазин «Ромашка»")
    admin = await Operator.create(
        login="ada", display_name="Ада Админова", password_hash="x", role=Role.ADMIN
    )
    # A Russian-speaking browser: an account that chose no language reads the browser's.
    page = await browser.new_page(viewport={"width": 1366, "height": 900}, locale="ru-RU")
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await log_in_page(page, base, admin)

    await page.click("a[href='/admin']")
    await page.click(".admin-nav a[href='/admin/communities']")
    await page.click("a[href='/admin/communities/new']")
    form = page.locator("#community-form")
    await form.locator("input[name=name]").fill(shop.name)
    await form.locator("input[name=vk_group_id]").fill("club-ромашка")  # not a group id
    await form.locator("input[name=confirmation]").fill(CONFIRMATION)
    await form.locator("input[name=community_token]").fill(shop.community_token)
    await form.locator("input[name=admin_token]").fill(shop.admin_token)
    await form.locator("input[name=sla_minutes]").fill("30")
    await form.locator("input[name=bh_on]").check()
    await form.locator("button[type=submit]").click()
    # htmx swapped the refused form in place (422): the reason, the name as typed, the tokens not kept.
    alert = page.locator("#community-form [role=alert]")
    await alert.wait_for(timeout=WAIT_MS)
    assert "ID группы VK" in await alert.inner_text()
    assert await page.locator("#community-form input[name=name]").input_value() == shop.name
    assert await page.locator("#community-form input[name=community_token]").input_value() == ""
    assert await Community.filter(vk_group_id=shop.id).count() == 0

    form = page.locator("#community-form")
    await form.locator("input[name=vk_group_id]").fill(f"https://vk.com/club{shop.id}")
    await form.locator("input[name=community_token]").fill(shop.community_token)
    await form.locator("input[name=admin_token]").fill(shop.admin_token)
    secret = await form.locator("input[name=secret]").input_value()
    assert len(secret) == 32  # a fresh secret key is proposed
    await form.locator("button[type=submit]").click()
    await page.locator("#callback-settings #callback-secret").wait_for(timeout=WAIT_MS)

    added = await Community.get(vk_group_id=shop.id)
    assert page.url.endswith(f"/admin/communities/{added.id}")
    expected_url = f"{vk_settings.public_url}/callback/vk/{shop.id}"
    assert await page.locator("#callback-url").input_value() == expected_url
    assert await page.locator("#callback-secret").input_value() == secret
    assert await page.locator("#callback-confirmation").input_value() == CONFIRMATION
    assert added.business_hours == {
        "tz": vk_settings.timezone,
        "days": [0, 1, 2, 3, 4],
        "start": "09:00",
        "end": "18:00",
    }

    await page.click("#test-connection")
    await page.locator("#connection-test li.check-ok").nth(1).wait_for(timeout=WAIT_MS)
    assert await page.locator("#connection-test li.check-failed").count() == 0
    html = await page.content()
    assert shop.community_token not in html and shop.admin_token not in html
    community_url = page.url

    async def tested(shot) -> None:
        await shot.goto(community_url)
        await shot.click("#test-connection")
        await shot.locator("#connection-test li.check-ok").nth(1).wait_for(timeout=WAIT_MS)

    await shoot_guide(page, admin, "admin-community", tested)

    # The check: VK's confirmation request for this community gets the string entered.
    async with aiohttp.ClientSession() as vk:
        async with vk.post(
            str(server.make_url(f"/callback/vk/{shop.id}")),
            json={"type": "confirmation", "group_id": shop.id},
        ) as response:
            assert response.status == 200
            assert await response.text() == CONFIRMATION

    await page.click(".crumbs-admin a")
    await page.locator("#communities", has_text=shop.name).wait_for(timeout=WAIT_MS)
    await shoot_guide(page, admin, "admin-communities", opening(page.url, "#communities"))

    # An operator account, with access to the new community.
    await page.click(".admin-nav a[href='/admin/operators']")
    create = page.locator("#operators form")
    await create.locator("input[name=login]").fill("pavel")
    await create.locator("input[name=display_name]").fill("Павел Петров")
    await create.locator("input[name=password]").fill("pavel-password-1")
    await create.locator("button[type=submit]").click()
    await page.locator("#operator").wait_for(timeout=WAIT_MS)
    pavel = await Operator.get(login="pavel")
    await page.check(f"#operator input[name=communities][value='{added.id}']")
    await page.click("#operator form[action$='/communities'] button[type=submit]")
    await page.locator(".admin-flash").wait_for(timeout=WAIT_MS)
    assert [c.id for c in await Community.filter(operators__id=pavel.id)] == [added.id]
    await shoot_guide(
        page, admin, "admin-operator", opening(f"{base}admin/operators/{pavel.id}", "#operator")
    )
    await page.click(".crumbs-admin a")
    await page.locator("#operators", has_text="pavel").wait_for(timeout=WAIT_MS)
    await shoot_guide(page, admin, "admin-operators", opening(page.url, "#operators"))

    # Creating an operator says at once that they serve no community yet (one new account a picture).
    accounts_made = iter(range(1, 5))

    async def created(shot) -> None:
        n = next(accounts_made)
        await shot.goto(f"{base}admin/operators")
        form = shot.locator("#operators form")
        await form.locator("input[name=login]").fill(f"irina{n}")
        await form.locator("input[name=display_name]").fill("Ирина Смирнова")
        await form.locator("input[name=password]").fill("irina-password-1")
        await form.locator("button[type=submit]").click()
        await shot.locator("#operator").wait_for(timeout=WAIT_MS)
        await shot.locator(".admin-flash").wait_for(timeout=WAIT_MS)

    await shoot_guide(page, admin, "admin-operator-created", created)
    assert await Operator.filter(login__startswith="irina").count() == 4

    # A read-only API token for pavel, shown once.
    await page.click(".admin-nav a[href='/admin/tokens']")
    create = page.locator("#tokens form.admin-form")
    await create.locator("select[name=operator]").select_option(str(pavel.id))
    await create.locator("input[name=name]").fill("Таблица KPI")
    await create.locator("button[type=submit]").click()
    await page.locator("#new-token").wait_for(timeout=WAIT_MS)
    token = await page.locator("#new-token").input_value()
    assert token.startswith("vkp_") and await ApiToken.filter(operator_id=pavel.id).count() == 1

    async def token_created(shot) -> None:
        # Shown once: each picture creates pavel's token again in place of the one before.
        await ApiToken.filter(operator_id=pavel.id).delete()
        await shot.goto(base + "admin/tokens")
        again = shot.locator("#tokens form.admin-form")
        await again.locator("select[name=operator]").select_option(str(pavel.id))
        await again.locator("input[name=name]").fill("Таблица KPI")
        await again.locator("button[type=submit]").click()
        await shot.locator("#new-token").wait_for(timeout=WAIT_MS)

    await shoot_guide(page, admin, "admin-tokens", token_created)
    assert await ApiToken.filter(operator_id=pavel.id).count() == 1

    # A canned response for the new community.
    await page.click(".admin-nav a[href='/admin/canned']")
    create = page.locator("#canned form.admin-form")
    await create.locator("input[name=title]").fill("Доставка")
    await create.locator("select[name=community]").select_option(str(added.id))
    await create.locator("textarea[name=text]").fill(
        "Здравствуйте! Заказ передан курьеру, он приедет завтра."
    )
    await create.locator("button[type=submit]").click()
    await page.locator(".admin-flash").wait_for(timeout=WAIT_MS)
    await CannedResponse.create(title="Приветствие", text="Здравствуйте! Чем можем помочь?")
    await page.reload()
    await page.locator("#canned", has_text="Приветствие").wait_for(timeout=WAIT_MS)
    await shoot_guide(page, admin, "admin-canned", opening(page.url, "#canned"))
    await shoot_guide(page, admin, "admin-overview", opening(base + "admin", "main"))

    actions = [e.action for e in await JournalEntry.filter(operator_id=admin.id).order_by("id")]
    for action in (
        "community.add",
        "community.test",
        "account.create",
        "account.communities",
        "token.create",
        "canned.save",
    ):
        assert action in actions, (action, actions)
    # Chromium logs every 4xx answer; the one refused form (422) is expected, anything else is not.
    assert [e for e in errors if "status of 422" not in e] == []
