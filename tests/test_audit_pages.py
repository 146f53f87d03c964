"""The manager pages: /journal, /deleted (with restore), /search and /timeline, as pages and htmx partials.

Who may read what (managers everything; an operator their own journal and operator timeline, refusals
403 and journaled), bad parameters (400, nothing changed), restore (journaled and queued through the
outbox), and hostile text shown inert.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from proxy import actions, refusals
from proxy.audit import journal
from proxy.models import (
    ActorKind,
    Author,
    DeletedVia,
    ItemTombstone,
    JournalEntry,
    OutboxRow,
    OutboxStatus,
    Outcome,
)
from tests.actions_fixtures import drain
from tests.audit_pages_fixtures import *  # noqa: F403
from tests.audit_pages_fixtures import SPAM_TEXT, Story, delete_by_hand, first_version
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token

HX = {"HX-Request": "true"}
HOSTILE = '<script>alert(1)</script> {{7*7}} <b hx-get="/admin" hx-trigger="load">жмых</b>'


def _entry_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-entry="(\d+)"', html)]


def _item_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-item="(\d+)"', html)]


async def _journal_count() -> int:
    return await JournalEntry.all().count()


# --- the journal ------------------------------------------------------------------------------------


def _shown_entries():
    """What the journal page lists: every entry but the outcomes' chained records (shown on their entries)."""
    return JournalEntry.exclude(action=journal.OUTCOME_ACTION)


