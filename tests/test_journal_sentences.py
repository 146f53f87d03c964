"""The journal and the timelines read as sentences in the page's language (web/journal_sentences.py).

Each entry says who did what to whose comment or message, where, with the text shortened; dates in the
locale's one format; VK objects as links; the outcome in words. The action code and every raw field stay
in the entry's "Technical details", and journal.csv is unchanged (tests/test_audit_csv*.py).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from markupsafe import Markup

from proxy import actions
from proxy.audit import journal
from proxy.models import ActorKind, Community, JournalEntry, Operator, Outcome
from tests.actions_fixtures import drain
from tests.audit_pages_fixtures import *  # noqa: F403
from tests.audit_pages_fixtures import Story
from tests.browser_fixtures import *  # noqa: F403
from web.i18n import rendering_in
from web.journal_sentences import Names, feminine, names_for, sentence

HX = {"HX-Request": "true"}

# Every action the journal holds (proxy/actions.py, proxy/audit/, proxy/ingest/done_in_vk.py, web/views/auth.py,
# proxy/refusals.py, the admin operations, csv_stream.record_export, sla_alerts, audit/history.py).
EVERY_ACTION = {
    "reply.send": {"method": "messages.send", "peer_id": 5, "random_id": 7},
    "comment.delete": {"method": "wall.deleteComment", "owner_id": -1, "comment_id": 3},
    "comment.restore": {"method": "wall.restoreComment", "owner_id": -1, "comment_id": 3},
    "author.ban": {"method": "groups.ban", "owner_id": 5, "end_date": 1796472000, "reason": 1},
    "author.unban": {"method": "groups.unban", "owner_id": 5},
    "conversation.mark_read": {"method": "messages.markAsRead"},
    "conversation.mark_answered": {"method": "messages.markAsAnsweredConversation"},
    "conversation.close": {"kind": "with_reply", "close_id": 1, "vk_mark_answered": False},
    "conversation.reopen": {},
    "conversation.assign": {"assignee_id": None, "previous_assignee_id": 2},
    "note.add": {"note_id": 1},
    "vk.reply": {"key": "message:5:1"},
    "vk.delete": {"key": "wall:-1_2:3"},
    "vk.restore": {"key": "wall:-1_2:3"},
    "vk.ban": {"user_id": 5, "until": None, "reason": 2},
    "vk.unban": {"user_id": 5},
    "ban.expired": {"user_id": 5},
    "vk.officers_edit": {"user_id": 5, "level_old": 0, "level_new": 1},
    "access.denied": {"reason": "managers only", "count": 3, "action": "audit.view", "targets": ["deleted"]},
    "callback.bad_secret": {"reason": "wrong secret", "count": 2, "remotes": ["10.0.0.1"]},
    "auth.login": {"ip": "10.0.0.1"},
    "auth.logout": {},
    "auth.sessions_ended": {},
    "auth.login_failed": {"login": "anna", "ip": "10.0.0.1"},
    "auth.login_throttled": {"login": "anna", "ip": "10.0.0.1"},
    "export.csv": {"path": "/audit/journal.csv", "query": {}},
    "sla.alert": {"kind": "first_reaction", "waited_seconds": 3600},
    "account.create": {"login": "ivan", "role": "operator", "account_id": 3},
    "account.update": {"login": "ivan", "account_id": 3, "changes": {"role": ["operator", "manager"]}},
    "account.enable": {"login": "ivan", "account_id": 3},
    "account.disable": {"login": "ivan", "account_id": 3},
    "account.password_reset": {"login": "ivan", "account_id": 3, "generated": True},
    "account.communities": {"login": "ivan", "account_id": 3, "added": [1], "removed": []},
    "account.link_vk": {"login": "ivan", "vk_user_id": 77, "account_id": 3},
    "token.create": {"login": "ivan", "account_id": 3, "token_id": 1, "name": "BI"},
    "token.revoke": {"login": "ivan", "account_id": 3, "token_id": 1, "name": "BI"},
    "community.add": {"vk_group_id": 1, "name": "Пекарня"},
    "community.update": {"vk_group_id": 1, "changes": {"sla_seconds": [900, 600]}},
    "community.activate": {"vk_group_id": 1, "name": "Пекарня"},
    "community.deactivate": {"vk_group_id": 1, "name": "Пекарня"},
    "community.test": {"vk_group_id": 1, "results": {"community token": "ok"}},
    "canned.save": {"canned_id": 1, "title": "Привет", "created": True},
    "canned.delete": {"canned_id": 1, "title": "Привет"},
    "audit.digest": {"item_version": "ab"},
    "journal.outcome": {"entry": 14, "outcome": "done", "detail": "VK accepted it"},
}


def _visible(html: str) -> str:
    """The page without its technical details (what a manager reads without a click)."""
    return re.sub(r'<details class="technical">.*?</details>', "", html, flags=re.S)


def _words(html: str) -> str:
    """The text of the page a manager reads, without the markup."""
    return re.sub(r"<[^>]+>", "", _visible(html))


def test_every_action_of_the_journal_reads_as_a_sentence_in_both_languages() -> None:
    anna = Operator(id=1, login="anna", display_name="Анна Петрова")
    names = Names({1: anna}, {1: "Пекарня"}, {}, {}, {}, {})
    for action, params in EVERY_ACTION.items():
        kind = ActorKind.OUTSIDE if action.startswith("vk.") else ActorKind.OPERATOR
        # The fields of a stored entry (sentences read nothing else).
        entry = SimpleNamespace(
            id=9, outcome=None, outcome_detail=None, created_at=datetime.now(UTC), actor_kind=kind, operator_id=1, vk_user_id=None, action=action,
            community_id=1, conversation_id=None, item_id=None, text="Добрый день", params=params,
        )  # fmt: skip
        for locale in ("ru", "en"):
            with rendering_in(locale, UTC):
                said = sentence(entry, names)  # type: ignore[arg-type]
            assert isinstance(said, Markup)
            assert action not in said and "<code>" not in said, (action, locale, said)
            for raw in ("end_date", "owner_id", "method", "random_id", "1796472000"):
                assert raw not in said, (action, locale, raw, said)
            if locale == "ru":
                assert not re.search(r"\b(replied|deleted|banned|logged|created|changed)\b", said), said


def test_an_unnamed_person_reads_as_on_every_other_page() -> None:
    """Before a name is fetched, a VK user is "VK user N" (as in _labels.html), never a bare id<N>."""
    names = Names({}, {1: "Пекарня"}, {}, {}, {}, {})
    entry = SimpleNamespace(
        id=9, outcome=None, outcome_detail=None, created_at=datetime.now(UTC), actor_kind=ActorKind.OUTSIDE,
        operator_id=None, vk_user_id=77, action="vk.ban", community_id=1, conversation_id=None, item_id=None,
        text="", params={"user_id": 5, "until": None, "reason": 2},
    )  # fmt: skip
    expected = {
        "ru": ("Пользователь ВКонтакте 77", "Пользователь ВКонтакте 5"),
        "en": ("VK user 77", "VK user 5"),
    }
    for locale, (admin, author) in expected.items():
        with rendering_in(locale, UTC):
            said = re.sub(r"<[^>]+>", "", str(sentence(entry, names)))  # type: ignore[arg-type]
        assert admin in said and author in said, (locale, said)
        assert not re.search(r"\bid\d", said), (locale, said)


def test_the_verb_agrees_with_the_operators_name() -> None:
    assert feminine("Анна Петрова") and feminine("Мария") and feminine("Olga Ivanova")
    assert not feminine("Никита Смирнов") and not feminine("Иван Сидоров") and not feminine("maria_admin ")
    anna, ivan = (
        Operator(id=1, login="anna", display_name="Анна Петрова"),
        Operator(id=2, login="i", display_name="Иван"),
    )
    names = Names({1: anna, 2: ivan}, {}, {}, {}, {}, {})
    said = {}
    for operator_id in (1, 2):
        entry = SimpleNamespace(
            id=1, created_at=datetime.now(UTC), actor_kind=ActorKind.OPERATOR, operator_id=operator_id,
            vk_user_id=None, community_id=None, conversation_id=None, item_id=None,
            action="auth.logout", params={}, text="",
        )  # fmt: skip
        with rendering_in("ru", UTC):
            said[operator_id] = str(sentence(entry, names))  # type: ignore[arg-type]
    assert "вышла" in said[1] and "вышел" in said[2] and "вышла" not in said[2]


async def test_the_journal_reads_as_sentences_with_the_codes_one_click_away(
    client_for, story: Story, vk_settings, world, mirror
) -> None:
    story.operator.display_name = "Анна Петрова"
    await story.operator.save(update_fields=["display_name"])
    dialog, _item, _ = await mirror.message(world.members[0], "Когда откроетесь?")
    await actions.reply(
        vk_settings, story.operator, dialog.id, "Добрый день! Открываемся в девять утра, ждём вас " * 3
    )
    until = datetime(2026, 12, 5, 9, 0, tzinfo=UTC) + timedelta(days=365)
    await actions.ban_author(vk_settings, story.operator, dialog.id, reason=1, comment="реклама", until=until)
    await drain(vk_settings)
    client = await client_for(story.manager)
    html = await (await client.get("/journal")).text()
    visible = _visible(html)
    # Who did what to whose message, where, with the text shortened.
    assert "ответила автору" in visible and "в личных сообщениях" in visible
    words = _words(html)
    assert "«Добрый день! Открываемся в девять утра" in words and "…»" in words
    assert "удалила комментарий автора" in visible
    assert "https://vk.com/" not in html  # the community is emulated: its posts are nobody's on vk.com
    assert f'href="/conversations/{dialog.id}"' in visible  # the conversation, in the proxy
    assert (
        "забанила автора" in visible
        and "до 5 декабря 2027, 12:00" in visible
        and "(причина: спам)" in visible
    )
    assert "ВКонтакте принял" in visible and "VK accepted it" not in visible
    # No code and no raw field outside the technical details ...
    for raw in (
        "reply.send",
        "author.ban",
        "comment.delete",
        "end_date",
        "owner_id",
        "wall.",
        "guid",
        "запись ",
    ):
        assert raw not in _words(html), raw
    # ... where they all are, as stored.
    assert (
        "<code>reply.send</code>" in html
        and "<code>end_date</code>" in html
        and "Технические подробности" in html
    )
    # Outcome records are not listed: their outcome shows on their entry.
    entries = await JournalEntry.exclude(action=journal.OUTCOME_ACTION).count()
    assert html.count('<details class="technical">') == entries
    # The live partial is the same listing.
    partial = await (await client.get("/journal", headers=HX)).text()
    assert "ответила автору" in partial and "<html" not in partial


async def test_the_journal_in_english_and_a_failed_action(client_for, story: Story) -> None:
    story.manager.locale = "en"
    await story.manager.save(update_fields=["locale"])
    await journal.record(
        "author.ban", actor_kind=ActorKind.OPERATOR, operator_id=story.operator.id, community_id=story.community.id,
        conversation_id=story.other_conversation.id, params={"method": "groups.ban", "reason": 0},
        outcome=Outcome.FAILED, outcome_detail="VK error 27: group authorization failed",
    )  # fmt: skip
    client = await client_for(story.manager)
    visible = _visible(await (await client.get("/journal")).text())
    assert "deleted a comment by" in visible and "banned" in visible and "for good (reason: other)" in visible
    assert "Not done: VK answered with error 27" in visible
    assert "удалил" not in visible


async def test_a_conversation_timeline_reads_as_sentences(client_for, story: Story) -> None:
    client = await client_for(story.manager)
    conversation_id = story.proxy_deleted.conversation_id  # type: ignore[attr-defined]
    html = await (await client.get(f"/timeline?conversation={conversation_id}")).text()
    visible = _visible(html)
    assert "написал" in visible and re.search(r"удалила? комментарий автора", visible)
    assert "<code>comment.delete</code>" in html and "comment.delete" not in _words(html)
    assert not re.search(r"\d{4}-\d\d-\d\d", _words(html))  # dates in words, not ISO


async def test_a_real_communitys_post_and_people_link_to_vk_and_an_emulated_ones_do_not(
    story: Story, vk_settings, world, mirror
) -> None:
    """One rule for links to VK (proxy/emulation.py): the journal links a real community's post and a VK
    admin to vk.com, and an emulated community's to nothing."""
    dialog, item, _ = await mirror.comment(world.members[0], world.post, "Где заказ?")
    entry = SimpleNamespace(
        id=1, outcome=None, outcome_detail=None, created_at=datetime.now(UTC), actor_kind=ActorKind.OUTSIDE,
        operator_id=None, vk_user_id=777, action="vk.delete", community_id=dialog.community_id,
        conversation_id=dialog.id, item_id=item.id, text="Где заказ?", params={},
    )  # fmt: skip
    real = dataclasses.replace(vk_settings, vk_api_base=None, demo=False)
    # The emulator's first group has the demo community's id, which is emulated whatever the settings.
    await Community.filter(id=dialog.community_id).update(vk_group_id=12345)
    said = {}
    for name, settings in (("real", real), ("emulated", vk_settings)):
        names = await names_for([entry], {}, {}, settings)  # type: ignore[list-item]
        with rendering_in("en", UTC):
            said[name] = str(sentence(entry, names))  # type: ignore[arg-type]
    assert 'href="https://vk.com/wall' in said["real"] and 'href="https://vk.com/id777"' in said["real"]
    assert "vk.com" not in said["emulated"] and "VK user 777" in said["emulated"]
