"""Admin pages: communities, operators, API tokens and canned responses; every change journaled.

Admins only: anyone else gets 403 and the refusal is journaled (proxy/admin_access.py). Each page has one
partial (docs/conventions.md, "Pages include their partials") its forms target. A change that succeeds redirects (HX-Redirect for htmx, 303
otherwise) to the page, which shows what was done; a refused one answers 422 with the form as typed and
the reason next to it, and changes nothing. Secrets shown once (a new API token, a generated password)
are rendered in the answer to the POST itself and kept nowhere else.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp_session import get_session
from babel.dates import get_day_names

from proxy import accounts, canned, communities
from proxy.access import AccessDenied, ActionError
from proxy.admin_access import InputError, require_admin
from proxy.admin_vk_check import check_connection
from proxy.appkeys import CONNECTIONS, SETTINGS
from proxy.inbound import CALLBACK_ROUTE
from proxy.models import ApiToken, CannedResponse, Community, CommunityMode, Operator, Role
from web import params
from web.auth import OPERATOR, log_in
from web.i18n import current_locale
from web.i18n import gettext as _
from web.partials import render, wants_partial
from web.views import admin_forms as forms

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FLASH_KEY = "admin_flash"
SECRET_ALPHABET = string.ascii_letters + string.digits
T = TypeVar("T")


# --- shared -------------------------------------------------------------------------------------


def admin_only(handler: Handler) -> Handler:
    """Let only active admins through; a refusal is journaled and answered 403."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            await require_admin(
                request[OPERATOR],
                action="admin.view" if request.method in ("GET", "HEAD") else "admin.change",
                target=request.path,
            )
        except AccessDenied:
            raise web.HTTPForbidden(text=_("Only admins may open the settings pages.")) from None
        return await handler(request)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded


def explain(exc: Exception) -> str:
    """A refusal in the reader's language (the English text when the catalog has none)."""
    if isinstance(exc, InputError):
        return _(exc.message, **exc.params)
    if isinstance(exc, ActionError):
        return _(exc.message)
    return str(exc)


def _id(request: web.Request) -> int:
    # Communities, accounts, API tokens and canned responses have 32-bit ids.
    return params.path_id(request, "id", high=params.INT32_MAX)


def _query(request: web.Request, param: params.Param[T]) -> T | None:
    try:
        return params.query_of(request)(param)
    except params.ParamError as exc:
        raise web.HTTPBadRequest(text=_(exc.message, **exc.params)) from None


async def _flash(request: web.Request, message: str) -> None:
    session = await get_session(request)
    session[FLASH_KEY] = message


async def _take_flash(request: web.Request) -> str | None:
    session = await get_session(request)
    return session.pop(FLASH_KEY, None)


async def _done(request: web.Request, url: str, message: str) -> web.StreamResponse:
    """After a change: say what was done on the next page, and go there."""
    await _flash(request, message)
    if request.headers.get("HX-Request"):
        # htmx loads the page whole (a 3xx would be followed inside the swap).
        return web.Response(status=200, headers={"HX-Redirect": url})
    raise web.HTTPSeeOther(url)


async def _show(
    request: web.Request, page: str, partial: str, context: dict[str, Any], *, status: int = 200
) -> web.StreamResponse:
    """The page, or its partial for htmx; a refused change is answered 422 (htmx swaps it in)."""
    if "flash" not in context:
        context["flash"] = await _take_flash(request) if status == 200 else None
    return render(request, partial if wants_partial(request) else page, context, status=status)


def _error(exc: Exception, form: str) -> dict[str, Any]:
    return {
        "error": {"form": form, "text": explain(exc), "field": getattr(exc, "field", None)},
    }


def _isolated(text: str) -> str:
    """Text people typed, inside a sentence: Unicode isolates keep its direction marks to itself."""
    return f"\u2068{text}\u2069"


# --- overview -----------------------------------------------------------------------------------


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
        "flash": await _take_flash(request),
    }
    return render(request, "admin/index.html", context)


# --- communities --------------------------------------------------------------------------------


def callback_url(request: web.Request, group_id: int | str) -> str:
    """The address to paste into VK's Callback API settings."""
    base = request.app[SETTINGS].public_url.rstrip("/")
    return base + CALLBACK_ROUTE.format(group_id=group_id)


