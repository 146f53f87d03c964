"""Who may act, and what is refused before anything is queued: access, validation, missing tokens; canned
responses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from proxy import actions, canned, local_actions, refusals
from proxy.access import NOT_FOUND, AccessDenied, can_access, require_access
from proxy.actions import ActionError
from proxy.clock import utcnow
from proxy.models import (
    ActorKind,
    CannedResponse,
    Community,
    Conversation,
    JournalEntry,
    Note,
    Operator,
    OutboxRow,
)
from proxy.settings import Settings
from tests.actions_fixtures import *  # noqa: F403
from tests.actions_fixtures import Mirror
from vk_emulator import World

Action = Callable[[Settings, Operator, Conversation, int], Awaitable[Any]]

ACTIONS: dict[str, Action] = {
    "reply.send": lambda s, o, c, item: actions.reply(s, o, c.id, "Ответ"),
    "comment.delete": lambda s, o, c, item: actions.delete_comment(s, o, item),
    "comment.restore": lambda s, o, c, item: actions.restore_comment(s, o, item),
    "author.ban": lambda s, o, c, item: actions.ban_author(s, o, c.id, reason=1, comment="", until=None),
    "author.unban": lambda s, o, c, item: actions.unban_author(s, o, c.id),
    "conversation.close": lambda s, o, c, item: actions.close_conversation(s, o, c.id),
    "conversation.reopen": lambda s, o, c, item: local_actions.reopen_conversation(s, o, c.id),
    "conversation.assign": lambda s, o, c, item: local_actions.assign(s, o, c.id, None),
    "conversation.mark_read": lambda s, o, c, item: actions.mark_read(s, o, c.id),
    "note.add": lambda s, o, c, item: local_actions.add_note(s, o, c.id, "Заметка"),
}


async def journal_actions() -> list[str]:
    return [e.action for e in await JournalEntry.all().order_by("id")]


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_an_operator_without_access_is_refused_journaled_and_nothing_is_queued(
    vk_settings: Settings, outsider: Operator, mirror: Mirror, world: World, community: Community, action: str
) -> None:
    conversation, item, _ = await mirror.comment(world.members[0], world.post, "Комментарий")
    before = await journal_actions()

    with pytest.raises(AccessDenied) as refused:
        await ACTIONS[action](vk_settings, outsider, conversation, item.id)

    # The operator is told "not found" (as for a conversation that does not exist); the journal keeps the reason.
    assert (refused.value.status, refused.value.message) == (404, NOT_FOUND)
    # Counted, not written: the refusal is journaled with the others of its minute (proxy/refusals.py).
    assert await journal_actions() == before
    await refusals.flush()
    assert await journal_actions() == [*before, "access.denied"]
    entry = await JournalEntry.filter(action="access.denied").get()
    target = f"item:{item.id}" if action.startswith("comment.") else f"conversation:{conversation.id}"
    assert (entry.actor_kind, entry.operator_id, entry.community_id) == (ActorKind.OPERATOR, outsider.id, community.id)
    assert {k: entry.params[k] for k in ("action", "targets", "reason", "count")} == {
        "action": action, "targets": [target], "reason": "you have no access to this community", "count": 1,
    }  # fmt: skip
    assert await OutboxRow.all().count() == 0
    assert await Note.all().count() == 0
    assert not [c for c in world.group.comments.values() if c.from_id == world.group.owner_id]


async def test_access_by_role_and_assignment(
    operator: Operator, outsider: Operator, manager: Operator, community: Community
) -> None:
    assert await can_access(operator, community.id)
    assert not await can_access(outsider, community.id)
    assert await can_access(manager, community.id)
    operator.is_active = False
    assert not await can_access(operator, community.id)
    await require_access(manager, community.id, action="reply.send", target="conversation:1")
    await refusals.flush()
    assert await JournalEntry.filter(action="access.denied").count() == 0


async def test_a_disabled_account_is_refused(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "Вопрос")
    await Operator.filter(id=operator.id).update(is_active=False)
    disabled = await Operator.get(id=operator.id)
    with pytest.raises(AccessDenied):
        await actions.reply(vk_settings, disabled, conversation.id, "Ответ")
    assert await OutboxRow.all().count() == 0


@pytest.mark.parametrize(
    ("channel", "text", "message"),
    [
        ("message", "   ", "the reply is empty"),
        ("message", "я" * 4097, "the reply is too long: 4097 characters, VK allows 4096"),
        ("wall", "я" * 16001, "the reply is too long: 16001 characters, VK allows 16000"),
    ],
)
async def test_empty_or_over_long_replies_are_refused_before_anything_is_queued(
    vk_settings: Settings,
    operator: Operator,
    mirror: Mirror,
    world: World,
    channel: str,
    text: str,
    message: str,
) -> None:
    if channel == "message":
        conversation, _, _ = await mirror.message(world.members[0], "Вопрос")
    else:
        conversation, _, _ = await mirror.comment(world.members[0], world.post, "Вопрос")
    before = await journal_actions()
    with pytest.raises(ActionError) as refused:
        await actions.reply(vk_settings, operator, conversation.id, text)
    assert (refused.value.status, refused.value.message) == (400, message)
    assert await journal_actions() == before
    assert await OutboxRow.all().count() == 0


async def test_longest_allowed_reply_is_queued(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "Вопрос")
    row = await actions.reply(vk_settings, operator, conversation.id, "я" * 4096)
    assert len(row.text) == 4096


@pytest.mark.parametrize(
    ("token", "expected"),
    [("admin_token_enc", "no admin user token"), ("community_token_enc", "no community token")],
)
async def test_a_missing_token_is_named_before_anything_is_queued(
    vk_settings: Settings,
    operator: Operator,
    mirror: Mirror,
    world: World,
    community: Community,
    token: str,
    expected: str,
) -> None:
    conversation, item, _ = await mirror.comment(world.members[0], world.post, "Спам")
    await Community.filter(id=community.id).update(**{token: None})
    before = await journal_actions()

    with pytest.raises(ActionError) as refused:
        if token == "admin_token_enc":
            await actions.delete_comment(vk_settings, operator, item.id)
        else:
            await actions.reply(vk_settings, operator, conversation.id, "Ответ")

    assert refused.value.status == 409
    assert expected in refused.value.message
    assert await journal_actions() == before
    assert await OutboxRow.all().count() == 0


async def test_closing_a_dialog_without_community_token_still_closes(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World, community: Community
) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "Вопрос")
    await Community.filter(id=community.id).update(community_token_enc=None)
    await actions.close_conversation(vk_settings, operator, conversation.id)
    entry = await JournalEntry.get(action="conversation.close")
    assert entry.params["vk_mark_answered"] is False
    assert await OutboxRow.all().count() == 0


async def test_other_refusals(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    dialog, message_item, _ = await mirror.message(world.members[0], "Вопрос")
    thread, comment_item, _ = await mirror.comment(world.members[1], world.post, "Комментарий")
    refusals = {
        "no conversation": (lambda: actions.reply(vk_settings, operator, 999_999, "Ответ"), 404),
        "no item": (lambda: actions.delete_comment(vk_settings, operator, 999_999), 404),
        "message delete": (lambda: actions.delete_comment(vk_settings, operator, message_item.id), 400),
        "restore not deleted": (lambda: actions.restore_comment(vk_settings, operator, comment_item.id), 409),
        "foreign item": (
            lambda: actions.reply(
                vk_settings, operator, dialog.id, "Ответ", reply_to_item_id=comment_item.id
            ),
            404,
        ),
        "bad reason": (
            lambda: actions.ban_author(vk_settings, operator, thread.id, reason=9, comment="", until=None),
            400,
        ),
        "past end": (
            lambda: actions.ban_author(
                vk_settings, operator, thread.id, reason=1, comment="", until=utcnow() - timedelta(days=1)
            ),
            400,
        ),
        "empty note": (lambda: local_actions.add_note(vk_settings, operator, thread.id, " "), 400),
        "unknown assignee": (lambda: local_actions.assign(vk_settings, operator, thread.id, 999_999), 404),
    }
    for name, (call, status) in refusals.items():
        with pytest.raises(ActionError) as refused:
            await call()
        assert refused.value.status == status, name
    await actions.delete_comment(vk_settings, operator, comment_item.id)
    with pytest.raises(ActionError) as refused:
        await actions.delete_comment(vk_settings, operator, comment_item.id)
    assert (refused.value.status, refused.value.message) == (409, "the comment is already being deleted")
    assert await OutboxRow.all().count() == 1


# --- canned responses ---------------------------------------------------------------------------------


async def test_canned_responses_are_read_by_all_and_edited_by_managers(
    operator: Operator, manager: Operator, community: Community
) -> None:
    other = await Community.create(vk_group_id=1, name="Другое", callback_secret="s", confirmation_code="c")
    greeting = await canned.save_canned(manager, title="Приветствие", text="Здравствуйте!")
    delivery = await canned.save_canned(
        manager, title="Доставка", text="Доставка 2-3 дня.", community_id=community.id
    )
    await canned.save_canned(manager, title="Чужое", text="...", community_id=other.id)

    assert [c.title for c in await canned.list_canned(community.id)] == ["Доставка", "Приветствие"]
    assert [c.title for c in await canned.list_canned(None)] == ["Приветствие"]

    changed = await canned.save_canned(manager, id=greeting.id, title="Приветствие", text="Добрый день!")
    assert (changed.id, (await CannedResponse.get(id=greeting.id)).text) == (greeting.id, "Добрый день!")

    with pytest.raises(AccessDenied):
        await canned.save_canned(operator, title="Моё", text="Текст")
    with pytest.raises(AccessDenied):
        await canned.delete_canned(operator, delivery.id)
    await refusals.flush()
    denied = await JournalEntry.filter(action="access.denied").order_by("id")
    assert [(e.operator_id, e.params["action"]) for e in denied] == [
        (operator.id, "canned.save"),
        (operator.id, "canned.delete"),
    ]

    await canned.delete_canned(manager, delivery.id)
    assert [c.title for c in await canned.list_canned(community.id)] == ["Приветствие"]
    saved = await JournalEntry.filter(action__in=["canned.save", "canned.delete"]).order_by("id")
    assert [(e.action, e.operator_id, e.text) for e in saved] == [
        ("canned.save", manager.id, "Здравствуйте!"),
        ("canned.save", manager.id, "Доставка 2-3 дня."),
        ("canned.save", manager.id, "..."),
        ("canned.save", manager.id, "Добрый день!"),
        ("canned.delete", manager.id, "Доставка 2-3 дня."),
    ]


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"title": "", "text": "Текст"}, 400),
        ({"title": "Т", "text": "  "}, 400),
        ({"title": "Т" * 129, "text": "Текст"}, 400),
        ({"title": "Т", "text": "я" * 4097}, 400),
        ({"title": "Т", "text": "Текст", "id": 999}, 404),
        ({"title": "Т", "text": "Текст", "community_id": 999}, 404),
    ],
)
async def test_bad_canned_responses_are_refused(
    manager: Operator, fields: dict[str, Any], status: int
) -> None:
    with pytest.raises(ActionError) as refused:
        await canned.save_canned(manager, **fields)
    assert refused.value.status == status
    assert await CannedResponse.all().count() == 0
