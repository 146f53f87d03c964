"""Automatic moderation rules (proxy/rules/, docs/rules.md).

- moderation_rule: a rule (community or team-wide, mode off / dry_run / on, conditions and actions as
  JSON, a version raised by every change; never deleted, archived instead).
- rule_hit: one rule matching one item (unique per rule and item): what matched, what was done, when,
  and whether an operator undid it (the rule's false positives).
- rule_check: one row per incoming item the rules were evaluated on; inserting it is the claim, so two
  instances never evaluate one item twice.
- rule_id on outbox, deleted_by_rule_id on item_tombstone, banned_by_rule_id on ban, sent_by_rule_id on
  item: what a rule did is told apart from an operator's and from what was done directly in VK
  (proxy/stats/credit.py). Plain integers, not foreign keys: rules are never deleted.
- A partial index on item (recorded_at) for incoming items: the rules worker reads the items taken in
  during the last minutes that no rule_check row covers yet.
"""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from proxy.models import RuleMode

RECENT_INCOMING_INDEX = "CREATE INDEX IF NOT EXISTS idx_item_recorded_in ON item (recorded_at) WHERE direction = 'in'"
_JSON = {"encoder": functools.partial(dumps, separators=(",", ":")), "decoder": loads}


async def install_index(apps, schema_editor) -> None:
    if schema_editor.collect_sql:
        schema_editor.collected_sql.append(RECENT_INCOMING_INDEX)
    else:
        await schema_editor.client.execute_query(RECENT_INCOMING_INDEX)


def _mode(**kwargs):
    return fields.CharEnumField(
        description="OFF: off\nDRY_RUN: dry_run\nON: on", enum_type=RuleMode, max_length=16, **kwargs
    )


class Migration(migrations.Migration):
    dependencies = [("models", "0015_search_terms")]

    operations = [
        ops.CreateModel(
            name="ModerationRule",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("community", fields.ForeignKeyField("models.Community", source_field="community_id", null=True, db_constraint=True, to_field="id", related_name="rules", on_delete=OnDelete.RESTRICT)),  # noqa: E501
                ("name", fields.CharField(max_length=100)),
                ("mode", _mode(default=RuleMode.DRY_RUN)),
                ("conditions", fields.JSONField(default=dict, **_JSON)),
                ("actions", fields.JSONField(default=list, **_JSON)),
                ("version", fields.IntField(default=1)),
                ("archived", fields.BooleanField(default=False)),
                ("created_by", fields.ForeignKeyField("models.Operator", source_field="created_by_id", null=True, db_constraint=True, to_field="id", related_name="rules_created", on_delete=OnDelete.RESTRICT)),  # noqa: E501
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("last_error", fields.TextField(null=True, unique=False)),
                ("last_error_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "moderation_rule", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RuleHit",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("rule", fields.ForeignKeyField("models.ModerationRule", source_field="rule_id", db_constraint=True, to_field="id", related_name="hits", on_delete=OnDelete.RESTRICT)),  # noqa: E501
                ("rule_version", fields.IntField()),
                ("mode", _mode()),
                ("community", fields.ForeignKeyField("models.Community", source_field="community_id", db_constraint=True, to_field="id", related_name="rule_hits", on_delete=OnDelete.RESTRICT)),  # noqa: E501
                ("item", fields.ForeignKeyField("models.Item", source_field="item_id", db_constraint=True, to_field="id", related_name="rule_hits", on_delete=OnDelete.RESTRICT)),  # noqa: E501
                ("conversation", fields.ForeignKeyField("models.Conversation", source_field="conversation_id", db_constraint=True, to_field="id", related_name="rule_hits", on_delete=OnDelete.RESTRICT)),  # noqa: E501
                ("matched", fields.TextField(default="", unique=False)),
                ("actions", fields.JSONField(default=list, **_JSON)),
                ("journal_entry", fields.ForeignKeyField("models.JournalEntry", source_field="journal_entry_id", null=True, db_constraint=True, to_field="id", related_name="rule_hits", on_delete=OnDelete.RESTRICT)),  # noqa: E501
                ("item_recorded_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("undone_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("undone_by", fields.ForeignKeyField("models.Operator", source_field="undone_by_id", null=True, db_constraint=True, to_field="id", related_name="rule_undos", on_delete=OnDelete.RESTRICT)),  # noqa: E501
            ],
            options={
                "table": "rule_hit", "app": "models", "pk_attr": "id",
                "unique_together": (("rule", "item"),),
                "indexes": [Index(fields=["rule_id", "created_at"]), Index(fields=["item_id"])],
            },  # fmt: skip
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RuleCheck",
            fields=[
                ("item_id", fields.BigIntField(generated=False, primary_key=True, unique=True, db_index=True)),
                ("checked_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "rule_check", "app": "models", "pk_attr": "item_id"},
            bases=["Model"],
        ),
        ops.AddField(model_name="OutboxRow", name="rule_id", field=fields.IntField(null=True)),
        ops.AddField(model_name="ItemTombstone", name="deleted_by_rule_id", field=fields.IntField(null=True)),
        ops.AddField(model_name="Ban", name="banned_by_rule_id", field=fields.IntField(null=True)),
        ops.AddField(model_name="Item", name="sent_by_rule_id", field=fields.IntField(null=True)),
        ops.RunPython(install_index),
    ]
