"""A Telegram bot beside a VK community on the operators' and managers' pages: channel labels, unnamed
people, no vk.com links, the journal's "in Telegram", the network filter and column, and what the
conversation page says of deletions Telegram does not report or no longer allows."""

from __future__ import annotations

import csv
import io

from proxy.clock import utcnow
from proxy.models import (
    Author,
    Channel,
    Community,
    Conversation,
    ConversationStatus,
    Item,
    Network,
    Operator,
    Role,
)
from tests.browser_fixtures import log_in
from tests.telegram_flow_fixtures import *  # noqa: F403
from tests.telegram_flow_fixtures import Served

HOURS = 3600


async def _vk_community_with_a_conversation() -> Conversation:
    community = await Community.create(name="VK shop", vk_group_id=77, network=Network.VK)
    author = await Author.create(network=Network.VK, vk_id=4242, name="")
    return await Conversation.create(
        community=community,
        channel=Channel.MESSAGE,
        key="message:4242",
        author=author,
        status=ConversationStatus.OPEN,
        preview="a VK question",
        opened_at=utcnow(),
    )


async def _manager(served: Served, locale: str) -> Operator:
    manager = await Operator.create(login=f"max_{locale}", display_name="Max", password_hash="-", role=Role.MANAGER, locale=locale)  # fmt: skip
    await log_in(served.client, manager)
    return manager


async def _telegram_traffic(served: Served) -> None:
    """A private chat, a group thread by a person whose name is not known, and an admin's ban in Telegram."""
    world = served.world
    world.people.writes_to_bot(world.member, world.bot, "Where is my order?")
    world.people.writes_in_group(world.other, world.group, "rude words")
    world.people.admin_acts(world.owner, world.group, "ban", world.other)
    await served.delivered()
    await Author.filter(network=Network.TELEGRAM, vk_id=world.other.id).update(name="")


async def _page(served: Served, path: str, *, partial: bool = False) -> tuple[int, str]:
    response = await served.client.get(path, headers={"HX-Request": "true"} if partial else {})
    return response.status, await response.text()


async def test_inbox_labels_the_bots_chats_and_names_telegram_people_as_such(served: Served) -> None:
    await _telegram_traffic(served)
    await _vk_community_with_a_conversation()
    await _manager(served, "ru")
    status, page = await _page(served, "/?status=all")
    assert status == 200
    assert "Личный чат с ботом" in page and "Группа в Telegram" in page
    assert f"Пользователь Telegram {served.world.other.id}" in page
    assert "Пользователь ВКонтакте 4242" in page  # VK keeps its words
    assert "Сообщения" in page  # the VK community's private messages
    assert page.count('data-network="telegram"') == 2 and page.count('data-network="vk"') == 1

    group = await Conversation.get(community_id=served.community.id, channel=Channel.GROUP)
    status, page = await _page(served, f"/conversations/{group.id}")
    assert status == 200
    assert "vk.com" not in page and "Profile in VK" not in page and "Профиль во ВКонтакте" not in page
    assert f"Telegram id {served.world.other.id}" in page
    assert f"Пользователь Telegram {served.world.other.id}" in page


async def test_english_labels_of_a_business_chat_and_a_private_chat(served: Served) -> None:
    world = served.world
    connection = world.people.connects_business(world.owner, world.bot)
    world.people.business_message(connection, world.member, "Do you deliver to Kazan?")
    world.people.writes_to_bot(world.member, world.bot, "Hello")
    await served.delivered()
    await _manager(served, "en")
    _status, page = await _page(served, "/")
    assert "Telegram business chat" in page and "Private chat with the bot" in page
    business = await Conversation.get(community_id=served.community.id, channel=Channel.BUSINESS)
    _status, page = await _page(served, f"/conversations/{business.id}")
    # Telegram reports a business chat's deletions: no note; and nothing of a dialog is deleted here.
    assert "does not tell a bot about deletions" not in page
    assert '/delete"' not in page and '/restore"' not in page and "data-reply-to" not in page


