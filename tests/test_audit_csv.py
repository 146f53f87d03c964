"""/audit/journal.csv and /audit/deleted.csv: literal CSV text, filters, roles, API tokens, journaling."""

from __future__ import annotations

import csv
import io

import pytest

from proxy import accounts, refusals
from proxy.audit import journal
from proxy.models import ActorKind, JournalEntry, Operator
from tests.audit_fixtures import AUTHOR_VK_ID, at, make_base, make_deleted_comment_story

JOURNAL_HEADER = (
    "id,time,actor,operator,vk_user_id,action,community,conversation_id,item_id,text,params,outcome,"
    "outcome_detail,outcome_time,hash,network\r\n"
)
DELETED_HEADER = (
    "item_id,community,channel,conversation_id,item_key,author_vk_id,author,state,time,version,via,"
    "vk_user_id,operator,text,network\r\n"
)


async def _log_in(client, login: str) -> None:
    await Operator.filter(login=login).update(password_hash=accounts.hash_password("correct horse"))
    resp = await client.post(
        "/login", data={"login": login, "password": "correct horse"}, allow_redirects=False
    )
    assert resp.status == 302


async def _story(client, login: str = "max"):
    base = await make_base()
    item = await make_deleted_comment_story(base)
    await _log_in(client, login)
    return base, item


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_story_in_deleted_csv(client) -> None:
    """Created, edited twice, deleted by a community admin in VK, restored: every state, in order."""
    base, item = await _story(client)
    resp = await client.get("/audit/deleted.csv")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="deleted.csv"'
    prefix = (
        f"{item.id},Пекарня,wall,{base.conversation.id},wall:-218000001_10:100,{AUTHOR_VK_ID},Иван Петров"
    )
    assert await resp.text() == (
        DELETED_HEADER
        + f"{prefix},created,2025-03-02T12:00:00+03:00,1,,{AUTHOR_VK_ID},,Хлеб черствый,vk\r\n"
        + f'{prefix},edited,2025-03-02T12:10:00+03:00,2,,{AUTHOR_VK_ID},,"Хлеб черствый, верните деньги",vk\r\n'
        + f'{prefix},edited,2025-03-02T12:20:00+03:00,3,,{AUTHOR_VK_ID},,"Хлеб черствый, верните деньги!!!",vk\r\n'
        + f'{prefix},deleted,2025-03-02T13:00:00+03:00,,vk_admin,501,olga,"Хлеб черствый, верните деньги!!!",vk\r\n'
        + f'{prefix},restored,2025-03-02T14:00:00+03:00,,proxy,,max,"Хлеб черствый, верните деньги!!!",vk\r\n'
    )
    entry = await JournalEntry.filter(action="export.csv").get()
    assert (entry.operator_id, entry.params) == (base.manager.id, {"path": "/audit/deleted.csv", "query": {}})


async def test_deleted_csv_filters(client) -> None:
    await _story(client)
    for query in ("via=author", "state=deleted", "from=2025-03-03", "q=молоко", "channel=message"):
        resp = await client.get(f"/audit/deleted.csv?{query}")
        assert (resp.status, await resp.text()) == (200, DELETED_HEADER), query
    for query in ("via=vk_admin", "state=restored", "from=2025-03-02&to=2025-03-02", "q=ВЕРНИТЕ"):
        resp = await client.get(f"/audit/deleted.csv?{query}")
        assert len(_rows(await resp.text())) == 6, query


async def test_journal_csv_for_a_manager(client) -> None:
    base, item = await _story(client)
    resp = await client.get(f"/audit/journal.csv?operator={base.operator.id}")
    assert resp.status == 200
    assert resp.headers["Content-Disposition"] == 'attachment; filename="journal.csv"'
    entry = await JournalEntry.get(action="vk.delete")
    assert await resp.text() == (
        JOURNAL_HEADER
        + f"{entry.id},2025-03-02T13:00:00+03:00,outside,olga,501,vk.delete,Пекарня,{base.conversation.id},"
        f'{item.id},"Хлеб черствый, верните деньги!!!",,,,,{entry.hash},vk\r\n'
    )
    export = await JournalEntry.filter(action="export.csv").get()
    assert export.params == {"path": "/audit/journal.csv", "query": {"operator": str(base.operator.id)}}


