"""Commands contributed by feature modules (audit, sync, export), registered with the CLI."""

from __future__ import annotations

from proxy.audit.commands import register as register_audit
from proxy.cli import EXTRA_COMMANDS
from proxy.sync import register as register_sync

EXTRA_COMMANDS.append(register_audit)
EXTRA_COMMANDS.append(register_sync)
