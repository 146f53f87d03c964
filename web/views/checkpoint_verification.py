"""POST /journal/checkpoints/verify: check the database against the kept checkpoints, in the background.

The command itself, `proxy journal verify --checkpoints DIR`, run as a child process with the kept
checkpoints of PROXY_JOURNAL_CHECKPOINT_DIR and this instance's database and journal key: the walk is
minutes of CPU per million entries, which must not be taken from the event loop serving the operators. A million entries take a
couple of minutes, far longer than a request may, so a manager starts it and the checkpoints page shows
"running since ..." (refreshing that fragment until it ends), then its result. One at a time per
instance; the last result is kept on the app until the next check or a restart, and a check still
running when the server stops is cancelled. Who asked and what was found are journaled
("journal.verify": pending when asked, then done or failed with the first line of the result).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from proxy.access import AccessDenied, require_supervisor
from proxy.appkeys import SETTINGS
from proxy.audit import journal
from proxy.clock import utcnow
from proxy.models import ActorKind, Operator, Outcome
from proxy.settings import Settings
from web.auth import OPERATOR
from web.i18n import gettext as _
from web.journal_process import run_journal_command
from web.partials import render, wants_partial

log = logging.getLogger(__name__)

ACTION = "journal.verify"
# "journal verified: 1,000 entries ..." or "... 999 entries before it match": how far the check got.
ENTRIES_CHECKED = re.compile(r"(\d[\d,]*) entries")


@dataclass
class Verification:
    """One check: who asked, when, and (once finished) what it found, in the command's words."""

    requested_by: str
    started_at: datetime
    finished_at: datetime | None = None
    ok: bool | None = None
    entries: int | None = None
    lines: tuple[str, ...] = ()

    @property
    def running(self) -> bool:
        return self.finished_at is None


class Verifications:
    """This instance's check against the kept checkpoints: the one running, or the last one's result."""

    def __init__(self) -> None:
        self.last: Verification | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, settings: Settings, operator: Operator) -> bool:
        """Start a check unless one runs already (False then)."""
        if self.running:
            return False
        verification = Verification(requested_by=operator.login, started_at=utcnow())
        self.last = verification
        self._task = asyncio.create_task(
            self._run(verification, settings, operator.id), name="journal-verify"
        )
        return True

    async def finished(self) -> None:
        """Wait for the running check, if any, to end."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    async def _run(self, verification: Verification, settings: Settings, operator_id: int) -> None:
        key, directory = settings.journal_key, settings.journal_checkpoint_dir
        assert key is not None and directory  # the page offers no button without them
        entry_id = None
        try:
            entry_id = (
                await journal.record(
                    ACTION,
                    actor_kind=ActorKind.OPERATOR,
                    operator_id=operator_id,
                    params={"checkpoints": Path(directory).name},
                    outcome=Outcome.PENDING,
                )
            ).id
            ok, entries, lines = await _verify_in_own_process(settings, directory)
        except OSError as exc:
            ok, entries, lines = False, None, (str(exc),)
        except asyncio.CancelledError:
            verification.finished_at = utcnow()
            verification.ok, verification.lines = False, ("cancelled: the proxy stopped",)
            await _journal_outcome(entry_id, ok=False, detail=verification.lines[0])
            raise
        except Exception as exc:
            log.exception("journal verification failed")
            ok, entries, lines = False, None, (f"the check itself failed: {exc}",)
        verification.finished_at = utcnow()
        verification.ok, verification.entries, verification.lines = ok, entries, lines
        await _journal_outcome(entry_id, ok=ok, detail=lines[0] if lines else None)

    async def cancel(self) -> None:
        """Stop a running check (the server is stopping); its outcome is journaled as failed."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _verify_in_own_process(
    settings: Settings, directory: str
) -> tuple[bool, int | None, tuple[str, ...]]:
    """`proxy journal verify --checkpoints DIR` as a child process (web/journal_process.py)."""
    status, output = await run_journal_command(settings, "verify", "--checkpoints", directory)
    lines = tuple(line for line in output.splitlines() if line.strip())
    return status == 0, _entries_checked(lines), lines


def _entries_checked(lines: tuple[str, ...]) -> int | None:
    for line in lines:
        found = ENTRIES_CHECKED.search(line)
        if found:
            return int(found.group(1).replace(",", ""))
    return None


async def _journal_outcome(entry_id: int | None, *, ok: bool, detail: str | None) -> None:
    if entry_id is None:
        return  # the request itself could not be journaled (logged with the failure)
    try:
        await journal.set_outcome(entry_id, Outcome.DONE if ok else Outcome.FAILED, detail)
    except Exception:
        log.exception("could not journal the outcome of journal verification %s", entry_id)


VERIFICATIONS = web.AppKey("journal_verifications", Verifications)


def can_verify(settings: Settings) -> bool:
    return settings.journal_key is not None and bool(settings.journal_checkpoint_dir)


def status_context(request: web.Request) -> dict[str, Any]:
    """What the checkpoints page's verification fragment shows."""
    return {
        "can_verify": can_verify(request.app[SETTINGS]),
        "verification": request.app[VERIFICATIONS].last,
        "verification_notice": None,
    }


async def _require_supervisor(request: web.Request) -> Operator:
    operator = request[OPERATOR]
    try:
        await require_supervisor(operator, action=ACTION, target="checkpoints")
    except AccessDenied:
        raise web.HTTPForbidden(text=_("Only managers and admins may open this page.")) from None
    return operator


async def verification_status(request: web.Request) -> web.StreamResponse:
    """GET /journal/checkpoints/verification: the fragment alone (htmx refreshes it while a check runs)."""
    await _require_supervisor(request)
    return render(request, "audit/_checkpoint_verification.html", status_context(request))


async def verify_now(request: web.Request) -> web.StreamResponse:
    """POST /journal/checkpoints/verify: start a check unless one runs already."""
    operator = await _require_supervisor(request)
    settings = request.app[SETTINGS]
    if not can_verify(settings):
        raise web.HTTPConflict(
            text=_(
                "No journal key or no checkpoint directory is configured: there is nothing to check against."
            )
        )
    started = request.app[VERIFICATIONS].start(settings, operator)
    if not wants_partial(request):
        raise web.HTTPSeeOther("/journal/checkpoints")
    context = status_context(request)
    if not started:
        context["verification_notice"] = _("A check is already running; its result will show here.")
    return render(request, "audit/_checkpoint_verification.html", context)


async def _cancel(app: web.Application) -> None:
    await app[VERIFICATIONS].cancel()


def prepare_verifications(app: web.Application) -> None:
    """This instance's verifications (their routes are in web/routes.py)."""
    app[VERIFICATIONS] = Verifications()
    # On shutdown, not cleanup: the database is still open to journal the cancelled check's outcome.
    app.on_shutdown.append(_cancel)
