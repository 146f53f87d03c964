"""Your own account in the browser: your name in the top bar opens it; there you change your password
(your other sessions end), choose your language, and an operator given no community is told so.

Screenshots for docs/guide.md: test-artifacts/guide/account-{ru,en}-{desktop,phone}.png and
guide/inbox-no-communities-{ru,en}-{desktop,phone}.png.
"""

from __future__ import annotations

from playwright.async_api import expect

from proxy import accounts
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import (
    PASSWORD,
    VIEWPORTS,
    horizontal_overflow,
    log_in_page,
    shoot_in_every_view,
)

NEW = "a new horse, stapled"
WAIT_MS = 10_000


async def test_a_person_changes_their_password_and_language_from_the_top_bar(
    browser, live_server, operator
) -> None:
    base = str(live_server.make_url("/"))
    here = await browser.new_page(viewport=VIEWPORTS["desktop"], locale="en-US")
    elsewhere = await browser.new_page(viewport=VIEWPORTS["desktop"], locale="en-US")
    errors: list[str] = []
    here.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await log_in_page(here, base, operator)
        await log_in_page(elsewhere, base, operator)
        # No language chosen: after logging in the pages follow the English browser.
        await expect(here.locator("html")).to_have_attribute("lang", "en")
        who = here.locator(".topbar .who")
        await expect(who).to_have_text("Olga")  # an operator: the role adds nothing

        await who.locator("a").click()
        await here.wait_for_selector("#account")
        await expect(here.locator("input[name=end_others]")).to_be_checked()
        await here.fill("input[name=current_password]", "not my password")
        await here.fill("input[name=new_password]", NEW)
        await here.fill("input[name=repeat_password]", NEW)
        await here.click("form[action='/account/password'] button[type=submit]")
        await expect(here.locator("#account .error")).to_have_text("the current password is wrong")
        assert await accounts.authenticate(operator.login, PASSWORD) is not None

        await here.fill("input[name=current_password]", PASSWORD)
        await here.fill("input[name=new_password]", NEW)
        await here.fill("input[name=repeat_password]", NEW)
        await here.click("form[action='/account/password'] button[type=submit]")
        await expect(here.locator("#account .admin-flash")).to_contain_text("Your password is changed")
        assert await accounts.authenticate(operator.login, NEW) is not None
        # The other browser was logged out; this one was not.
        await elsewhere.goto(base)
        await elsewhere.wait_for_selector("input[name=login]")
        await here.goto(base)
        await here.wait_for_selector("#conversation-list")

        # Русский, whatever the browser says, until "the browser's language" again.
        await here.goto(base + "account")
        await here.check("input[name=locale][value=ru]")
        await here.click("form[action='/account/language'] button[type=submit]")
        await expect(here.locator("html")).to_have_attribute("lang", "ru")
        await expect(here.locator("#account .admin-flash")).to_have_text("Сохранено.")
        await here.check("input[name=locale][value='']")
        await here.click("form[action='/account/language'] button[type=submit]")
        await expect(here.locator("html")).to_have_attribute("lang", "en")
        assert errors == []
    finally:
        await here.close()
        await elsewhere.close()


async def test_guide_pictures_of_the_account_page(browser, live_server, operator) -> None:
    base = str(live_server.make_url("/"))
    shots = await shoot_in_every_view(browser, base, operator, "/account", "guide/account", ready="#account")
    assert len(shots) == 4
    for locale in ("ru", "en"):
        page = await browser.new_page(viewport=VIEWPORTS["phone"])
        try:
            await operator.__class__.filter(id=operator.id).update(locale=locale)
            await log_in_page(page, base, operator)
            await page.goto(base + "account")
            await page.wait_for_selector("#account")
            assert await horizontal_overflow(page) == 0, locale
        finally:
            await page.close()


async def test_guide_pictures_of_an_inbox_without_communities(browser, live_server, outsider) -> None:
    base = str(live_server.make_url("/"))
    shots = await shoot_in_every_view(
        browser, base, outsider, "/", "guide/inbox-no-communities", ready=".no-communities"
    )
    assert len(shots) == 4
    shots = await shoot_in_every_view(
        browser, base, outsider, "/stats", "guide/stats-no-communities", ready="p.no-communities"
    )
    assert len(shots) == 4
    page = await browser.new_page(viewport=VIEWPORTS["phone"], locale="ru-RU")
    try:
        outsider.locale = ""
        await outsider.save(update_fields=["locale"])
        await log_in_page(page, base, outsider)
        await expect(page.locator(".no-communities")).to_have_text(
            "У вас пока нет сообществ; попросите администратора дать вам доступ."
        )
        assert await horizontal_overflow(page) == 0
    finally:
        await page.close()
