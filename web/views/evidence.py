"""GET /evidence?conversation=ID | operator=ID | author=ID: an incident's evidence package, for managers.

Made by `proxy journal evidence FILE --conversation|--operator|--author ID` itself, in a child process
(web/journal_process.py: it hashes the journal up to the checkpoint, all of history, which must not run
on the operators' event loop): the entries concerned, the item versions they name, their proofs against the
newest checkpoint kept in PROXY_JOURNAL_CHECKPOINT_DIR, signed as a whole with the journal key. Without a
key or kept checkpoints the page says why no package can be made (409). Managers and admins only; a
conversation outside the scope, or any id that does not exist, answers 404 like everywhere. Each
download is journaled ("evidence.download").
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from proxy.access import AccessDenied, require_row, require_supervisor
from proxy.appkeys import SETTINGS
from proxy.audit import journal
from proxy.models import ActorKind, Author, Conversation, Operator
from proxy.settings import Settings
from web import params
from web.auth import OPERATOR, SCOPE
from web.csv_stream import content_disposition
from web.i18n import gettext as _
from web.journal_process import run_journal_command
from web.partials import render
from web.refusal import not_found, refused

SUBJECTS = {"conversation": params.CONVERSATION, "operator": params.OPERATOR, "author": params.AUTHOR}
ACTION = "evidence.download"


def _subject(request: web.Request) -> tuple[str, int]:
    source = params.Source(request.query)
    try:
        given = [(kind, source(param)) for kind, param in SUBJECTS.items()]
    except params.ParamError as exc:
        raise web.HTTPBadRequest(text=_(exc.message, **exc.params)) from None
    chosen = [(kind, value) for kind, value in given if value is not None]
    if len(chosen) != 1:
        raise web.HTTPBadRequest(
            text=_("An evidence package is for one conversation, one operator or one author.")
        )
    return chosen[0]


async def evidence_download(request: web.Request) -> web.StreamResponse:
    operator = request[OPERATOR]
    kind, subject_id = _subject(request)
    target = f"{kind}:{subject_id}"
    try:
        await require_supervisor(operator, action=ACTION, target=target)
    except AccessDenied:
        raise web.HTTPForbidden(text=_("Only managers and admins may open this page.")) from None
    community_id = None
    if kind == "conversation":
        conversation = await Conversation.get_or_none(id=subject_id)
        community_id = conversation.community_id if conversation else None  # type: ignore[attr-defined]
        try:
            await require_row(request[SCOPE], operator, community_id, action=ACTION, target=target)
        except AccessDenied as exc:
            raise refused(exc) from None
    elif not await (Operator if kind == "operator" else Author).exists(id=subject_id):
        raise not_found()
    settings = request.app[SETTINGS]
    key, directory = settings.journal_key, settings.journal_checkpoint_dir
    if key is None:
        return _unavailable(
            request,
            _(
                "No journal key is configured, so the journal is not signed and nothing can be proven."
                ' An administrator sets one up (docs/audit.md, "Checkpoints").'
            ),
        )
    if not directory:
        return _unavailable(
            request,
            _(
                "No checkpoint directory is configured (PROXY_JOURNAL_CHECKPOINT_DIR): a package is proven"
                " against a kept checkpoint."
            ),
        )
    scope = {f"{kind}_id": subject_id}
    made = await _make_package(settings, directory, kind, subject_id)
    if isinstance(made, str):
        return _unavailable(request, _("No evidence package can be made now: %(reason)s", reason=made))
    data, package = made
    size = int(package["checkpoint"].split("\n")[1])
    await journal.record(
        ACTION,
        actor_kind=ActorKind.OPERATOR,
        operator_id=operator.id,
        community_id=community_id,
        conversation_id=subject_id if kind == "conversation" else None,
        params={"scope": scope, "checkpoint_size": size, "entries": len(package["entries"])},
    )
    return web.Response(
        body=data,
        content_type="application/json",
        headers={"Content-Disposition": content_disposition(f"evidence-{kind}-{subject_id}-{size}.json")},
    )


async def _make_package(
    settings: Settings, directory: str, kind: str, subject_id: int
) -> tuple[bytes, dict[str, Any]] | str:
    """The signed package's bytes and content, made by `proxy journal evidence` in a child process (it
    hashes the whole journal up to the checkpoint: web/journal_process.py); or why it could not be made."""
    with tempfile.TemporaryDirectory(prefix="evidence-") as folder:
        out = Path(folder) / "package.json"
        status, output = await run_journal_command(
            settings, "evidence", str(out), "--checkpoints", directory, f"--{kind}", str(subject_id)
        )
        if status != 0 or not out.exists():
            lines = [line.removeprefix("error: ") for line in output.splitlines() if line.strip()]
            return lines[-1] if lines else f"the command ended with status {status}"
        data = await asyncio.to_thread(out.read_bytes)
    return data, await asyncio.to_thread(json.loads, data)


def _unavailable(request: web.Request, reason: str) -> web.StreamResponse:
    return render(request, "audit/evidence_unavailable.html", {"reason": reason}, status=409)
