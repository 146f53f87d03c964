"""An operator with no community is told so, and so is the admin creating one; the top bar names you once.

Before, a new operator reached no community and nothing said so: their inbox said "no conversations
match these filters", the admin's creation message said they could log in now. And the top bar read
«Administrator · Администратор»: the first admin's name and its role, the same word in two languages.
"""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from proxy.models import Operator, Role
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token

NO_COMMUNITIES_RU = "У вас пока нет сообществ; попросите администратора дать вам доступ."
NO_COMMUNITIES_EN = "You have no communities yet; ask an administrator to give you access."
ENGLISH = {"Accept-Language": "en"}


def who(page: str) -> str:
    """The top bar's name and role, as text."""
    found = re.search(r'<li class="who"[^>]*>(.*?)</li>', page, re.S)
    assert found, "no name in the top bar"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


async def test_an_operator_without_communities_is_told_so(client_for, outsider, operator) -> None:
    client = await client_for(outsider)
    page = await (await client.get("/")).text()
    assert NO_COMMUNITIES_RU in page
    assert "Нет обращений по этим фильтрам." not in page and "data-live-url" not in page
    assert 'id="conversation-list"' in page
    assert NO_COMMUNITIES_EN in await (await client.get("/", headers=ENGLISH)).text()
    # An operator who has a community, with nothing waiting, gets the usual empty list.
    page = await (await (await client_for(operator)).get("/")).text()
    assert NO_COMMUNITIES_RU not in page and 'data-live-url="/live"' in page


async def test_a_manager_sees_no_such_notice(client_for, manager) -> None:
    page = await (await (await client_for(manager)).get("/")).text()
    assert NO_COMMUNITIES_RU not in page


async def _admin(client_for) -> TestClient:
    admin = await Operator.create(login="ada", display_name="Ada", password_hash="x", role=Role.ADMIN)
    return await client_for(admin)


async def test_creating_an_operator_warns_that_they_have_no_community(client_for, community) -> None:
    client = await _admin(client_for)
    form = {
        "csrf_token": await csrf_token(client), "login": "pavel", "display_name": "Павел",
        "role": "operator", "password": "a new horse, stapled",
    }  # fmt: skip
    response = await client.post("/admin/operators", data=form)
    assert response.status == 200
    page = await response.text()
    assert "У этой учётной записи пока нет сообществ" in page  # the flash on the operator's page
    assert "Сообществ пока нет: этот оператор не видит ни одного диалога." in page  # beside the boxes

    # A manager reaches every community: no warning.
    form.update(login="mila", role="manager")
    page = await (await client.post("/admin/operators", data=form)).text()
    assert "пока нет сообществ" not in page


async def test_the_operators_list_marks_those_without_communities(client_for, operator, outsider) -> None:
    client = await _admin(client_for)
    page = await (await client.get("/admin/operators")).text()
    rows = {
        login: row
        for row in re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", page, re.S)
        for login in re.findall(r'/admin/operators/\d+">([^<]+)</a>', row)
    }
    assert "нет сообществ" in rows["oleg"] and "badge warn" in rows["oleg"]
    assert "нет сообществ" not in rows["olga"]


async def test_the_top_bar_names_you_once_and_the_role_only_when_it_says_more(
    client_for, operator, manager
) -> None:
    first_admin = await Operator.create(
        login="admin", display_name="Administrator", password_hash="x", role=Role.ADMIN
    )
    client = await client_for(first_admin)
    page = await (await client.get("/")).text()
    assert who(page) == "Administrator"
    assert '<li class="who"><a href="/account" title="Ваша учётная запись (admin)">' in page
    assert who(await (await client.get("/", headers=ENGLISH)).text()) == "Administrator"

    assert who(await (await (await client_for(manager)).get("/")).text()) == "Maria · Менеджер"
    assert (
        who(await (await (await client_for(manager)).get("/", headers=ENGLISH)).text()) == "Maria · Manager"
    )
    # Every operator is an operator: the word adds nothing.
    assert who(await (await (await client_for(operator)).get("/")).text()) == "Olga"
