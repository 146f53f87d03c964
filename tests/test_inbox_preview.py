"""The inbox preview follows an edit of the item it shows, and only of that one. Through the real Callback
endpoint, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from proxy.models import Community, Conversation, Operator
from tests.browser_fixtures import *  # noqa: F403
from tests.vk_callbacks import Clock, Delivery

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


async def test_an_edit_changes_the_preview_only_of_the_item_shown(
    client_for, world, community: Community, operator: Operator
) -> None:
    member, scenario = world.members[0], world.scenario
    clock = Clock(world, START)
    client = await client_for(operator)
    deliver = Delivery(world, client)

    async def previews() -> dict[str, str]:
        return {c.key: c.preview for c in await Conversation.all()}

    first = scenario.member_writes_message(world.group, member, "Здравствуйте, заказ 4821")
    comment = scenario.member_comments(world.group, member, world.post, "Сколько стоит доставка?")
    await deliver()
    dialog, thread = f"message:{member.id}", f"wall:{world.group.owner_id}_{world.post.id}:{comment.id}"

    scenario.member_edits_message(world.group, first, "Здравствуйте, заказ 4822")
    scenario.member_edits(world.group, comment, "Сколько стоит доставка в Казань?")
    await deliver()
    assert await previews() == {dialog: "Здравствуйте, заказ 4822", thread: "Сколько стоит доставка в Казань?"}
    assert "Здравствуйте, заказ 4822" in await (await client.get("/")).text()

    # A later message is the one shown now: editing the earlier one leaves it.
    clock.at(START + timedelta(minutes=1))
    scenario.member_writes_message(world.group, member, "Жду ответа")
    await deliver()
    scenario.member_edits_message(world.group, first, "Здравствуйте, заказ 4823")
    await deliver()
    assert (await previews())[dialog] == "Жду ответа"
