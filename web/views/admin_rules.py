"""Admin pages for moderation rules: the list with each rule's figures, the form, the history, the hits.

The form is written for people who do not write code: one word, pattern, domain or VK id per line,
checkboxes for the rest. It is read here into the shape proxy/rules/spec.py checks; what a rule may say,
and every refusal, is proxy's (proxy/rules/store.py), so the pages and `proxy rule ...` agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from proxy import actions as operator_actions
from proxy.access import AccessDenied, ActionError
from proxy.admin_access import InputError
from proxy.appkeys import OUTBOX_WAKEUPS, SETTINGS
from proxy.db.sql import SqlQuery
from proxy.models import (
    CannedResponse,
    Community,
    JournalEntry,
    ModerationRule,
    Operator,
    OutboxRow,
    RuleHit,
    RuleMode,
)
from proxy.rules import store
from proxy.rules.spec import ATTACHMENT_KINDS, CHANNELS
from proxy.stats import rules as rule_figures
from web import params
from web.auth import OPERATOR
from web.i18n import gettext as _
from web.views import admin_forms as forms
from web.views.admin_common import admin_only, done, explain, isolated, query_value, refusal, row_id, show

MODES = tuple(m.value for m in RuleMode)
ACTION_KINDS = ("delete", "ban", "assign", "note", "reply", "alert", "flag")
HISTORY_ACTIONS = ("rule.create", "rule.update", "rule.archive")
# The form's textareas hold one value a line; the conditions they fill.
LINE_FIELDS = ("words", "phrases", "patterns", "domains_deny", "domains_allow")
FLAG_FIELDS = ("any_link", "phone", "mention", "new_author")
CHOICE_FIELDS = {"attachments": ATTACHMENT_KINDS, "channels": CHANNELS}
# spec.py names the part at fault; the form's field that holds it.
_ERROR_FIELDS = {"ban days": "actions", "ban reason": "actions", "operator": "actions",
                 "canned response": "actions", "community_id": "community"}  # fmt: skip


# --- the form ------------------------------------------------------------------------------------


def blank_values() -> dict[str, Any]:
    return {
        "name": "", "community": "", "mode": RuleMode.DRY_RUN.value,
        **dict.fromkeys(LINE_FIELDS, ""), "authors": "",
        **dict.fromkeys(FLAG_FIELDS, False), "attachments": [], "channels": [],
        "repeated_count": "", "repeated_minutes": "", "hours_from": "", "hours_to": "",
        "act": [], "ban_days": "", "ban_reason": "1", "ban_comment": "", "assign_operator": "",
        "note_text": "", "reply_canned": "",
    }  # fmt: skip


def rule_values(rule: ModerationRule) -> dict[str, Any]:
    """The form's strings for a stored rule."""
    values = blank_values()
    conditions, community_id = rule.conditions or {}, rule.community_id  # type: ignore[attr-defined]
    values.update(
        name=rule.name, community="" if community_id is None else str(community_id), mode=str(rule.mode)
    )
    for name in LINE_FIELDS:
        values[name] = "\n".join(conditions.get(name, []))
    values["authors"] = "\n".join(str(a) for a in conditions.get("authors", []))
    for name in FLAG_FIELDS:
        values[name] = bool(conditions.get(name))
    for name in CHOICE_FIELDS:
        values[name] = list(conditions.get(name, []))
    if repeated := conditions.get("repeated"):
        values.update(repeated_count=str(repeated["count"]), repeated_minutes=str(repeated["window_minutes"]))
    if hours := conditions.get("hours"):
        values.update(hours_from=str(hours["from"]), hours_to=str(hours["to"]))
    for action in rule.actions or []:
        values["act"].append(action["do"])
        if action["do"] == "ban":
            values.update(ban_days="" if action.get("days") is None else str(action["days"]),
                          ban_reason=str(action.get("reason", 1)), ban_comment=action.get("comment", ""))  # fmt: skip
        elif action["do"] == "assign":
            values["assign_operator"] = str(action["operator_id"])
        elif action["do"] == "note":
            values["note_text"] = action["text"]
        elif action["do"] == "reply":
            values["reply_canned"] = str(action["canned_id"])
    return values