async def test_the_journal_says_in_telegram_for_what_a_bots_admins_did_there(served: Served) -> None:
    await _telegram_traffic(served)
    await _manager(served, "en")
    status, page = await _page(served, "/journal", partial=True)  # the entries, without the filters
    assert status == 200, page
    assert "banned" in page and "in Telegram, outside the proxy" in page
    assert "in VK" not in page
    await Operator.filter(login="max_en").update(locale="ru")
    _status, page = await _page(served, "/journal", partial=True)
    assert "прямо в Telegram, в обход прокси" in page and "ВКонтакте" not in page


async def test_the_network_filter_narrows_every_listing_and_a_bad_value_is_refused(served: Served) -> None:
    await _telegram_traffic(served)
    vk = await _vk_community_with_a_conversation()
    manager = await _manager(served, "en")
    from proxy.audit import journal  # noqa: PLC0415
    from proxy.models import ActorKind  # noqa: PLC0415

    await journal.record(
        "conversation.assign",
        actor_kind=ActorKind.OPERATOR,
        operator_id=manager.id,
        community_id=vk.community_id,  # type: ignore[attr-defined]
        conversation_id=vk.id,
        params={"assignee_id": None},
    )
    _status, page = await _page(served, "/?network=telegram&status=all")
    assert page.count("data-row ") == 2 and 'data-network="vk"' not in page
    assert 'data-filter-network="telegram"' in page
    _status, page = await _page(served, "/?network=vk")
    assert page.count("data-row ") == 1 and 'data-network="telegram"' not in page

    for path in ("/?network=mastodon", "/journal?network=mastodon", "/audit/journal.csv?network=x"):
        status, text = await _page(served, path)
        assert status == 400 and "network must be one of: vk, telegram" in text, path

    response = await served.client.get("/audit/journal.csv?network=telegram")
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][-1] == "network" and len(rows) > 2
    assert {row[-1] for row in rows[1:]} == {"telegram"}
    response = await served.client.get("/audit/journal.csv?network=vk")
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert [row[5] for row in rows[1:]] == ["conversation.assign"] and rows[1][-1] == "vk"
    _status, page = await _page(served, "/journal?network=vk")
    assert "unassigned" in page and "banned" not in page
    _status, page = await _page(served, "/journal?network=telegram")
    assert "banned" in page and "unassigned" not in page and "network-telegram" in page


async def test_the_deleted_archive_and_the_search_filter_by_network(served: Served) -> None:
    from proxy import actions  # noqa: PLC0415

    world = served.world
    world.people.writes_in_group(world.other, world.group, "Cheap followers at spam.example")
    await served.delivered()
    spam = await Item.get(community_id=served.community.id, text="Cheap followers at spam.example")
    await actions.delete_comment(served.settings, served.operator, spam.id)
    await _manager(served, "en")
    conversation_page = f"/conversations/{spam.conversation_id}"  # type: ignore[attr-defined]
    _status, page = await _page(served, conversation_page)
    assert "Deleting in Telegram…" in page and "in VK" not in page
    await served.send_outbox()
    _status, page = await _page(served, conversation_page)
    # Telegram has no way back for a deleted message: no Restore, here or in the archive.
    assert f'hx-post="/items/{spam.id}/restore"' not in page and "by an operator" in page
    _status, page = await _page(served, "/deleted?network=telegram")
    assert f'id="deleted-item-{spam.id}"' in page and "Telegram group" in page and "network-telegram" in page
    assert "Telegram cannot restore a deleted message" in page and f"/deleted/{spam.id}/restore" not in page
    _status, page = await _page(served, "/deleted?network=vk")
    assert f'id="deleted-item-{spam.id}"' not in page
    response = await served.client.get("/audit/deleted.csv?network=telegram")
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][-1] == "network" and {row[-1] for row in rows[1:]} == {"telegram"} and len(rows) > 1
    _status, page = await _page(served, "/search?q=followers&network=telegram")
    assert f"hits-conversation-{spam.conversation_id}" in page  # type: ignore[attr-defined]
    _status, page = await _page(served, "/search?q=followers&network=vk")
    assert f"hits-conversation-{spam.conversation_id}" not in page  # type: ignore[attr-defined]


