"""Each community names its network, which chooses the connector serving it (proxy/connectors/registry.py).

- community.network: 'vk' for every community stored before (the only network so far), NOT NULL, on both
  databases.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from proxy.models import Network


class Migration(migrations.Migration):
    dependencies = [("models", "0008_forwarded_content")]

    operations = [
        ops.AddField(
            model_name="Community",
            name="network",
            # The database default fills the rows stored before.
            field=fields.CharEnumField(
                Network,
                max_length=16,
                default=Network.VK,
                db_default=Network.VK.value,
                description="VK: vk",
            ),
        ),
    ]
