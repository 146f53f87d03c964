"""Why a conversation was closed without a reply (docs/metrics.md, "Closed without a reply").

conversation_close.reason: one of proxy/actions.py CLOSE_REASONS (spam, duplicate, no_answer_needed,
other), chosen by the operator when closing without a reply; NULL when none was given, for every closing
with a reply, and for every closing before this migration. The journal entry of the closing
(`conversation.close`) carries the same reason in its params; this column is there so the statistics count
closings by reason with the rest of `conversation_close`, without reading the journal.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0012_thread_parents")]

    operations = [
        ops.AddField(
            model_name="ConversationClose",
            name="reason",
            field=fields.CharField(max_length=32, null=True),
        ),
    ]
