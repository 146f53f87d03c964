"""What moderation rules did reads for people: the journal's sentences, the conversation page's marks, the
archive's deleter and the timelines (web/rule_words.py, web/journal_sentences.py, proxy/inbox.py,
proxy/audit/archive.py).

The rules' doings are written here the way the engine writes them (journal entries with the actor "rule",
hits, a tombstone and a ban naming the rule), without the engine: only how they read is under test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from markupsafe import Markup
from tortoise import connections

from proxy import inbox
from proxy.audit import journal
from proxy.audit.archive import ArchiveFilter, deleted_items, item_histories
from proxy.clock import utcnow
from proxy.models import (
    ActorKind,
    Ban,
    Conversation,
    DeletedVia,
    Direction,
    Item,
    ItemTombstone,
    ModerationRule,
    Operator,
    Outcome,
    Role,
    RuleHit,
    RuleMode,
)
from proxy.rules import worker
from proxy.rules.store import create_rule, update_rule
from proxy.rules.worker import CompiledRules, evaluate_due
from proxy.runtime.app import create_app
from tests.actions_fixtures import Feed, drain
from tests.audit_pages_fixtures import *  # noqa: F403
from tests.audit_pages_fixtures import Story, first_version
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import horizontal_overflow, log_in_page, shoot_in_every_view
from web.i18n import rendering_in
from web.journal_sentences import Names, sentence

HX = {"HX-Request": "true"}
SPAM = "Заходите на casino.example — бонусы каждому!"
RUDE = "Вы все тут дураки"
CANNED = "Ссылки на сторонние сайты здесь удаляются."


@dataclass
class Ruled:
    story: Story
    admin: Operator
    links: ModerationRule  # on, version 2: deleted SPAM and banned its author for 7 days
    rude: ModerationRule  # dry run, version 1: would have deleted RUDE (a reply to SPAM) and flagged it
    spam_item: Item
    rude_item: Item
    spam_conversation: Conversation
    spam_comment: Any  # the emulator's comment, to reply under it


def _rule(rule: ModerationRule) -> dict[str, Any]:
    return {"id": rule.id, "name": rule.name, "version": rule.version}


async def make_ruled(story: Story, world: Any, mirror: Any) -> Ruled:
    community = story.community
    admin = await Operator.create(login="sofia", display_name="Софья Орлова", password_hash="x", role=Role.ADMIN)
    links = await create_rule(
        None, name="Спам-ссылки", community_id=community.id, mode="dry_run",
        conditions={"domains_deny": ["casino.example"]}, actions=[{"do": "delete"}, {"do": "ban", "days": 7}],
    )  # fmt: skip
    links = await update_rule(admin, links.id, mode="on")
    rude = await create_rule(
        None, name="Грубость", community_id=community.id, mode="dry_run",
        conditions={"words": ["дурак"]}, actions=[{"do": "delete"}, {"do": "flag"}],
    )  # fmt: skip
    conversation, spam, comment = await mirror.comment(world.members[2], world.post, SPAM)
    await first_version(spam)
    _, rude_item, _ = await mirror.comment(world.members[0], world.post, RUDE, reply_to=comment)
    await first_version(rude_item)
    now = utcnow()

    async def hit(rule: ModerationRule, item: Item, mode: RuleMode, matched: str) -> None:
        entry = await journal.record(
            "rule.hit", actor_kind=ActorKind.RULE, community_id=community.id,
            conversation_id=item.conversation_id, item_id=item.id, text=item.text,  # type: ignore[attr-defined]
            params={"rule": _rule(rule), "matched": matched, "mode": mode.value, "actions": rule.actions},
            outcome=Outcome.DONE,
        )  # fmt: skip
        await RuleHit.create(
            rule=rule, rule_version=rule.version, mode=mode, community=community, item=item,
            conversation_id=item.conversation_id, matched=matched, actions=rule.actions,  # type: ignore[attr-defined]
            journal_entry=entry, item_recorded_at=item.recorded_at, created_at=now,
        )  # fmt: skip

    await hit(links, spam, RuleMode.ON, "casino.example")
    await hit(rude, rude_item, RuleMode.DRY_RUN, "дураки")
    said = {"rule": _rule(links), "matched": "casino.example"}
    await journal.record(
        "comment.delete", actor_kind=ActorKind.RULE, community_id=community.id, conversation_id=conversation.id,
        item_id=spam.id, text=SPAM, outcome=Outcome.DONE,
        params={**said, "method": "wall.deleteComment", "owner_id": -world.group.id, "comment_id": comment.id},
    )  # fmt: skip
    until = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
    await journal.record(
        "author.ban", actor_kind=ActorKind.RULE, community_id=community.id, conversation_id=conversation.id,
        item_id=spam.id, outcome=Outcome.DONE,
        params={**said, "method": "groups.ban", "owner_id": world.members[2].id, "end_date": int(until.timestamp()), "reason": 1},
    )  # fmt: skip
    await Item.filter(id=spam.id).update(is_deleted=True, deleted_at=now)
    await ItemTombstone.create(
        item_id=spam.id, deleted_at=now, deleted_via=DeletedVia.PROXY, deleted_by_rule_id=links.id, last_text=SPAM
    )
    await Ban.create(
        community=community, author_id=spam.author_id, banned_at=now, until=until, reason=1,  # type: ignore[attr-defined]
        banned_by_rule_id=links.id,
    )  # fmt: skip
    # The rule's canned reply under the spam, as VK's echo of it is stored.
    await first_version(
        await Item.create(
            community=community, conversation=conversation, channel=spam.channel, key=f"{spam.key}:reply",
            vk_id=comment.id + 1000, direction=Direction.OUT, from_vk_id=-world.group.id, text=CANNED,
            created_at=spam.created_at + timedelta(seconds=5), sent_by_rule_id=links.id, reply_to_key=spam.key,
        )  # fmt: skip
    )
    return Ruled(story, admin, links, rude, await Item.get(id=spam.id), rude_item, conversation, comment)


@pytest.fixture
async def ruled(story: Story, world, mirror) -> Ruled:
    return await make_ruled(story, world, mirror)


def _visible(html: str) -> str:
    """The page without its technical details and without markup: what a reader sees without a click."""
    html = re.sub(r'<details class="technical">.*?</details>', "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


async def _page(client_for: Any, reader: Operator, path: str, locale: str) -> str:
    reader.locale = locale
    await reader.save(update_fields=["locale"])
    client = await client_for(reader)
    response = await client.get(path)
    assert response.status == 200, path
    return await response.text()


# --- the journal ------------------------------------------------------------------------------------


async def test_a_rules_doings_read_as_sentences_in_russian(client_for, ruled: Ruled) -> None:
    html = await _page(client_for, ruled.story.manager, "/journal", "ru")
    seen = _visible(html)
    n, r = ruled.links.id, ruled.rude.id
    assert f"Правило «Спам-ссылки» (№{n}, версия 2) удалило комментарий автора" in seen
    assert f"«{SPAM}» — совпало: «casino.example»" in seen
    assert f"Правило «Спам-ссылки» (№{n}, версия 2) забанило автора" in seen and "(причина: спам)" in seen
    assert f"Правило «Спам-ссылки» (№{n}, версия 2) сработало: совпало «casino.example» в сообщении автора" in seen
    assert "действия: удалено, автор забанен на 7 дней" in seen
    assert (
        f"Правило «Грубость» (№{r}, версия 1) в пробном режиме удалило бы комментарий, пометило бы для проверки:"
        f" совпало «дураки» в сообщении автора" in seen
    )
    # Rule changes: by the proxy (the first version), by an admin (the second).
    assert f"Прокси создал правило «Спам-ссылки» (№{n}): версия 1, в пробном режиме" in seen
    assert f"Софья Орлова изменила правило «Спам-ссылки» (№{n}): версия 2, включено" in seen
    # The rule's name leads to its page; the author's to the conversation.
    assert html.count(f'href="/admin/rules/{n}"') >= 5
    assert f'href="/conversations/{ruled.spam_conversation.id}"' in html
    # No code, no raw field and no English outside the technical details...
    for raw in ("rule.hit", "comment.delete", "author.ban", "dry_run", "end_date", "deleted", "would have"):
        assert raw not in seen, raw
    # ... where they are, as stored.
    assert "<code>rule.hit</code>" in html and "<code>matched</code>" in html


async def test_a_rules_doings_read_as_sentences_in_english(client_for, ruled: Ruled) -> None:
    html = await _page(client_for, ruled.story.manager, "/journal", "en")
    seen = _visible(html)
    n, r = ruled.links.id, ruled.rude.id
    assert f"Rule “Спам-ссылки” (#{n}, version 2) deleted a comment by" in seen
    assert "— matched “casino.example”" in seen
    assert f"Rule “Спам-ссылки” (#{n}, version 2) banned" in seen and "(reason: spam)" in seen
    assert f"Rule “Спам-ссылки” (#{n}, version 2) matched “casino.example” in what" in seen
    assert "actions: deleted, author banned for 7 days" in seen
    assert (
        f"Rule “Грубость” (#{r}, version 1) would have deleted the comment, flagged it for review (dry run):"
        " it matched “дураки” in what" in seen
    )
    assert f"The proxy created the rule “Спам-ссылки” (#{n}): version 1, in dry run" in seen
    assert f"Софья Орлова changed the rule “Спам-ссылки” (#{n}): version 2, switched on" in seen
    assert "удалило" not in seen and "Правило" not in seen


async def test_the_journal_is_filtered_to_the_rules_doings(client_for, ruled: Ruled) -> None:
    html = await _page(client_for, ruled.story.manager, "/journal?actor=rule", "ru")
    lines = re.findall(r'<li id="journal-entry-\d+" data-entry="\d+" data-action="([^"]+)"', html)
    assert sorted(lines) == ["author.ban", "comment.delete", "rule.hit", "rule.hit"]
    assert '<option value="rule" selected>Правило модерации</option>' in html
    assert '<option value="rule."></option>' in html and '<option value="rule.hit"></option>' in html
    english = await _page(client_for, ruled.story.manager, "/journal?actor=rule", "en")
    assert '<option value="rule" selected>Moderation rule</option>' in english
    # In the technical details, a rule's entry names its actor in words, not as a code.
    assert "<dd>Moderation rule</dd>" in english


def test_every_rule_action_reads_in_both_languages_without_codes() -> None:
    sofia = Operator(id=7, login="sofia", display_name="Софья Орлова")
    names = Names({7: sofia}, {1: "Пекарня"}, {}, {}, {}, {})
    rule = {"id": 3, "name": "Спам", "version": 2}
    planned = [
        {"do": "delete"}, {"do": "ban", "days": 1, "reason": 1, "comment": ""}, {"do": "ban", "days": None},
        {"do": "assign", "operator_id": 7}, {"do": "note", "text": "см."}, {"do": "reply", "canned_id": 1},
        {"do": "alert"}, {"do": "flag"},
    ]  # fmt: skip
    entries = {
        "rule.hit": {"mode": "dry_run", "actions": planned},
        "rule.hit on": {"mode": "on", "actions": planned},
        "comment.delete": {"method": "wall.deleteComment", "owner_id": -1, "comment_id": 3},
        "author.ban": {"method": "groups.ban", "owner_id": 5, "end_date": 1796472000, "reason": 1},
        "author.ban forever": {"method": "groups.ban", "owner_id": 5, "reason": 2},
        "reply.send": {"method": "wall.createComment", "owner_id": -1},
        "note.add": {"note_id": 1},
        "conversation.assign": {"assignee_id": 7},
        "rule.alert": {},
    }
    for key, params in entries.items():
        action = key.split()[0]
        entry = SimpleNamespace(
            id=9, outcome=None, outcome_detail=None, created_at=datetime.now(UTC), actor_kind=ActorKind.RULE,
            operator_id=None, vk_user_id=None, action=action, community_id=1, conversation_id=None, item_id=None,
            text="Добрый день", params={"rule": rule, "matched": "спам", **params},
        )  # fmt: skip
        for locale in ("ru", "en"):
            with rendering_in(locale, UTC):
                said = sentence(entry, names)  # type: ignore[arg-type]
            assert isinstance(said, Markup)
            words = re.sub(r"<[^>]+>", "", said)
            assert "<code>" not in said and action not in words, (key, locale, said)
            assert 'href="/admin/rules/3"' in said, (key, locale, said)
            for raw in ("end_date", "owner_id", "method", "dry_run", "1796472000", "operator_id"):
                assert raw not in words, (key, locale, raw, said)
            if locale == "ru":
                assert words.startswith("Правило «Спам» (№3, версия 2)"), said
                assert not re.search(r"\b(rule|deleted|banned|would|matched|dry)\b", words, re.I), said
            else:
                assert words.startswith("Rule “Спам” (#3, version 2)"), said
        if key == "rule.hit":
            with rendering_in("ru", UTC):
                said = str(sentence(entry, names))  # type: ignore[arg-type]
            for planned_ru in (
                "удалило бы комментарий", "забанило бы автора на 1 день", "забанило бы автора навсегда",
                "назначило бы разговор на Софья Орлова", "добавило бы заметку", "ответило бы шаблоном",
                "отправило бы оповещение", "пометило бы для проверки",
            ):  # fmt: skip
                assert planned_ru in re.sub(r"<[^>]+>", "", said), planned_ru


def test_a_rule_entry_without_its_rule_still_reads() -> None:
    names = Names({}, {}, {}, {}, {}, {})
    entry = SimpleNamespace(
        id=1, created_at=datetime.now(UTC), actor_kind=ActorKind.RULE, operator_id=None, vk_user_id=None,
        community_id=None, conversation_id=None, item_id=None, action="comment.delete", params={}, text="",
    )  # fmt: skip
    with rendering_in("ru", UTC):
        assert str(sentence(entry, names)).startswith("Правило модерации удалило комментарий")  # type: ignore[arg-type]


# --- the conversation page ----------------------------------------------------------------------------


async def test_the_conversation_page_marks_what_rules_did(client_for, ruled: Ruled) -> None:
    reader, n = ruled.story.operator, ruled.links.id
    html = await _page(client_for, reader, f"/conversations/{ruled.spam_conversation.id}", "ru")
    seen = _visible(html)
    spam = re.search(rf'<article class="entry in [^"]*" id="item-{ruled.spam_item.id}".*?</article>', html, re.S)
    assert spam is not None
    spam_seen = _visible(spam.group(0))
    assert (
        f"Правило «Спам-ссылки» (№{n}, версия 2): удалено, автор забанен на 7 дней · совпало: «casino.example»"
        in spam_seen
    )
    # Deleted by the rule, where an operator's name would be: never "by an operator".
    assert f"Удалено правилом «Спам-ссылки» (№{n})" in spam_seen and "оператор" not in spam_seen
    assert f'href="/admin/rules/{n}"' in spam.group(0)
    rude = re.search(rf'id="item-{ruled.rude_item.id}".*?</article>', html, re.S)
    assert rude is not None
    assert (
        f"Правило «Грубость» (№{ruled.rude.id}, версия 1) в пробном режиме удалило бы комментарий, "
        "пометило бы для проверки · совпало: «дураки»" in _visible(rude.group(0))
    )
    # The rule's reply is the community's, written by the rule: not an operator's, not outside the proxy.
    reply = re.search(r'<article class="entry out[^"]*" id="item-\d+".*?</article>', html, re.S)
    assert reply is not None and CANNED in reply.group(0)
    assert f"Сообщество · Правило «Спам-ссылки» (№{n})" in _visible(reply.group(0))
    assert "в обход прокси" not in _visible(reply.group(0))
    # The author card: the ban is the rule's.
    card = re.search(r'<section id="author-card".*?</section>', html, re.S)
    assert card is not None and f"правилом «Спам-ссылки» (№{n})" in _visible(card.group(0))
    assert "would have" not in seen and "deleted" not in seen

    english = _visible(await _page(client_for, reader, f"/conversations/{ruled.spam_conversation.id}", "en"))
    assert (
        f"Rule “Спам-ссылки” (#{n}, version 2): deleted, author banned for 7 days · matched “casino.example”"
        in english
    )
    assert f"Deleted by the rule “Спам-ссылки” (#{n})" in english and "by an operator" not in english
    assert (
        f"Rule “Грубость” (#{ruled.rude.id}, version 1) would have deleted the comment, flagged it for review"
        " (dry run) · matched “дураки”" in english
    )


async def test_an_undone_rule_action_says_so_and_the_restoration_names_the_rule(client_for, ruled: Ruled) -> None:
    operator, n = ruled.story.operator, ruled.links.id
    restored_at = utcnow()
    await RuleHit.filter(item_id=ruled.spam_item.id).update(undone_at=restored_at, undone_by_id=operator.id)
    await ItemTombstone.filter(item_id=ruled.spam_item.id).update(restored_at=restored_at, restored_by_id=operator.id)
    await Item.filter(id=ruled.spam_item.id).update(is_deleted=False)
    html = await _page(client_for, operator, f"/conversations/{ruled.spam_conversation.id}", "ru")
    spam = re.search(rf'id="item-{ruled.spam_item.id}".*?</article>', html, re.S)
    assert spam is not None
    seen = _visible(spam.group(0))
    assert "отменено оператором Olga" in seen
    assert f"правилом «Спам-ссылки» (№{n}), восстановлено" in seen
    assert 'class="rule-mark on undone"' in spam.group(0)


async def test_the_marks_of_a_page_are_read_at_once(ruled: Ruled, world, mirror) -> None:
    """However many items the rules matched, the page reads the hits once (and the rules no hit brings once)."""
    for number in range(12):
        _, item, _ = await mirror.comment(
            world.members[number % 3], world.post, f"casino.example {number}", reply_to=ruled.spam_comment
        )
        rule = ruled.links if number % 2 else ruled.rude
        await RuleHit.create(
            rule=rule, rule_version=rule.version, mode=RuleMode.DRY_RUN, community=ruled.story.community,
            item=item, conversation_id=item.conversation_id, matched="casino", actions=rule.actions,  # type: ignore[attr-defined]
            item_recorded_at=item.recorded_at, created_at=utcnow(),
        )  # fmt: skip
        if number % 3 == 0:
            await Item.filter(id=item.id).update(is_deleted=True, deleted_at=utcnow())
            await ItemTombstone.create(
                item_id=item.id, deleted_at=utcnow(), deleted_via=DeletedVia.PROXY,
                deleted_by_rule_id=ruled.links.id, last_text=item.text,
            )  # fmt: skip
    statements: list[str] = []
    connection = connections.get("default")
    original = connection.execute_query

    async def counted(query: str, values: Any = None) -> Any:
        statements.append(query)
        return await original(query, values)

    connection.execute_query = counted  # type: ignore[method-assign]
    try:
        entries, _ = await inbox.timeline(ruled.spam_conversation)
    finally:
        del connection.execute_query
    marked = [e for e in entries if e.rule_hits]
    assert len(marked) == 14  # the spam, the rude reply and the twelve replies under the spam
    assert sum('"rule_hit"' in s or " rule_hit " in s for s in statements) == 1, statements
    assert not any('FROM "moderation_rule"' in s for s in statements), statements  # the hits brought them
    assert all(e.rule(e.tombstone.deleted_by_rule_id) is not None for e in entries if e.tombstone)


# --- the archive and the timeline ------------------------------------------------------------------------


async def test_the_archive_names_the_rule_as_the_deleter(client_for, ruled: Ruled) -> None:
    n = ruled.links.id
    states = (await item_histories([ruled.spam_item.id]))[ruled.spam_item.id]
    deleted = [s for s in states if s.kind == "deleted"]
    assert len(deleted) == 1
    assert (deleted[0].rule_id, deleted[0].rule_name, deleted[0].operator_id) == (n, "Спам-ссылки", None)
    html = await _page(client_for, ruled.story.manager, "/deleted", "ru")
    row = re.search(rf'<article class="deleted-item[^"]*" id="deleted-item-{ruled.spam_item.id}".*?</article>', html, re.S)
    assert row is not None
    seen = _visible(row.group(0))
    assert f"Удалено правилом «Спам-ссылки» (№{n})" in seen
    assert "оператором" not in seen and "в обход" not in seen and "не назвал" not in seen
    english = await _page(client_for, ruled.story.manager, "/deleted", "en")
    row = re.search(rf'id="deleted-item-{ruled.spam_item.id}".*?</article>', english, re.S)
    assert row is not None and f"Deleted by the rule “Спам-ссылки” (#{n})" in _visible(row.group(0))
    # "Deleted by an operator" keeps to operators: the rule's deletion went through the proxy, but no one made it.
    by_operators = await deleted_items(ArchiveFilter(deleted_via=DeletedVia.PROXY))
    assert [d.item_id for d in by_operators] == [ruled.story.proxy_deleted.id]


async def test_the_conversation_timeline_says_the_rule_deleted_it(client_for, ruled: Ruled) -> None:
    html = await _page(
        client_for, ruled.story.manager, f"/timeline?conversation={ruled.spam_conversation.id}", "ru"
    )
    seen = _visible(html)
    assert f"Удалено правилом «Спам-ссылки» (№{ruled.links.id})" in seen
    assert f"Правило «Спам-ссылки» (№{ruled.links.id}) ответило под записью на стене: «{CANNED}»" in seen
    assert f"Правило «Спам-ссылки» (№{ruled.links.id}, версия 2) удалило комментарий автора" in seen


# --- in a browser ---------------------------------------------------------------------------------------


@pytest.fixture
async def ruled_server(aiohttp_server, vk_settings, ruled: Ruled):
    ruled.story.manager.display_name = "Мария Соколова"
    await ruled.story.manager.save(update_fields=["display_name"])
    return await aiohttp_server(create_app(vk_settings))


@pytest.mark.browser
async def test_rule_pictures_in_every_view(browser, ruled_server, ruled: Ruled) -> None:
    base = str(ruled_server.make_url("/"))
    manager = ruled.story.manager
    journal_shots = await shoot_in_every_view(
        browser, base, manager, "/journal?actor=rule", "rules-reading/journal", ready="#journal li.journal-line"
    )
    page_shots = await shoot_in_every_view(
        browser, base, manager, f"/conversations/{ruled.spam_conversation.id}", "rules-reading/conversation",
        ready="p.rule-mark",
    )  # fmt: skip
    assert len(journal_shots) == len(page_shots) == 4
    # At phone width nothing sticks out of the page (a long matched text or rule name wraps).
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    try:
        await log_in_page(page, base, manager)
        for path in ("/journal?actor=rule", f"/conversations/{ruled.spam_conversation.id}"):
            await page.goto(base + path.lstrip("/"))
            assert await horizontal_overflow(page) == 0, path
        # The ban's rule stays within its line in the author card (an <aside>, whose list links Pico makes blocks).
        ban_rule = page.locator(".bans a.rule-link")
        assert await ban_rule.evaluate("a => getComputedStyle(a).display") == "inline"
        marks = page.locator("p.rule-mark")
        assert await marks.count() == 2
        await marks.first.locator("a.rule-link").wait_for()
        assert (await marks.first.locator("a.rule-link").get_attribute("href")) == f"/admin/rules/{ruled.links.id}"
    finally:
        await page.close()


async def test_what_the_engine_records_reads_too(client_for, ruled: Ruled) -> None:
    """The engine's own shapes: an action it could not take, a rule's note (a journal entry, no note row), an
    alert that names only its hit, and an operator's restore that undid the rule."""
    n = ruled.links.id
    hit = await RuleHit.get(item_id=ruled.spam_item.id)
    await RuleHit.filter(id=hit.id).update(
        actions=[
            {"do": "delete", "queued": True, "outbox_id": 1},
            {"do": "ban", "days": 7, "reason": 1, "comment": "", "queued": False, "skipped": "the author is already banned"},
            {"do": "note", "text": "Спам со ссылкой", "queued": True},
        ]
    )  # fmt: skip
    community_id = ruled.story.community.id
    await journal.record(
        "rule.alert", actor_kind=ActorKind.RULE, text=f"Rule «Спам-ссылки» matched in conversation #{ruled.spam_conversation.id}: casino.example",
        outcome=Outcome.DONE, outcome_detail="posted", params={"hit_entry_id": hit.journal_entry_id},  # type: ignore[attr-defined]
    )  # fmt: skip
    await journal.record(
        "comment.restore", actor_kind=ActorKind.OPERATOR, operator_id=ruled.story.operator.id, community_id=community_id,
        conversation_id=ruled.spam_conversation.id, item_id=ruled.spam_item.id, text=SPAM, outcome=Outcome.DONE,
        params={"method": "wall.restoreComment", "owner_id": -1, "comment_id": 1, "undoes_rules": [n]},
    )  # fmt: skip
    page = _visible(await _page(client_for, ruled.story.operator, f"/conversations/{ruled.spam_conversation.id}", "ru"))
    assert (
        f"Правило «Спам-ссылки» (№{n}, версия 2): удалено, не сделано: бан автора (the author is already banned), "
        "добавлена заметка: «Спам со ссылкой» · совпало: «casino.example»" in page
    )
    html = await _page(client_for, ruled.story.manager, "/journal", "ru")
    seen = _visible(html)
    assert (
        f"Правило «Спам-ссылки» (№{n}, версия 2) отправило оповещение о сообщении автора" in seen
        and f"«{SPAM}» — совпало: «casino.example»" in seen
    )
    assert f"«{SPAM}», отменив действие: правило №{n}" in seen
    assert f'<a class="rule-link" href="/admin/rules/{n}">правило №{n}</a>' in html
    english = _visible(await _page(client_for, ruled.story.manager, "/journal", "en"))
    assert f"Rule “Спам-ссылки” (#{n}, version 2) raised an alert about what" in english
    assert f", undoing the rule #{n}" in english