async def test_manager_journal_with_filters_links_and_export(client_for, story: Story) -> None:
    client = await client_for(story.manager)
    resp = await client.get("/journal")
    html = await resp.text()
    assert resp.status == 200, html
    assert "<html" in html and 'id="journal-filters"' in html and 'href="/static/css/audit.css"' in html
    every = list(await _shown_entries().order_by("-id").values_list("id", flat=True))
    assert _entry_ids(html) == every  # newest first, the whole team (and the system)

    delete = await JournalEntry.get(action="comment.delete")
    assert f'href="/conversations/{delete.conversation_id}#item-{delete.item_id}"' in html
    assert f'href="/conversations/{delete.conversation_id}"' in html
    assert f'href="/timeline?operator={story.operator.id}"' in html
    assert f'href="/timeline?conversation={delete.conversation_id}"' in html

    # One operator: only their entries; the CSV button carries the same filters.
    resp = await client.get(f"/journal?operator={story.operator.id}", headers=HX)
    html = await resp.text()
    assert resp.status == 200 and "<html" not in html and html.lstrip().startswith('<section id="journal"')
    mine = list(
        await JournalEntry.filter(operator_id=story.operator.id).order_by("-id").values_list("id", flat=True)
    )
    assert mine and _entry_ids(html) == mine
    assert f'href="/audit/journal.csv?operator={story.operator.id}"' in html

    async def ids(query: str) -> list[int]:
        resp = await client.get(f"/journal?{query}", headers=HX)
        assert resp.status == 200, await resp.text()
        return _entry_ids(await resp.text())

    outside = await JournalEntry.get(action="vk.delete")
    assert await ids("actor=outside") == [outside.id]
    assert await ids("outside=1") == [outside.id]
    assert await ids("action=comment.") == [delete.id]
    assert await ids("action=note.add") == [(await JournalEntry.get(action="note.add")).id]
    assert set(await ids("actor=operator")) == set(
        await JournalEntry.filter(actor_kind=ActorKind.OPERATOR).values_list("id", flat=True)
    )
    assert await ids(f"community={story.community.id}&action=vk.") == [outside.id]
    # A community that does not exist answers like one that is not yours (tests/test_not_yours.py).
    missing = await client.get(f"/journal?community={story.community.id + 1000}", headers=HX)
    # htmx gets the error page's one line, in the reader's language (web/error_pages.py).
    assert missing.status == 404 and await missing.text() == "Не найдено"
    assert await ids("from=2000-01-01&to=2000-01-02") == []
    today = datetime.now(UTC).date()
    assert set(await ids(f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}")) == set(every)

    # The CSV the button links to holds the rows the page shows.
    csv = await client.get(f"/audit/journal.csv?operator={story.operator.id}")
    lines = (await csv.text()).strip().split("\r\n")[1:]
    assert [int(line.split(",")[0]) for line in lines] == mine


async def test_journal_keyset_paging(client_for, story: Story) -> None:
    for n in range(60):
        await journal.record(
            "note.add", actor_kind=ActorKind.OPERATOR, operator_id=story.manager.id, text=f"n{n}"
        )
    client = await client_for(story.manager)
    every = list(await _shown_entries().order_by("-id").values_list("id", flat=True))
    seen: list[int] = []
    url = "/journal"
    while url:
        resp = await client.get(url, headers=HX)
        html = await resp.text()
        assert resp.status == 200
        page = _entry_ids(html)
        assert 0 < len(page) <= 50
        seen += page
        found = re.search(r'href="(/journal\?before=\d+)"', html)
        url = found.group(1) if found else ""
    assert seen == every


async def test_operator_reads_only_their_own_journal(client_for, story: Story) -> None:
    client = await client_for(story.operator)
    resp = await client.get("/journal")
    html = await resp.text()
    assert resp.status == 200
    mine = list(
        await JournalEntry.filter(operator_id=story.operator.id).order_by("-id").values_list("id", flat=True)
    )
    assert _entry_ids(html) == mine
    assert "Мой журнал" in html and 'name="operator"' not in html  # no choice of operator
    delete = await JournalEntry.get(action="comment.delete")
    resp = await client.get(f"/journal?operator={story.operator.id}&action=comment.")
    assert resp.status == 200 and _entry_ids(await resp.text()) == [delete.id]
    # The export button of an operator's journal: their own rows only, the same as the page.
    assert 'href="/audit/journal.csv"' in html
    csv = await client.get("/audit/journal.csv")
    export = await JournalEntry.filter(action="export.csv").get()  # the export journals itself first
    assert [int(line.split(",")[0]) for line in (await csv.text()).strip().split("\r\n")[1:]] == [
        export.id,
        *mine,
    ]

    # Someone else's journal, or an id nobody has: the same refusal, journaled.
    answers = []
    for other in (story.manager.id, 999999):
        before = await _journal_count()
        resp = await client.get(f"/journal?operator={other}")
        answers.append((resp.status, await resp.text()))
        # Counted, then journaled with the others of its minute (proxy/refusals.py).
        assert await _journal_count() == before
        await refusals.flush()
        assert await _journal_count() == before + 1
        refusal = await JournalEntry.all().order_by("-id").first()
        assert (refusal.action, refusal.operator_id, refusal.params["targets"]) == (
            "access.denied", story.operator.id, [f"journal:operator={other}"],
        )  # fmt: skip
    assert answers[0][0] == answers[1][0] == 403
    assert "только свой журнал" in answers[0][1]
    strip = re.compile(r'name="csrf_token" value="[^"]*"|"X-CSRF-Token": "[^"]*"')
    assert strip.sub("", answers[0][1]) == strip.sub("", answers[1][1])


@pytest.mark.parametrize(
    "url",
    [
        "/deleted",
        "/deleted?q=хлеб",
        "/search?q=хлеб",
        "/timeline?author=1",
        "/timeline?conversation=1",
        "/timeline?operator=OTHER",
        "/timeline?operator=999999",
    ],
)
async def test_operator_refused_manager_pages(client_for, story: Story, url: str) -> None:
    client = await client_for(story.operator)
    url = url.replace("OTHER", str(story.manager.id))
    before = await _journal_count()
    resp = await client.get(url)
    assert resp.status == 403, url
    assert "<html" in await resp.text()
    assert await _journal_count() == before
    await refusals.flush()
    refusal = await JournalEntry.all().order_by("-id").first()
    assert await _journal_count() == before + 1
    assert (refusal.action, refusal.operator_id) == ("access.denied", story.operator.id)
    resp = await client.get(url, headers=HX)
    assert resp.status == 403 and "<" not in await resp.text()


async def test_operator_reads_their_own_timeline(client_for, story: Story) -> None:
    client = await client_for(story.operator)
    resp = await client.get(f"/timeline?operator={story.operator.id}")
    html = await resp.text()
    assert resp.status == 200, html
    assert "Купите пылесос недорого" in html  # the comment they deleted
    assert "Хлеб черствый" not in html


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/journal?from=2025-13-01", "from должен быть датой"),
        ("/journal?from=2025-03-05&to=2025-03-01", "не может быть позже"),
        ("/journal?operator=abc", "operator должен быть номером"),
        ("/journal?community=-1", "community должен быть номером"),
        ("/journal?actor=robot", "actor: допустимо одно из"),
        ("/journal?outside=maybe", "outside должен быть 1 или 0"),
        ("/journal?action=drop%20table", "action должен быть именем действия"),
        ("/journal?before=x1", "before должен быть номером"),
        ("/deleted?via=ghost", "via: допустимо одно из"),
        ("/deleted?state=gone", "state: допустимо одно из"),
        ("/deleted?channel=fax", "channel: допустимо одно из"),
        ("/deleted?after=yesterday", "after — не позиция страницы"),
        ("/deleted?q=" + "я" * 201, "длиннее 200"),
        ("/search?q=" + "я" * 201, "длиннее 200"),
        ("/search?q=хлеб&to=2025-02-30", "to должен быть датой"),
        ("/timeline", "ровно один"),
        ("/timeline?author=1&operator=1", "ровно один"),
        ("/timeline?author=x", "author должен быть номером"),
        ("/timeline?conversation=1&after=1.2", "after — не позиция страницы"),
        ("/timeline?conversation=1&after=999999999999999999.0.1", "after — не позиция страницы"),
        # Larger than PostgreSQL's columns, or digits that are not 0-9: refused, not a server error.
        ("/journal?operator=99999999999", "operator должен быть номером"),
        ("/journal?community=99999999999", "community должен быть номером"),
        ("/journal?operator=%C2%B2", "operator должен быть номером"),
        ("/deleted?author=99999999999999999999", "author должен быть номером"),
        ("/search?q=x&community=99999999999", "community должен быть номером"),
        ("/timeline?author=9999999999999999999", "author должен быть номером"),
    ],
)
async def test_bad_parameters_answer_400_and_change_nothing(
    client_for, story: Story, url: str, words: str
) -> None:
    client = await client_for(story.manager)
    before = await _journal_count()
    resp = await client.get(url)
    html = await resp.text()
    assert resp.status == 400, (url, html[:300])
    assert "<html" in html and words in html, (url, re.findall(r'class="error"[^>]*>([^<]*)<', html))
    resp = await client.get(url, headers=HX)
    assert resp.status == 400 and words in await resp.text()
    assert await _journal_count() == before
    if url.startswith("/journal?") and "before" not in url:  # its export takes the same parameters
        resp = await client.get(url.replace("/journal", "/audit/journal.csv"))
        assert resp.status == 400
        assert await _journal_count() == before


