"""The rules admin pages: only admins, a form that refuses bad input whole, switches, archive, history,
the hits of a rule and undoing what it did through the operators' own actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from proxy import actions, refusals
from proxy.clock import utcnow
from proxy.models import (
    Community,
    JournalEntry,
    ModerationRule,
    Operator,
    OutboxRow,
    OutboxStatus,
    Role,
    RuleHit,
    RuleMode,
)
from proxy.rules import store
from proxy.settings import Settings
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token

HX = {"HX-Request": "true"}


@pytest.fixture
async def admin(community: Community) -> Operator:
    return await Operator.create(login="ada", display_name="Ada", password_hash="x", role=Role.ADMIN)


@pytest.fixture
async def admin_client(client_for: Any, admin: Operator) -> TestClient:
    return await client_for(admin)


async def post(
    client: TestClient, url: str, data: list[tuple[str, str]] | dict[str, str]
) -> tuple[int, str, Any]:
    token = await csrf_token(client)
    fields = list(data.items()) if isinstance(data, dict) else list(data)
    fields.append(("csrf_token", token))
    response = await client.post(url, data=fields, allow_redirects=False)
    return response.status, await response.text(), response.headers


def rule_form(**overrides: Any) -> list[tuple[str, str]]:
    fields: dict[str, Any] = {"name": "Spam links", "community": "", "mode": "dry_run",
                              "words": "скидка\nкупить", "domains_deny": "spam.example", "act": ["delete"]}  # fmt: skip
    fields.update(overrides)
    out: list[tuple[str, str]] = []
    for name, value in fields.items():
        if value is None:
            continue
        for one in value if isinstance(value, list) else [value]:
            out.append((name, str(one)))
    return out


async def rule_changes() -> int:
    return await JournalEntry.filter(action__startswith="rule.").count()


async def test_an_admin_creates_a_rule_from_the_form(admin_client: TestClient, community: Community) -> None:
    form = rule_form(
        community=str(community.id), patterns="b[uy]{2}", phone="on", attachments=["photo", "link"],
        channels=["wall"], repeated_count="3", repeated_minutes="10", authors="12345\n678",
        hours_from="22", hours_to="6", act=["delete", "ban", "flag"], ban_days="7", ban_reason="1",
        ban_comment="spam",
    )  # fmt: skip
    status, _, headers = await post(admin_client, "/admin/rules", form)
    assert status == 303, _
    rule = await ModerationRule.get()
    assert headers["Location"] == f"/admin/rules/{rule.id}"
    assert rule.community_id == community.id and rule.mode == RuleMode.DRY_RUN  # type: ignore[attr-defined]
    assert rule.conditions == {
        "words": ["скидка", "купить"], "patterns": ["b[uy]{2}"], "domains_deny": ["spam.example"], "phone": True,
        "attachments": ["photo", "link"], "repeated": {"count": 3, "window_minutes": 10}, "authors": [678, 12345],
        "channels": ["wall"], "hours": {"from": 22, "to": 6},
    }  # fmt: skip
    assert rule.actions == [{"do": "delete"}, {"do": "ban", "days": 7, "reason": 1, "comment": "spam"},
                            {"do": "flag"}]  # fmt: skip
    response = await admin_client.get("/admin/rules")
    page = await response.text()
    assert response.status == 200 and "Spam links" in page and f'id="rule-{rule.id}"' in page
    response = await admin_client.get(f"/admin/rules/{rule.id}")
    page = await response.text()
    # The form shows the rule as stored, and its first version from the journal.
    assert "скидка\nкупить</textarea>" in page and 'value="wall" checked' in page and "v1" in page


HOSTILE = [
    ({"name": ""}, "a rule needs a name"),
    ({"name": "x" * 101}, "the name is too long"),
    ({"words": "", "domains_deny": "", "act": ["delete"]}, "a rule needs at least one condition"),
    ({"act": []}, "a rule needs at least one action"),
    ({"act": ["explode"]}, "the form was damaged"),
    ({"patterns": "(unclosed"}, "does not compile"),
    ({"domains_deny": "not a domain!"}, "is not a domain name"),
    ({"domains_allow": "http://"}, "is not a domain name"),
    ({"channels": ["carrier-pigeon"]}, "unknown value"),
    ({"attachments": ["hologram"]}, "unknown value"),
    ({"repeated_count": "-3", "repeated_minutes": "10"}, "must be between"),
    ({"repeated_count": "3"}, "fill in both numbers"),
    ({"repeated_count": "three", "repeated_minutes": "10"}, "must be a whole number"),
    ({"hours_from": "25", "hours_to": "3"}, "must be between"),
    ({"hours_from": "5", "hours_to": "5"}, "must differ"),
    ({"authors": "12\nabc"}, "must be a whole number"),
    ({"authors": "-5"}, "must be between"),
    ({"act": ["ban"], "ban_days": "-1"}, "must be between"),
    ({"act": ["ban"], "ban_days": "1.5"}, "must be a whole number"),
    ({"act": ["ban"], "ban_reason": "9"}, "must be between"),
    ({"act": ["assign"], "assign_operator": ""}, "choose the operator"),
    ({"act": ["assign"], "assign_operator": "999999"}, "does not exist"),
    ({"act": ["reply"], "reply_canned": "999999"}, "does not exist"),
    ({"act": ["note"], "note_text": "   "}, "the note must have"),
    ({"community": "999999"}, "this community does not exist"),
    ({"community": "abc"}, "choose a community from the list"),
    ({"mode": "turbo"}, "the mode is one of"),
    ({"phrases": "\n".join(f"p{i}" for i in range(1001))}, "at most 1000"),
    ({"words": "\n".join(f"w{i}" for i in range(2000)), "domains_deny": ""}, None),
]


@pytest.mark.parametrize(("override", "message"), HOSTILE)
async def test_bad_input_is_refused_with_its_reason_and_nothing_is_written(
    admin_client: TestClient, override: dict[str, Any], message: str | None
) -> None:
    admin_client.app  # noqa: B018
    # English, so the reasons read as spec.py words them.
    await Operator.filter(login="ada").update(locale="en")
    before = await rule_changes()
    status, page, _ = await post(admin_client, "/admin/rules", rule_form(**override))
    if message is None:
        # Longer than any form field may be: refused before the view reads it.
        assert status == 400
    else:
        assert status == 422, page
        assert message in page and 'role="alert"' in page
    assert await ModerationRule.all().count() == 0
    assert await rule_changes() == before


async def test_editing_makes_a_new_version_and_a_refused_edit_changes_nothing(
    admin_client: TestClient, admin: Operator
) -> None:
    rule = await store.create_rule(admin, name="Links", community_id=None, conditions={"any_link": True},
                                   actions=["flag"])  # fmt: skip
    status, _, _ = await post(admin_client, f"/admin/rules/{rule.id}",
                              rule_form(name="Links v2", words="", domains_deny="", any_link="on", act=["flag"]))  # fmt: skip
    assert status == 303
    await rule.refresh_from_db()
    assert rule.version == 2 and rule.name == "Links v2"
    status, page, _ = await post(admin_client, f"/admin/rules/{rule.id}", rule_form(patterns="(("))
    assert status == 422 and "aria-invalid" in page
    await rule.refresh_from_db()
    assert rule.version == 2 and rule.conditions == {"any_link": True}
    response = await admin_client.get(f"/admin/rules/{rule.id}")
    page = await response.text()
    # Both versions, each with its whole definition.
    assert page.count('<pre class="rule-definition">') == 2 and "Links v2" in page


async def test_the_mode_switch_and_archive(admin_client: TestClient, admin: Operator) -> None:
    rule = await store.create_rule(admin, name="Phones", community_id=None, conditions={"phone": True},
                                   actions=["flag"])  # fmt: skip
    status, _, headers = await post(admin_client, f"/admin/rules/{rule.id}/mode", {"mode": "on"})
    assert status == 303 and headers["Location"] == "/admin/rules"
    await rule.refresh_from_db()
    assert rule.mode == RuleMode.ON and rule.version == 2
    status, page, _ = await post(admin_client, f"/admin/rules/{rule.id}/mode", {"mode": "loud"})
    assert status == 422
    await rule.refresh_from_db()
    assert rule.mode == RuleMode.ON and rule.version == 2
    status, _, _ = await post(admin_client, f"/admin/rules/{rule.id}/archive", {})
    assert status == 303
    await rule.refresh_from_db()
    assert rule.archived and rule.mode == RuleMode.OFF
    page = await (await admin_client.get("/admin/rules")).text()
    assert f'id="rule-{rule.id}"' not in page
    # An archived rule cannot be changed.
    status, _, _ = await post(admin_client, f"/admin/rules/{rule.id}", rule_form())
    assert status == 409


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.MANAGER])
async def test_only_admins(client_for: Any, community: Community, admin: Operator, role: Role) -> None:
    rule = await store.create_rule(admin, name="Phones", community_id=None, conditions={"phone": True},
                                   actions=["flag"])  # fmt: skip
    person = await Operator.create(login=f"p-{role}", password_hash="x", role=role)
    await person.communities.add(community)
    client = await client_for(person)
    for url in (
        "/admin/rules",
        "/admin/rules/new",
        f"/admin/rules/{rule.id}",
        f"/admin/rules/{rule.id}/hits",
    ):
        assert (await client.get(url, allow_redirects=False)).status == 403, url
    changes = await rule_changes()
    for url, data in (
        ("/admin/rules", rule_form()),
        (f"/admin/rules/{rule.id}", rule_form(name="Taken over")),
        (f"/admin/rules/{rule.id}/mode", {"mode": "on"}),
        (f"/admin/rules/{rule.id}/archive", {}),
        (f"/admin/rules/{rule.id}/hits/1/undo", {}),
    ):
        status, _, _ = await post(client, url, data)
        assert status == 403, url
    await rule.refresh_from_db()
    assert rule.version == 1 and rule.mode == RuleMode.DRY_RUN and not rule.archived
    assert await ModerationRule.all().count() == 1 and await rule_changes() == changes
    # The refusals are journaled (counted, then written once per kind and minute).
    await refusals.flush()
    denied = await JournalEntry.filter(action="access.denied", operator_id=person.id)
    assert sum(e.params["count"] for e in denied) == 9
    assert {t for e in denied for t in e.params["targets"]} >= {
        "/admin/rules",
        f"/admin/rules/{rule.id}/mode",
    }


# --- hits and undo ---------------------------------------------------------------------------------


async def _hit(rule: ModerationRule, item: Any, *, mode: RuleMode = RuleMode.ON, matched: str = "",
               actions_done: list[dict[str, Any]] | None = None) -> RuleHit:  # fmt: skip
    now = utcnow()
    return await RuleHit.create(
        rule_id=rule.id, rule_version=rule.version, mode=mode, community_id=item.community_id,
        item_id=item.id, conversation_id=item.conversation_id, matched=matched,
        actions=actions_done or [{"do": "delete"}], item_recorded_at=now - timedelta(seconds=2), created_at=now,
    )  # fmt: skip


async def test_the_hits_page_and_undoing_a_deletion(
    admin_client: TestClient, admin: Operator, mirror: Any, world: Any, vk_settings: Settings
) -> None:
    rule = await store.create_rule(admin, name="Sales", community_id=None, mode="on",
                                   conditions={"words": ["скидка"]}, actions=["delete"])  # fmt: skip
    _, item, _ = await mirror.comment(world.members[0], world.post, "Огромная скидка тут <b>x</b>")
    _, quiet, _ = await mirror.comment(world.members[1], world.post, "Скидка в пробном режиме")
    # The rule's deletion went through: its outbox row was sent and the comment is deleted.
    row = await actions.delete_comment(vk_settings, admin, item.id)
    await OutboxRow.filter(id=row.id).update(rule_id=rule.id, operator_id=None, status=OutboxStatus.SENT,
                                             sent_at=utcnow())  # fmt: skip
    hit = await _hit(rule, item, matched="words: скидка", actions_done=[{"do": "delete", "outbox_id": row.id,
                                                                         "queued": True}])  # fmt: skip
    await _hit(rule, quiet, mode=RuleMode.DRY_RUN, matched="words: скидка")
    item.is_deleted = True
    await item.save(update_fields=["is_deleted"])

    page = await (await admin_client.get(f"/admin/rules/{rule.id}/hits")).text()
    assert "Огромная <mark>скидка</mark> тут &lt;b&gt;x&lt;/b&gt;" in page
    assert f"/conversations/{item.conversation_id}#item-{item.id}" in page
    assert page.count('class="secondary outline undo"') == 1  # the dry-run hit did nothing to undo

    status, _, headers = await post(admin_client, f"/admin/rules/{rule.id}/hits/{hit.id}/undo", {})
    assert status == 303 and headers["Location"] == f"/admin/rules/{rule.id}/hits"
    restore = await OutboxRow.filter(method__endswith="restoreComment").get()
    assert restore.operator_id == admin.id and restore.item_id == item.id  # type: ignore[attr-defined]
    entry = await JournalEntry.filter(action="comment.restore").get()
    assert entry.operator_id == admin.id  # type: ignore[attr-defined]
    # The restore undid the rule's deletion: a false positive, counted on the list.
    await hit.refresh_from_db()
    assert hit.undone_at is not None and hit.undone_by_id == admin.id  # type: ignore[attr-defined]
    page = await (await admin_client.get("/admin/rules")).text()
    assert 'undone-count" data-label="Отменено">1</td>' in page
    # Undoing twice is refused by the operator action itself, and said so.
    status, _, _ = await post(admin_client, f"/admin/rules/{rule.id}/hits/{hit.id}/undo", {})
    assert status == 303
    assert await OutboxRow.filter(method__endswith="restoreComment").count() == 1


async def test_undoing_a_ban(admin_client: TestClient, admin: Operator, mirror: Any, world: Any,
                             vk_settings: Settings) -> None:  # fmt: skip
    rule = await store.create_rule(admin, name="Trolls", community_id=None, mode="on",
                                   conditions={"authors": [world.members[0].id]}, actions=["ban"])  # fmt: skip
    conversation, item, _ = await mirror.comment(world.members[0], world.post, "troll")
    row = await actions.ban_author(vk_settings, admin, conversation.id, reason=1, comment="", until=None)
    await OutboxRow.filter(id=row.id).update(rule_id=rule.id, status=OutboxStatus.SENT, sent_at=utcnow())
    hit = await _hit(rule, item, actions_done=[{"do": "ban", "days": None, "reason": 1, "comment": "",
                                                "outbox_id": row.id, "queued": True}])  # fmt: skip
    page = await (await admin_client.get(f"/admin/rules/{rule.id}/hits")).text()
    assert "lift the ban" in page or "снять бан" in page.lower()
    status, _, _ = await post(admin_client, f"/admin/rules/{rule.id}/hits/{hit.id}/undo", {})
    assert status == 303
    unban = await OutboxRow.filter(method="groups.unban").get()
    assert unban.operator_id == admin.id  # type: ignore[attr-defined]
    await hit.refresh_from_db()
    assert hit.undone_by_id == admin.id  # type: ignore[attr-defined]


async def test_an_undone_hit_shows_who_undid_it_and_offers_no_undo(
    admin_client: TestClient, admin: Operator, mirror: Any, world: Any
) -> None:
    rule = await store.create_rule(admin, name="Sales", community_id=None, mode="on",
                                   conditions={"words": ["скидка"]}, actions=["delete"])  # fmt: skip
    _, item, _ = await mirror.comment(world.members[0], world.post, "скидка")
    hit = await _hit(rule, item)
    await RuleHit.filter(id=hit.id).update(undone_at=utcnow(), undone_by_id=admin.id)
    page = await (await admin_client.get(f"/admin/rules/{rule.id}/hits")).text()
    assert "Ada" in page and 'class="secondary outline undo"' not in page
    # An undone hit, or a dry run's, has nothing left to undo: said so, and nothing is queued.
    await Operator.filter(id=admin.id).update(locale="en")
    status, _, _ = await post(admin_client, f"/admin/rules/{rule.id}/hits/{hit.id}/undo", {})
    assert status == 303
    page = await (await admin_client.get(f"/admin/rules/{rule.id}/hits")).text()
    assert "Not undone: there is nothing of this hit to undo" in page
    assert await OutboxRow.all().count() == 0
    # A hit of another rule is not this rule's to undo.
    other = await store.create_rule(admin, name="Other", community_id=None, conditions={"phone": True},
                                    actions=["flag"])  # fmt: skip
    status, _, _ = await post(admin_client, f"/admin/rules/{other.id}/hits/{hit.id}/undo", {})
    assert status == 404


async def test_the_list_shows_each_rules_figures(admin_client: TestClient, admin: Operator, mirror: Any,
                                                 world: Any) -> None:  # fmt: skip
    rule = await store.create_rule(admin, name="Sales", community_id=None, mode="on",
                                   conditions={"words": ["скидка"]}, actions=["delete"])  # fmt: skip
    for n in range(4):
        _, item, _ = await mirror.comment(world.members[n % len(world.members)], world.post, f"скидка {n}")
        hit = await _hit(rule, item, actions_done=[{"do": "delete", "outbox_id": 10**9 + n, "queued": True}])
        if n == 0:
            await RuleHit.filter(id=hit.id).update(undone_at=utcnow(), undone_by_id=admin.id)
    await ModerationRule.filter(id=rule.id).update(last_error="pattern timed out", last_error_at=utcnow())
    page = await (await admin_client.get("/admin/rules")).text()
    row = page[page.index(f'id="rule-{rule.id}"') :]
    row = row[: row.index("</tr>")]
    assert "0 / 4" in row and "25%" in row and "pattern timed out" in row
    assert 'undone-count" data-label="Отменено">1</td>' in row


async def test_the_list_costs_the_same_queries_for_one_rule_or_many(
    admin_client: TestClient, admin: Operator, community: Community, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_ingest_callback_path import StatementCounter

    async def statements_of_the_list() -> int:
        counter = StatementCounter(monkeypatch)
        response = await admin_client.get("/admin/rules")
        assert response.status == 200
        monkeypatch.undo()
        return len(counter.statements)

    await store.create_rule(admin, name="r0", community_id=community.id, conditions={"phone": True}, actions=["flag"])
    one = await statements_of_the_list()
    for n in range(1, 40):
        await store.create_rule(
            admin, name=f"r{n}", community_id=community.id if n % 2 else None, conditions={"phone": True},
            actions=["flag"],
        )  # fmt: skip
    assert await statements_of_the_list() == one
