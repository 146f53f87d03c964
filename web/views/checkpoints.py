"""GET /journal/checkpoints: the signed checkpoints kept outside the database, for managers to keep.

Shows the journal's public key and the newest checkpoints of PROXY_JOURNAL_CHECKPOINT_DIR, each with
whether its signature holds, as text to copy somewhere the database's owners do not control
(docs/audit.md, "Checkpoints"). When the background task could not make its last checkpoint (the journal no
longer verifies, the directory or the webhook failed: proxy/audit/checkpoint_task.py), the page opens with
that, in red, until a checkpoint is made again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from proxy.access import AccessDenied, require_supervisor
from proxy.appkeys import SETTINGS
from proxy.audit.checkpoint_task import current_refusal
from proxy.audit.checkpoints import Checkpoint, CheckpointError, checkpoint_files
from proxy.audit.signing import NoteError, Verifier, open_note
from web.auth import OPERATOR
from web.i18n import gettext as _
from web.partials import render
from web.views.checkpoint_verification import status_context

SHOWN = 20


async def checkpoints_view(request: web.Request) -> web.StreamResponse:
    """GET /journal/checkpoints: the public key and the newest kept checkpoints (managers, admins)."""
    try:
        await require_supervisor(request[OPERATOR], action="audit.view", target="checkpoints")
    except AccessDenied:
        raise web.HTTPForbidden(text=_("Only managers and admins may open this page.")) from None
    settings = request.app[SETTINGS]
    key, directory = settings.journal_key, settings.journal_checkpoint_dir
    context: dict[str, Any] = {
        "public_key": key.verifier.text() if key is not None else None,
        "directory": directory,
        "checkpoints": [],
        "refusal": await current_refusal(),
        **status_context(request),
    }
    if key is not None and directory:
        context["checkpoints"] = await asyncio.to_thread(_newest, Path(directory), key.verifier)
    return render(request, "audit/checkpoints.html", context)


def _newest(directory: Path, verifier: Verifier) -> list[dict[str, Any]]:
    try:
        paths = list(checkpoint_files(directory))
    except (CheckpointError, OSError):
        return []
    shown = []
    for path in sorted(paths, key=lambda p: p.name, reverse=True)[:SHOWN]:
        try:
            note = path.read_text(encoding="utf-8")
            size: int | None = Checkpoint.parse(open_note(note, verifier)).size
        except (OSError, UnicodeDecodeError):
            continue
        except (NoteError, CheckpointError):
            size = None
        shown.append({"name": path.name, "note": note, "size": size, "valid": size is not None})
    return shown
