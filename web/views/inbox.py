"""The operator's inbox: the queue of conversations, as a page or (for htmx) the list partial."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from proxy import inbox
from proxy.clock import utcnow
from proxy.models import Channel, Community
from web import params
from web.auth import SCOPE
from web.partials import render, wants_partial
from web.views.live import INBOX_BROADCASTER


async def index(request: web.Request) -> web.StreamResponse:
    """GET / : the queue, filtered by the URL's query; the list partial alone for htmx requests."""
    scope = request[SCOPE]
    error = None
    # Taken before the query: any change the list misses is pushed after this position (app.js).
    live_since = request.app[INBOX_BROADCASTER].position
    query = params.query_of(request)
    try:
        filters = params.inbox_filter(query)
        cursor = query(params.INBOX_AFTER)
        page = await inbox.inbox_page(scope, filters, cursor=cursor)
    except (params.ParamError, inbox.InboxError) as exc:
        error, filters, cursor = params.explain(exc), inbox.InboxFilter(), None
        page = inbox.InboxPage([], None)
    query = filters.to_query()
    context = {
        "page": page,
        "filters": filters,
        "cursor": cursor,
        "error": error,
        "list_url": _url(query, cursor),
        "first_url": _url(query, None),
        "next_url": _url(query, page.next_cursor),
        "live_since": live_since,
        "page_size": inbox.PAGE_SIZE,
        "next_sla_ms": int(page.next_sla_at.timestamp() * 1000) if page.next_sla_at else "",
        # The browser's clock may differ: its waits tick from this.
        "now_ms": int(utcnow().timestamp() * 1000),
    }
    status = 400 if error else 200
    if wants_partial(request):
        return render(request, "inbox/_list.html", context, status=status)
    allowed = scope.communities()
    communities = Community.filter(is_active=True).order_by("name")
    if allowed is not None:
        communities = communities.filter(id__in=allowed)
    # An operator given no community sees nothing at all: the page says why rather than "no conversations".
    no_communities = allowed is not None and not allowed
    context.update(
        communities=await communities, channels=[c.value for c in Channel], no_communities=no_communities
    )
    return render(request, "inbox/index.html", context, status=status)


def _url(query: dict[str, str], cursor: str | None) -> str:
    params = dict(query)
    if cursor:
        params["after"] = cursor
    return "/?" + urlencode(params) if params else "/"