@admin_only
async def communities_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/communities."""
    rows = await Community.all().order_by("-is_active", "name")
    context = {"communities": rows, "flash": await _take_flash(request)}
    return render(request, "admin/communities.html", context)


async def _community_context(
    request: web.Request, community: Community | None, **extra: Any
) -> dict[str, Any]:
    settings = request.app[SETTINGS]
    if "values" not in extra:
        fresh_secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(32))
        extra["values"] = forms.community_values(community, settings.timezone, fresh_secret)
    typed = str(extra["values"].get("vk_group_id", ""))
    group_id = community.vk_group_id if community else (typed if typed.isascii() and typed.isdigit() else "GROUP_ID")
    day_names = get_day_names("abbreviated", locale=current_locale())
    return {
        "community": community,
        "callback_url": callback_url(request, group_id),
        "timezones": forms.timezones(),
        "weekdays": [(day, day_names[day]) for day in range(7)],
        "modes": [m.value for m in CommunityMode],
        "error": None,
        "checks": None,
        **extra,
    }


async def _community(request: web.Request) -> Community:
    community = await Community.get_or_none(id=_id(request))
    if community is None:
        raise web.HTTPNotFound(text=_("No such community."))
    return community


@admin_only
async def community_new(request: web.Request) -> web.StreamResponse:
    """GET /admin/communities/new: the form of a new community, with a fresh secret key."""
    context = await _community_context(request, None)
    return await _show(request, "admin/community.html", "admin/_community.html", context)


@admin_only
async def community_create(request: web.Request) -> web.StreamResponse:
    """POST /admin/communities: add a community, then show its callback settings."""
    form = await request.post()
    values = forms.submitted_values(form)
    try:
        parsed = forms.parse_community_form(form, values, new=True)
        assert parsed.vk_group_id is not None
        community = await communities.add_community(
            request.app[SETTINGS],
            vk_group_id=parsed.vk_group_id,
            name=parsed.name,
            secret=parsed.secret,
            confirmation=parsed.confirmation,
            mode=parsed.mode,
            community_token=parsed.community_token,
            admin_token=parsed.admin_token,
            admin_vk_user_id=parsed.admin_vk_user_id,
            sla_seconds=parsed.sla_seconds,
            business_hours=parsed.business_hours,
            created_by=request[OPERATOR],
        )
    except InputError as exc:
        context = await _community_context(
            request, None, values=values, tokens_dropped=forms.tokens_entered(form), **_error(exc, "community")
        )
        return await _show(request, "admin/community.html", "admin/_community.html", context, status=422)
    message = _("Community %(name)s added. Paste the callback settings below into VK.", name=_isolated(community.name))
    return await _done(request, f"/admin/communities/{community.id}", message)


@admin_only
async def community_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/communities/{id}: callback settings, the settings form, token presence, test button."""
    community = await _community(request)
    context = await _community_context(request, community)
    return await _show(request, "admin/community.html", "admin/_community.html", context)


@admin_only
async def community_update(request: web.Request) -> web.StreamResponse:
    """POST /admin/communities/{id}: save the settings (tokens only when a new one is pasted)."""
    community = await _community(request)
    form = await request.post()
    values = forms.submitted_values(form)
    values["vk_group_id"] = str(community.vk_group_id)
    try:
        parsed = forms.parse_community_form(form, values, new=False)
        changed = await communities.update_community(
            request.app[SETTINGS],
            community.id,
            by=request[OPERATOR],
            name=parsed.name,
            mode=parsed.mode,
            secret=parsed.secret,
            confirmation=parsed.confirmation,
            sla_seconds=parsed.sla_seconds,
            business_hours=parsed.business_hours,
            admin_vk_user_id=parsed.admin_vk_user_id,
            community_token=parsed.community_token,
            admin_token=parsed.admin_token,
            remove_community_token=parsed.remove_community_token,
            remove_admin_token=parsed.remove_admin_token,
        )
    except InputError as exc:
        context = await _community_context(
            request, community, values=values, tokens_dropped=forms.tokens_entered(form), **_error(exc, "community")
        )
        return await _show(request, "admin/community.html", "admin/_community.html", context, status=422)
    message = _("Saved.") if changed else _("Nothing changed.")
    return await _done(request, f"/admin/communities/{community.id}", message)


