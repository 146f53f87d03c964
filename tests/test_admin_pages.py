"""The admin pages: communities, operators, API tokens, canned responses.

For each section: a change succeeds and is journaled with the admin as the actor; bad input is refused
with 422, the reason on the form, and nothing changed; managers and operators get 403 (journaled).
Tokens and passwords never appear in a page after the one answer that hands them over, nor in the journal.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from proxy import refusals
from proxy.crypto import decrypt_token, encrypt_token
from proxy.models import (
    ApiToken,
    CannedResponse,
    Community,
    CommunityMode,
    JournalEntry,
    Operator,
    Outcome,
    Role,
)
from proxy.settings import Settings
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import PASSWORD, csrf_token
from vk_emulator.state import Token

HX = {"HX-Request": "true"}
NEW_GROUP = 777001
COMMUNITY_TOKEN = "vk1.a.community-token-0123456789abcdefABCDEF"
ADMIN_TOKEN = "vk1.a.admin-user-token-9876543210fedcbaFEDCBA"
_TOKEN_IN_PAGE = re.compile(r'value="([^"]+)" id="new-token"')
_PASSWORD_IN_PAGE = re.compile(r'value="([^"]+)" id="new-password"')


@pytest.fixture
async def admin(community: Community) -> Operator:
    return await Operator.create(login="ada", display_name="Ada", password_hash="x", role=Role.ADMIN)


@pytest.fixture
async def admin_client(client_for: Any, admin: Operator) -> TestClient:
    return await client_for(admin)


async def post(client: TestClient, url: str, data: dict[str, Any] | list[tuple[str, str]] | None = None, *,
               htmx: bool = False) -> tuple[int, str, Any]:
    """POST a form as the page would (with the session's CSRF token); status, body, headers."""
    token = await csrf_token(client)
    fields = list(data.items()) if isinstance(data, dict) else list(data or [])
    headers = {**HX, "X-CSRF-Token": token} if htmx else {}
    if not htmx:
        fields.append(("csrf_token", token))
    response = await client.post(url, data=fields, headers=headers, allow_redirects=False)
    return response.status, await response.text(), response.headers


async def get(client: TestClient, url: str, **kwargs: Any) -> tuple[int, str]:
    response = await client.get(url, allow_redirects=False, **kwargs)
    return response.status, await response.text()


async def journal(action: str) -> list[JournalEntry]:
    return await JournalEntry.filter(action=action).order_by("id")


async def whole_journal() -> str:
    """Everything the journal holds, as one string, to look for secrets in."""
    rows = await JournalEntry.all().values("text", "params", "outcome_detail")
    return json.dumps(rows, ensure_ascii=False, default=str)


def community_form(**overrides: Any) -> list[tuple[str, str]]:
    fields = {
        "name": "Магазин «Ромашка»",
        "vk_group_id": str(NEW_GROUP),
        "mode": "callback",
        "secret": "S3cretKey42",
        "confirmation": "ab12cd34",
        "sla_minutes": "20",
        "community_token": COMMUNITY_TOKEN,
        "admin_token": ADMIN_TOKEN,
        "admin_vk_user_id": "",
    }
    fields.update(overrides)
    return [(k, v) for k, v in fields.items() if v is not None]


# --- who may enter --------------------------------------------------------------------------------

ADMIN_URLS = [
    ("GET", "/admin"),
    ("GET", "/admin/communities"),
    ("GET", "/admin/communities/new"),
    ("GET", "/admin/operators"),
    ("GET", "/admin/tokens"),
    ("GET", "/admin/canned"),
    ("POST", "/admin/communities"),
    ("POST", "/admin/operators"),
    ("POST", "/admin/tokens"),
    ("POST", "/admin/canned"),
]


@pytest.mark.parametrize("who", ["operator", "manager"])
async def test_managers_and_operators_get_403_and_the_refusal_is_journaled(
    client_for, who, operator, manager, community
) -> None:
    person: Operator = operator if who == "operator" else manager
    client = await client_for(person)
    counts = (await Community.all().count(), await Operator.all().count(), await CannedResponse.all().count())
    for method, url in ADMIN_URLS:
        if method == "GET":
            status, _ = await get(client, url)
        else:
            status, _, _ = await post(client, url, community_form(login="x", password=PASSWORD, title="t", text="t"))
        assert status == 403, (method, url, status)
    for url in (f"/admin/communities/{community.id}", f"/admin/operators/{person.id}"):
        assert (await get(client, url))[0] == 403
    status, _, _ = await post(client, f"/admin/operators/{person.id}", {"role": "admin", "display_name": "x"})
    assert status == 403
    assert (await Operator.get(id=person.id)).role == Role(who)
    assert (await Community.all().count(), await Operator.all().count(), await CannedResponse.all().count()) == counts
    # Counted, not written; then journaled once per kind of refusal and minute, with the count.
    assert await journal("access.denied") == []
    await refusals.flush()
    denied = await journal("access.denied")
    assert sum(e.params["count"] for e in denied) == len(ADMIN_URLS) + 3
    assert {e.operator_id for e in denied} == {person.id}
    assert {t for e in denied for t in e.params["targets"]} >= {"/admin", "/admin/communities"}


async def test_a_change_without_the_csrf_token_is_refused(admin_client) -> None:
    response = await admin_client.post("/admin/communities", data=community_form(), allow_redirects=False)
    assert response.status == 403
    assert not await Community.exists(vk_group_id=NEW_GROUP)


async def test_logged_out_visitors_are_sent_to_log_in(client) -> None:
    response = await client.get("/admin/communities", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/login?next=/admin/communities"


async def test_overview_links_every_section(admin_client) -> None:
    status, body = await get(admin_client, "/admin")
    assert status == 200
    for href in ("/admin/communities", "/admin/operators", "/admin/tokens", "/admin/canned"):
        assert f'href="{href}"' in body
    assert "Настройки" in body  # Russian by default


# --- communities ----------------------------------------------------------------------------------


async def test_adding_a_community_stores_tokens_encrypted_and_shows_the_callback_settings(
    admin_client, admin, settings: Settings
) -> None:
    status, _, headers = await post(admin_client, "/admin/communities", community_form(
        bh_on="1", bh_tz="Europe/Moscow", bh_start="09:00", bh_end="18:00",
    ) + [("bh_days", "0"), ("bh_days", "2")])
    added = await Community.get(vk_group_id=NEW_GROUP)
    assert status == 303 and headers["Location"] == f"/admin/communities/{added.id}"
    assert added.name == "Магазин «Ромашка»" and added.mode == CommunityMode.CALLBACK
    assert (added.callback_secret, added.confirmation_code, added.sla_seconds) == ("S3cretKey42", "ab12cd34", 1200)
    assert added.business_hours == {"tz": "Europe/Moscow", "days": [0, 2], "start": "09:00", "end": "18:00"}
    assert decrypt_token(settings.secret_key, added.community_token_enc) == COMMUNITY_TOKEN
    assert decrypt_token(settings.secret_key, added.admin_token_enc) == ADMIN_TOKEN
    assert COMMUNITY_TOKEN not in added.community_token_enc

    [entry] = [e for e in await journal("community.add") if e.community_id == added.id]
    assert entry.operator_id == admin.id and entry.community_id == added.id and entry.outcome == Outcome.DONE
    assert entry.params["community_token"] is True and entry.params["admin_token"] is True

    status, page = await get(admin_client, f"/admin/communities/{added.id}")
    assert status == 200
    assert f'value="http://127.0.0.1:8080/callback/vk/{NEW_GROUP}"' in page
    assert 'value="S3cretKey42"' in page and 'value="ab12cd34"' in page
    assert "Сообщество «\u2068Магазин «Ромашка»\u2069» добавлено" in page  # the flash, once
    assert "задан" in page
    _, listing = await get(admin_client, "/admin/communities")
    assert "Магазин «Ромашка»" in listing
    for text in (page, listing, await whole_journal()):
        assert COMMUNITY_TOKEN not in text and ADMIN_TOKEN not in text
        assert added.community_token_enc not in text
    assert "S3cretKey42" not in await whole_journal()


async def test_names_people_typed_are_escaped_and_isolated_on_every_admin_page(admin_client, admin) -> None:
    hostile = '<img src=x onerror="alert(1)">\u202eмагазин'
    status, _, _ = await post(admin_client, "/admin/communities", community_form(name=hostile))
    added = await Community.get(vk_group_id=NEW_GROUP)
    assert status == 303 and added.name == hostile
    await CannedResponse.create(title=hostile, text=hostile, community=added)
    await post(admin_client, f"/admin/operators/{admin.id}", {"display_name": hostile, "role": "admin"})
    canned = await CannedResponse.get(title=hostile)
    for url in ("/admin/communities", f"/admin/communities/{added.id}", "/admin/operators",
                f"/admin/operators/{admin.id}", "/admin/canned", f"/admin/canned/{canned.id}"):
        status, page = await get(admin_client, url)
        assert status == 200, url
        assert "<img src=x" not in page and "&lt;img src=x" in page, url
        assert all_isolated(page, "\u202e"), url


def all_isolated(page: str, char: str) -> bool:
    """Whether every `char` in the page sits inside <bdi>, U+2068..U+2069, a <textarea> or an attribute value."""
    for found in re.finditer(char, page):
        before = page[: found.start()]
        spans = [
            (before.rfind("<bdi>"), before.rfind("</bdi>")),
            (before.rfind("\u2068"), before.rfind("\u2069")),
            (before.rfind("<textarea"), before.rfind("</textarea>")),
        ]
        inside = any(opened > closed for opened, closed in spans)
        attribute = before.rfind('value="')
        inside = inside or (attribute >= 0 and '"' not in before[attribute + 7 :] and ">" not in before[attribute:])
        if not inside:
            return False
    return True


@pytest.mark.parametrize(
    ("overrides", "days", "message"),
    [
        ({"vk_group_id": "club-x"}, [], "номер группы"),
        ({"vk_group_id": "0"}, [], "номер группы"),
        ({"name": "   "}, [], "нужно название"),
        ({"confirmation": ""}, [], "строка подтверждения"),
        ({"secret": "with space"}, [], "секретный ключ"),
        ({"secret": "x" * 51}, [], "секретный ключ"),
        ({"mode": "longpoll", "community_token": ""}, [], "ключ доступа сообщества"),
        ({"mode": "webhook"}, [], "как vk доставляет"),
        ({"sla_minutes": "0"}, [], "sla"),
        ({"sla_minutes": "soon"}, [], "sla"),
        ({"bh_on": "1", "bh_tz": "Europe/Moscow", "bh_start": "9", "bh_end": "18:00"}, ["0"], "09:00"),
        ({"bh_on": "1", "bh_tz": "Europe/Moscow", "bh_start": "09:00", "bh_end": "18:00"}, [], "рабочий день"),
        ({"bh_on": "1", "bh_tz": "Mars/Base", "bh_start": "09:00", "bh_end": "18:00"}, ["0"], "часовой пояс"),
        ({"bh_on": "1", "bh_tz": "Europe/Moscow", "bh_start": "10:00", "bh_end": "10:00"}, ["0"], "00:00"),
        ({"community_token": "two words"}, [], "не похоже на ключ доступа"),
        ({"admin_vk_user_id": "-5"}, [], "положительное число"),
    ],
)
async def test_a_bad_community_form_is_refused_with_the_reason_and_changes_nothing(
    admin_client, overrides, days, message
) -> None:
    before = await Community.all().count()
    fields = community_form(**overrides) + [("bh_days", d) for d in days]
    status, body, _ = await post(admin_client, "/admin/communities", fields, htmx=True)
    assert status == 422
    assert body.lstrip().startswith('<section id="community"') and "<html" not in body
    assert 'role="alert"' in body and message in body.lower(), body
    assert 'aria-invalid="true"' in body
    assert COMMUNITY_TOKEN not in body and ADMIN_TOKEN not in body  # pasted tokens are never written back
    assert await Community.all().count() == before
    assert await journal("community.add") == [] or all(e.params["vk_group_id"] != NEW_GROUP for e in await journal("community.add"))


async def test_a_group_already_served_is_refused_and_the_plain_form_answers_a_whole_page(admin_client, community) -> None:
    status, body, _ = await post(admin_client, "/admin/communities", community_form(vk_group_id=f"https://vk.com/club{community.vk_group_id}"))
    assert status == 422 and body.startswith("<!doctype html>")
    assert f"Сообщество {community.vk_group_id} уже подключено" in body
    assert 'value="Магазин «Ромашка»"' in body  # the form as typed
    assert await Community.all().count() == 1


async def test_editing_a_community_journals_what_changed_without_secrets(
    admin_client, admin, community, settings: Settings
) -> None:
    url = f"/admin/communities/{community.id}"
    _, page = await get(admin_client, url)
    assert "callback-secret" in page and "c0nf1rm" in page  # the fixture's settings
    status, _, headers = await post(admin_client, url, community_form(
        name="Переименовано", secret="NewSecret1", confirmation="c0nf1rm", sla_minutes="7.5",
        community_token="", admin_token="vk1.a.replacement-admin-token", vk_group_id="999",
        admin_vk_user_id=str(community.admin_vk_user_id),
    ), htmx=True)
    assert status == 200 and headers["HX-Redirect"] == url
    fresh = await Community.get(id=community.id)
    assert (fresh.name, fresh.callback_secret, fresh.sla_seconds, fresh.vk_group_id) == (
        "Переименовано", "NewSecret1", 450, community.vk_group_id)  # the group id never changes
    assert fresh.community_token_enc == community.community_token_enc  # empty field: kept
    assert decrypt_token(settings.secret_key, fresh.admin_token_enc) == "vk1.a.replacement-admin-token"
    [entry] = await journal("community.update")
    assert entry.operator_id == admin.id and entry.outcome == Outcome.DONE
    assert entry.params["changes"] == {
        "name": {"from": community.name, "to": "Переименовано"},
        "sla_seconds": {"from": 900, "to": 450},
        "callback_secret": "changed",
        "admin_token": "replaced",
    }
    text = await whole_journal()
    assert "NewSecret1" not in text and "replacement-admin-token" not in text

    status, _, _ = await post(admin_client, url, community_form(
        name="Снова", secret="NewSecret1", confirmation="c0nf1rm", sla_minutes="-3", community_token="", admin_token="",
    ), htmx=True)
    assert status == 422
    assert (await Community.get(id=community.id)).name == "Переименовано"
    assert len(await journal("community.update")) == 1

    status, _, _ = await post(admin_client, url, community_form(
        name="Переименовано", secret="NewSecret1", confirmation="c0nf1rm", sla_minutes="7.5",
        community_token="", admin_token="", remove_admin_token="1", admin_vk_user_id=str(community.admin_vk_user_id),
    ), htmx=True)
    assert status == 200 and (await Community.get(id=community.id)).admin_token_enc is None
    assert (await journal("community.update"))[-1].params["changes"] == {"admin_token": "removed"}


async def test_deactivating_a_community_stops_its_callback_and_activating_restores_it(
    admin_client, admin, community, aiohttp_client
) -> None:
    vk = await aiohttp_client(admin_client.server)  # VK: no session
    confirmation = {"type": "confirmation", "group_id": community.vk_group_id}
    callback = f"/callback/vk/{community.vk_group_id}"
    assert await (await vk.post(callback, json=confirmation)).text() == "c0nf1rm"

    status, page = await get(admin_client, f"/admin/communities/{community.id}")
    assert status == 200 and 'hx-target="#community" hx-swap="outerHTML" hx-confirm="Прекратить обслуживание этого сообщества?"' in page
    status, _, _ = await post(admin_client, f"/admin/communities/{community.id}/active", {"active": "0"})
    assert status == 303 and not (await Community.get(id=community.id)).is_active
    status, page = await get(admin_client, f"/admin/communities/{community.id}")
    assert "Сообщество не обслуживается" in page and '<input type="hidden" name="active" value="1">' in page
    assert (await vk.post(callback, json=confirmation)).status == 404
    status, _, _ = await post(admin_client, f"/admin/communities/{community.id}/active", {"active": "1"})
    assert status == 303 and (await Community.get(id=community.id)).is_active
    assert await (await vk.post(callback, json=confirmation)).text() == "c0nf1rm"
    actions = [(e.action, e.operator_id) for e in await JournalEntry.filter(action__startswith="community.").order_by("id")]
    assert actions[-2:] == [("community.deactivate", admin.id), ("community.activate", admin.id)]


async def test_test_connection_reports_success_from_vk(admin_client, admin, community, world) -> None:
    status, body, _ = await post(admin_client, f"/admin/communities/{community.id}/test", htmx=True)
    assert status == 200 and body.lstrip().startswith('<div id="connection-test"')
    assert body.count('class="check-ok"') == 2 and "check-failed" not in body
    assert world.group.name in body and str(world.group.admin_user_id) in body
    [entry] = await journal("community.test")
    assert entry.operator_id == admin.id and entry.outcome == Outcome.DONE
    # The tests' VK is the emulator, and the result says so first (proxy/emulation.py).
    assert entry.params["results"] == {"emulator": "warning", "community_token": "ok", "admin_token": "ok"}
    calls = {token: [c.method for c in records] for token, records in world.state.calls.items()}
    assert calls[world.group.community_token] == ["groups.getById"]
    assert calls[world.group.admin_token] == ["users.get", "groups.getBanned"]
    assert world.group.community_token not in body + await whole_journal()


async def test_test_connection_reports_vk_errors_in_words(admin_client, community, world, settings) -> None:
    world.state.faults.error("groups.getById", 5, message="User authorization failed: invalid access_token (4).")
    await Community.filter(id=community.id).update(
        mode=CommunityMode.LONGPOLL, admin_vk_user_id=world.group.admin_user_id + 1
    )
    status, body, _ = await post(admin_client, f"/admin/communities/{community.id}/test", htmx=True)
    assert status == 200
    assert "check-failed" in body and "VK не принимает этот ключ" in body
    assert "VK error 5: User authorization failed" in body  # VK's own words, for the record
    assert "check-warning" in body  # the admin token works, but belongs to another VK id than saved
    [entry] = await journal("community.test")
    assert entry.outcome == Outcome.FAILED and "VK error 5" in entry.outcome_detail
    assert entry.params["results"] == {
        "emulator": "warning", "community_token": "failed", "admin_token": "warning"
    }

    # A user who does not manage the community: VK refuses with error 15.
    stranger = world.state.add_user("Чужой", "Человек")
    stranger_token = "vk1.a.stranger-token-0000"
    world.state.tokens[stranger_token] = Token(stranger_token, "user", user_id=stranger.id)
    await Community.filter(id=community.id).update(
        mode=CommunityMode.CALLBACK, admin_vk_user_id=None,
        admin_token_enc=encrypt_token(settings.secret_key, stranger_token),
    )
    status, body, _ = await post(admin_client, f"/admin/communities/{community.id}/test", htmx=True)
    assert "не управляет этим сообществом" in body and "VK error 15" in body
    assert stranger_token not in body + await whole_journal()

    await Community.filter(id=community.id).update(admin_token_enc=None)
    status, body, _ = await post(admin_client, f"/admin/communities/{community.id}/test")
    assert status == 200 and body.startswith("<!doctype html>")
    assert "Ключ администратора не сохранён" in body


# --- operators ------------------------------------------------------------------------------------


async def test_creating_an_account_is_journaled_without_the_password(admin_client, admin, aiohttp_client) -> None:
    status, _, headers = await post(admin_client, "/admin/operators", {
        "login": "pavel", "display_name": "Павел", "role": "operator", "password": "pavel-password-1",
    })
    pavel = await Operator.get(login="pavel")
    assert status == 303 and headers["Location"] == f"/admin/operators/{pavel.id}"
    assert (pavel.display_name, pavel.role, pavel.is_active) == ("Павел", Role.OPERATOR, True)
    [entry] = await journal("account.create")
    assert entry.operator_id == admin.id and entry.params["login"] == "pavel"
    assert "pavel-password-1" not in await whole_journal()
    browser = await aiohttp_client(admin_client.server)
    login = await browser.post("/login", data={"login": "pavel", "password": "pavel-password-1"}, allow_redirects=False)
    assert login.status == 302


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"login": "a b", "password": "long-enough-1", "role": "operator"}, "логин"),
        ({"login": "pavel", "password": "short", "role": "operator"}, "не короче 8"),
        ({"login": "olga", "password": "long-enough-1", "role": "operator"}, "уже есть"),
        ({"login": "pavel", "password": "long-enough-1", "role": "root"}, "выберите роль"),
    ],
)
async def test_a_bad_account_form_is_refused_and_creates_nothing(admin_client, operator, fields, message) -> None:
    before = await Operator.all().count()
    status, body, _ = await post(admin_client, "/admin/operators", {"display_name": "X", **fields}, htmx=True)
    assert status == 422 and body.lstrip().startswith('<section id="operators"')
    assert message in body.lower(), body
    assert "long-enough-1" not in body
    assert await Operator.all().count() == before and await journal("account.create") == []