# --- deleted content --------------------------------------------------------------------------------


async def test_deleted_page_lists_filters_and_searches(client_for, story: Story) -> None:
    client = await client_for(story.manager)
    resp = await client.get("/deleted")
    html = await resp.text()
    assert resp.status == 200, html
    # Newest deletion first: the message (deleted by its author), the restored story, the proxy's deletion.
    s = story
    order = sorted([s.proxy_deleted, s.vk_story, s.message], key=lambda i: (i.deleted_at, i.id), reverse=True)
    assert _item_ids(html) == [i.id for i in order]
    assert "Купите пылесос недорого" in html and "Пароль от карты 1234" in html
    assert "Удалено оператором (<bdi>olga</bdi>)" in html  # who deleted, through the proxy
    assert "Удалено автором" in html
    assert (
        "Удалено администратором сообщества во ВКонтакте (<bdi>olga</bdi>)" not in html
    )  # olga has no VK id
    assert f"(Пользователь ВКонтакте {story.community.admin_vk_user_id})" in html
    # The story's history: both versions, the deletion in VK, the restoration by the manager.
    block = html.split(f'id="deleted-item-{s.vk_story.id}"')[1].split("</article>")[0]
    assert "2 версии" in block and "4 состояния" in block
    states = re.findall(r'<li class="state (\w+)">', block)
    assert states == ["created", "edited", "deleted", "restored"]
    assert ">Хлеб черствый</div>" in block and ">Хлеб черствый, верните деньги</div>" in block
    assert "Восстановлено" in block and "<bdi>maria</bdi>" in block
    assert 'action="/deleted/' not in block  # visible again: nothing to restore
    # A message cannot be restored in VK: said instead of a button.
    block = html.split(f'id="deleted-item-{s.message.id}"')[1].split("</article>")[0]
    assert "ВКонтакте не умеет восстанавливать удалённые сообщения" in block and "<form" not in block
    # A deleted comment has its restore form, with the CSRF token.
    block = html.split(f'id="deleted-item-{s.proxy_deleted.id}"')[1].split("</article>")[0]
    assert f'action="/deleted/{s.proxy_deleted.id}/restore"' in block and 'name="csrf_token"' in block
    # Links: the conversation at the item, the conversation's and the author's timelines.
    assert f'href="/conversations/{s.message.conversation_id}#item-{s.message.id}"' in html
    assert f'href="/timeline?conversation={s.message.conversation_id}"' in html
    assert f'href="/timeline?author={s.author.id}"' in html
    assert 'href="/audit/deleted.csv"' in html

    async def ids(query: str) -> list[int]:
        resp = await client.get(f"/deleted?{query}", headers=HX)
        assert resp.status == 200, await resp.text()
        text = await resp.text()
        assert text.lstrip().startswith('<section id="deleted"')
        return _item_ids(text)

    assert await ids("via=proxy") == [s.proxy_deleted.id]
    assert await ids("via=author") == [s.message.id]
    assert await ids("via=vk_admin&state=restored") == [s.vk_story.id]
    assert await ids("state=deleted") == [i.id for i in order if i.is_deleted]
    assert await ids("channel=message") == [s.message.id]
    assert await ids(f"author={s.author.id}") == [s.vk_story.id]
    assert await ids(f"community={s.community.id + 1}") == []
    assert await ids("from=2001-01-01&to=2001-01-31") == []
    # Words in any version of the text: an earlier version, a capitalised word, a word of a message.
    assert await ids("q=черствый") == [s.vk_story.id]
    assert await ids("q=ПЫЛЕСОС") == [s.proxy_deleted.id]
    assert await ids("q=пароль&via=author") == [s.message.id]
    assert await ids("q=молоко") == []
    resp = await client.get("/deleted?q=пылесос")
    html = await resp.text()
    assert "<mark>пылесос</mark>" in html
    assert 'href="/audit/deleted.csv?q=%D0%BF%D1%8B%D0%BB%D0%B5%D1%81%D0%BE%D1%81"' in html
    csv = await client.get("/audit/deleted.csv?q=%D0%BF%D1%8B%D0%BB%D0%B5%D1%81%D0%BE%D1%81")
    assert {line.split(",")[0] for line in (await csv.text()).strip().split("\r\n")[1:]} == {
        str(s.proxy_deleted.id)
    }