@admin_only
async def community_active(request: web.Request) -> web.StreamResponse:
    """POST /admin/communities/{id}/active: active=1 serves the community again, active=0 stops."""
    community = await _community(request)
    form = await request.post()
    active = forms.text(form, "active") == "1"
    await communities.set_community_active(community.id, active, by=request[OPERATOR])
    message = (
        _("The community is served again.")
        if active
        else _("The community is no longer served: VK's requests for it are refused, its history stays.")
    )
    return await _done(request, f"/admin/communities/{community.id}", message)


@admin_only
async def community_test(request: web.Request) -> web.StreamResponse:
    """POST /admin/communities/{id}/test: call VK with the saved tokens and say what it answered."""
    community = await _community(request)
    checks = await check_connection(
        request.app[SETTINGS], community.id, by=request[OPERATOR], opened=request.app[CONNECTIONS]
    )
    context = await _community_context(request, community, checks=checks)
    if wants_partial(request):
        return render(request, "admin/_connection_test.html", context)
    return render(request, "admin/community.html", {**context, "flash": None})


# --- operators ----------------------------------------------------------------------------------


async def _operators_context(**extra: Any) -> dict[str, Any]:
    rows = await Operator.all().order_by("-is_active", "login").prefetch_related("communities")
    return {
        "operators": rows,
        "roles": [r.value for r in Role],
        "values": {"login": "", "display_name": "", "role": Role.OPERATOR.value},
        "error": None,
        **extra,
    }


@admin_only
async def operators_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/operators: every account, and the form to create one."""
    return await _show(request, "admin/operators.html", "admin/_operators.html", await _operators_context())


@admin_only
async def operator_create(request: web.Request) -> web.StreamResponse:
    """POST /admin/operators: create an account."""
    form = await request.post()
    values = {k: forms.text(form, k) for k in ("login", "display_name", "role")}
    try:
        created = await accounts.create_operator(
            values["login"],
            str(form.get("password", "")),
            forms.role(form),
            display_name=values["display_name"],
            created_by=request[OPERATOR],
        )
    except InputError as exc:
        context = await _operators_context(values=values, **_error(exc, "create"))
        return await _show(request, "admin/operators.html", "admin/_operators.html", context, status=422)
    message = _("Account %(login)s created. Give them their password; they can log in now.", login=created.login)
    return await _done(request, f"/admin/operators/{created.id}", message)


async def _account(request: web.Request) -> Operator:
    account = await Operator.get_or_none(id=_id(request))
    if account is None:
        raise web.HTTPNotFound(text=_("No such account."))
    return account


async def _operator_context(account: Operator, **extra: Any) -> dict[str, Any]:
    await account.fetch_related("communities")
    member_of = {c.id for c in account.communities}
    tokens = await ApiToken.filter(operator_id=account.id).order_by("-created_at", "-id")
    return {
        "account": account,
        "roles": [r.value for r in Role],
        "all_communities": await Community.all().order_by("-is_active", "name"),
        "member_of": extra.pop("member_of", member_of),
        "values": {
            "display_name": account.display_name,
            "role": str(account.role),
            "vk_user_id": "" if account.vk_user_id is None else str(account.vk_user_id),
        },
        "tokens": tokens,
        "error": None,
        "new_password": None,
        **extra,
    }


@admin_only
async def operator_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/operators/{id}: profile, role, linked VK id, community access, status, password."""
    account = await _account(request)
    return await _show(
        request, "admin/operator.html", "admin/_operator.html", await _operator_context(account)
    )


async def _operator_refused(
    request: web.Request, account: Operator, exc: Exception, form: str, **extra: Any
) -> web.StreamResponse:
    context = await _operator_context(account, **extra, **_error(exc, form))
    return await _show(request, "admin/operator.html", "admin/_operator.html", context, status=422)


@admin_only
async def operator_update(request: web.Request) -> web.StreamResponse:
    """POST /admin/operators/{id}: display name, role, linked VK user id."""
    account = await _account(request)
    form = await request.post()
    values = {k: forms.text(form, k) for k in ("display_name", "role", "vk_user_id")}
    try:
        changed = await accounts.update_account(
            account.id,
            by=request[OPERATOR],
            display_name=values["display_name"],
            role=forms.role(form),
            vk_user_id=forms.optional_int(form, "vk_user_id", "a VK user id is a positive number"),
        )
    except InputError as exc:
        return await _operator_refused(request, account, exc, "profile", values=values)
    return await _done(
        request, f"/admin/operators/{account.id}", _("Saved.") if changed else _("Nothing changed.")
    )


