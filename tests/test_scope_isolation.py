"""An operator of one community sees nothing of another, on every GET route and on the live stream.

Two communities carry data of every kind (conversations, items, journal entries, reaction samples,
closings, bans, deleted items); community 2's rows carry marker texts and names only it has. The operator
of community 1 walks every GET route of the app's own route table (tests/test_property_routes.py
enumerates them), with path placeholders filled with ids of both communities' rows and the query asking
for community 2, as a page and as an htmx partial; no answer may hold a marker of community 2, and no
figure of incoming volume may count community 2's items. On /live an event of community 2 must not arrive.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import pytest

from proxy.appkeys import LIVE
from proxy.audit import journal
from proxy.clock import utcnow
from proxy.live import LiveMessage
from proxy.models import (
    ActorKind,
    Author,
    Ban,
    Channel,
    ClosingKind,
    Community,
    Conversation,
    ConversationClose,
    ConversationStatus,
    DeletedVia,
    Direction,
    Item,
    ItemTombstone,
    Operator,
    ReactionSample,
    Role,
)
from tests.browser_fixtures import *  # noqa: F403
from tests.test_property_routes import walked_routes

HIDDEN_COMMUNITY = "Zeta Hidden Group"
HIDDEN_AUTHOR = "Quentin Hiddenauthor"
HIDDEN_TEXT = "ZETA-SECRET-TEXT"
HIDDEN_DELETED = "ZETA-DELETED-TEXT"
HIDDEN_JOURNAL = "ZETA-JOURNAL-TEXT"
HIDDEN_BAN = "ZETA-BAN-COMMENT"
HIDDEN_INCOMING = 5  # community 2's incoming items, so a leaked volume shows in any sum


async def build_hidden_community(manager) -> dict[str, Any]:
    """Community 2 with rows of every kind, none the operator of community 1 may see."""
    now = utcnow()
    hidden = await Community.create(vk_group_id=77_000_001, name=HIDDEN_COMMUNITY, sla_seconds=600)
    author = await Author.create(vk_id=77_000_002, name=HIDDEN_AUTHOR)
    conversation = await Conversation.create(
        community=hidden,
        channel=Channel.MESSAGE,
        key="message:77000002",
        author=author,
        opened_at=now,
        status=ConversationStatus.OPEN,
        waiting_since=now,
        last_item_at=now,
        preview=HIDDEN_TEXT,
    )
    items = [
        await Item.create(
            community=hidden,
            conversation=conversation,
            channel=Channel.MESSAGE,
            key=f"message:77000002:{n}",
            vk_id=77_000_100 + n,
            direction=Direction.IN,
            author=author,
            from_vk_id=author.vk_id,
            text=f"{HIDDEN_TEXT} {n}",
            created_at=now,
        )
        for n in range(HIDDEN_INCOMING)
    ]
    reply = await Item.create(
        community=hidden,
        conversation=conversation,
        channel=Channel.MESSAGE,
        key="message:77000002:out",
        vk_id=77_000_200,
        direction=Direction.OUT,
        sent_by=manager,
        text=f"{HIDDEN_TEXT} reply",
        created_at=now,
    )
    await ReactionSample.create(
        community=hidden, conversation=conversation, channel=Channel.MESSAGE, operator=manager,
        ended_by="reply", is_first=True, started_at=now, ended_at=now, seconds=42.0,
    )  # fmt: skip
    await ConversationClose.create(
        community=hidden, conversation=conversation, operator=manager, kind=ClosingKind.WITH_REPLY,
        opened_at=now, closed_at=now, duration_seconds=60.0,
    )  # fmt: skip
    await ItemTombstone.create(
        item=items[0], deleted_at=now, deleted_via=DeletedVia.PROXY, deleted_by=manager, last_text=HIDDEN_DELETED
    )
    await Ban.create(community=hidden, author=author, banned_at=now, banned_by=manager, comment=HIDDEN_BAN)
    await journal.record(
        "note.add",
        actor_kind=ActorKind.OPERATOR,
        operator_id=manager.id,
        community_id=hidden.id,
        conversation_id=conversation.id,
        item_id=reply.id,
        text=HIDDEN_JOURNAL,
    )
    return {"community": hidden, "author": author, "conversation": conversation, "item": items[0], "reply": reply}


def markers(hidden: dict[str, Any]) -> list[str]:
    """Texts only community 2 has: its name, its author, its texts, links to its rows."""
    conversation, item = hidden["conversation"].id, hidden["item"].id
    return [
        HIDDEN_COMMUNITY, HIDDEN_AUTHOR, HIDDEN_TEXT, HIDDEN_DELETED, HIDDEN_JOURNAL, HIDDEN_BAN,
        f"/conversations/{conversation}\"", f"/conversations/{conversation}/", f"item-{item}\"",
        f"\"conversation_id\": {conversation}", f"conversation:{conversation}",
    ]  # fmt: skip


def incoming_total(content_type: str, body: str) -> int:
    """The incoming volume a JSON or CSV answer shows (0 when it shows none)."""
    if content_type == "application/json":
        data = json.loads(body)
        return sum(data.get("incoming") or []) if isinstance(data, dict) else 0
    if content_type == "text/csv":
        rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
        return sum(int(row["incoming"]) for row in rows if row.get("incoming"))
    return 0


def _filled(path: str, ids: dict[str, int]) -> str:
    out, rest = "", path
    while "{" in rest:
        head, _, tail = rest.partition("{")
        name, _, rest = tail.partition("}")
        out += head + str(ids.get(name.split(":")[0], ids["id"]))
    return out + rest


@pytest.fixture
async def two_communities(mirror, world, operator, manager) -> dict[str, Any]:
    conversation, item, _ = await mirror.message(world.members[0], "a question of community 1")
    hidden = await build_hidden_community(manager)
    return {"conversation": conversation, "item": item, "hidden": hidden}


async def test_an_operator_of_community_1_gets_nothing_of_community_2_on_any_get_route(
    client_for, operator, two_communities
) -> None:
    hidden = two_communities["hidden"]
    client = await client_for(operator)
    visible_incoming = await Item.filter(
        community_id=two_communities["conversation"].community_id, direction=Direction.IN
    ).count()
    path_ids = [
        {"id": hidden["conversation"].id, "item_id": hidden["item"].id, "part": "timeline"},
        {"id": two_communities["conversation"].id, "item_id": hidden["item"].id, "part": "author"},
        {"id": two_communities["conversation"].id, "item_id": two_communities["item"].id, "part": "timeline"},
    ]
    queries = [
        {},
        {"community": str(hidden["community"].id)},
        {"author": str(hidden["author"].id)},
        {"conversation": str(hidden["conversation"].id)},
        {"q": HIDDEN_TEXT.split("-")[1]},
        {"community": str(hidden["community"].id), "metric": "incoming"},
    ]
    routes = [path for method, path in walked_routes(client.server.app) if method == "GET" and path != "/live"]
    assert "/stats/series.json" in routes and "/conversations/{id}" in routes
    problems = []
    for path in routes:
        for ids in path_ids if "{" in path else path_ids[:1]:
            url = _filled(path, ids)
            for query in queries:
                for headers in ({}, {"HX-Request": "true"}):
                    response = await client.get(url, params=query, headers=headers, allow_redirects=False)
                    body = await response.text()
                    where = f"GET {url} {query} {'htmx ' if headers else ''}-> {response.status}"
                    assert response.status < 500, f"{where}: {body[:300]}"
                    found = [m for m in markers(hidden) if m in body]
                    if found:
                        problems.append(f"{where} shows {found}")
                    if response.status == 200 and incoming_total(response.content_type, body) > visible_incoming:
                        problems.append(f"{where} counts community 2's incoming items")
    assert not problems, f"{len(problems)} answers leak community 2:\n" + "\n".join(problems)


async def test_series_json_refuses_another_communitys_figures(client_for, operator, two_communities) -> None:
    client = await client_for(operator)
    hidden = two_communities["hidden"]["community"]
    response = await client.get("/stats/series.json", params={"community": str(hidden.id)})
    # The same answer as a community that does not exist (tests/test_not_yours.py).
    assert response.status == 404, await response.text()
    mine = two_communities["conversation"].community_id
    response = await client.get("/stats/series.json", params={"community": str(mine)})
    assert response.status == 200 and sum((await response.json())["incoming"]) == 1


async def test_the_live_stream_carries_no_event_of_community_2(client_for, operator, two_communities) -> None:
    client = await client_for(operator)
    hidden = two_communities["hidden"]
    hub = client.server.app[LIVE]
    response = await client.get("/live")
    assert response.status == 200
    assert await response.content.readline() == b": connected\n"
    await response.content.readline()
    hub.deliver_locally(
        LiveMessage("conversation_changed", {"community_id": hidden["community"].id,
                                             "conversation_id": hidden["conversation"].id,
                                             "preview": HIDDEN_TEXT})
    )  # fmt: skip
    visible = two_communities["conversation"]
    hub.deliver_locally(
        LiveMessage("conversation_changed", {"community_id": visible.community_id, "conversation_id": visible.id})
    )
    received = b""
    while f'"conversation_id": {visible.id}'.encode() not in received:
        received += await asyncio.wait_for(response.content.readline(), 10)
    response.close()
    assert HIDDEN_TEXT.encode() not in received
    assert f'"conversation_id": {hidden["conversation"].id}'.encode() not in received


async def test_the_menu_follows_the_scope(client_for, operator, manager) -> None:
    """base.html reads the scope (`access`): the manager pages for managers and admins, settings for admins."""
    admin = await Operator.create(login="ada", display_name="Ada", password_hash="x", role=Role.ADMIN)
    for who, manager_pages, settings in ((operator, False, False), (manager, True, False), (admin, True, True)):
        html = await (await (await client_for(who)).get("/")).text()
        assert ('href="/deleted"' in html, 'href="/search"' in html) == (manager_pages, manager_pages), who.login
        assert ('href="/admin"' in html) == settings, who.login