async def test_deleted_keyset_paging(client_for, story: Story, mirror, world) -> None:
    for n in range(30):
        _, item, _ = await mirror.comment(world.members[n % 3], world.post, f"спам {n}")
        await delete_by_hand(item, at=item.created_at + timedelta(seconds=n % 4), via=DeletedVia.AUTHOR)
    client = await client_for(story.manager)
    tombstones = await ItemTombstone.all()
    expected = [
        item_id for _, item_id in sorted(((t.deleted_at, t.item_id) for t in tombstones), reverse=True)
    ]
    seen: list[int] = []
    url = "/deleted"
    while url:
        resp = await client.get(url)
        html = await resp.text()
        assert resp.status == 200
        seen += _item_ids(html)
        found = re.search(r'href="(/deleted\?after=[\d.]+)"', html)
        url = found.group(1) if found else ""
    assert seen == expected and len(seen) == 33


async def test_restore_from_the_deleted_page_is_journaled_and_queued(client_for, story: Story) -> None:
    client = await client_for(story.manager)
    token = await csrf_token(client)
    item = story.proxy_deleted
    url = f"/deleted/{item.id}/restore"

    # Without the CSRF token: refused before anything happens.
    before = await _journal_count()
    resp = await client.post(url, data={"back": "via=proxy"})
    assert resp.status == 403
    assert (
        await _journal_count() == before
        and not await OutboxRow.filter(method__endswith="restoreComment").exists()
    )

    resp = await client.post(url, data={"csrf_token": token, "back": "via=proxy"}, headers=HX)
    html = await resp.text()
    assert resp.status == 200, html
    assert html.lstrip().startswith('<section id="deleted"')
    assert "Восстановление поставлено в очередь" in html
    assert "Восстановление: ждёт отправки" in html or "Восстановление: ожидает отправки" in html, html
    row = await OutboxRow.get(method__endswith="restoreComment")
    entry = await JournalEntry.get(action="comment.restore")
    assert (row.item_id, row.status, row.operator_id, row.journal_entry_id) == (
        item.id,
        OutboxStatus.PENDING,
        story.manager.id,
        entry.id,
    )
    assert (entry.operator_id, entry.item_id, entry.outcome, entry.text) == (
        story.manager.id, item.id, Outcome.PENDING, SPAM_TEXT,
    )  # fmt: skip
    # Queued once: the button is gone, and a second request is refused (422, the reason shown), nothing queued.
    assert f'action="/deleted/{item.id}/restore"' not in html
    resp = await client.post(url, data={"csrf_token": token}, headers=HX)
    assert resp.status == 422 and "Комментарий уже восстанавливается." in await resp.text()
    assert await OutboxRow.filter(method__endswith="restoreComment").count() == 1

    # Messages cannot be restored in VK; a visible comment is not deleted: refused, nothing queued.
    for other, words in ((story.message, "Сообщения нельзя"), (story.vk_story, "Комментарий не удалён.")):
        resp = await client.post(f"/deleted/{other.id}/restore", data={"csrf_token": token})
        assert resp.status == 422 and words in await resp.text()
    assert await OutboxRow.filter(method__endswith="restoreComment").count() == 1
    assert await JournalEntry.filter(action="comment.restore").count() == 1

    resp = await client.post("/deleted/999999/restore", data={"csrf_token": token})
    assert resp.status == 404


