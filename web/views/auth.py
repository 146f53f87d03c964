"""Log in (throttled after repeated failures) and log out."""

from __future__ import annotations

from aiohttp import web

from proxy import accounts
from proxy.appkeys import SETTINGS
from proxy.audit import journal
from proxy.models import ActorKind
from web import params
from web.auth import OPERATOR, current_operator, end_other_sessions, log_in, log_out
from web.client_address import client_address
from web.i18n import gettext as _
from web.partials import render
from web.throttle import LOGIN_THROTTLE


def _next(source: params.Source) -> str:
    """Where to go after logging in: a local path (web/params.py), the inbox when it is unusable."""
    try:
        return source.get(params.NEXT, "/")
    except params.ParamError:
        return "/"


async def login_page(request: web.Request) -> web.StreamResponse:
    target = _next(params.query_of(request))
    if await current_operator(request) is not None:
        raise web.HTTPFound(target)
    context = {"next": target, "error": None, "login": ""}
    return render(request, "auth/login.html", context)


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await params.form_of(request)
    target = _next(form)
    try:
        login = form.get(params.LOGIN, "")
        password = form.get(params.PASSWORD, "")
    except params.ParamError as exc:
        context = {"next": target, "error": _(exc.message, **exc.params), "login": ""}
        return render(request, "auth/login.html", context, status=400)
    throttle = request.app[LOGIN_THROTTLE]
    ip = client_address(request, request.app[SETTINGS].trusted_proxies)

    # Counted before the password is checked: concurrent guesses cannot all pass a count not yet made.
    wait = await throttle.take(login, ip)
    if wait:
        await journal.record(
            "auth.login_throttled", actor_kind=ActorKind.SYSTEM, params={"login": login, "ip": ip}
        )
        error = _("Too many failed attempts. Try again in %(seconds)s s.", seconds=wait)
        response = render(request, "auth/login.html", {"next": target, "error": error, "login": login}, status=429)
        response.headers["Retry-After"] = str(wait)
        return response

    operator = await accounts.authenticate(login, password)
    if operator is None:
        await journal.record("auth.login_failed", actor_kind=ActorKind.SYSTEM, params={"login": login, "ip": ip})
        context = {"next": target, "error": _("Wrong login or password."), "login": login}
        return render(request, "auth/login.html", context, status=401)
    await throttle.succeeded(login, ip)
    await log_in(request, operator)
    await journal.record(
        "auth.login", actor_kind=ActorKind.OPERATOR, operator_id=operator.id, params={"ip": ip}
    )
    raise web.HTTPFound(target)


async def logout(request: web.Request) -> web.StreamResponse:
    operator = request[OPERATOR]
    await journal.record("auth.logout", actor_kind=ActorKind.OPERATOR, operator_id=operator.id)
    await log_out(request, operator)
    raise web.HTTPFound("/login")


async def end_sessions(request: web.Request) -> web.StreamResponse:
    """POST /sessions/end: the "end all my sessions" button; this browser stays logged in."""
    operator = request[OPERATOR]
    await end_other_sessions(request, operator)
    await journal.record("auth.sessions_ended", actor_kind=ActorKind.OPERATOR, operator_id=operator.id)
    return render(request, "auth/sessions_ended.html", {})
