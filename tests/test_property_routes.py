"""Properties of every route of the real app: whatever the parameters, never a 5xx, and a refusal writes nothing.

The routes are read from the application's own route table, so a route added later is covered without
touching this file. Each placeholder of a route's path gets a hostile value or the id of a real object;
each request carries a few parameters from PARAMETER_NAMES (every name a view reads, in the query and,
for a POST, in the form too), each with a hostile value: digits Python's int() or str.isdigit() accept
but PostgreSQL does not (², ٣, ３), ids past 32 and 64 bits, 0 and negatives, NUL bytes, very long text,
impossible and extreme dates, empty strings. Every request is sent as an operator, a manager and an
admin, on SQLite and PostgreSQL; POSTs carry the session's CSRF token so they reach the parameters.

After each request the rows of every table are counted: an answer of 400 or more changes nothing, except
the one journal entry a refusal of access (403, "access.denied") or a failed log in is documented by; a
GET that succeeds writes at most journal entries (an export journals "export.csv"). POSTs that succeed
are actions, and may write what they do.
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import ClientPayloadError
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from tortoise import Tortoise, connections

from proxy.accounts import create_api_token
from proxy.models import ApiToken, CannedResponse, Operator, OutboxRow, Role
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token

# Every parameter a view reads, in a query string or a form (web/params.py names them; a test below
# checks that this list holds each of them).
PARAMETER_NAMES = (
    "from", "to", "community", "operator", "author", "conversation", "after", "before", "q", "bucket",
    "sort", "metric", "dialect", "channel", "status", "assigned", "over_sla", "via", "state", "action",
    "actor", "outside", "next", "text", "reply_to_item_id", "assignee_id", "days", "reason", "comment",
    "back", "active", "communities", "role", "vk_user_id", "password", "display_name", "login", "name",
    "title", "vk_group_id", "mode", "secret", "confirmation", "sla_minutes", "bh_on", "bh_tz", "bh_days",
    "bh_start", "bh_end", "admin_vk_user_id", "community_token", "admin_token", "remove_community_token",
    "remove_admin_token", "current_password", "new_password", "repeat_password", "end_others", "locale",
    "close_reason", "network", "telegram_user_id", "bot_token",
)  # fmt: skip

HOSTILE_VALUES = (
    "", " ", "0", "-1", "1", "²", "٣", "３", "1e3", "0x1f", "+7", "1.5", "1_000",
    str(2**31 - 1), str(2**31), str(2**63 - 1), str(2**63), str(2**64), "9" * 40, "9" * 5000,
    "\x00", "a\x00b", "x" * 20_000, "\u202eevil", "<script>x</script>",
    "0001-01-01", "9999-12-31", "1969-12-31", "2024-02-30", "2024-1-1", "2024-03-04", "2100-01-02",
    "2024-03-04T00:00", "team", "outside", "me", "none", "all", "hour", "day", "excel", "reply.",
    "-replies", "1.2", "1.2.3", "99999999999999999999.1", "..", "%", "true", "vk", "telegram",
)  # fmt: skip
# Digits of other scripts: str.isdigit() takes them all, int() some of them, PostgreSQL none.
FOREIGN_DIGITS = "²³¹⁰₁٠١٢٣٤٥٦٧٨٩۰۱۲०१२০১২๑๒０１２３𝟘𝟙"


def hostile_value(rng: random.Random, real_ids: list[int]) -> str:
    """One value from the pool; now and then a real id, so parsing goes past the first parameter."""
    pick = rng.random()
    if pick < 0.6:
        return rng.choice(HOSTILE_VALUES)
    if pick < 0.75:
        return str(rng.choice(real_ids))
    if pick < 0.9:
        return "".join(rng.choice(FOREIGN_DIGITS + "0123456789-") for _ in range(rng.randint(1, 25)))
    return "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(1, 12)))  # controls included


# Not walked: the VK-facing callback (tests/test_property_callback.py proves its properties), static
# files, and log out, which would end the session every later request of the test shares.
SKIPPED = ("/callback/", "/static/", "/logout")

# Each example walks every route, so shrinking a failure would replay the walk hundreds of times: a
# failing walk is reported as it was (the assertion message lists each failed request whole).
PROPERTY_SETTINGS = settings(
    max_examples=10,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
    ],
)


def walked_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path with {placeholders}) of every route the test walks, in the table's order."""
    found = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if (
            route.method in ("GET", "POST")
            and not path.startswith(SKIPPED)
            and (route.method, path) not in found
        ):
            found.append((route.method, path))
    return found


async def row_counts() -> dict[str, int]:
    """Rows of every table, in one statement."""
    tables = sorted(model._meta.db_table for model in Tortoise.apps["models"].values())
    select = ", ".join(f'(SELECT COUNT(*) FROM "{t}") AS "{t}"' for t in tables)
    rows = await connections.get("default").execute_query_dict(f"SELECT {select}")
    return {t: int(rows[0][t]) for t in tables}


