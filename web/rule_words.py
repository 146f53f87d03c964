"""A moderation rule in words: its name (linked to its admin page), what it did or would have done.

The journal's sentences (web/journal_sentences.py) and the conversation page's marks (templates, through
the globals `install` registers) both name rules here, so a rule reads the same everywhere. A rule is
never an operator: Russian verbs about it take the neuter ("Правило … удалило"), which is why its
sentences are messages of their own rather than the operators' ones with another subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from markupsafe import Markup, escape

from proxy.models import ModerationRule, Operator, RuleHit, RuleMode
from web.i18n import current_locale, translations
from web.params import N_

MATCHED_CHARS = 120

# What a rule in mode "on" did, as the conversation page marks an item ("deleted, flagged for review").
DONE = {
    "delete": N_("deleted"),
    "note": N_("note added"),
    "reply": N_("answered with a canned response"),
    "alert": N_("alert raised"),
    "flag": N_("flagged for review"),
}
# What a rule in dry run would have done; in Russian each carries its "бы" ("удалило бы комментарий").
WOULD = {
    "delete": N_("deleted the comment"),
    "note": N_("added a note"),
    "reply": N_("replied with a canned response"),
    "alert": N_("raised an alert"),
    "flag": N_("flagged it for review"),
}
# An action a rule could not take (the engine's `skipped`: the comment already deleted, say), by name.
ACTION_NOUNS = {
    "delete": N_("deleting the comment"),
    "ban": N_("banning the author"),
    "assign": N_("assigning the conversation"),
    "note": N_("adding the note"),
    "reply": N_("replying with the canned response"),
    "alert": N_("raising the alert"),
    "flag": N_("flagging for review"),
}
MODES = {
    RuleMode.OFF.value: N_("switched off"),
    RuleMode.DRY_RUN.value: N_("in dry run"),
    RuleMode.ON.value: N_("switched on"),
}


def _say(message: str, **parts: object) -> Markup:
    text = translations(current_locale()).gettext(message)
    return escape(text) % parts if parts else escape(text)


def _plural(singular: str, plural: str, n: int, **parts: object) -> Markup:
    text = translations(current_locale()).ngettext(singular, plural, n)
    return escape(text) % {"num": n, **parts}


def rule_href(rule_id: object) -> str:
    return f"/admin/rules/{rule_id}"


def _name_link(rule_id: object, name: str) -> Markup:
    return Markup('<a class="rule-link" href="{}"><bdi>{}</bdi></a>').format(rule_href(rule_id), name)


def rule_subject(rule_id: object, name: str, version: object | None) -> Markup:
    """The rule as a sentence's subject: «Правило «Спам» (№3, версия 2)», "Rule “Spam” (#3, version 2)"."""
    if version is None:
        return _say(N_("Rule “%(name)s” (#%(id)s)"), name=_name_link(rule_id, name), id=rule_id)
    return _say(
        N_("Rule “%(name)s” (#%(id)s, version %(version)s)"),
        name=_name_link(rule_id, name),
        id=rule_id,
        version=version,
    )


def rule_object(rule_id: object, name: str, version: object | None = None) -> Markup:
    """The rule mid-sentence, as what someone acted on: "the rule “Spam” (#3)", «правило «Спам» (№3)»."""
    if version is None:
        return _say(N_("the rule “%(name)s” (#%(id)s)"), name=_name_link(rule_id, name), id=rule_id)
    return _say(
        N_("the rule “%(name)s” (#%(id)s, version %(version)s)"),
        name=_name_link(rule_id, name),
        id=rule_id,
        version=version,
    )


def by_rule(rule: ModerationRule | None, rule_id: int | None = None, name: str | None = None) -> Markup:
    """Who deleted or wrote it, when a rule did: "by the rule “Spam” (#3)", «правилом «Спам» (№3)».

    `rule` when it was read, else its id and (if known) its name."""
    if rule is not None:
        rule_id, name = rule.id, rule.name
    if name is None:
        return _say(N_("by the rule #%(id)s"), id=rule_id if rule_id is not None else "?")
    return _say(N_("by the rule “%(name)s” (#%(id)s)"), name=_name_link(rule_id, name), id=rule_id)


def undone_rules(rule_ids: object) -> Markup:
    """The rules an operator's restore or unban undid (their ids, linked): "the rule #3, the rule #5"."""
    ids = [i for i in rule_ids if isinstance(i, int)] if isinstance(rule_ids, list) else []
    return Markup(", ").join(
        Markup('<a class="rule-link" href="{}">{}</a>').format(rule_href(i), _say(N_("the rule #%(id)s"), id=i))
        for i in ids
    )