async def test_a_group_message_past_48_hours_offers_no_delete_and_says_why(served: Served) -> None:
    world = served.world
    world.state.clock_offset = -49 * HOURS
    world.people.writes_in_group(world.member, world.group, "an old question")
    world.state.clock_offset = 0
    world.people.writes_in_group(world.member, world.group, "a new question")
    await served.delivered()
    old = await Item.get(community_id=served.community.id, text="an old question")
    new = await Item.get(community_id=served.community.id, text="a new question")
    await _manager(served, "ru")
    status, page = await _page(served, f"/conversations/{old.conversation_id}")  # type: ignore[attr-defined]
    assert status == 200
    assert f'hx-post="/items/{old.id}/delete"' not in page
    assert "Telegram даёт боту удалить сообщение только в течение 48 часов" in page
    assert "Telegram не сообщает боту об удалениях в группах и личных чатах" in page
    _status, page = await _page(served, f"/conversations/{new.conversation_id}")  # type: ignore[attr-defined]
    assert f'hx-post="/items/{new.id}/delete"' in page
    assert "Удалить это сообщение в Telegram?" in page


async def test_a_ban_and_its_lifting_under_way_are_said_in_telegram(served: Served) -> None:
    from proxy import actions  # noqa: PLC0415

    world = served.world
    world.people.writes_in_group(world.other, world.group, "rude words")
    await served.delivered()
    thread = await Conversation.get(community_id=served.community.id, channel=Channel.GROUP)
    await _manager(served, "en")
    # The ban form says what Telegram does with a reason and a comment: nothing (the journal keeps them).
    _status, page = await _page(served, f"/conversations/{thread.id}")
    assert (
        "Ban in the group" in page
        and "Telegram is not told" in page
        and "Comment shown to the author" not in page
    )
    await actions.ban_author(served.settings, served.operator, thread.id, reason=1, comment="", until=None)
    _status, page = await _page(served, f"/conversations/{thread.id}")
    assert "Banning in Telegram…" in page and "in VK" not in page
    await served.send_outbox()
    await actions.unban_author(served.settings, served.operator, thread.id)
    _status, page = await _page(served, f"/conversations/{thread.id}")
    assert "Lifting the ban in Telegram…" in page and "Banning" not in page


def test_an_authors_page_is_on_the_communitys_own_network() -> None:
    from proxy.emulation import profile_url  # noqa: PLC0415
    from proxy.settings import Settings  # noqa: PLC0415

    real = Settings.from_env({}, database_url="sqlite://:memory:", workers=False)
    emulated = Settings.from_env({"PROXY_TELEGRAM_API_BASE": "http://127.0.0.1:1"}, database_url="sqlite://:memory:", workers=False)  # fmt: skip
    bot = Community(name="bot", vk_group_id=5, network=Network.TELEGRAM)
    group = Community(name="group", vk_group_id=7, network=Network.VK)
    named = Author(network=Network.TELEGRAM, vk_id=42, screen_name="ivan_p")
    anonymous = Author(network=Network.TELEGRAM, vk_id=43, screen_name="")
    assert profile_url(real, bot, named) == "https://t.me/ivan_p"
    assert profile_url(real, bot, anonymous) is None  # a Telegram id alone opens no page
    assert profile_url(emulated, bot, named) is None  # the emulator's people are nobody on t.me
    assert profile_url(real, group, Author(network=Network.VK, vk_id=42)) == "https://vk.com/id42"


async def test_mutes_and_membership_changes_read_as_sentences_in_both_languages(served: Served) -> None:
    """The proxy's own mute, an admin's mute and lifting it, and a promotion in Telegram: each a sentence,
    none a bare code."""
    from proxy import mute_actions  # noqa: PLC0415

    world = served.world
    world.people.writes_in_group(world.other, world.group, "SHOUTING")
    await served.delivered()
    thread = await Conversation.get(community_id=served.community.id)
    await mute_actions.mute_author(served.settings, served.operator, thread.id, until=None)
    world.people.admin_acts(
        world.owner, world.group, "restrict", world.member, permissions={"can_send_messages": False}
    )
    world.people.admin_acts(
        world.owner, world.group, "restrict", world.member, permissions={"can_send_messages": True}
    )
    world.people.admin_acts(world.owner, world.group, "promote", world.other)
    await served.delivered()
    await _manager(served, "en")
    _status, page = await _page(served, "/journal", partial=True)
    assert "muted" in page and "in the group until lifted" in page
    assert "muted" in page and "in Telegram, outside the proxy, until lifted" in page
    assert "write again in Telegram, outside the proxy" in page
    assert "changed the membership of" in page and "member → admin" in page
    for code in ("author.mute", "vk.restrict", "vk.unrestrict", "vk.member"):
        assert f": <code>{code}</code>" not in page  # the sentence of an action without one
    await Operator.filter(login="max_en").update(locale="ru")
    _status, page = await _page(served, "/journal", partial=True)
    assert "писать в группе до отмены" in page
    assert "писать прямо в Telegram, в обход прокси, до отмены" in page
    assert "снова разрешил" in page and "участник → администратор" in page


