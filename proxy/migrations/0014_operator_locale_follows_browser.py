"""An account's language may follow the browser, and every account that never chose one does.

- operator.locale: '' (the new default) means "the browser's language" (web/i18n.py `preferred_locale`);
  'ru' and 'en' are a person's own choice, made on their account page (web/views/account.py).
- Every 'ru' stored before becomes ''. Nothing let anyone choose a language before this migration: no page,
  no command; 'ru' is what every account was given when it was created, so it records no one's choice,
  and it made an English-speaking browser read Russian after logging in while the log in page had
  followed the browser. A Russian browser still reads Russian, and anyone can choose Русский on their
  account page. An 'en' could only have been written on purpose (by hand in the database), so it stays.

The SQL lives here, not in an importable module, so that this migration keeps doing what it did.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

FOLLOW_THE_BROWSER = "UPDATE operator SET locale = '' WHERE locale = 'ru'"


async def follow_the_browser(apps, schema_editor) -> None:
    if schema_editor.collect_sql:
        schema_editor.collected_sql.append(FOLLOW_THE_BROWSER)
    else:
        await schema_editor.client.execute_query(FOLLOW_THE_BROWSER)


class ChangeDefault(ops.AlterField):
    """The column's new default. SQLite changes a default only by rebuilding the table, which fails
    once other tables' rows point at operators (the ban migration's test found it); every write of an
    account names its locale, so on SQLite only the schema state changes and the column keeps its old
    default."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:  # type: ignore[no-untyped-def]
        if state_editor is not None and state_editor.DIALECT == "sqlite":
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [("models", "0013_close_reason")]

    operations = [
        ChangeDefault(
            model_name="Operator", name="locale", field=fields.CharField(default="", max_length=8)
        ),
        ops.RunPython(follow_the_browser),
    ]