def rule_label(rule: ModerationRule | None, rule_id: int | None = None) -> Markup:
    """A rule as the author of what it wrote: «Правило «Спам» (№3)»."""
    if rule is None:
        return _say(N_("Rule #%(id)s"), id=rule_id if rule_id is not None else "?")
    return rule_subject(rule.id, rule.name, None)


def mode_words(mode: object) -> str:
    return translations(current_locale()).gettext(MODES[str(mode)]) if str(mode) in MODES else str(mode)


def matched_words(matched: str) -> Markup:
    flat = " ".join(str(matched).split())
    if len(flat) > MATCHED_CHARS:
        flat = flat[: MATCHED_CHARS - 1].rstrip() + "…"
    return Markup('<span class="matched">{}</span>').format(_say(N_("“%(text)s”"), text=Markup("<bdi>{}</bdi>").format(flat)))  # fmt: skip


def _operator_name(operators: Mapping[int, Operator], operator_id: object) -> Markup | None:
    op = operators.get(operator_id) if isinstance(operator_id, int) else None
    return Markup("<bdi>{}</bdi>").format(op.display_name or op.login) if op is not None else None


def _actions(actions: object) -> list[dict[str, Any]]:
    return [a for a in actions if isinstance(a, dict) and "do" in a] if isinstance(actions, list) else []


def done_list(actions: object, operators: Mapping[int, Operator] | None = None) -> Markup:
    """What a rule (mode on) did, as short participles: "deleted, author banned for 7 days"; an action it
    could not take says so, with the reason; its note is quoted (a rule's note is no `note` row)."""
    operators = operators or {}
    parts: list[Markup] = []
    for action in _actions(actions):
        kind, days = action["do"], action.get("days")
        if action.get("skipped"):
            noun = _say(ACTION_NOUNS[kind]) if kind in ACTION_NOUNS else Markup("<code>{}</code>").format(kind)
            reason = translations(current_locale()).gettext(str(action["skipped"]))
            parts.append(_say(N_("not done: %(action)s (%(reason)s)"), action=noun, reason=reason))
        elif kind == "note" and str(action.get("text") or "").strip():
            parts.append(_say(N_("note added: %(text)s"), text=matched_words(str(action["text"]))))
        elif kind == "ban":
            parts.append(
                _plural(N_("author banned for %(num)s day"), "author banned for %(num)s days", days)
                if isinstance(days, int) and days > 0
                else _say(N_("author banned for good"))
            )
        elif kind == "assign":
            who = _operator_name(operators, action.get("operator_id"))
            parts.append(_say(N_("assigned to %(operator)s"), operator=who) if who else _say(N_("assigned")))
        elif kind in DONE:
            parts.append(_say(DONE[kind]))
        else:
            parts.append(Markup("<code>{}</code>").format(kind))
    return Markup(", ").join(parts)


def would_list(actions: object, operators: Mapping[int, Operator] | None = None) -> Markup:
    """What a rule in dry run would have done: "deleted the comment, banned the author for 7 days"."""
    operators = operators or {}
    parts: list[Markup] = []
    for action in _actions(actions):
        kind, days = action["do"], action.get("days")
        if kind == "ban":
            parts.append(
                _plural(N_("banned the author for %(num)s day"), "banned the author for %(num)s days", days)
                if isinstance(days, int) and days > 0
                else _say(N_("banned the author for good"))
            )
        elif kind == "assign":
            who = _operator_name(operators, action.get("operator_id"))
            parts.append(
                _say(N_("assigned the conversation to %(operator)s"), operator=who)
                if who
                else _say(N_("assigned the conversation"))
            )
        elif kind in WOULD:
            parts.append(_say(WOULD[kind]))
        else:
            parts.append(Markup("<code>{}</code>").format(kind))
    return Markup(", ").join(parts)


def hit_mark(hit: RuleHit, operators: Mapping[int, Operator] | None = None) -> Markup:
    """The conversation page's mark of an item a rule matched (`hit.rule` fetched with it)."""
    rule = hit.rule
    subject = rule_subject(rule.id, rule.name, hit.rule_version)
    actions = hit.actions
    if str(hit.mode) == RuleMode.DRY_RUN.value:
        said = _say(N_("%(rule)s would have %(actions)s (dry run)"), rule=subject, actions=would_list(actions, operators))  # fmt: skip
    else:
        said = _say(N_("%(rule)s: %(done)s"), rule=subject, done=done_list(actions, operators))
    if hit.matched.strip():
        said = _say(N_("%(mark)s · matched %(matched)s"), mark=said, matched=matched_words(hit.matched))
    return said


def install(env: jinja2.Environment) -> None:
    """The templates' rule words: `rule_hit_mark(hit)`, `by_rule(rule, rule_id, name)`, `rule_label(rule, rule_id)`."""
    env.globals["rule_hit_mark"] = hit_mark
    env.globals["rule_label"] = rule_label
    env.globals["by_rule"] = by_rule