async def test_role_vk_id_and_community_access_are_changed_and_journaled(
    admin_client, admin, operator, manager, community
) -> None:
    url = f"/admin/operators/{operator.id}"
    other = await Community.create(vk_group_id=5005, name="Второе")
    status, _, _ = await post(admin_client, url, {"display_name": "Ольга П.", "role": "manager", "vk_user_id": "4242"})
    assert status == 303
    fresh = await Operator.get(id=operator.id)
    assert (fresh.display_name, fresh.role, fresh.vk_user_id) == ("Ольга П.", Role.MANAGER, 4242)
    [entry] = await journal("account.update")
    assert entry.operator_id == admin.id
    assert entry.params["changes"]["role"] == {"from": "operator", "to": "manager"}

    status, body, _ = await post(admin_client, f"/admin/operators/{manager.id}", {"display_name": "M", "role": "manager", "vk_user_id": "4242"}, htmx=True)
    assert status == 422 and "уже привязан" in body
    assert (await Operator.get(id=manager.id)).vk_user_id is None

    status, _, _ = await post(admin_client, f"{url}/communities", [("communities", str(other.id))])
    assert status == 303
    assert [c.id for c in await Community.filter(operators__id=operator.id)] == [other.id]
    access = (await journal("account.communities"))[-1]
    assert (access.params["added"], access.params["removed"]) == ([other.id], [community.id])
    status, body, _ = await post(admin_client, f"{url}/communities", [("communities", "999999")], htmx=True)
    assert status == 422
    assert [c.id for c in await Community.filter(operators__id=operator.id)] == [other.id]

    # The last active admin keeps the role and cannot be disabled (nor disable themselves).
    status, body, _ = await post(admin_client, f"/admin/operators/{admin.id}", {"display_name": "Ada", "role": "operator"}, htmx=True)
    assert status == 422 and "последний" in body.lower()
    status, body, _ = await post(admin_client, f"/admin/operators/{admin.id}/active", {"active": "0"}, htmx=True)
    assert status == 422 and (await Operator.get(id=admin.id)).is_active


