"""The moderation rules' tables (migration 0016, docs/rules.md); proxy/models.py re-exports them, so the ORM
and every query find them with the rest of the model. The relations name the other tables by string
("models.Community"), so this module does not import proxy.models back."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class RuleMode(StrEnum):
    OFF = "off"
    DRY_RUN = "dry_run"  # records what it would have done, does nothing
    ON = "on"


class ModerationRule(Model):
    """An automatic moderation rule (proxy/rules/): conditions on an incoming item, actions, a mode.

    Never deleted (its hits and the journal name it); `archived` takes it out of the lists. Every change
    of name, conditions, actions or mode is a new `version`, journaled with the whole definition.
    """

    id = fields.IntField(primary_key=True)
    # NULL: every community (team-wide).
    community: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Community", related_name="rules", null=True, on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=100)
    mode = fields.CharEnumField(RuleMode, max_length=16, default=RuleMode.DRY_RUN)
    conditions = fields.JSONField(default=dict)
    actions = fields.JSONField(default=list)
    version = fields.IntField(default=1)
    archived = fields.BooleanField(default=False)
    created_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Operator", related_name="rules_created", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField()
    # Set when evaluating the rule failed (a regular expression ran out of time, say): the rule is
    # skipped for that item and the error is shown on the rules page. Cleared by the next change.
    last_error = fields.TextField(null=True)
    last_error_at = fields.DatetimeField(null=True)

    class Meta:
        table = "moderation_rule"


class RuleHit(Model):
    """One rule matching one item: what matched and what the rule did (or would have, in dry run)."""

    id = fields.BigIntField(primary_key=True)
    rule: fields.ForeignKeyRelation[ModerationRule] = fields.ForeignKeyField(
        "models.ModerationRule", related_name="hits", on_delete=fields.RESTRICT
    )
    rule_version = fields.IntField()
    mode = fields.CharEnumField(RuleMode, max_length=16)  # dry_run or on, when it matched
    community: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Community", related_name="rule_hits", on_delete=fields.RESTRICT
    )
    item: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Item", related_name="rule_hits", on_delete=fields.RESTRICT
    )
    conversation: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Conversation", related_name="rule_hits", on_delete=fields.RESTRICT
    )
    matched = fields.TextField(default="")  # the words, link or pattern that matched, for people
    actions = fields.JSONField(default=list)  # what was done (or would have been): [{"do": ..., ...}]
    journal_entry: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.JournalEntry", related_name="rule_hits", null=True, on_delete=fields.RESTRICT
    )
    item_recorded_at = fields.DatetimeField()  # when the proxy took the item in
    created_at = fields.DatetimeField()  # when the rule acted (queued its actions)
    # An operator undid the rule's action (restored the comment, lifted the ban): a false positive.
    undone_at = fields.DatetimeField(null=True)
    undone_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Operator", related_name="rule_undos", null=True, on_delete=fields.RESTRICT
    )

    class Meta:
        table = "rule_hit"
        unique_together = (("rule", "item"),)
        indexes = (Index(fields=("rule_id", "created_at")), Index(fields=("item_id",)))


class RuleCheck(Model):
    """An incoming item the rules were evaluated on, once across every instance (the row is the claim)."""

    item_id = fields.BigIntField(primary_key=True, generated=False)
    checked_at = fields.DatetimeField()

    class Meta:
        table = "rule_check"