@pytest.fixture
async def site(client_for, operator, manager, mirror, world, community) -> dict[str, Any]:
    """Clients of one app logged in as each role, and the ids of real objects for path placeholders."""
    admin = await Operator.create(login="ada", display_name="Ada", password_hash="x", role=Role.ADMIN)
    spare = await Operator.create(login="sam", display_name="Sam", password_hash="x", role=Role.OPERATOR)
    conversation, item, _ = await mirror.message(world.members[0], "a question")
    await create_api_token(spare.login, "sheet")
    canned = await CannedResponse.create(title="hello", text="Hello!", community_id=community.id)
    clients = {}
    for role, who in (("operator", operator), ("manager", manager), ("admin", admin)):
        client = await client_for(who)
        clients[role] = (client, await csrf_token(client))
    outbox = await OutboxRow.first()
    token = await ApiToken.first()
    known = {
        "/conversations/{id}": conversation.id,
        "{item_id}": item.id,
        "/outbox/{id}": outbox.id if outbox else 1,
        "/admin/communities/{id}": community.id,
        "/admin/operators/{id}": spare.id,
        "/admin/tokens/{id}": token.id if token else 1,
        "/admin/canned/{id}": canned.id,
    }
    routes = walked_routes(clients["admin"][0].server.app)
    return {"clients": clients, "known": known, "routes": routes}


def _real_id(known: dict[str, int], path: str, name: str) -> str | None:
    for pattern, value in known.items():
        if (pattern.startswith("/") and path.startswith(pattern) and "{" + name + "}" in pattern) or (
            pattern == "{" + name + "}"
        ):
            return str(value)
    return None


def _fill(path: str, rng: random.Random, known: dict[str, int], real_ids: list[int]) -> str:
    """The path with each {placeholder} replaced by a real id (half the time) or a hostile value."""
    out, rest = "", path
    while "{" in rest:
        head, _, tail = rest.partition("{")
        name, _, rest = tail.partition("}")
        real = _real_id(known, path, name)
        if name == "part":
            real = rng.choice(["timeline", "header", "author", "reply", "note", "presence"])
        value = real if real is not None and rng.random() < 0.5 else hostile_value(rng, real_ids)
        out += head + quote(value, safe="")
    return out + rest


def _allowed_change(
    method: str, path: str, status: int, before: dict[str, int], after: dict[str, int]
) -> bool:
    changed = {t for t in before if before[t] != after[t]}
    if not changed:
        return True
    if status < 400:
        # A GET reads; an export journals itself. A successful POST is an action and writes.
        return method == "POST" or changed == {"journal_entry"}
    # A failed log in is journaled, and that is all it writes; a refusal of access is only counted
    # (proxy/refusals.py journals the count once its minute has ended).
    documented = path == "/login" and status in (401, 429)
    # A wrong current password on the account page is counted by the log in throttle (web/throttle.py).
    throttled = path == "/account/password" and status in (422, 429) and changed == {"login_throttle"}
    return (documented and changed == {"journal_entry"}) or throttled


def _short(values: dict[str, str] | None) -> dict[str, str] | None:
    return (
        None
        if values is None
        else {k: v if len(v) <= 30 else f"{v[:20]}...({len(v)})" for k, v in values.items()}
    )


async def check_route(
    client: TestClient, token: str, method: str, path: str, rng: random.Random, known: dict[str, int]
) -> str | None:
    """Send one request with hostile values; what went wrong with it, or None."""
    real_ids = sorted(set(known.values()))
    url = _fill(path, rng, known, real_ids)
    query = {n: hostile_value(rng, real_ids) for n in rng.sample(PARAMETER_NAMES, rng.randint(1, 8))}
    form = None
    if method == "POST":
        form = {n: hostile_value(rng, real_ids) for n in rng.sample(PARAMETER_NAMES, rng.randint(1, 8))}
    headers = {"X-CSRF-Token": token}
    if rng.random() < 0.5:
        headers["HX-Request"] = "true"
    before = await row_counts()
    response = await client.request(
        method, url, params=query, data=form, headers=headers, allow_redirects=False
    )
    status = response.status
    try:
        body = "" if response.content_type == "text/event-stream" else await response.text()
    except ClientPayloadError:  # a 200 whose stream was cut short
        status, body = 599, "the response stopped part way"
    response.release()
    after = await row_counts()
    where = f"{method} {url[:80]} query={_short(query)} form={_short(form)}"
    if status >= 500:
        return f"{where} -> {status}: {body[:200]}"
    if not _allowed_change(method, path, status, before, after):
        return f"{where} -> {status} wrote { ({t: after[t] - before[t] for t in before if after[t] != before[t]}) }"
    return None


@pytest.mark.parametrize("role", ["operator", "manager", "admin"])
@PROPERTY_SETTINGS
@given(seed=st.integers(min_value=0, max_value=2**64))
async def test_no_route_answers_5xx_or_writes_when_it_refuses(
    site: dict[str, Any], role: str, seed: int
) -> None:
    # A walk makes thousands of choices, more than one hypothesis example holds: hypothesis chooses the
    # seed of each walk, and the walk draws from the pools above with it.
    rng = random.Random(seed)
    client, token = site["clients"][role]
    problems = []
    for method, path in site["routes"]:
        problem = await check_route(client, token, method, path, rng, site["known"])
        if problem is not None:
            problems.append(problem)
    # Every route is walked before failing, so one failure lists all the routes that failed.
    assert not problems, f"{len(problems)} requests failed:\n" + "\n".join(problems)


def test_the_walk_covers_every_route_and_parameter(app) -> None:
    """Every route but the skipped ones is walked, and every parameter web/params.py declares is sent."""
    from web import params

    routes = walked_routes(app)
    assert ("GET", "/stats/conversations.csv") in routes and ("POST", "/items/{item_id}/delete") in routes
    assert set(params.DECLARED) <= set(PARAMETER_NAMES), set(params.DECLARED) - set(PARAMETER_NAMES)