def _lines(form: forms.Form, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def submitted_values(form: forms.Form) -> dict[str, Any]:
    """The form as typed, to show it again after a refusal."""
    values = blank_values()
    for name in ("name", "community", "mode", "repeated_count", "repeated_minutes", "hours_from", "hours_to",
                 "ban_days", "ban_reason", "ban_comment", "assign_operator", "reply_canned"):  # fmt: skip
        values[name] = forms.text(form, name)
    for name in (*LINE_FIELDS, "authors", "note_text"):
        values[name] = _lines(form, name)
    for name in FLAG_FIELDS:
        values[name] = bool(form.get(name))
    for name in (*CHOICE_FIELDS, "act"):
        values[name] = [v for v in form.getall(name, []) if isinstance(v, str)]
    return values


def _pair(first: str, second: str, keys: tuple[str, str], field: str) -> dict[str, str] | None:
    """Two numbers that go together (repeated, hours): both or neither."""
    if not first and not second:
        return None
    if not first or not second:
        raise InputError("fill in both numbers of %(field)s, or neither", field=field)
    return {keys[0]: first, keys[1]: second}


@dataclass
class RuleForm:
    name: str
    community_id: int | None
    mode: str
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]


def parse_rule_form(form: forms.Form, values: dict[str, Any]) -> RuleForm:
    """The form in the shape spec.py checks; InputError for what only the form can get wrong."""
    community_id = forms.optional_int(
        form, "community", "choose a community from the list", high=params.INT32_MAX
    )
    conditions: dict[str, Any] = {name: values[name] for name in LINE_FIELDS if values[name].strip()}
    if values["authors"].strip():
        conditions["authors"] = values["authors"]
    for name in FLAG_FIELDS:
        if values[name]:
            conditions[name] = True
    for name in CHOICE_FIELDS:
        if values[name]:
            conditions[name] = values[name]
    repeated = _pair(
        values["repeated_count"], values["repeated_minutes"], ("count", "window_minutes"), "repeated"
    )
    if repeated:
        conditions["repeated"] = repeated
    hours = _pair(values["hours_from"], values["hours_to"], ("from", "to"), "hours")
    if hours:
        conditions["hours"] = hours
    unknown = [kind for kind in values["act"] if kind not in ACTION_KINDS]
    if unknown:
        raise InputError("the form was damaged: reload the page and try again", field="actions")
    chosen: list[dict[str, Any]] = []
    for kind in ACTION_KINDS:
        if kind not in values["act"]:
            continue
        if kind == "ban":
            chosen.append({"do": "ban", "days": values["ban_days"] or None, "reason": values["ban_reason"] or "1",
                           "comment": values["ban_comment"]})  # fmt: skip
        elif kind == "assign":
            if not values["assign_operator"]:
                raise InputError("choose the operator to assign to", field="actions")
            chosen.append({"do": "assign", "operator_id": values["assign_operator"]})
        elif kind == "note":
            chosen.append({"do": "note", "text": values["note_text"]})
        elif kind == "reply":
            if not values["reply_canned"]:
                raise InputError("choose the canned response to reply with", field="actions")
            chosen.append({"do": "reply", "canned_id": values["reply_canned"]})
        else:
            chosen.append({"do": kind})
    return RuleForm(name=values["name"], community_id=community_id, mode=values["mode"], conditions=conditions,
                    actions=chosen)  # fmt: skip


def field_labels() -> dict[str, str]:
    """What spec.py calls a part of a rule, as the form calls it, for its refusals' sentences."""
    return {
        "words": _("contains one of these words"), "phrases": _("contains one of these phrases"),
        "patterns": _("matches one of these patterns"), "domains_deny": _("links to one of these sites"),
        "domains_allow": _("links to a site not on this list"), "authors": _("comes from one of these authors"),
        "attachments": _("has an attachment of these kinds"), "channels": _("arrives in"),
        "repeated": _("is repeated by its author"), "repeated.count": _("times"),
        "repeated.window_minutes": _("within minutes"), "hours": _("arrives between hours (team time)"),
        "hours.from": _("from"), "hours.to": _("to"), "ban days": _("Days (empty: for ever)"),
        "ban reason": _("Reason"), "operator": _("assign to an operator"),
        "canned response": _("reply with a canned response"),
    }  # fmt: skip


def _form_refusal(exc: Exception, form_name: str) -> dict[str, Any]:
    found = refusal(exc, form_name)
    if isinstance(exc, InputError) and "field" in exc.params:
        label = field_labels().get(str(exc.params["field"]), str(exc.params["field"]))
        found["error"]["text"] = _(exc.message, **{**exc.params, "field": _("“%(name)s”", name=label)})
    field = found["error"]["field"]
    if isinstance(field, str):
        field = field.split(".")[0]
        found["error"]["field"] = _ERROR_FIELDS.get(field, field)
    return found


