"""Commands contributed by feature modules (audit, sync, export), registered with the CLI."""

from __future__ import annotations
