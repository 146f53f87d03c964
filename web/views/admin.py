"""Admin pages: communities, operators, API tokens and canned responses; every change journaled.

Admins only: anyone else gets 403 and the refusal is journaled (proxy/admin_access.py). Each page has one
partial (docs/conventions.md, "Pages include their partials") its forms target. A change that succeeds redirects (HX-Redirect for htmx, 303
otherwise) to the page, which shows what was done; a refused one answers 422 with the form as typed and
the reason next to it, and changes nothing. Secrets shown once (a new API token, a generated password)
are rendered in the answer to the POST itself and kept nowhere else.

This module is the overview page; each section is its own module (admin_communities.py,
admin_operators.py, admin_tokens.py, admin_canned.py) and what they share is in admin_common.py.
"""

from __future__ import annotations

from aiohttp import web

from proxy.models import ApiToken, CannedResponse, Community, Operator
from web.partials import render
from web.views.admin_common import admin_only, take_flash


@admin_only
async def overview(request: web.Request) -> web.StreamResponse:
    """GET /admin: what is configured, with a link to each section."""
    context = {
        "communities_active": await Community.filter(is_active=True).count(),
        "communities_total": await Community.all().count(),
        "operators_active": await Operator.filter(is_active=True).count(),
        "operators_total": await Operator.all().count(),
        "tokens_active": await ApiToken.filter(revoked_at__isnull=True).count(),
        "canned_total": await CannedResponse.all().count(),
        "missing_tokens": await Community.filter(is_active=True, community_token_enc__isnull=True).count(),
        "flash": await take_flash(request),
    }
    return render(request, "admin/index.html", context)
