"""Commands contributed by feature modules (audit, sync, export), registered with the CLI."""

from __future__ import annotations

from proxy.audit.commands import register as register_audit
from proxy.cli import EXTRA_COMMANDS

EXTRA_COMMANDS.append(register_audit)
