"""Your own account (GET /account, reached by your name in the top bar): a new password, your language,
and ending your other sessions. The rules are proxy/own_account.py's; this parses, throttles and renders.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy import own_account
from proxy.admin_access import InputError
from proxy.appkeys import SETTINGS
from web.auth import OPERATOR, log_in
from web.client_address import client_address
from web.i18n import browser_locale, preferred_locale, rendering_in
from web.i18n import gettext as _
from web.partials import render
from web.throttle import LOGIN_THROTTLE
from web.views import admin_forms as forms
from web.views.admin_common import done, refusal, take_flash

PAGE = "account/page.html"


async def _context(request: web.Request, **extra: Any) -> dict[str, Any]:
    return {
        "account": request[OPERATOR],
        "browser_locale": browser_locale(request),
        "end_others": True,
        "error": None,
        "flash": await take_flash(request) if "error" not in extra else None,
        **extra,
    }


async def _refused(request: web.Request, context: dict[str, Any], status: int) -> web.StreamResponse:
    response = render(request, PAGE, await _context(request, **context), status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def account_page(request: web.Request) -> web.StreamResponse:
    """GET /account: the page."""
    return render(request, PAGE, await _context(request))


async def change_password(request: web.Request) -> web.StreamResponse:
    """POST /account/password: the current password, the new one twice, and "end my other sessions".

    A refusal writes nothing. A check of the current password is a log in attempt to the throttle
    (web/throttle.py): taken before it is checked, counted when wrong, cleared when right."""
    operator = request[OPERATOR]
    form = await request.post()
    current, new, repeated = (
        str(form.get(name, "")) for name in ("current_password", "new_password", "repeat_password")
    )
    end_others = forms.text(form, "end_others") == "1"
    kept = {"end_others": end_others}
    try:
        own_account.check_new_password(current, new, repeated)
    except InputError as exc:
        return await _refused(request, {**kept, **refusal(exc, "password")}, 422)

    throttle = request.app[LOGIN_THROTTLE]
    ip = client_address(request, request.app[SETTINGS].trusted_proxies)
    wait = await throttle.take(operator.login, ip)
    if wait:
        error = {"form": "password", "field": "current_password"}
        error["text"] = _("Too many failed attempts. Try again in %(seconds)s s.", seconds=wait)
        response = await _refused(request, {**kept, "error": error}, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        account = await own_account.change_own_password(
            operator, current, new, repeated, end_other_sessions=end_others
        )
    except InputError as exc:
        return await _refused(request, {**kept, **refusal(exc, "password")}, 422)
    await throttle.succeeded(operator.login, ip)
    if end_others:
        # Every session of the account ended with the change: this one carries the new version on.
        await log_in(request, account)
        message = _("Your password is changed, and every other session of your account has ended.")
    else:
        message = _("Your password is changed. Your other sessions go on.")
    return await done(request, "/account", message)


async def change_language(request: web.Request) -> web.StreamResponse:
    """POST /account/language: the language of the pages ("" for the browser's)."""
    form = await request.post()
    try:
        changed = await own_account.set_own_locale(request[OPERATOR], forms.text(form, "locale"))
    except InputError as exc:
        return await _refused(request, refusal(exc, "language"), 422)
    # The flash is read on the next page, which is already in the language chosen: say it in that one.
    with rendering_in(preferred_locale(request), None):
        message = _("Saved.") if changed else _("Nothing changed.")
    return await done(request, "/account", message)
