"""The demo's moderation rules (proxy/demo_rules.py) and the spam its traffic posts for them
(vk_emulator/demo_traffic.py, DEMO_RULE_SPAM): the rules are there after `make run` starts, in dry run,
once; what the spammers post is what the rules catch, through the matching the worker uses; what the
members post is not."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from proxy.clock import utcnow
from proxy.demo_rules import DEMO_RULES
from proxy.emulation import DEMO_GROUP_ID
from proxy.models import ActorKind, Community, JournalEntry, ModerationRule, Operator, Role, RuleMode
from proxy.rules.matching import Candidate, RuleSet
from proxy.rules.store import set_mode
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tests.demo_fixtures import free_port
from vk_emulator import DemoTraffic, EmulatorState, build_demo_world
from vk_emulator.demo_traffic import DEMO_ROUND, DEMO_RULE_SPAM
from vk_emulator.scenario import DEMO_COMMENTS, DEMO_MESSAGES

NAMES = [spec["name"] for spec in DEMO_RULES]
LINKS, PHRASES, PHONES, REPEATS = NAMES
# Which demo rule catches each kind of the traffic's spam.
CAUGHT_BY = {"link": LINKS, "phrases": PHRASES, "phone": PHONES, "repeated": REPEATS}


async def _start_demo(aiohttp_server: Any, settings: Settings) -> Any:
    """The service as `make run` starts it (PROXY_DEMO), the traffic's pace an hour: only the warm-up acts."""
    port, emulator_port = free_port(), free_port()
    demo = dataclasses.replace(
        settings, demo=True, demo_emulator_port=emulator_port, vk_api_base=f"http://127.0.0.1:{emulator_port}",
        public_url=f"http://127.0.0.1:{port}", demo_step_seconds=3600.0,
    )  # fmt: skip
    return await aiohttp_server(create_app(demo), port=port)


async def test_the_demo_starts_with_its_rules_in_dry_run_once(
    db: str, settings: Settings, aiohttp_server: Any
) -> None:
    server = await _start_demo(aiohttp_server, settings)
    community = await Community.get(vk_group_id=DEMO_GROUP_ID)
    rules = await ModerationRule.filter(community_id=community.id).order_by("id")
    assert [r.name for r in rules] == NAMES
    assert {r.mode for r in rules} == {RuleMode.DRY_RUN}
    assert {r.created_by_id for r in rules} == {None}  # type: ignore[attr-defined]
    created = await JournalEntry.filter(action="rule.create").order_by("id")
    assert [(e.actor_kind, e.text) for e in created] == [(ActorKind.SYSTEM, name) for name in NAMES]

    # An admin switches one on; a restart neither undoes that nor adds a second copy of any rule.
    admin = await Operator.create(login="adam", display_name="Адам", password_hash="x", role=Role.ADMIN)
    await set_mode(admin, rules[1].id, "on")
    await server.close()
    server = await _start_demo(aiohttp_server, settings)
    again = await ModerationRule.filter(community_id=community.id).order_by("id")
    assert [(r.id, r.name) for r in again] == [(r.id, r.name) for r in rules]
    assert [r.mode for r in again] == [RuleMode.DRY_RUN, RuleMode.ON, RuleMode.DRY_RUN, RuleMode.DRY_RUN]
    assert await JournalEntry.filter(action="rule.create").count() == len(NAMES)
    await server.close()


def _demo_ruleset() -> RuleSet:
    """The demo's rules as the worker compiles them, for community 1."""
    stored = [
        SimpleNamespace(
            id=n,
            version=1,
            name=spec["name"],
            community_id=1,
            mode="dry_run",
            archived=False,
            conditions=spec["conditions"],
            actions=spec["actions"],
            updated_at=utcnow(),
        )  # fmt: skip
        for n, spec in enumerate(DEMO_RULES, start=1)
    ]
    ruleset = RuleSet.compile(stored)
    assert ruleset.broken == {}
    return ruleset