@admin_only
async def operator_communities(request: web.Request) -> web.StreamResponse:
    """POST /admin/operators/{id}/communities: the communities the operator works on."""
    account = await _account(request)
    form = await request.post()
    try:
        chosen = forms.int_list(form, "communities")
        result = await accounts.set_account_communities(account.id, chosen, by=request[OPERATOR])
    except InputError as exc:
        return await _operator_refused(request, account, exc, "communities")
    changed = result["added"] or result["removed"]
    return await _done(
        request, f"/admin/operators/{account.id}", _("Saved.") if changed else _("Nothing changed.")
    )


@admin_only
async def operator_active(request: web.Request) -> web.StreamResponse:
    """POST /admin/operators/{id}/active: active=0 disables the account (its sessions end at once)."""
    account = await _account(request)
    form = await request.post()
    active = forms.text(form, "active") == "1"
    try:
        await accounts.set_account_active(account.id, active, by=request[OPERATOR])
    except InputError as exc:
        return await _operator_refused(request, account, exc, "status")
    message = (
        _("Account enabled: they can log in again.")
        if active
        else _("Account disabled: their sessions and API tokens stopped working at once.")
    )
    return await _done(request, f"/admin/operators/{account.id}", message)


@admin_only
async def operator_password(request: web.Request) -> web.StreamResponse:
    """POST /admin/operators/{id}/password: a new password (typed, or generated and shown once)."""
    account = await _account(request)
    form = await request.post()
    admin = request[OPERATOR]
    try:
        account, password = await accounts.reset_password(
            account.id, by=admin, password=str(form.get("password", "")) or None
        )
    except InputError as exc:
        return await _operator_refused(request, account, exc, "password")
    if account.id == admin.id:
        # The reset ended every session of the account, this one too: keep this one.
        await log_in(request, account)
    context = await _operator_context(
        account,
        new_password=password if not form.get("password") else None,
        flash=_("Password changed: every session of %(login)s has ended.", login=account.login),
    )
    response = await _show(request, "admin/operator.html", "admin/_operator.html", context)
    response.headers["Cache-Control"] = "no-store"  # it may carry the new password
    return response


# --- API tokens ---------------------------------------------------------------------------------


async def _tokens_context(owner_id: int | None, **extra: Any) -> dict[str, Any]:
    """The tokens page, listing one account's tokens (`?operator=`, read by the handler first) or all."""
    query = ApiToken.all().prefetch_related("operator").order_by("-created_at", "-id")
    if owner_id is not None:
        query = query.filter(operator_id=owner_id)
    return {
        "tokens": await query,
        "operators": await Operator.all().order_by("-is_active", "login"),
        "owner_id": owner_id,
        "values": {"operator": str(owner_id or ""), "name": ""},
        "error": None,
        "new_token": None,
        **extra,
    }