async def test_restore_without_javascript_redirects_back_to_the_filtered_list(
    client_for, story: Story
) -> None:
    client = await client_for(story.manager)
    token = await csrf_token(client)
    resp = await client.post(
        f"/deleted/{story.proxy_deleted.id}/restore",
        data={"csrf_token": token, "back": "via=proxy&q=пылесос&evil=https://example.org"},
        allow_redirects=False,
    )
    assert resp.status == 303
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/deleted" and not location.netloc
    assert parse_qs(location.query) == {"via": ["proxy"], "q": ["пылесос"]}
    assert location.fragment == f"deleted-item-{story.proxy_deleted.id}"
    page = await client.get(resp.headers["Location"])
    assert "Восстановление: " in await page.text()


async def test_operator_cannot_restore_from_the_deleted_page(client_for, story: Story) -> None:
    client = await client_for(story.operator)
    token = await csrf_token(client)
    before = await _journal_count()
    resp = await client.post(f"/deleted/{story.proxy_deleted.id}/restore", data={"csrf_token": token})
    assert resp.status == 403
    assert await _journal_count() == before
    await refusals.flush()
    assert await _journal_count() == before + 1
    refusal = await JournalEntry.all().order_by("-id").first()
    assert (refusal.action, refusal.params["action"]) == ("access.denied", "comment.restore")
    assert not await OutboxRow.filter(method__endswith="restoreComment").exists()


# --- search and timelines ---------------------------------------------------------------------------


async def test_search_finds_content_and_journal_grouped_by_conversation(client_for, story: Story) -> None:
    client = await client_for(story.manager)
    resp = await client.get("/search")
    assert resp.status == 200 and "Введите слово или фразу" in await resp.text()

    resp = await client.get("/search?q=пароль")
    html = await resp.text()
    assert resp.status == 200, html
    dialog = story.other_conversation
    groups = re.findall(r'id="hits-conversation-(\d+)"', html)
    assert groups == [str(dialog.id)]  # the message and the manager's note about it: one group
    block = html.split(f'id="hits-conversation-{dialog.id}"')[1].split("</article>")[0]
    assert "<mark>Пароль</mark> от карты 1234" in block and "Автор прислал <mark>пароль</mark>" in block
    assert f'href="/conversations/{dialog.id}#item-{story.message.id}"' in block
    assert f'href="/timeline?conversation={dialog.id}"' in block
    assert f'href="/timeline?operator={story.manager.id}"' in block
    assert "note.add" in block

    resp = await client.get("/search?q=хлеб", headers=HX)
    html = await resp.text()
    assert html.lstrip().startswith('<section id="results"')
    assert re.findall(r'id="hits-conversation-(\d+)"', html) == [str(story.vk_story.conversation_id)]
    # The content hit once (its newest matching version) and the journal's outside deletion.
    assert html.count('class="hit content"') == 1 and html.count('class="hit journal"') == 1

    resp = await client.get(f"/search?q=хлеб&community={story.community.id + 1}")
    assert "ничего не найдено" in await resp.text()
    resp = await client.get("/search?q=хлеб&from=2001-01-01&to=2001-01-02")
    assert "ничего не найдено" in await resp.text()


