"""At most one active ban per community and author, enforced by the database (proxy/bans.py).

A ban row is one ban as the proxy knows it; a ban that ended keeps its row with lifted_at set, and a new
ban is a new row. Before this migration a ban made through the proxy could be stored twice, by the
outbox and by ingest taking in VK's user_block for it at the same moment: two active rows, a
millisecond apart, each counted as a ban. Existing active rows are resolved first, nothing ended is
touched:

1. An active ban whose end date came before a later active ban of the same author began had ended by
   then (VK's user_unblock "by end date" never arrived): it gets lifted_at = its end date, and stays.
2. Any other active rows of one author in one community are one ban recorded more than once. The first
   recorded (the earliest banned_at) stays, with the operator and the VK admin any of them named
   (the one recorded first wins where two differ); the others are removed, having said nothing more.

Then the partial unique index ban (community_id, author_id) WHERE lifted_at IS NULL, on both databases.
"""

from itertools import groupby

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEX_NAME = "uniq_ban_one_active"

END_BANS_THAT_RAN_OUT = """
    UPDATE ban SET lifted_at = until
    WHERE lifted_at IS NULL AND until IS NOT NULL AND EXISTS (
        SELECT 1 FROM ban later
        WHERE later.community_id = ban.community_id AND later.author_id = ban.author_id
          AND later.lifted_at IS NULL AND later.id <> ban.id AND later.banned_at >= ban.until
    )
"""
ACTIVE_DUPLICATES = """
    SELECT id, community_id, author_id, banned_by_id, admin_vk_id FROM ban
    WHERE lifted_at IS NULL AND EXISTS (
        SELECT 1 FROM ban other
        WHERE other.community_id = ban.community_id AND other.author_id = ban.author_id
          AND other.lifted_at IS NULL AND other.id <> ban.id
    )
    ORDER BY community_id, author_id, banned_at, id
"""
ONE_ACTIVE_INDEX = (
    f"CREATE UNIQUE INDEX IF NOT EXISTS {INDEX_NAME} ON ban (community_id, author_id) WHERE lifted_at IS NULL"
)


def _first(values):
    return next((value for value in values if value is not None), None)


async def one_active_ban(apps, schema_editor) -> None:
    client = schema_editor.client
    dialect = client.capabilities.dialect
    if dialect not in ("postgres", "sqlite"):
        raise RuntimeError(f"no ban index written for the {dialect} dialect")
    if schema_editor.collect_sql:
        schema_editor.collected_sql += [
            END_BANS_THAT_RAN_OUT,
            "-- duplicates merged in Python",
            ONE_ACTIVE_INDEX,
        ]
        return

    def placeholder(n: int) -> str:
        return f"${n}" if dialect == "postgres" else "?"

    await client.execute_query(END_BANS_THAT_RAN_OUT)
    rows = await client.execute_query_dict(ACTIVE_DUPLICATES)
    for _, group in groupby(rows, key=lambda row: (row["community_id"], row["author_id"])):
        kept, *others = list(group)
        await client.execute_query(
            f"UPDATE ban SET banned_by_id = {placeholder(1)}, admin_vk_id = {placeholder(2)} "
            f"WHERE id = {placeholder(3)}",
            [
                _first(row["banned_by_id"] for row in [kept, *others]),
                _first(row["admin_vk_id"] for row in [kept, *others]),
                kept["id"],
            ],
        )
        for other in others:
            await client.execute_query(f"DELETE FROM ban WHERE id = {placeholder(1)}", [other["id"]])
    await client.execute_query(ONE_ACTIVE_INDEX)


class Migration(migrations.Migration):
    dependencies = [("models", "0006_drop_indexes_nothing_reads")]

    operations = [ops.RunPython(one_active_ban)]