async def test_journal_csv_filters(client) -> None:
    base, _ = await _story(client)
    await journal.record(
        "reply.send",
        actor_kind=ActorKind.OPERATOR,
        operator_id=base.operator.id,
        community_id=base.community.id,
        text='=HYPERLINK("http://evil")',
        params={"b": 2, "a": "один"},
        at=at(3, 21, 30),  # 00:30 on the 4th in Moscow
    )

    async def actions(query: str) -> list[str]:
        resp = await client.get(f"/audit/journal.csv?{query}")
        assert resp.status == 200, await resp.text()
        return [row[5] for row in _rows(await resp.text())[1:]]

    assert await actions("from=2025-03-02&to=2025-03-03") == ["comment.restore", "vk.delete"]
    assert await actions("from=2025-03-04&to=2025-03-04") == ["reply.send"]
    assert await actions("outside=1") == ["vk.delete"]
    assert await actions("action=comment.") == ["comment.restore"]
    assert await actions(f"community={base.community.id}&action=reply.send") == ["reply.send"]
    resp = await client.get("/audit/journal.csv?action=reply.send")
    (row,) = _rows(await resp.text())[1:]
    # Text a spreadsheet would run as a formula is neutralised; params are canonical JSON.
    assert (row[1], row[9], row[10]) == (
        "2025-03-04T00:30:00+03:00",
        '\'=HYPERLINK("http://evil")',
        '{"a": "один", "b": 2}',
    )


async def test_operator_exports_only_their_own_journal(client) -> None:
    base, _ = await _story(client, login="olga")
    resp = await client.get("/audit/journal.csv")
    assert resp.status == 200
    rows = _rows(await resp.text())[1:]
    # The export is journaled before it is sent, so it lists itself.
    assert [(r[3], r[5]) for r in rows] == [
        ("olga", "export.csv"),
        ("olga", "auth.login"),
        ("olga", "vk.delete"),
    ]
    assert (await client.get(f"/audit/journal.csv?operator={base.operator.id}")).status == 200

    resp = await client.get(f"/audit/journal.csv?operator={base.manager.id}")
    assert resp.status == 403
    await refusals.flush()
    denied = await JournalEntry.filter(action="access.denied").get()
    assert denied.operator_id == base.operator.id
    assert denied.params["targets"] == [f"journal:operator={base.manager.id}"]
    assert (await client.get("/audit/deleted.csv")).status == 403
    await refusals.flush()
    # Two exports went out; the refused ones are journaled as refusals, not as exports.
    assert await JournalEntry.filter(action="export.csv").count() == 2
    assert await JournalEntry.filter(action="access.denied").count() == 2


async def test_api_token_exports(client) -> None:
    base = await make_base()
    await make_deleted_comment_story(base)
    token = await accounts.create_api_token("max", "kpi sheet")
    resp = await client.get("/audit/deleted.csv?state=restored", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200 and len(_rows(await resp.text())) == 6
    entry = await JournalEntry.filter(action="export.csv").get()
    assert (entry.actor_kind, entry.operator_id) == (ActorKind.API, base.manager.id)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/audit/journal.csv?from=2025-3-1", "from must be a date like 2025-03-01, got '2025-3-1'"),
        (
            "/audit/journal.csv?from=2025-03-05&to=2025-03-01",
            "from (2025-03-05) must not be after to (2025-03-01)",
        ),
        ("/audit/journal.csv?operator=anna", "operator must be an id (a whole number), got 'anna'"),
        ("/audit/journal.csv?outside=maybe", "outside must be 1 or 0, got 'maybe'"),
        (
            "/audit/journal.csv?action=drop%20table",
            "action must be an action name like reply.send, got 'drop table'",
        ),
        (
            "/audit/deleted.csv?via=moderator",
            "via must be one of: author, vk_admin, proxy, unknown, got 'moderator'",
        ),
        ("/audit/deleted.csv?q=" + "x" * 201, "The search text is longer than 200 characters."),
    ],
)
async def test_bad_parameters_are_400(client, path: str, reason: str) -> None:
    await make_base()
    await _log_in(client, "max")
    resp = await client.get(path)
    assert (resp.status, await resp.text()) == (400, reason)
    assert not await JournalEntry.filter(action="export.csv").exists()


async def test_exports_need_a_login(client) -> None:
    # A browser is sent to the log in form; a script (no HTML asked for) is told how to authenticate.
    resp = await client.get("/audit/journal.csv", headers={"Accept": "text/html"}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login")
    resp = await client.get("/audit/journal.csv", allow_redirects=False)
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"