async def test_a_disabled_operator_s_session_ends_at_once_and_enabling_does_not_revive_it(
    admin_client, admin, operator, client_for
) -> None:
    olga = await client_for(operator)
    assert (await get(olga, "/"))[0] == 200
    status, _, _ = await post(admin_client, f"/admin/operators/{operator.id}/active", {"active": "0"}, htmx=True)
    assert status == 200
    status, _ = await get(olga, "/")
    assert status == 302
    assert (await olga.get("/", headers=HX, allow_redirects=False)).status == 401
    [entry] = await journal("account.disable")
    assert entry.operator_id == admin.id and entry.params["account_id"] == operator.id
    login = await olga.post("/login", data={"login": operator.login, "password": PASSWORD}, allow_redirects=False)
    assert login.status == 401  # a disabled account cannot log in

    await post(admin_client, f"/admin/operators/{operator.id}/active", {"active": "1"})
    assert (await get(olga, "/"))[0] == 302  # the old session stays ended
    login = await olga.post("/login", data={"login": operator.login, "password": PASSWORD}, allow_redirects=False)
    assert login.status == 302
    assert [e.action for e in await JournalEntry.filter(action__in=["account.disable", "account.enable"])] == [
        "account.disable", "account.enable"]


async def test_resetting_a_password_ends_sessions_and_shows_a_generated_one_once(
    admin_client, admin, operator, client_for
) -> None:
    olga = await client_for(operator)
    status, body, headers = await post(admin_client, f"/admin/operators/{operator.id}/password", {"password": ""}, htmx=True)
    assert status == 200 and body.lstrip().startswith('<section id="operator"')
    new_password = _PASSWORD_IN_PAGE.search(body).group(1)
    assert headers["Cache-Control"] == "no-store"
    assert len(new_password) >= 16
    assert (await get(olga, "/"))[0] == 302
    login = await olga.post("/login", data={"login": operator.login, "password": new_password}, allow_redirects=False)
    assert login.status == 302
    _, page = await get(admin_client, f"/admin/operators/{operator.id}")
    assert new_password not in page
    [entry] = await journal("account.password_reset")
    assert entry.operator_id == admin.id and entry.params["generated"] is True
    assert new_password not in await whole_journal()

    status, body, _ = await post(admin_client, f"/admin/operators/{operator.id}/password", {"password": "short"}, htmx=True)
    assert status == 422 and "не короче 8" in body
    assert len(await journal("account.password_reset")) == 1

    # An admin resetting their own password keeps this session; the others end.
    status, body, _ = await post(admin_client, f"/admin/operators/{admin.id}/password", {"password": "ada-new-password"})
    assert status == 200 and "ada-new-password" not in body
    assert (await get(admin_client, "/admin"))[0] == 200