def _caught(
    ruleset: RuleSet, text: str, *, channel: str = "wall", earlier: tuple[datetime, ...] = ()
) -> set[str]:
    at = datetime(2026, 12, 3, 12, tzinfo=UTC)
    candidate = Candidate(
        community_id=1, channel=channel, text=text, attachment_kinds=frozenset(), author_vk_id=100,
        is_new_author=False, local_hour=15, same_text_times=earlier, arrived_at=at,
    )  # fmt: skip
    hits, failures = ruleset.evaluate(candidate)
    assert failures == []
    return {hit.rule.name for hit in hits}


def test_every_spam_text_is_caught_by_its_rule_and_member_texts_by_none() -> None:
    ruleset = _demo_ruleset()
    for kind, texts in DEMO_RULE_SPAM.items():
        for text in texts:
            if kind == "repeated":  # caught on its third copy, not before
                assert _caught(ruleset, text) == set(), text
                at = datetime(2026, 12, 3, 12, tzinfo=UTC)
                twice = (at - timedelta(minutes=4), at - timedelta(minutes=2))
                assert _caught(ruleset, text, earlier=twice) == {REPEATS}, text
            else:
                assert CAUGHT_BY[kind] in _caught(ruleset, text), (kind, text)
    for text in DEMO_COMMENTS:
        assert _caught(ruleset, text) == set(), text
    for text in DEMO_MESSAGES:
        assert _caught(ruleset, text, channel="message") == set(), text
    # Links to VK itself are not the links the first rule looks for.
    assert _caught(ruleset, "Наш магазин: https://vk.com/club1 и vk.cc/abc") == set()


def _run(seed: int, rounds: int) -> DemoTraffic:
    state = EmulatorState()
    group = build_demo_world(state)
    traffic = DemoTraffic(state, group, rng=random.Random(seed))
    for _ in range(len(DEMO_ROUND) * rounds):
        traffic.step()
    return traffic


def test_the_traffic_posts_spam_the_rules_catch_among_the_members_comments() -> None:
    ruleset = _demo_ruleset()
    traffic = _run(seed=5, rounds=120)
    spam = traffic.rule_spam
    comments = traffic.done["comment"] + traffic.done["reply_comment"]
    # About one member comment in eight (the first round has none, so that it shows everything else).
    assert comments / 14 < len(spam) < comments / 5, (len(spam), comments)
    kinds = Counter(next(k for k, texts in DEMO_RULE_SPAM.items() if c.text in texts) for c in spam)
    assert set(kinds) == set(DEMO_RULE_SPAM)

    # Each comment, evaluated with the author's earlier copies of its text within ten minutes, as the
    # worker finds them, is caught by the rule for its kind.
    by_author: dict[tuple[int, str], list[int]] = {}
    for comment in spam:
        earlier = tuple(
            datetime.fromtimestamp(d, UTC)
            for d in by_author.get((comment.from_id, comment.text), [])
            if comment.date - d <= 600
        )
        by_author.setdefault((comment.from_id, comment.text), []).append(comment.date)
        kind = next(k for k, texts in DEMO_RULE_SPAM.items() if comment.text in texts)
        candidate = Candidate(
            community_id=1, channel=comment.kind, text=comment.text,
            attachment_kinds=frozenset(), author_vk_id=comment.from_id, is_new_author=False, local_hour=15,
            same_text_times=earlier, arrived_at=datetime.fromtimestamp(comment.date, UTC),
        )  # fmt: skip
        caught = {hit.rule.name for hit in ruleset.evaluate(candidate)[0]}
        if kind != "repeated" or len(earlier) >= 2:
            assert CAUGHT_BY[kind] in caught, (kind, comment.text, earlier)
    # A repeated campaign is one new account posting one text three times (the last may be under way).
    repeats = Counter((c.from_id, c.text) for c in spam if c.text in DEMO_RULE_SPAM["repeated"])
    assert 3 in repeats.values() and max(repeats.values()) == 3


def test_the_spam_is_the_same_for_the_same_seed() -> None:
    assert [c.text for c in _run(seed=9, rounds=20).rule_spam] == [
        c.text for c in _run(seed=9, rounds=20).rule_spam
    ]
    assert _run(seed=9, rounds=1).rule_spam == []