async def _form_choices() -> dict[str, Any]:
    return {
        "communities": await Community.all().order_by("-is_active", "name"),
        "operators": await Operator.filter(is_active=True).order_by("display_name", "login"),
        "canned": await CannedResponse.all().order_by("title").prefetch_related("community"),
        "modes": MODES,
        "attachment_kinds": ATTACHMENT_KINDS,
        "channels": CHANNELS,
        "line_fields": LINE_FIELDS,
    }


# --- the list ------------------------------------------------------------------------------------


def seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        shown = round(seconds, 1) if seconds < 10 else round(seconds)
        return _("%(n)s s", n=shown)
    if seconds < 7200:
        return _("%(n)s min", n=round(seconds / 60))
    return _("%(n)s h", n=round(seconds / 3600, 1))


def percent_text(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.0f}%"


async def _list_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    try:
        period = params.period(params.query_of(request), request.app[SETTINGS].tz)
    except params.ParamError as exc:
        raise web.HTTPBadRequest(text=_(exc.message, **exc.params)) from None
    rules = await ModerationRule.filter(archived=False).order_by("id").prefetch_related("community")
    return {
        "rules": rules,
        "figures": await rule_figures.rule_figures(period),
        "empty": rule_figures.EMPTY,
        "period": period,
        "seconds_text": seconds_text,
        "percent_text": percent_text,
        "modes": MODES,
        "error": None,
        **extra,
    }


@admin_only
async def rules_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/rules[?from=&to=]: every rule with its figures for the period (last 7 days)."""
    return await show(request, "admin/rules.html", "admin/_rules.html", await _list_context(request))


@admin_only
async def rule_new(request: web.Request) -> web.StreamResponse:
    """GET /admin/rules/new: the form for a new rule (in dry run until someone turns it on)."""
    context = {"rule": None, "values": blank_values(), "error": None, **await _form_choices()}
    return await show(request, "admin/rule_edit.html", "admin/_rule_form.html", context)


@admin_only
async def rule_create(request: web.Request) -> web.StreamResponse:
    """POST /admin/rules: add a rule."""
    form = await request.post()
    values = submitted_values(form)
    try:
        parsed = parse_rule_form(form, values)
        saved = await store.create_rule(
            request[OPERATOR], name=parsed.name, community_id=parsed.community_id, mode=parsed.mode,
            conditions=parsed.conditions, actions=parsed.actions,
        )  # fmt: skip
    except (InputError, ActionError) as exc:
        context = {"rule": None, "values": values, **_form_refusal(exc, "rule"), **await _form_choices()}
        return await show(request, "admin/rule_edit.html", "admin/_rule_form.html", context, status=422)
    return await done(
        request, f"/admin/rules/{saved.id}", _("Rule %(name)s added.", name=isolated(saved.name))
    )


async def _rule(request: web.Request) -> ModerationRule:
    found = await ModerationRule.get_or_none(id=row_id(request)).prefetch_related("community")
    if found is None:
        raise web.HTTPNotFound(text=_("No such rule."))
    return found


async def rule_history(rule_id: int) -> list[JournalEntry]:
    """The journal's entries of the rule's changes, newest first, each with the whole definition."""
    q = SqlQuery()
    text = "REPLACE(CAST(params AS TEXT), ' ', '')"
    sql = f"""
        SELECT id FROM journal_entry
        WHERE {q.one_of("action", HISTORY_ACTIONS)}
          AND ({text} LIKE {q.p(f'%"rule_id":{rule_id},%')} OR {text} LIKE {q.p(f'%"rule_id":{rule_id}}}%')})
    """
    ids = [row["id"] for row in await q.rows(sql)]
    entries = await JournalEntry.filter(id__in=ids).order_by("-id").prefetch_related("operator")
    return [e for e in entries if isinstance(e.params, dict) and e.params.get("rule_id") == rule_id]


async def _edit_context(rule: ModerationRule, request: web.Request, **extra: Any) -> dict[str, Any]:
    period = params.period(params.Source({}), request.app[SETTINGS].tz)
    return {
        "rule": rule,
        "values": rule_values(rule),
        "history": await rule_history(rule.id),
        "figures": (await rule_figures.rule_figures(period, [rule.id])).get(rule.id, rule_figures.EMPTY),
        "seconds_text": seconds_text,
        "percent_text": percent_text,
        "error": None,
        **await _form_choices(),
        **extra,
    }


@admin_only
async def rule_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/rules/{id}: edit, switch, archive a rule; its figures and its versions."""
    rule = await _rule(request)
    return await show(
        request, "admin/rule_edit.html", "admin/_rule_form.html", await _edit_context(rule, request)
    )


