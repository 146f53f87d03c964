"""What moderation rules did, as journal sentences (web/journal_sentences.py): a hit, each action a rule
took (or, in dry run, would have taken) with what it matched, and an operator's undoing of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from proxy.models import (
    JournalEntry,
    RuleMode,
)
from web.journal_parts import Names, _operator, _reason, _say, _until, _with_text
from web.params import N_
from web.rule_words import (
    done_list,
    matched_words,
    undone_rules,
    would_list,
)


def _undoing(said: Markup, p: Mapping[str, Any]) -> Markup:
    """An operator's restore or unban that undid what rules did (counted as their false positives)."""
    if not p.get("undoes_rules"):
        return said
    return _say(N_("%(sentence)s, undoing %(rules)s"), sentence=said, rules=undone_rules(p["undoes_rules"]))


def _rule_sentence(
    entry: JournalEntry, p: Mapping[str, Any], parts: dict[str, object], names: Names
) -> Markup:
    """What a rule did (or, in dry run, would have done), with what it matched."""
    action = entry.action
    parts = {**parts, "rule": parts["who"]}
    matched = str(p.get("matched") or "")

    def say(message: str, **more: object) -> Markup:
        return _say(message, **{**parts, **more})

    if action == "rule.hit":
        planned = p.get("actions")
        if p.get("mode") == RuleMode.DRY_RUN.value:
            return say(
                N_(
                    "%(rule)s would have %(actions)s (dry run): it matched %(matched)s in what %(author)s wrote %(where)s: %(text)s"
                ),  # fmt: skip
                actions=would_list(planned, names.operators),
                matched=matched_words(matched),
            )
        return say(
            N_(
                "%(rule)s matched %(matched)s in what %(author)s wrote %(where)s: %(text)s; actions: %(actions)s"
            ),
            actions=done_list(planned, names.operators),
            matched=matched_words(matched),
        )
    if action == "comment.delete":
        done = say(N_("%(rule)s deleted a comment by %(author)s %(where)s: %(text)s"))
    elif action == "author.ban":
        until, reason = _until(p.get("end_date")), _reason(p.get("reason"))
        done = say(N_("%(rule)s banned %(author)s until %(until)s (reason: %(reason)s)"), until=until, reason=reason) if until else say(N_("%(rule)s banned %(author)s for good (reason: %(reason)s)"), reason=reason)  # fmt: skip
        done = _with_text(done, entry)
    elif action == "reply.send":
        done = say(N_("%(rule)s replied to %(author)s %(where)s with a canned response: %(text)s"))
    elif action == "note.add":
        done = say(N_("%(rule)s left a note on the conversation with %(author)s: %(text)s"))
    elif action == "conversation.assign":
        assignee, _female = _operator(names, p.get("assignee_id"))
        done = say(
            N_("%(rule)s assigned the conversation with %(author)s to %(assignee)s"), assignee=assignee
        )
    elif action == "rule.alert":
        done = say(N_("%(rule)s raised an alert about what %(author)s wrote %(where)s: %(text)s"))
    else:
        done = _with_text(
            say(N_("%(rule)s: %(action)s"), action=Markup("<code>{}</code>").format(action)), entry
        )
    if matched.strip():
        return _say(N_("%(sentence)s — matched %(matched)s"), sentence=done, matched=matched_words(matched))
    return done
