"""Creating and changing moderation rules: admins only, every change a new version, journaled whole.

The admin pages and `proxy rule ...` both come here. A change's journal entry (`rule.create`,
`rule.update`, `rule.archive`) carries the rule's whole definition at its new version, so what rule N
version V said is read from the journal years later, whatever the rule says now. Every instance picks a
change up within seconds (proxy/rules/engine.py compares `rules_stamp`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from proxy.access import ActionError
from proxy.admin_access import InputError, require_admin
from proxy.audit import journal
from proxy.clock import utcnow
from proxy.models import ActorKind, CannedResponse, Community, ModerationRule, Operator, Outcome, RuleMode
from proxy.rules.spec import parse_actions, parse_conditions, parse_name

_MODES = tuple(m.value for m in RuleMode)


def definition(rule: ModerationRule) -> dict[str, Any]:
    """What the journal keeps of a rule at a version."""
    return {
        "rule_id": rule.id,
        "version": rule.version,
        "name": rule.name,
        "community_id": rule.community_id,  # type: ignore[attr-defined]
        "mode": str(rule.mode),
        "conditions": rule.conditions,
        "actions": rule.actions,
        "archived": rule.archived,
    }


async def _locked(rule_id: int, conn: Any) -> ModerationRule | None:
    # FOR NO KEY UPDATE, not FOR UPDATE: the rules worker inserts rule_hit rows naming the rule (a
    # foreign key: FOR KEY SHARE) while it holds the journal's lock, which this change takes next; a
    # FOR UPDATE here would make the two wait for each other.
    return await ModerationRule.filter(id=rule_id).select_for_update(no_key=True).using_db(conn).first()


def _mode(raw: Any) -> RuleMode:
    if raw not in _MODES:
        raise InputError("the mode is one of: %(modes)s", field="mode", modes=", ".join(_MODES))
    return RuleMode(raw)


async def _check_references(community_id: int | None, actions: list[dict[str, Any]]) -> None:
    """The community, operators and canned responses a rule names exist (and fit its community)."""
    if community_id is not None and not await Community.filter(id=community_id).exists():
        raise InputError("this community does not exist", field="community_id")
    for action in actions:
        if action["do"] == "assign":
            assignee = await Operator.get_or_none(id=action["operator_id"])
            if assignee is None or not assignee.is_active:
                raise InputError("the operator to assign to does not exist or is disabled", field="actions")
        if action["do"] == "reply":
            canned = await CannedResponse.get_or_none(id=action["canned_id"])
            if canned is None:
                raise InputError("the canned response does not exist", field="actions")
            if canned.community_id is not None and canned.community_id != community_id:  # type: ignore[attr-defined]
                raise InputError("the canned response belongs to another community", field="actions")


async def _journal(
    action: str, rule: ModerationRule, by: Operator | None, conn: Any, *, at: datetime
) -> None:
    await journal.record(
        action,
        actor_kind=ActorKind.OPERATOR if by is not None else ActorKind.SYSTEM,
        operator_id=by.id if by is not None else None,
        community_id=rule.community_id,  # type: ignore[attr-defined]
        text=rule.name,
        params=definition(rule),
        outcome=Outcome.DONE,
        at=at,
        connection=conn,
    )


async def create_rule(
    by: Operator | None,
    *,
    name: Any,
    community_id: int | None,
    mode: Any = RuleMode.DRY_RUN.value,
    conditions: Any,
    actions: Any,
) -> ModerationRule:
    """A new rule at version 1. `by` None: the proxy itself (the demo's rules); else an admin."""
    if by is not None:
        await require_admin(by, action="rule.create", target="rule:new")
    name, chosen_mode = parse_name(name), _mode(mode)
    parsed_conditions, parsed_actions = parse_conditions(conditions), parse_actions(actions)
    await _check_references(community_id, parsed_actions)
    now = utcnow()
    async with in_transaction() as conn:
        rule = await ModerationRule.create(
            community_id=community_id, name=name, mode=chosen_mode, conditions=parsed_conditions,
            actions=parsed_actions, version=1, created_by_id=by.id if by else None, updated_at=now,
            using_db=conn,
        )  # fmt: skip
        await _journal("rule.create", rule, by, conn, at=now)
    return rule


async def update_rule(by: Operator, rule_id: int, **changes: Any) -> ModerationRule:
    """Change a rule's name, community, mode, conditions or actions (those given): version + 1.

    Changing nothing is not a new version. An archived rule cannot be changed.
    """
    await require_admin(by, action="rule.update", target=f"rule:{rule_id}")
    unknown = set(changes) - {"name", "community_id", "mode", "conditions", "actions"}
    if unknown:
        raise InputError("unknown field %(name)s", field=sorted(unknown)[0], name=sorted(unknown)[0])
    parsed: dict[str, Any] = {}
    if "name" in changes:
        parsed["name"] = parse_name(changes["name"])
    if "mode" in changes:
        parsed["mode"] = _mode(changes["mode"])
    if "conditions" in changes:
        parsed["conditions"] = parse_conditions(changes["conditions"])
    if "actions" in changes:
        parsed["actions"] = parse_actions(changes["actions"])
    if "community_id" in changes:
        parsed["community_id"] = changes["community_id"]
    now = utcnow()
    async with in_transaction() as conn:
        rule = await _locked(rule_id, conn)
        if rule is None:
            raise ActionError("this rule does not exist", 404)
        if rule.archived:
            raise ActionError("this rule is archived and cannot be changed", 409)
        await _check_references(
            parsed.get("community_id", rule.community_id),  # type: ignore[attr-defined]
            parsed.get("actions", rule.actions),
        )
        before = definition(rule)
        for field, value in parsed.items():
            setattr(rule, field, value)
        if definition(rule) == before:
            return rule
        rule.version += 1
        rule.updated_at = now
        rule.last_error = rule.last_error_at = None
        await rule.save(using_db=conn)
        await _journal("rule.update", rule, by, conn, at=now)
    return rule


async def set_mode(by: Operator, rule_id: int, mode: Any) -> ModerationRule:
    """Switch a rule off, to dry run, or on."""
    return await update_rule(by, rule_id, mode=mode)


async def archive_rule(by: Operator, rule_id: int) -> ModerationRule:
    """Take a rule out of use and out of the lists, for good (its hits and journal entries stay)."""
    await require_admin(by, action="rule.archive", target=f"rule:{rule_id}")
    now = utcnow()
    async with in_transaction() as conn:
        rule = await _locked(rule_id, conn)
        if rule is None:
            raise ActionError("this rule does not exist", 404)
        if rule.archived:
            return rule
        rule.archived, rule.mode = True, RuleMode.OFF
        rule.version += 1
        rule.updated_at = now
        await rule.save(using_db=conn)
        await _journal("rule.archive", rule, by, conn, at=now)
    return rule


async def list_rules(*, community_id: int | None = None, archived: bool = False) -> list[ModerationRule]:
    """Rules for the lists: team-wide and the community's (or every rule when community_id is None)."""
    query = ModerationRule.filter(archived=archived)
    if community_id is not None:
        query = query.filter(Q(community_id=community_id) | Q(community_id__isnull=True))
    return await query.order_by("id")


async def rules_stamp() -> tuple[int, datetime | None]:
    """What changes whenever any rule changes (count and newest change), for every instance's cache."""
    rows = await ModerationRule.all().order_by("-updated_at").limit(1).values_list("updated_at", flat=True)
    return await ModerationRule.all().count(), (rows[0] if rows else None)
