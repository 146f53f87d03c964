"""Ids are the network's own: a community and an author are found by (network, id), not by the id alone.

A Telegram bot's id and a VK group's id are both positive numbers and may be equal; so may a Telegram
user's id and a VK user's. Before this migration `community.vk_group_id` and `author.vk_id` were unique
on their own, which would have merged a bot with a VK group of the same number, and a Telegram user with
a VK user.

- author.network: 'vk' for every author stored before (the only network so far), NOT NULL.
- community (network, vk_group_id) and author (network, vk_id) unique together; each id alone no longer.
- conversation.connection: Telegram's business_connection_id of a business chat, which every reply in
  it must carry (NULL elsewhere).
- operator.telegram_user_id: the operator's own Telegram account, as vk_user_id is their VK one: what
  they do in Telegram outside the proxy is credited to them.

On SQLite an id's uniqueness lives in its table's definition, so the two tables are rebuilt (tortoise's
table remake); neither carries a trigger or an index of its own besides the unique ones. Every other
table refers to them: the rebuild runs with foreign keys unenforced (`proxy.db.migrate`) and the
references are checked before the migration commits.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from proxy.db import check_foreign_keys
from proxy.models import Network

# The same words on both databases; tortoise's AlterModelOptions records unique_together in the model's
# state without creating it.
UNIQUE_INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS uniq_author_network_vk_id ON author (network, vk_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS uniq_community_network_group ON community (network, vk_group_id)",
]


async def create_unique_indexes(apps, schema_editor) -> None:
    if schema_editor.collect_sql:
        schema_editor.collected_sql += UNIQUE_INDEXES
        return
    for statement in UNIQUE_INDEXES:
        await schema_editor.client.execute_query(statement)


async def check_references(apps, schema_editor) -> None:
    if not schema_editor.collect_sql:
        await check_foreign_keys(schema_editor.client)


class Migration(migrations.Migration):
    dependencies = [("models", "0017_raw_event_content_guard")]

    operations = [
        ops.AddField(
            model_name="Author",
            name="network",
            field=fields.CharEnumField(
                Network,
                max_length=16,
                default=Network.VK,
                db_default=Network.VK.value,
                description="VK: vk\nTELEGRAM: telegram",
            ),
        ),
        ops.AlterField(model_name="Author", name="vk_id", field=fields.BigIntField()),
        ops.AlterModelOptions(
            name="Author",
            options={
                "table": "author",
                "app": "models",
                "unique_together": (("network", "vk_id"),),
                "pk_attr": "id",
                "table_description": "A person (or a group, with a negative id) who writes to a community, "
                "on its network.",
            },
        ),
        ops.AlterField(model_name="Community", name="vk_group_id", field=fields.BigIntField()),
        ops.AlterModelOptions(
            name="Community",
            options={
                "table": "community",
                "app": "models",
                "unique_together": (("network", "vk_group_id"),),
                "pk_attr": "id",
                "table_description": "A VK group or a Telegram bot the proxy serves.",
            },
        ),
        ops.RunPython(create_unique_indexes),
        ops.AddField(
            model_name="Conversation",
            name="connection",
            field=fields.CharField(max_length=128, null=True),
        ),
        ops.AddField(
            model_name="Operator",
            name="telegram_user_id",
            field=fields.BigIntField(null=True, unique=True),
        ),
        ops.RunPython(check_references),
    ]
