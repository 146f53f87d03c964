"""The command line: `proxy migrate`, `proxy serve`, `proxy user add`, ...

Every command group adds its commands in `COMMAND_GROUPS`, the one list of them, in the order `--help`
shows them. Every failure a user can cause ends in one line on stderr and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable

from proxy import key_command, sync
from proxy.audit import commands as audit_commands
from proxy.cli import accounts, communities, rules, service
from proxy.cli.common import Parser, Registrar
from proxy.cli_errors import CommandError
from proxy.settings import Settings, SettingsError

COMMAND_GROUPS: tuple[Registrar, ...] = (
    service.register,  # migrate, bootstrap, serve
    accounts.register_users,  # user add, user link-vk, user link-telegram
    communities.register,  # community add
    rules.register,  # rule list|show|add|update|mode|archive|test
    accounts.register_tokens,  # token create
    audit_commands.register,  # journal verify|checkpoint|key, export backup, import backup
    sync.register,  # sync
    key_command.register,  # key generate
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="proxy", description="Moderation and audit proxy for VK communities.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for register in COMMAND_GROUPS:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from proxy.accounts import AccountError
    from proxy.communities import CommunityError

    try:
        args = build_parser().parse_args(argv)
        settings = Settings.from_env() if getattr(args, "needs_settings", True) else Settings()
        if settings.journal_key is not None:  # entries this command journals carry the key's MAC
            from proxy.audit import journal

            journal.use_key(settings.journal_key)
        result = args.func(args, settings)
        if asyncio.iscoroutine(result):
            result = asyncio.run(bounded(result, getattr(args, "time_limit", COMMAND_TIME_LIMIT)))
        return int(result or 0)
    except (CommandError, SettingsError, AccountError, CommunityError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except (OSError, ConnectionError) as exc:
        print(f"error: cannot reach the database or a file: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from tortoise.exceptions import BaseORMException

        if isinstance(exc, BaseORMException):
            print(f"error: database: {exc}", file=sys.stderr)
            return 1
        raise


# A database that never answers must not hang a command forever. Commands that work through the whole
# history (backup, restore, verify, checkpoint: minutes per million rows, docs/benchmarks.md
# "journal_scale") set `time_limit=None`: they are busy, not waiting, and a bound would cut off a large
# restore half way.
COMMAND_TIME_LIMIT = 600.0


async def bounded(coro: Awaitable[int], seconds: float | None) -> int:
    """Run a command's coroutine, cut off after `seconds` (None: no limit)."""
    try:
        async with asyncio.timeout(seconds):
            return await coro
    except TimeoutError:
        raise CommandError(f"the database did not answer within {seconds / 60:g} minutes") from None
