"""Audit: the manager pages (the journal, deleted content with restore, incident search, timelines) and
the CSV exports /audit/journal.csv and /audit/deleted.csv.

Managers and admins read and export everything. An operator reads and exports only their own journal
(/journal, journal.csv; audit/reading.py `readable_journal` decides for both) and their own operator
timeline; anything else answers 403, and the refusal is journaled ("access.denied", through
proxy/access.py). A refusal reads the same whether or not the asked-for id exists, so ids of other
operators stay unknown. Bad query parameters answer 400 with the reason and change nothing. A personal
API token (`Authorization: Bearer ...`) works for the exports.

Each page takes the same query parameters as its CSV export (web/params.py parses both), so the export
button carries the page's filters and the file holds the rows the page shows. Pages are keyset paged:
`before` (journal: the last entry id) and `after` (deleted, timeline: the last row's cursor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from proxy import actions
from proxy.access import AccessDenied, ActionError, deny, require_supervisor
from proxy.action_methods import RESTORE_METHODS
from proxy.appkeys import LIVE, OUTBOX_WAKEUPS, SETTINGS
from proxy.audit.archive import (
    ArchiveFilter,
    ArchiveState,
    DeletedItem,
    HistoryState,
    StateKind,
    deleted_items,
    item_histories,
)
from proxy.audit.exports import DELETED_CSV_HEADER, JOURNAL_CSV_HEADER, deleted_csv_rows, journal_csv_rows
from proxy.audit.incidents import (
    SearchHit,
    TimelineEvent,
    TimelineScope,
    group_by_conversation,
    search,
    timeline,
)
from proxy.audit.reading import OthersJournal, entries_by_id, journal_page, readable_journal
from proxy.clock import utcnow
from proxy.models import (
    ActorKind,
    Author,
    Channel,
    Community,
    Conversation,
    DeletedVia,
    Item,
    Operator,
    OutboxRow,
)
from proxy.network_limits import can_restore
from proxy.search_terms import query_terms, spans_of
from web import params
from web.auth import OPERATOR, SCOPE
from web.csv_stream import record_export, stream_csv
from web.i18n import gettext as _
from web.journal_sentences import journal_lines, timeline_lines
from web.partials import render, wants_partial
from web.refusal import refused

JOURNAL_PAGE_SIZE = 50
DELETED_PAGE_SIZE = 25
SEARCH_LIMIT = 200
TIMELINE_PAGE_SIZE = 200

# The parameters each page shares with its CSV export, in the order links are written.
JOURNAL_PARAMS = ("operator", "action", "community", "network", "actor", "outside", "from", "to")
DELETED_PARAMS = ("q", "community", "network", "channel", "via", "state", "author", "from", "to")
SEARCH_PARAMS = ("q", "community", "network", "from", "to")
TIMELINE_SUBJECTS = {
    "author": params.AUTHOR,
    "operator": params.OPERATOR,
    "conversation": params.CONVERSATION,
}

# Offered in the action filter (any other name, or a family ending in ".", is accepted too).
KNOWN_ACTIONS = (
    "reply.", "reply.send", "note.add", "comment.", "comment.delete", "comment.restore",
    "author.", "author.ban", "author.unban", "conversation.", "conversation.close",
    "conversation.reopen", "conversation.assign", "conversation.mark_read", "conversation.mark_answered",
    "vk.", "vk.reply", "vk.delete", "vk.restore", "vk.ban", "vk.unban", "vk.officers_edit",
    "access.denied", "auth.", "export.csv", "sla.alert", "ban.expired", "callback.bad_secret",
    "account.", "community.", "token.", "canned.",
    "rule.", "rule.hit", "rule.alert", "rule.create", "rule.update", "rule.archive",
)  # fmt: skip


# --- shared -----------------------------------------------------------------------------------------


def _explain(exc: params.ParamError) -> str:
    """A parameter error in the reader's language (English when the catalog has no entry)."""
    return _(exc.message, **exc.params)


