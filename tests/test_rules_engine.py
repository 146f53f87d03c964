"""Moderation rules acting on real ingest (issue 23): each incoming item evaluated once, a rule's action
through the outbox and VK's echo like an operator's (never twice), journaled with the rule as the actor,
undone by an operator as the rule's false positive, left out of the operators' KPIs; dry run records and
does nothing; a broken rule is skipped and reported while the others act; both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from proxy import actions
from proxy.audit import journal
from proxy.clock import utcnow
from proxy.models import (
    ActorKind,
    Ban,
    CannedResponse,
    Conversation,
    Item,
    ItemTombstone,
    JournalEntry,
    ModerationRule,
    Operator,
    OutboxRow,
    OutboxStatus,
    RuleCheck,
    RuleHit,
    RuleMode,
    TeamSetting,
)
from proxy.rules import store, worker
from proxy.rules.worker import CompiledRules, evaluate_due
from proxy.settings import Settings
from proxy.stats import operator_kpis
from proxy.stats.operators import OUTSIDE_LABEL
from proxy.stats.period import Period
from tests.actions_fixtures import *  # noqa: F403
from tests.actions_fixtures import Feed, drain
from tests.databases import _asyncpg_url
from tests.pg_locks import until_waiting
from vk_emulator import World


@pytest.fixture(autouse=True)
def _rules_reload_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "STAMP_SECONDS", 0.0)


@pytest.fixture
async def feed(world: World, community: Any) -> Feed:
    feed = Feed(world, community)
    await feed()  # the world's own events (the post) first
    return feed


async def _rule(community: Any, mode: str = "on", **kwargs: Any) -> ModerationRule:
    definition = {"name": "Спам", "conditions": {"words": ["казино"]}, "actions": [{"do": "delete"}]}
    definition.update(kwargs)
    return await store.create_rule(None, community_id=community.id, mode=mode, **definition)


async def _comment(world: World, feed: Feed, text: str, member: int = 0) -> Item:
    world.scenario.member_comments(world.group, world.members[member], world.post, text)
    await feed()
    return await Item.filter(direction="in").order_by("-id").first()


async def _evaluate(settings: Settings, compiled: CompiledRules | None = None) -> worker.RoundResult:
    return await evaluate_due(settings, compiled or CompiledRules(), now=utcnow() + timedelta(seconds=1))


def _deleted_in_vk(world: World, item: Item) -> bool:
    return world.group.comments[("wall", item.vk_id)].deleted


async def test_a_rule_deletes_through_the_outbox_once_and_vks_echo_is_matched(
    vk_settings: Settings, community: Any, world: World, feed: Feed, operator: Operator
) -> None:
    rule = await _rule(community)
    spam = await _comment(world, feed, "Лучшее казино тут")
    clean = await _comment(world, feed, "Где мой заказ?", member=1)

    result = await _evaluate(vk_settings)
    assert (result.checked, result.hits) == (2, 1)
    hit = await RuleHit.get(item_id=spam.id)
    assert (hit.rule_id, hit.rule_version, hit.mode) == (rule.id, 1, RuleMode.ON)
    assert "казино" in hit.matched
    assert hit.actions[0]["do"] == "delete" and hit.actions[0]["queued"] is True
    row = await OutboxRow.get(id=hit.actions[0]["outbox_id"])
    assert (row.rule_id, row.operator_id, row.item_id) == (rule.id, None, spam.id)
    entry = await JournalEntry.get(id=row.journal_entry_id)
    assert (entry.action, entry.actor_kind, entry.operator_id) == ("comment.delete", ActorKind.RULE, None)
    assert entry.params["rule"] == {"id": rule.id, "name": "Спам", "version": 1}
    hit_entry = await JournalEntry.get(id=hit.journal_entry_id)
    assert (hit_entry.action, hit_entry.params["mode"]) == ("rule.hit", "on")
    assert not await RuleHit.filter(item_id=clean.id).exists()

    # Evaluated once: a second round finds nothing new.
    assert (await _evaluate(vk_settings)).checked == 0
    assert await RuleCheck.all().count() == 2

    await drain(vk_settings)
    await feed()  # VK's echo of the deletion (wall_reply_delete)
    assert _deleted_in_vk(world, spam)
    assert len([c for c in world.state.calls[world.group.admin_token] if c.method == "wall.deleteComment"]) == 1
    tombstones = await ItemTombstone.filter(item_id=spam.id)
    assert [(t.deleted_by_id, t.deleted_by_rule_id) for t in tombstones] == [(None, rule.id)]
    assert not await JournalEntry.filter(action="vk.delete").exists()  # not "done in VK behind our back"

    # Not an operator's deletion, and not "outside the proxy" either.
    today = utcnow().date()
    kpis = {k.login: k for k in await operator_kpis(Period(today, today, UTC))}
    assert all(k.deleted == 0 for k in kpis.values()), {k: v.deleted for k, v in kpis.items()}
    assert OUTSIDE_LABEL not in kpis or kpis[OUTSIDE_LABEL].deleted == 0


async def test_dry_run_records_what_it_would_do_and_does_nothing(
    vk_settings: Settings, community: Any, world: World, feed: Feed
) -> None:
    await _rule(community, mode="dry_run", actions=[{"do": "delete"}, {"do": "ban", "days": 1}])
    spam = await _comment(world, feed, "казино казино")
    await _evaluate(vk_settings)
    hit = await RuleHit.get(item_id=spam.id)
    assert hit.mode == RuleMode.DRY_RUN
    assert [(a["do"], a["queued"], a.get("dry_run")) for a in hit.actions] == [
        ("delete", False, True),
        ("ban", False, True),
    ]
    assert await OutboxRow.all().count() == 0
    entries = await JournalEntry.filter(actor_kind=ActorKind.RULE)
    assert [(e.action, e.params["mode"]) for e in entries] == [("rule.hit", "dry_run")]


async def test_an_operators_restore_undoes_the_rule_and_counts_as_its_false_positive(
    vk_settings: Settings, community: Any, world: World, feed: Feed, operator: Operator
) -> None:
    rule = await _rule(community)
    spam = await _comment(world, feed, "не казино, а отзыв")
    await _evaluate(vk_settings)
    await drain(vk_settings)
    await feed()
    assert (await Item.get(id=spam.id)).is_deleted

    row = await actions.restore_comment(vk_settings, operator, spam.id)
    hit = await RuleHit.get(item_id=spam.id)
    assert (hit.undone_by_id, hit.undone_at is not None) == (operator.id, True)
    restore_entry = await JournalEntry.get(id=row.journal_entry_id)
    assert (restore_entry.operator_id, restore_entry.params["undoes_rules"]) == (operator.id, [rule.id])
    await drain(vk_settings)
    await feed()
    assert not _deleted_in_vk(world, spam)


async def test_a_refused_restore_counts_no_false_positive(
    vk_settings: Settings, community: Any, world: World, feed: Feed, operator: Operator
) -> None:
    await _rule(community)
    spam = await _comment(world, feed, "казино")
    await _evaluate(vk_settings)
    # Not deleted yet (the row is still queued): the restore is refused and writes nothing.
    with pytest.raises(actions.ActionError):
        await actions.restore_comment(vk_settings, operator, spam.id)
    assert (await RuleHit.get(item_id=spam.id)).undone_at is None


async def test_a_rules_ban_is_its_own_and_lifting_it_is_a_false_positive(
    vk_settings: Settings, community: Any, world: World, feed: Feed, operator: Operator
) -> None:
    rule = await _rule(community, actions=[{"do": "ban", "days": 7, "reason": 1, "comment": "спам"}])
    spam = await _comment(world, feed, "казино")
    await _evaluate(vk_settings)
    await drain(vk_settings)
    await feed()  # VK's user_block echo
    ban = await Ban.get(community_id=community.id)
    assert (ban.banned_by_id, ban.banned_by_rule_id) == (None, rule.id)
    assert not await JournalEntry.filter(action="vk.ban").exists()
    row = await actions.unban_author(vk_settings, operator, spam.conversation_id)  # type: ignore[attr-defined]
    assert (await JournalEntry.get(id=row.journal_entry_id)).params["undoes_rules"] == [rule.id]
    assert (await RuleHit.get(item_id=spam.id)).undone_by_id == operator.id


async def test_each_action_and_a_refused_one_does_not_stop_the_others(
    vk_settings: Settings, community: Any, world: World, feed: Feed, operator: Operator, aiohttp_server: Any
) -> None:
    posted: list[Any] = []

    async def receive(request: web.Request) -> web.Response:
        posted.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    hook = await aiohttp_server(app)
    await TeamSetting.create(key="sla_webhook", value={"kind": "slack", "url": str(hook.make_url("/hook"))})
    canned = await CannedResponse.create(title="Правила", text="Пожалуйста, без рекламы.")
    rule = await _rule(
        community,
        conditions={"words": ["казино"]},
        actions=[
            {"do": "flag"},
            {"do": "note", "text": "похоже на рекламу"},
            {"do": "assign", "operator_id": operator.id},
            {"do": "reply", "canned_id": canned.id},
            {"do": "alert"},
            {"do": "delete"},
        ],
    )
    # A message cannot be deleted: that action is refused, the others are done.
    world.scenario.member_writes_message(world.group, world.members[2], "казино онлайн")
    await feed()
    message = await Item.filter(direction="in", channel="message").get()
    compiled = CompiledRules()
    result = await evaluate_due(vk_settings, compiled, now=utcnow() + timedelta(seconds=1))
    async with aiohttp.ClientSession() as http:
        await worker.post_alerts(http, result.alerts)
    hit = await RuleHit.get(item_id=message.id)
    outcome = {a["do"]: a["queued"] for a in hit.actions}
    assert outcome == {"flag": True, "note": True, "assign": True, "reply": True, "alert": True, "delete": False}
    assert "only comments" in next(a["skipped"] for a in hit.actions if a["do"] == "delete")
    conversation = await Conversation.get(id=message.conversation_id)  # type: ignore[attr-defined]
    assert conversation.assignee_id == operator.id
    rule_entries = [e.action for e in await JournalEntry.filter(actor_kind=ActorKind.RULE).order_by("id")]
    assert rule_entries == ["rule.hit", "note.add", "conversation.assign", "reply.send", "rule.alert"]
    assert len(posted) == 1 and "Спам" in posted[0]["text"] and str(rule.name) in posted[0]["text"]

    # The canned reply goes out, but the author still waits for a person.
    await drain(vk_settings)
    await feed()
    reply = await Item.filter(direction="out").get()
    assert (reply.sent_by_id, reply.sent_by_rule_id) == (None, rule.id)
    assert (await Conversation.get(id=conversation.id)).waiting_since is not None


async def test_a_rule_applies_to_items_taken_in_after_its_version(
    vk_settings: Settings, community: Any, world: World, feed: Feed
) -> None:
    before = await _comment(world, feed, "казино до правила")
    await asyncio.sleep(0.01)
    await _rule(community)
    after = await _comment(world, feed, "казино после правила")
    await _evaluate(vk_settings)
    assert [h.item_id for h in await RuleHit.all()] == [after.id]  # type: ignore[attr-defined]
    assert before.id != after.id


async def test_a_broken_rule_is_skipped_and_reported_while_the_others_act(
    vk_settings: Settings, community: Any, world: World, feed: Feed
) -> None:
    # A lookahead RE2 cannot read: the RE2 prefilter lets the pattern through and `regex` backtracks on it.
    hostile = await _rule(community, name="Злой шаблон", conditions={"patterns": [r"(x+x+)+(?=y)"]}, actions=["flag"])
    good = await _rule(community, name="Казино", actions=["flag"])
    spam = await _comment(world, feed, "казино " + "x" * 10_000)
    await _evaluate(vk_settings)
    assert [h.rule_id for h in await RuleHit.filter(item_id=spam.id)] == [good.id]  # type: ignore[attr-defined]
    hostile = await ModerationRule.get(id=hostile.id)
    assert hostile.last_error and hostile.last_error_at is not None
    assert await RuleCheck.filter(item_id=spam.id).exists()


async def test_a_rule_change_takes_effect_on_the_next_item(
    vk_settings: Settings, community: Any, world: World, feed: Feed, operator: Operator
) -> None:
    admin = await Operator.create(login="root", password_hash="x", role="admin")
    compiled = CompiledRules()
    rule = await _rule(community, actions=["flag"])
    await _comment(world, feed, "казино")
    await evaluate_due(vk_settings, compiled, now=utcnow() + timedelta(seconds=1))
    await store.update_rule(admin, rule.id, conditions={"words": ["лотерея"]})
    await asyncio.sleep(0.01)
    await _comment(world, feed, "казино")
    lottery = await _comment(world, feed, "лотереи каждый день")
    await evaluate_due(vk_settings, compiled, now=utcnow() + timedelta(seconds=1))
    hits = await RuleHit.all().order_by("id")
    assert [(h.rule_version, h.item_id) for h in hits][-1] == (2, lottery.id)  # type: ignore[attr-defined]
    assert len(hits) == 2
    await store.set_mode(admin, rule.id, "off")
    await _comment(world, feed, "лотерея")
    await evaluate_due(vk_settings, compiled, now=utcnow() + timedelta(seconds=1))
    assert await RuleHit.all().count() == 2


async def test_two_instances_evaluating_at_once_act_once_per_item(
    vk_settings: Settings, community: Any, world: World, feed: Feed, db_url: str
) -> None:
    await _rule(community)
    for n in range(12):
        await _comment(world, feed, f"казино {n}", member=n % 3)
    results = await asyncio.gather(*(_evaluate(vk_settings) for _ in range(4)))
    assert sum(r.hits for r in results) == 12
    assert await RuleHit.all().count() == 12
    assert await OutboxRow.filter(method="wall.deleteComment").count() == 12
    assert {r.status for r in await OutboxRow.all()} == {OutboxStatus.PENDING}


async def test_an_admin_changing_a_rule_while_it_acts_waits_instead_of_deadlocking(
    vk_settings: Settings, community: Any, world: World, feed: Feed, db_url: str
) -> None:
    """The worker writes a hit's journal entry (the journal's lock) and then its rule_hit row (a foreign
    key on the rule: FOR KEY SHARE); an admin's change locks the rule and then journals. With FOR UPDATE
    on the rule the two waited for each other; FOR NO KEY UPDATE does not block the key share."""
    if not db_url.startswith("postgres"):
        pytest.skip("SQLite runs one write transaction at a time")
    admin = await Operator.create(login="root", password_hash="x", role="admin")
    rule = await _rule(community, actions=["flag"])
    item = await _comment(world, feed, "казино")
    worker_side = await asyncpg.connect(_asyncpg_url(db_url))
    watcher = await asyncpg.connect(_asyncpg_url(db_url))
    try:
        transaction = worker_side.transaction()
        await transaction.start()
        await worker_side.execute("SELECT pg_advisory_xact_lock($1)", journal._JOURNAL_LOCK_ID)
        change = asyncio.create_task(store.update_rule(admin, rule.id, name="Казино"))
        await until_waiting(watcher, 1)
        await worker_side.execute(
            "INSERT INTO rule_hit (rule_id, rule_version, mode, community_id, item_id, conversation_id, matched,"
            " actions, item_recorded_at, created_at) VALUES ($1, 1, 'on', $2, $3, $4, '', '[]', now(), now())",
            rule.id, community.id, item.id, item.conversation_id,  # type: ignore[attr-defined]
        )  # fmt: skip
        await transaction.commit()
        changed = await change
    finally:
        await worker_side.close()
        await watcher.close()
    # A deadlock would have failed one side (DeadlockDetectedError) instead.
    assert changed.version == 2
    assert await RuleHit.filter(rule_id=rule.id).count() == 1