async def test_what_telegram_answered_is_said_to_be_telegrams(served: Served) -> None:
    """A reply and a deletion through the proxy, a reply to a user who blocked the bot, and an admin's ban:
    the journal records and says Telegram's answer, a message (not a comment), and no ban reason Telegram
    never gave."""
    from proxy import actions  # noqa: PLC0415
    from proxy.models import JournalEntry  # noqa: PLC0415

    world = served.world
    world.people.writes_to_bot(world.member, world.bot, "Where is my order?")
    spam = world.people.writes_in_group(world.other, world.group, "spam spam")
    world.people.admin_acts(world.owner, world.group, "ban", world.other)
    await served.delivered()
    private = await Conversation.get(community_id=served.community.id, channel=Channel.MESSAGE)
    item = await Item.get(community_id=served.community.id, text=spam.text)
    reply = await actions.reply(served.settings, served.operator, private.id, "On its way")
    await actions.delete_comment(served.settings, served.operator, item.id)
    await served.send_outbox()
    entry = await JournalEntry.get(id=reply.journal_entry_id)  # type: ignore[attr-defined]
    assert entry.outcome_detail.startswith("Telegram accepted it (message_id ")
    world.people.blocks_bot(world.member, world.bot)
    await actions.reply(served.settings, served.operator, private.id, "Hello?")
    await served.send_outbox()

    await _manager(served, "en")
    _status, page = await _page(served, "/journal", partial=True)
    assert "Telegram accepted it" in page and "Not done: Telegram answered with error 403" in page
    assert "VK accepted it" not in page and "VK answered" not in page
    assert "deleted a message by" in page and "deleted a comment" not in page
    assert "in Telegram, outside the proxy, for good" in page and "reason:" not in page
    await Operator.filter(login="max_en").update(locale="ru")
    _status, page = await _page(served, "/journal", partial=True)
    assert "Telegram принял" in page and "Telegram ответил ошибкой 403" in page
    assert "ВКонтакте" not in page
    assert "удалила сообщение автора" in page and "причина" not in page  # Anna: the feminine form


async def test_a_group_member_is_muted_from_the_author_card(served: Served) -> None:
    """The conversation page of a group offers the mute (a private chat does not: no members there); the
    form's POST queues restrictChatMember for the days given."""
    from proxy.models import OutboxRow  # noqa: PLC0415
    from tests.browser_fixtures import csrf_token  # noqa: PLC0415

    world = served.world
    world.people.writes_in_group(world.other, world.group, "SHOUTING")
    world.people.writes_to_bot(world.member, world.bot, "Hello")
    await served.delivered()
    group = await Conversation.get(community_id=served.community.id, channel=Channel.GROUP)
    private = await Conversation.get(community_id=served.community.id, channel=Channel.MESSAGE)
    await _manager(served, "en")
    _status, page = await _page(served, f"/conversations/{private.id}")
    assert "Mute in the group" not in page
    _status, page = await _page(served, f"/conversations/{group.id}")
    assert f'hx-post="/conversations/{group.id}/mute"' in page and "Mute in the group" in page

    token = await csrf_token(served.client)
    before = utcnow()
    answer = await served.client.post(
        f"/conversations/{group.id}/mute",
        data={"csrf_token": token, "days": "3"},
        headers={"HX-Request": "true"},
    )
    assert answer.status == 200, await answer.text()
    [row] = await OutboxRow.filter(method="restrictChatMember")
    assert row.params["user_id"] == world.other.id and row.params["chat_id"] == world.group.id
    assert before.timestamp() + 3 * 86400 - 5 <= row.params["until_date"] <= utcnow().timestamp() + 3 * 86400
