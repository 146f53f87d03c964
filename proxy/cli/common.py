"""What every command group shares: the parser that errs in one line, secret files, the database."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path

from proxy import db
from proxy.cli_errors import CommandError
from proxy.settings import Settings

# What a command is: its parsed arguments and the settings in, an exit status (or a coroutine of one) out.
Command = Callable[[argparse.Namespace, Settings], Awaitable[int] | int]
# What a command group is: it adds its commands to the top level's subparsers.
Registrar = Callable[[argparse._SubParsersAction], None]  # type: ignore[type-arg]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        raise CommandError(f"{self.prog}: {message} (see --help)")


def read_secret_file(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        value = Path(path).read_text().strip()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    if not value:
        raise CommandError(f"{path} is empty")
    return value


async def with_db(settings: Settings, body: Callable[[], Awaitable[int]]) -> int:
    async with db.database(settings.database_url):
        return await body()