async def test_timelines_of_an_author_an_operator_and_a_conversation(client_for, story: Story) -> None:
    client = await client_for(story.manager)
    s = story

    resp = await client.get(f"/timeline?author={s.author.id}")
    html = await resp.text()
    assert resp.status == 200, html
    kinds = re.findall(r'<li class="event (\w+)', html)
    assert kinds == ["item", "edit", "delete", "journal", "restore"]
    assert "Хронология автора" in html and "Хлеб черствый" in html and "пылесос" not in html

    resp = await client.get(f"/timeline?operator={s.operator.id}")
    html = await resp.text()
    assert "Купите пылесос недорого" in html and "comment.delete" in html and "Хлеб" not in html

    resp = await client.get(f"/timeline?conversation={s.other_conversation.id}", headers=HX)
    html = await resp.text()
    assert html.lstrip().startswith('<section id="events"')
    assert re.findall(r'<li class="event (\w+)', html) == ["item", "delete", "journal"]
    assert "note.add" in html and "Пароль от карты" in html

    resp = await client.get(f"/timeline?conversation={s.other_conversation.id}&from=2001-01-01&to=2001-01-02")
    assert "За этот период ничего не происходило." in await resp.text()
    for url in (
        f"/timeline?author={s.author.id + 1000}",
        "/timeline?operator=999999",
        "/timeline?conversation=999999",
    ):
        assert (await client.get(url)).status == 404, url

    # Timelines are linked from the journal, the deleted rows and the search results.
    for page in ("/journal", "/deleted", "/search?q=хлеб"):
        assert "/timeline?" in await (await client.get(page)).text(), page


async def test_timeline_paging(client_for, story: Story) -> None:
    for n in range(210):
        await journal.record(
            "note.add", actor_kind=ActorKind.OPERATOR, operator_id=story.manager.id, text=f"n{n}"
        )
    client = await client_for(story.manager)
    texts: list[str] = []
    url = f"/timeline?operator={story.manager.id}"
    while url:
        html = await (await client.get(url)).text()
        # Each event's text as stored, in its technical details (the sentence quotes it shortened).
        texts += re.findall(r'<dd class="text">(n\d+)</dd>', html)
        found = re.search(r'href="(/timeline\?[^"]*after=[\d.]+)"', html)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert texts == [f"n{n}" for n in range(210)]


# --- hostile text -----------------------------------------------------------------------------------


async def test_hostile_text_is_shown_inert_on_every_page(
    vk_settings, client_for, story: Story, mirror, world
) -> None:
    _, item, _ = await mirror.comment(world.members[0], world.post, HOSTILE)
    await first_version(item)
    await actions.delete_comment(vk_settings, story.operator, item.id)
    await drain(vk_settings)
    client = await client_for(story.manager)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; {{7*7}} &lt;b hx-get=&#34;/admin&#34; hx-trigger=&#34;load&#34;&gt;жмых&lt;/b&gt;"
    author = await Author.get(vk_id=world.members[0].id)
    conversation_id = item.conversation_id
    for url in (
        "/journal",
        "/deleted",
        "/deleted?q=жмых",
        "/search?q=жмых",
        f"/timeline?author={author.id}",
        f"/timeline?conversation={conversation_id}",
        f"/timeline?operator={story.operator.id}",
    ):
        html = await (await client.get(url)).text()
        assert "<script>alert" not in html and 'hx-get="/admin"' not in html, url
        assert 'hx-trigger="load"' not in html, url
        assert escaped in html or escaped.replace("жмых", "<mark>жмых</mark>") in html, url
    # A hostile search text is echoed escaped, in the box and in the summary.
    html = await (await client.get("/search", params={"q": '"><script>x</script>{{7*7}}'})).text()
    assert "<script>x" not in html and "&#34;&gt;&lt;script&gt;x&lt;/script&gt;{{7*7}}" in html
