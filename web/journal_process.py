"""A `proxy journal ...` command run as a child process of this instance, for the pages.

Verifying the journal or proving a package against a checkpoint walks the whole history: minutes of CPU
per million entries, which must not be taken from the event loop that serves the operators. The child is
the command itself, so the pages and the command line say and produce the same thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

from proxy.settings import Settings


async def run_journal_command(settings: Settings, *argv: str) -> tuple[int, str]:
    """Run `proxy journal ARGV...` against this instance's database and key; (exit status, output)."""
    key = settings.journal_key
    assert key is not None
    env = {name: value for name, value in os.environ.items() if name != "PROXY_JOURNAL_KEY_FILE"}
    # The child reads its settings from the environment: this instance's database and key (the key's
    # text goes through the environment only, never a command line that `ps` would show).
    env.update(
        DATABASE_URL=settings.database_url, PROXY_JOURNAL_KEY=key.text(), PROXY_SECRET_KEY=settings.secret_key
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "journal", *argv,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        output, _ = await child.communicate()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
        raise
    return child.returncode or 0, output.decode("utf-8", "replace")