@admin_only
async def tokens_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/tokens[?operator=ID]: API tokens (all, or one account's), and the form to create one."""
    context = await _tokens_context(_query(request, params.OPERATOR))
    return await _show(request, "admin/tokens.html", "admin/_tokens.html", context)


@admin_only
async def token_create(request: web.Request) -> web.StreamResponse:
    """POST /admin/tokens: create a read-only API token for an account; the token is shown this once."""
    listed = _query(request, params.OPERATOR)  # read before the change: a 400 must change nothing
    form = await request.post()
    values = {"operator": forms.text(form, "operator"), "name": forms.text(form, "name")}
    try:
        owner_id = forms.optional_int(form, "operator", "choose whose token it is", high=params.INT32_MAX)
        if owner_id is None:
            raise InputError("choose whose token it is", field="operator")
        row, token = await accounts.issue_api_token(owner_id, values["name"], by=request[OPERATOR])
    except InputError as exc:
        context = await _tokens_context(listed, values=values, **_error(exc, "create"))
        return await _show(request, "admin/tokens.html", "admin/_tokens.html", context, status=422)
    await row.fetch_related("operator")
    context = await _tokens_context(listed, new_token={"row": row, "token": token}, flash=None)
    response = await _show(request, "admin/tokens.html", "admin/_tokens.html", context)
    # The token is in this answer only: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


@admin_only
async def token_revoke(request: web.Request) -> web.StreamResponse:
    """POST /admin/tokens/{id}/revoke: the token stops working at once."""
    token_id = _id(request)
    back = _query(request, params.OPERATOR)  # read before the change: a 400 must change nothing
    try:
        row = await accounts.revoke_api_token(token_id, by=request[OPERATOR])
    except InputError as exc:
        context = await _tokens_context(back, **_error(exc, "list"))
        return await _show(request, "admin/tokens.html", "admin/_tokens.html", context, status=422)
    url = "/admin/tokens" + (f"?operator={back}" if back is not None else "")
    return await _done(request, url, _("Token %(name)s revoked.", name=_isolated(row.name or f"#{row.id}")))


# --- canned responses ---------------------------------------------------------------------------


async def _canned_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    scope = _query(request, params.CANNED_SCOPE)
    return {
        "responses": await canned.canned_for_admin(scope),
        "communities": await Community.all().order_by("-is_active", "name"),
        "scope": "" if scope is None else str(scope),
        "values": {"title": "", "text": "", "community": "" if not isinstance(scope, int) else str(scope)},
        "error": None,
        **extra,
    }


def _canned_values(form: Any) -> dict[str, str]:
    return {
        "title": forms.text(form, "title"),
        "text": str(form.get("text", "")).strip(),
        "community": forms.text(form, "community"),
    }


def _canned_community(form: Any) -> int | None:
    return forms.optional_int(form, "community", "choose a community from the list", high=params.INT32_MAX)


@admin_only
async def canned_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/canned[?community=ID|team]: the templates, and the form to add one."""
    return await _show(request, "admin/canned.html", "admin/_canned.html", await _canned_context(request))


@admin_only
async def canned_create(request: web.Request) -> web.StreamResponse:
    """POST /admin/canned: add a template, team-wide or for one community."""
    form = await request.post()
    values = _canned_values(form)
    try:
        saved = await canned.save_canned(
            request[OPERATOR], title=values["title"], text=values["text"], community_id=_canned_community(form)
        )
    except (InputError, ActionError) as exc:
        context = await _canned_context(request, values=values, **_error(exc, "create"))
        return await _show(request, "admin/canned.html", "admin/_canned.html", context, status=422)
    return await _done(request, "/admin/canned", _("Template %(title)s added.", title=_isolated(saved.title)))


async def _canned_item(request: web.Request) -> CannedResponse:
    found = await CannedResponse.get_or_none(id=_id(request)).prefetch_related("community")
    if found is None:
        raise web.HTTPNotFound(text=_("No such template."))
    return found


async def _canned_edit_context(item: CannedResponse, **extra: Any) -> dict[str, Any]:
    return {
        "item": item,
        "communities": await Community.all().order_by("-is_active", "name"),
        "values": {
            "title": item.title,
            "text": item.text,
            "community": "" if item.community_id is None else str(item.community_id),  # type: ignore[attr-defined]
        },
        "error": None,
        **extra,
    }


@admin_only
async def canned_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/canned/{id}: edit or delete a template."""
    item = await _canned_item(request)
    context = await _canned_edit_context(item)
    return await _show(request, "admin/canned_edit.html", "admin/_canned_form.html", context)


@admin_only
async def canned_update(request: web.Request) -> web.StreamResponse:
    """POST /admin/canned/{id}: save a template."""
    item = await _canned_item(request)
    form = await request.post()
    values = _canned_values(form)
    try:
        await canned.save_canned(
            request[OPERATOR],
            id=item.id,
            title=values["title"],
            text=values["text"],
            community_id=_canned_community(form),
        )
    except (InputError, ActionError) as exc:
        context = await _canned_edit_context(item, values=values, **_error(exc, "edit"))
        return await _show(request, "admin/canned_edit.html", "admin/_canned_form.html", context, status=422)
    return await _done(request, "/admin/canned", _("Template %(title)s saved.", title=_isolated(values["title"])))


@admin_only
async def canned_delete(request: web.Request) -> web.StreamResponse:
    """POST /admin/canned/{id}/delete: remove a template (the journal keeps its text)."""
    item = await _canned_item(request)
    await canned.delete_canned(request[OPERATOR], item.id)
    return await _done(request, "/admin/canned", _("Template %(title)s deleted.", title=_isolated(item.title)))