# --- API tokens -----------------------------------------------------------------------------------


async def test_an_api_token_is_shown_once_works_for_exports_and_stops_when_revoked(
    admin_client, admin, manager, aiohttp_client
) -> None:
    status, body, _ = await post(admin_client, "/admin/tokens", {"operator": str(manager.id), "name": "KPI sheet"}, htmx=True)
    assert status == 200 and body.lstrip().startswith('<section id="tokens"')
    token = _TOKEN_IN_PAGE.search(body).group(1)
    row = await ApiToken.get(operator_id=manager.id)
    assert row.name == "KPI sheet" and row.token_hash != token
    [entry] = await journal("token.create")
    assert entry.operator_id == admin.id and entry.params["account_id"] == manager.id
    assert token not in await whole_journal()

    reader = await aiohttp_client(admin_client.server)
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await reader.get("/stats/operators.csv", headers=bearer)).status == 200
    status, listing = await get(admin_client, f"/admin/tokens?operator={manager.id}")
    assert status == 200 and "KPI sheet" in listing and token not in listing
    assert "никогда" not in listing  # last used is shown once it was used

    status, _, headers = await post(admin_client, f"/admin/tokens/{row.id}/revoke?operator={manager.id}", htmx=True)
    assert status == 200 and headers["HX-Redirect"] == f"/admin/tokens?operator={manager.id}"
    assert (await ApiToken.get(id=row.id)).revoked_at is not None
    assert (await reader.get("/stats/operators.csv", headers=bearer)).status == 401
    [revoked] = await journal("token.revoke")
    assert revoked.operator_id == admin.id and revoked.params["token_id"] == row.id
    status, body, _ = await post(admin_client, f"/admin/tokens/{row.id}/revoke", htmx=True)
    assert status == 422 and "уже отозван" in body
    assert len(await journal("token.revoke")) == 1