@admin_only
async def rule_update(request: web.Request) -> web.StreamResponse:
    """POST /admin/rules/{id}: save a rule (a new version when anything changed)."""
    rule = await _rule(request)
    form = await request.post()
    values = submitted_values(form)
    try:
        parsed = parse_rule_form(form, values)
        await store.update_rule(
            request[OPERATOR], rule.id, name=parsed.name, community_id=parsed.community_id, mode=parsed.mode,
            conditions=parsed.conditions, actions=parsed.actions,
        )  # fmt: skip
    except (InputError, ActionError) as exc:
        context = await _edit_context(rule, request, values=values, **_form_refusal(exc, "rule"))
        status = exc.status if isinstance(exc, ActionError) and exc.status in (404, 409) else 422
        return await show(request, "admin/rule_edit.html", "admin/_rule_form.html", context, status=status)
    return await done(
        request, f"/admin/rules/{rule.id}", _("Rule %(name)s saved.", name=isolated(parsed.name))
    )


@admin_only
async def rule_mode(request: web.Request) -> web.StreamResponse:
    """POST /admin/rules/{id}/mode: switch a rule off, to dry run, or on, from the list."""
    rule = await _rule(request)
    form = await request.post()
    try:
        await store.set_mode(request[OPERATOR], rule.id, forms.text(form, "mode"))
    except (InputError, ActionError) as exc:
        context = await _list_context(request, **_form_refusal(exc, f"mode-{rule.id}"))
        return await show(request, "admin/rules.html", "admin/_rules.html", context, status=422)
    return await done(request, "/admin/rules", _("Rule %(name)s: %(mode)s.", name=isolated(rule.name),
                                                 mode=mode_name(forms.text(form, "mode"))))  # fmt: skip


def mode_name(mode: str) -> str:
    return {"off": _("off"), "dry_run": _("dry run"), "on": _("on")}.get(mode, mode)


@admin_only
async def rule_archive(request: web.Request) -> web.StreamResponse:
    """POST /admin/rules/{id}/archive: take a rule out of use and out of the list (its hits stay)."""
    rule = await _rule(request)
    await store.archive_rule(request[OPERATOR], rule.id)
    return await done(request, "/admin/rules", _("Rule %(name)s archived.", name=isolated(rule.name)))


# --- hits ----------------------------------------------------------------------------------------


@admin_only
async def rule_hits(request: web.Request) -> web.StreamResponse:
    """GET /admin/rules/{id}/hits[?before=ID]: what the rule matched, newest first, and what it did."""
    rule = await _rule(request)
    before = query_value(request, params.BEFORE)
    rows, next_before = await rule_figures.rule_hits(rule.id, before=before)
    context = {"rule": rule, "rows": rows, "next_before": next_before, "before": before, "error": None}
    return await show(request, "admin/rule_hits.html", "admin/_rule_hits.html", context)


@admin_only
async def rule_hit_undo(request: web.Request) -> web.StreamResponse:
    """POST /admin/rules/{id}/hits/{hit_id}/undo: restore the comment or lift the ban the rule made.

    Done by the operator actions, as this admin: journaled under their name, and the engine's hook
    marks the hit undone, a false positive of the rule.
    """
    rule = await _rule(request)
    hit_id = params.path_id(request, "hit_id")
    hit = await RuleHit.get_or_none(id=hit_id, rule_id=rule.id).prefetch_related("item")
    if hit is None:
        raise web.HTTPNotFound(text=_("No such hit."))
    rows = await OutboxRow.filter(id__in=rule_figures.outbox_ids(hit) or [0])
    kind = rule_figures.undo_kind(hit, hit.item, rows)
    back = f"/admin/rules/{rule.id}/hits"
    settings, operator = request.app[SETTINGS], request[OPERATOR]
    try:
        if kind == "restore":
            await operator_actions.restore_comment(settings, operator, hit.item_id)  # type: ignore[attr-defined]
            message = _("The comment is being restored.")
        elif kind == "unban":
            await operator_actions.unban_author(settings, operator, hit.conversation_id)  # type: ignore[attr-defined]
            message = _("The author's ban is being lifted.")
        else:
            raise ActionError("there is nothing of this hit to undo", 409)
    except (ActionError, AccessDenied) as exc:
        return await done(request, back, _("Not undone: %(reason)s", reason=explain(exc)))
    request.app[OUTBOX_WAKEUPS].wake()
    return await done(request, back, message)
