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


class Migration(migrations.Migration):
    dependencies = [("models", "0013_close_reason")]

    operations = [
        ops.AlterField(
            model_name="Operator", name="locale", field=fields.CharField(default="", max_length=8)
        ),
        ops.RunPython(follow_the_browser),
    ]