async def test_a_bad_token_form_creates_nothing(admin_client, manager) -> None:
    for fields, message in [
        ({"operator": "", "name": "x"}, "чей это ключ"),
        ({"operator": "99999", "name": "x"}, "нет такой учётной записи"),
        ({"operator": str(manager.id), "name": "x" * 200}, "слишком длинное"),
    ]:
        status, body, _ = await post(admin_client, "/admin/tokens", fields, htmx=True)
        assert status == 422 and message in body.lower(), body
    assert await ApiToken.all().count() == 0 and await journal("token.create") == []


# --- canned responses -----------------------------------------------------------------------------


async def test_canned_responses_are_added_edited_and_deleted_with_a_journal(admin_client, admin, community) -> None:
    status, _, _ = await post(admin_client, "/admin/canned", {"title": "Приветствие", "text": "Здравствуйте!", "community": ""})
    assert status == 303
    status, _, _ = await post(admin_client, "/admin/canned", {"title": "Доставка", "text": "Курьер едет.", "community": str(community.id)})
    assert status == 303
    team, own = await CannedResponse.all().order_by("id")
    assert (team.community_id, own.community_id) == (None, community.id)
    _, listing = await get(admin_client, "/admin/canned")
    assert "Приветствие" in listing and "Доставка" in listing
    status, partial = await get(admin_client, "/admin/canned?community=team", headers=HX)
    assert partial.lstrip().startswith('<section id="canned"') and "Приветствие" in partial and "Доставка" not in partial

    status, _, _ = await post(admin_client, f"/admin/canned/{own.id}", {"title": "Доставка завтра", "text": "Курьер приедет завтра.", "community": ""})
    assert status == 303
    fresh = await CannedResponse.get(id=own.id)
    assert (fresh.title, fresh.text, fresh.community_id) == ("Доставка завтра", "Курьер приедет завтра.", None)
    status, _, _ = await post(admin_client, f"/admin/canned/{team.id}/delete")
    assert status == 303 and not await CannedResponse.exists(id=team.id)
    saves = await journal("canned.save")
    assert [(e.operator_id, e.params["created"]) for e in saves] == [(admin.id, True), (admin.id, True), (admin.id, False)]
    [deleted] = await journal("canned.delete")
    assert deleted.operator_id == admin.id and deleted.text == "Здравствуйте!"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "", "text": "x"}, "нужно название"),
        ({"title": "t", "text": "   "}, "пуст"),
        ({"title": "t", "text": "x" * 4097}, "слишком длинный"),
        ({"title": "t", "text": "x", "community": "424242"}, "нет такого сообщества"),
        ({"title": "t", "text": "x", "community": "abc"}, "выберите сообщество"),
    ],
)
async def test_a_bad_canned_form_is_refused_and_changes_nothing(admin_client, community, fields, message) -> None:
    existing = await CannedResponse.create(title="Старое", text="Старый текст")
    for url in ("/admin/canned", f"/admin/canned/{existing.id}"):
        status, body, _ = await post(admin_client, url, {"community": "", **fields}, htmx=True)
        assert status == 422 and message in body.lower(), body
    assert [(c.title, c.text) for c in await CannedResponse.all()] == [("Старое", "Старый текст")]
    assert await journal("canned.save") == []