async def test_what_the_engine_did_on_real_ingest_reads(
    client_for, vk_settings, community, world, operator, manager, monkeypatch
) -> None:
    """The engine acting on an ingested comment (proxy/rules/worker.py), VK's echo taken in: the page, the
    journal and the archive read what it recorded."""
    monkeypatch.setattr(worker, "STAMP_SECONDS", 0.0)
    feed = Feed(world, community)
    await feed()
    rule = await create_rule(
        None, name="Казино", community_id=community.id, mode="on", conditions={"words": ["казино"]},
        actions=[{"do": "delete"}, {"do": "note", "text": "Реклама казино"}, {"do": "flag"}],
    )  # fmt: skip
    world.scenario.member_comments(world.group, world.members[0], world.post, "Лучшее казино тут")
    await feed()
    spam = await Item.filter(direction="in").order_by("-id").first()
    assert spam is not None
    await evaluate_due(vk_settings, CompiledRules(), now=utcnow() + timedelta(seconds=1))
    await drain(vk_settings)
    await feed()  # VK's echo of the deletion
    n = rule.id
    html = await _page(client_for, operator, f"/conversations/{spam.conversation_id}", "ru")  # type: ignore[attr-defined]
    article = re.search(rf'id="item-{spam.id}".*?</article>', html, re.S)
    assert article is not None
    seen = _visible(article.group(0))
    assert f"Правило «Казино» (№{n}, версия 1): удалено, добавлена заметка: «Реклама казино», помечено для проверки · совпало:" in seen
    assert f"Удалено правилом «Казино» (№{n})" in seen and "оператором" not in seen
    journal_seen = _visible(await _page(client_for, manager, "/journal?actor=rule", "ru"))
    for said in ("удалило комментарий автора", "оставило заметку в разговоре с автором", "сработало: совпало"):
        assert f"Правило «Казино» (№{n}, версия 1) {said}" in journal_seen, said
    deleted = _visible(await _page(client_for, manager, "/deleted", "ru"))
    assert f"Удалено правилом «Казино» (№{n})" in deleted
