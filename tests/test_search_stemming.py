"""Search matches word forms, with one stemmer, so the same query finds the same rows on both databases.

Before: SQLite matched substrings («гарантия» found nothing where «гарантии» was written) while
PostgreSQL stemmed with its own parser and stop words.
"""

from __future__ import annotations

from tortoise import connections

from proxy import db as proxy_db
from proxy.audit import journal
from proxy.audit.archive import ArchiveFilter, deleted_items
from proxy.audit.immutability import missing_guards
from proxy.audit.incidents import HitSource, search
from proxy.models import ActorKind, ItemVersion, JournalEntry
from proxy.search_terms import query_terms, search_terms, spans_of
from tests.audit_fixtures import at, fill_every_table, make_base
from tests.audit_pages_fixtures import *  # noqa: F403
from tests.audit_pages_fixtures import Story
from tests.browser_fixtures import *  # noqa: F403
from tests.test_ban_migration import _migrate, empty_url  # noqa: F401 (the fixture)
from tests.test_ingest_items import community as new_community
from tests.test_ingest_items import feed, message

BEFORE = "models.0011_journal_macs"


def test_terms_are_the_stems_of_every_word() -> None:
    assert query_terms("Гарантия") == query_terms("гарантии") == query_terms("ГАРАНТИЮ") == ("гарант",)
    assert query_terms("warranty") == query_terms("Warranties") == ("warranti",)
    assert query_terms("ёлка") == query_terms("елки")  # ё is е
    assert query_terms("!!! ...") == ()
    assert search_terms("Где гарантия? Где гарантии!", "wi-fi") == "fi wi гарант где"
    text = "Гарантии нет, гарант ушёл"
    assert [text[a:b] for a, b in spans_of(text, query_terms("гарантия"))] == ["Гарантии", "гарант"]


async def test_word_forms_are_found_in_content_and_journal(db: str) -> None:
    base = await make_base()
    await fill_every_table(base)  # "Хлеб черствый, верните деньги!!!" in versions and the journal
    await journal.record(
        "note.add",
        actor_kind=ActorKind.OPERATOR,
        operator_id=base.operator.id,
        conversation_id=base.conversation.id,
        text="Клиент спрашивает про гарантии на хлеба",
        at=at(4, 9),
    )
    # Every form finds the note; both words must be there.
    for query in ("гарантия", "гарантии", "Гарантию", "хлеб гарантия"):
        assert [(h.source, h.detail) for h in await search(query)] == [(HitSource.JOURNAL, "note.add")], query
    # «деньгами» finds «деньги» in the comment's versions (listed once) and in the journal.
    assert [(h.source, h.detail) for h in await search("деньгами")] == [
        (HitSource.JOURNAL, "vk.delete"),
        (HitSource.CONTENT, "3"),
    ]
    assert await search("гарантия пылесос") == []
    assert await search("!!!") == []  # no word: nothing matches rather than everything
    # The deleted-content archive matches the same way.
    rows = await deleted_items(ArchiveFilter(text="черствого хлеба"))
    assert [r.text for r in rows] == ["Хлеб черствый, верните деньги!!!"]


async def test_ingested_messages_carry_their_terms(db: str) -> None:
    """The new-message path writes its first version by hand-made SQL on PostgreSQL; an edit by the ORM."""
    c = await new_community()
    await feed(
        c, message("message_new", "e1", conversation_message_id=1, text="Где гарантии на товар?", date=1)
    )
    await feed(c, message("message_edit", "e2", conversation_message_id=1, text="Warranties, please", date=2))
    versions = await ItemVersion.all().order_by("number").values_list("search_terms", flat=True)
    assert versions == ["гарант где на товар", "pleas warranti"]
    assert [h.detail for h in await search("гарантия")] == ["1"]
    assert [h.detail for h in await search("warranty")] == ["2"]


async def test_migration_fills_the_terms_of_rows_stored_before(empty_url: str) -> None:  # noqa: F811
    await _migrate(empty_url, BEFORE)
    await proxy_db.open_database(empty_url)
    try:
        conn = connections.get("default")
        await conn.execute_query(
            "INSERT INTO journal_entry (created_at, actor_kind, action, text, params, outcome, prev_hash, hash)"
            " VALUES ('2025-03-04 10:00:00+00:00', 'operator', 'note.add', 'Просит гарантии', '{}', 'pending',"
            f" '{journal.GENESIS_HASH}', 'h1')"
        )
    finally:
        await proxy_db.close_database()

    await _migrate(empty_url)

    await proxy_db.open_database(empty_url)
    try:
        conn = connections.get("default")
        assert await missing_guards(conn) == []  # the guards the fill set aside are back
        assert await JournalEntry.all().values_list("search_terms", flat=True) == ["гарант прос"]
        assert [h.text for h in await search("гарантия")] == ["Просит гарантии"]
        for statement in ("UPDATE journal_entry SET search_terms = 'x'",):
            try:
                await conn.execute_query(statement)
            except Exception as exc:  # noqa: BLE001 (either database's refusal)
                assert "refused" in str(exc)
            else:
                raise AssertionError("the journal's terms changed after insert")
    finally:
        await proxy_db.close_database()


async def test_search_page_keeps_the_query_and_says_how_it_matches(client_for, story: Story) -> None:
    client = await client_for(story.manager)
    resp = await client.get("/search?q=хлебом")
    html = await resp.text()
    assert resp.status == 200, html
    form = html.split('id="search-form"')[1].split(">")[0]
    assert 'method="get" action="/search"' in form and 'value="хлебом"' in html
    assert "формы слова" in html  # how matching works, said on the page
    assert "<mark>Хлеб</mark> черствый" in html  # found on load, the word form marked