def _kept(query: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """The given parameters that are set, as they were typed (the CSV export parses them the same way)."""
    return {name: query[name] for name in names if query.get(name, "").strip()}


def _url(path: str, params: Mapping[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


async def _names() -> tuple[dict[int, Operator], dict[int, str]]:
    # Operators and communities number in the tens: one read each, instead of a join per row.
    operators = {op.id: op for op in await Operator.all().order_by("login")}
    communities = dict(await Community.all().order_by("name").values_list("id", "name"))
    return operators, communities


async def _networks() -> dict[int, str]:
    """Each community's network, by id: the badge beside a row of the journal or the search."""
    return {cid: str(network) for cid, network in await Community.all().values_list("id", "network")}


async def _authors(ids: Iterable[int | None]) -> dict[int, Author]:
    wanted = {i for i in ids if i is not None}
    return {a.id: a for a in await Author.filter(id__in=wanted)} if wanted else {}


async def _conversations(ids: Iterable[int | None]) -> dict[int, Conversation]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {c.id: c for c in await Conversation.filter(id__in=wanted).select_related("author")}


def _denied_response(request: web.Request, message: str) -> web.StreamResponse:
    if wants_partial(request):
        # htmx does not swap a 403: app.js shows the text in the flash box.
        return web.Response(status=403, text=message)
    return render(request, "audit/denied.html", {"message": message}, status=403)


async def _refuse(
    request: web.Request, *, action: str, target: str, reason: str, message: str
) -> web.StreamResponse:
    """Journal the refusal (proxy/access.py) and answer 403 in words."""
    try:
        await deny(request[OPERATOR], action=action, target=target, community_id=None, reason=reason)
    except AccessDenied:
        pass
    return _denied_response(request, message)


async def _supervisors_only(request: web.Request, target: str) -> web.StreamResponse | None:
    """None for a manager or admin; else the 403 answer (the refusal journaled)."""
    try:
        await require_supervisor(request[OPERATOR], action="audit.view", target=target)
    except AccessDenied:
        return _denied_response(request, _("Only managers and admins may open this page."))
    return None


def _bad_request(request: web.Request, page: str, context: dict[str, Any], error: str) -> web.StreamResponse:
    """400: the reason on the page (with its filter form), or alone for htmx (shown in the flash box)."""
    if wants_partial(request):
        return web.Response(status=400, text=error)
    return render(request, page, {**context, "error": error}, status=400)


# --- the journal ------------------------------------------------------------------------------------


async def journal_view(request: web.Request) -> web.StreamResponse:
    """GET /journal: the team's journal (managers, admins) or the operator's own, filtered, newest first."""
    operator, scope = request[OPERATOR], request[SCOPE]
    supervisor = scope.supervisor
    query = request.query
    operators, communities = await _names()
    if scope.own_rows_only:
        operators = {operator.id: operator}
        communities = {cid: name for cid, name in communities.items() if scope.sees(cid)}
    context: dict[str, Any] = {
        "supervisor": supervisor,
        "operators": operators,
        "communities": communities,
        "networks": await _networks(),
        "known_actions": KNOWN_ACTIONS,
        "actor_kinds": [kind.value for kind in ActorKind],
        "values": _kept(query, JOURNAL_PARAMS),
        "entries": [],
        "more": False,
    }
    source = params.Source(query)
    try:
        filters = params.journal_filter(source, request.app[SETTINGS].tz)
        before = source(params.BEFORE)
    except params.ParamError as exc:
        return _bad_request(request, "audit/journal.html", context, _explain(exc))
    try:
        filters = await readable_journal(
            scope,
            operator,
            filters,
            action="journal.view",
            reason="operators may read only their own journal",
        )
    except OthersJournal:
        return _denied_response(request, _("You may read only your own journal."))
    except AccessDenied as exc:
        raise refused(exc) from None
    entries = await journal_page(filters, limit=JOURNAL_PAGE_SIZE + 1, before_id=before)
    kept = _kept(query, JOURNAL_PARAMS)
    more = len(entries) > JOURNAL_PAGE_SIZE
    entries = entries[:JOURNAL_PAGE_SIZE]
    context.update(
        entries=entries,
        lines=await journal_lines(entries, operators, communities, request.app[SETTINGS]),
        more=more,
        paged=before is not None,
        first_url=_url("/journal", kept),
        next_url=_url("/journal", {**kept, "before": str(entries[-1].id)}) if more else None,
        csv_url=_url("/audit/journal.csv", kept),
        # An operator reads their own journal whatever the URL says: show it as chosen.
        chosen_operator=filters.operator_id,
        **_live(paged=before is not None, until=filters.until),
    )
    template = "audit/_journal.html" if wants_partial(request) else "audit/journal.html"
    return render(request, template, context)


def _live(*, paged: bool, until: datetime | None) -> dict[str, Any]:
    """Whether the listing refreshes live (web/views/manager_live.py): only its newest page, and only
    when its period reaches now (entries of the past never change)."""
    now = utcnow()
    return {"live": not paged and (until is None or until > now), "rendered_at": now}


# --- deleted content --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletedRow:
    """One deleted item as the page shows it: the archive's item, its history, its last deletion."""

    item: DeletedItem
    history: list[HistoryState]
    last_deletion: HistoryState | None
    restore: OutboxRow | None  # the latest restoration queued through the proxy, if any

    @property
    def restorable(self) -> bool:
        unsent = self.restore is not None and self.restore.status in ("pending", "sending")
        return self.item.is_deleted and can_restore(self.item.network, self.item.channel) and not unsent


async def _restore_rows(item_ids: list[int]) -> dict[int, OutboxRow]:
    latest: dict[int, OutboxRow] = {}
    if item_ids:
        rows = OutboxRow.filter(item_id__in=item_ids, method__in=RESTORE_METHODS).order_by("id")
        for row in await rows:
            latest[row.item_id] = row  # type: ignore[attr-defined]
    return latest


async def _deleted_context(request: web.Request, query: Mapping[str, str]) -> dict[str, Any]:
    """The deleted-content listing for `query`; raises ParamError for a bad parameter."""
    source = params.Source(query)
    filters: ArchiveFilter = params.archive_filter(source, request.app[SETTINGS].tz)
    after = source(params.DELETED_AFTER)
    found = await deleted_items(filters, limit=DELETED_PAGE_SIZE + 1, after=after)
    more = len(found) > DELETED_PAGE_SIZE
    found = found[:DELETED_PAGE_SIZE]
    ids = [d.item_id for d in found]
    histories = await item_histories(ids)
    restores = await _restore_rows(ids)
    rows = []
    for d in found:
        history = histories.get(d.item_id, [])
        deletions = [s for s in history if s.kind == StateKind.DELETED]
        rows.append(DeletedRow(d, history, deletions[-1] if deletions else None, restores.get(d.item_id)))
    kept = _kept(query, DELETED_PARAMS)
    here = dict(kept)
    if after is not None:
        here["after"] = source.read["after"]
    last = found[-1] if found else None
    return {
        "rows": rows,
        "more": more,
        "paged": after is not None,
        "first_url": _url("/deleted", kept),
        "next_url": _url(
            "/deleted", {**kept, "after": f"{params.position_of(last.last_deleted_at)}.{last.item_id}"}
        )
        if more and last
        else None,
        "csv_url": _url("/audit/deleted.csv", kept),
        "back": urlencode(here),
        "searched": filters.text,
        "words": query_terms(filters.text),
        "highlight": highlight,
        **_live(paged=after is not None, until=filters.until),
    }


async def _deleted_form_context(query: Mapping[str, str]) -> dict[str, Any]:
    operators, communities = await _names()
    return {
        "communities": communities,
        "channels": [c.value for c in Channel],
        "vias": [v.value for v in DeletedVia],
        "states": [s.value for s in ArchiveState],
        "values": _kept(query, DELETED_PARAMS),
        "rows": [],
        "row_messages": {},
    }


async def deleted_view(request: web.Request) -> web.StreamResponse:
    """GET /deleted: every deleted comment and message, its versions, who deleted it and when."""
    refused = await _supervisors_only(request, "deleted")
    if refused is not None:
        return refused
    context = await _deleted_form_context(request.query)
    try:
        context.update(await _deleted_context(request, request.query))
    except params.ParamError as exc:
        return _bad_request(request, "audit/deleted.html", context, _explain(exc))
    template = "audit/_deleted.html" if wants_partial(request) else "audit/deleted.html"
    return render(request, template, context)


async def restore_view(request: web.Request) -> web.StreamResponse:
    """POST /deleted/{item_id}/restore: queue the restoration of a comment (an action, journaled)."""
    item_id = params.path_id(request, "item_id")
    operator = request[OPERATOR]
    try:
        await require_supervisor(operator, action="comment.restore", target=f"item:{item_id}")
    except AccessDenied:
        return _denied_response(request, _("Only managers and admins may open this page."))
    form = await params.form_of(request)
    try:
        # The listing's parameters sent back by the form: only the listing's own, to /deleted only.
        back = params.back_query(form(params.BACK), (*DELETED_PARAMS, "after"))
    except params.ParamError as exc:
        raise web.HTTPBadRequest(text=_explain(exc)) from None
    item = await Item.get_or_none(id=item_id).only("id", "community_id", "conversation_id")
    if item is None:
        raise web.HTTPNotFound(text=_("No such item."))
    message, failed = _("Restoration queued: it is sent to VK in a moment."), False
    try:
        await actions.restore_comment(request.app[SETTINGS], operator, item_id)
    except AccessDenied as exc:
        return _denied_response(request, _(exc.message))
    except ActionError as exc:
        message, failed = _(exc.message), True
    else:
        request.app[OUTBOX_WAKEUPS].wake()
        await request.app[LIVE].publish(
            "conversation_updated",
            {"community_id": item.community_id, "conversation_id": item.conversation_id},  # type: ignore[attr-defined]
        )
        if not wants_partial(request):
            raise web.HTTPSeeOther(_url("/deleted", back) + f"#deleted-item-{item_id}")
    context = await _deleted_form_context(back)
    context["row_messages"] = {item_id: (message, failed)}
    try:
        context.update(await _deleted_context(request, back))
    except params.ParamError as exc:
        context["error"] = _explain(exc)
    template = "audit/_deleted.html" if wants_partial(request) else "audit/deleted.html"
    # 422: refused, nothing queued; htmx swaps it in all the same (base.html), so the reason shows.
    return render(request, template, context, status=422 if failed else 200)


# --- incident search --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HitGroup:
    conversation_id: int | None
    conversation: Conversation | None
    hits: list[SearchHit]


def highlight(text: str, terms: tuple[str, ...]) -> list[tuple[str, bool]]:
    """`text` cut into pieces, True for the words whose stem is one of `terms` (any form), for <mark>."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for start, end in spans_of(text, terms):
        if start > position:
            pieces.append((text[position:start], False))
        pieces.append((text[start:end], True))
        position = end
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


async def search_view(request: web.Request) -> web.StreamResponse:
    """GET /search?q=...: content (every version) and the journal, grouped by conversation."""
    refused = await _supervisors_only(request, "search")
    if refused is not None:
        return refused
    query = request.query
    operators, communities = await _names()
    context: dict[str, Any] = {
        "operators": operators,
        "communities": communities,
        "networks": await _networks(),
        "values": _kept(query, SEARCH_PARAMS),
        "groups": [],
        "searched": "",
        "truncated": False,
    }
    try:
        # The same parsing as the deleted-content page: q, community, from, to.
        filters = params.archive_filter(
            params.Source({k: query[k] for k in SEARCH_PARAMS if k in query}), request.app[SETTINGS].tz
        )
    except params.ParamError as exc:
        return _bad_request(request, "audit/search.html", context, _explain(exc))
    if filters.text:
        hits = await search(
            filters.text,
            community_ids=filters.community_ids,
            since=filters.since,
            until=filters.until,
            network=filters.network,
            limit=SEARCH_LIMIT + 1,
        )
        truncated = len(hits) > SEARCH_LIMIT
        grouped = group_by_conversation(hits[:SEARCH_LIMIT])
        conversations = await _conversations(grouped)
        context.update(
            groups=[
                HitGroup(cid, conversations.get(cid) if cid else None, found)
                for cid, found in grouped.items()
            ],
            searched=filters.text,
            truncated=truncated,
            hit_count=min(len(hits), SEARCH_LIMIT),
            words=query_terms(filters.text),
            highlight=highlight,
        )
    template = "audit/_results.html" if wants_partial(request) else "audit/search.html"
    return render(request, template, context)


# --- timelines --------------------------------------------------------------------------------------


def _timeline_subject(query: params.Source) -> tuple[str, int]:
    chosen = [(name, query(param)) for name, param in TIMELINE_SUBJECTS.items()]
    given = [(name, value) for name, value in chosen if value is not None]
    if len(given) != 1:
        raise params.ParamError(
            params.N_("a timeline is for one author, one operator or one conversation: give exactly one")
        )
    return given[0]


async def timeline_view(request: web.Request) -> web.StreamResponse:
    """GET /timeline?author=ID | operator=ID | conversation=ID: what was written and done, in time order."""
    operator = request[OPERATOR]
    supervisor = request[SCOPE].supervisor
    query = request.query
    operators, communities = await _names()
    kept = {k: query[k] for k in (*TIMELINE_SUBJECTS, "from", "to") if query.get(k, "").strip()}
    context: dict[str, Any] = {
        "operators": operators,
        "communities": communities,
        "networks": await _networks(),
        "values": kept,
        "events": [],
        "supervisor": supervisor,
        "kind": None,
    }
    source = params.Source(query)
    try:
        kind, subject_id = _timeline_subject(source)
        # from / to read as on the other audit pages (inclusive days in the team's time zone).
        since, until = params.since_until(source, request.app[SETTINGS].tz)
        after = source(params.TIMELINE_AFTER)
    except params.ParamError as exc:
        return _bad_request(request, "audit/timeline.html", context, _explain(exc))
    if not supervisor and not (kind == "operator" and subject_id == operator.id):
        return await _refuse(
            request,
            action="timeline.view",
            target=f"timeline:{kind}={subject_id}",
            reason="operators may read only their own timeline",
            message=_("You may read only your own timeline."),
        )
    subject: Any
    if kind == "author":
        subject = await Author.get_or_none(id=subject_id)
    elif kind == "operator":
        subject = operators.get(subject_id)
    else:
        subject = (await _conversations([subject_id])).get(subject_id)
    if subject is None:
        raise web.HTTPNotFound(text=_("Nothing has this id."))
    scope = TimelineScope(
        since=since,
        until=until,
        **{f"{kind}_id": subject_id},  # type: ignore[arg-type]
    )
    events = await timeline(scope, limit=TIMELINE_PAGE_SIZE + 1, after=after)
    more = len(events) > TIMELINE_PAGE_SIZE
    events = events[:TIMELINE_PAGE_SIZE]
    last = events[-1] if events else None
    context.update(
        kind=kind,
        subject=subject,
        subject_id=subject_id,
        events=events,
        lines=await timeline_lines(
            events,
            await entries_by_id(e.ref_id for e in events if e.kind == "journal"),
            operators,
            communities,
            request.app[SETTINGS],
        ),
        authors=await _authors(e.author_id for e in events),
        more=more,
        paged=after is not None,
        first_url=_url("/timeline", kept),
        next_url=_url("/timeline", {**kept, "after": _timeline_cursor(last)}) if more and last else None,
    )
    template = "audit/_events.html" if wants_partial(request) else "audit/timeline.html"
    return render(request, template, context)


def _timeline_cursor(event: TimelineEvent) -> str:
    at, rank, ref = event.cursor
    return f"{params.position_of(at)}.{rank}.{ref}"


# --- CSV exports ----------------------------------------------------------------------------------

T = TypeVar("T")


def _parsed(
    request: web.Request, read: Callable[[params.Source, ZoneInfo], T]
) -> tuple[params.Source, str, T]:
    """The query, its dialect and its filters; 400 with the reason for a parameter that cannot be used."""
    query = params.query_of(request)
    try:
        return query, query.get(params.DIALECT, "csv"), read(query, request.app[SETTINGS].tz)
    except params.ParamError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


async def journal_csv(request: web.Request) -> web.StreamResponse:
    operator = request[OPERATOR]
    query, dialect, filters = _parsed(request, params.journal_filter)
    try:
        filters = await readable_journal(
            request[SCOPE],
            operator,
            filters,
            action="export.csv",
            reason="operators may export only their own journal",
        )
    except AccessDenied as exc:
        raise refused(exc) from None
    community_id = filters.community_ids[0] if filters.community_ids else None
    await record_export(request, query, community_id=community_id)
    tz = request.app[SETTINGS].tz
    return await stream_csv(
        request, "journal.csv", JOURNAL_CSV_HEADER, journal_csv_rows(filters, tz), dialect=dialect
    )


async def deleted_csv(request: web.Request) -> web.StreamResponse:
    operator = request[OPERATOR]
    query, dialect, filters = _parsed(request, params.archive_filter)
    try:
        await require_supervisor(operator, action="export.csv", target="deleted")
    except AccessDenied as exc:
        raise refused(exc) from None
    community_id = filters.community_ids[0] if filters.community_ids else None
    await record_export(request, query, community_id=community_id)
    tz = request.app[SETTINGS].tz
    return await stream_csv(
        request, "deleted.csv", DELETED_CSV_HEADER, deleted_csv_rows(filters, tz), dialect=dialect
    )
