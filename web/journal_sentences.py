"""The journal and the timelines in words: one sentence per entry or event, in the reader's language.

The journal stores codes and raw fields (`reply.send`, `end_date: 1796365327`, `owner_id`, VK's method);
a manager reads "Anna Petrova replied to Ivan Sidorov in private messages: “Good afternoon…”". Every page
that lists journal entries or timeline events (the journal, its live partial, the timelines) builds its
lines here, so an action reads the same everywhere; the codes stay one click away on the page (its
"Technical details") and unchanged in journal.csv.

Russian verbs agree with the actor's gender, which the proxy does not store: `feminine` guesses it from
the operator's name (a first name in -а/-я, a surname in -ова/-ина/-ая), and the feminine form of a
message is its translation in the "feminine" context of the catalog. Names of VK authors stay in the
nominative after a noun ("автору Иван Сидоров"), which reads correctly whatever the name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from proxy.audit.incidents import TimelineEvent
from proxy.models import (
    ActorKind,
    JournalEntry,
    Operator,
)
from proxy.settings import Settings
from web.i18n import duration
from web.i18n import gettext as _
from web.journal_parts import (
    ATTEMPTS,
    EXPORTS,
    OFFICER_LEVELS,
    Names,
    _actor,
    _author,
    _bdi,
    _changes,
    _operator,
    _place,
    _quote,
    _reason,
    _say,
    _until,
    _vk_link,
    _with_text,
    names_for,
)
from web.journal_parts import feminine as feminine  # imported from here by tests
from web.journal_rule_sentences import _rule_sentence, _undoing
from web.network_words import in_network
from web.params import N_
from web.rule_words import (
    by_rule,
    mode_words,
    rule_object,
    rule_subject,
)

# --- journal entries --------------------------------------------------------------------------------


def sentence(entry: JournalEntry, names: Names) -> Markup:
    """The entry as a sentence a manager reads."""
    action = entry.action
    p: dict[str, Any] = entry.params if isinstance(entry.params, dict) else {}
    who, female = _actor(entry, names)
    conversation = names.conversations.get(entry.conversation_id) if entry.conversation_id else None  # type: ignore[attr-defined]
    item = names.items.get(entry.item_id) if entry.item_id else None  # type: ignore[attr-defined]
    author_row = None
    if item is not None and item.author_id:  # type: ignore[attr-defined]
        author_row = names.authors.get(item.author_id)  # type: ignore[attr-defined]
    elif conversation is not None:
        author_row = conversation.author
    author = _author(author_row, conversation, names)
    where = _place(conversation, names)
    quote = _quote(entry.text, entry.conversation_id, entry.item_id)  # type: ignore[attr-defined]
    community = _bdi(names.communities.get(entry.community_id, f"#{entry.community_id}"))  # type: ignore[attr-defined]
    login = _bdi(str(p.get("login", "")))
    parts: dict[str, object] = dict(who=who, author=author, where=where, text=quote)

    def say(message: str, **more: object) -> Markup:
        return _say(names.worded(message, entry.community_id), female, **{**parts, **more})  # type: ignore[attr-defined]

    if entry.actor_kind == ActorKind.RULE:
        hit = names.hit_entries.get(p.get("hit_entry_id")) if action == "rule.alert" else None  # type: ignore[arg-type]
        if hit is not None:  # the alert reads as its hit: the rule, the author, where, what matched
            return _rule_sentence(entry, {**hit.params, **p}, _parts_of(hit, names), names)
        return _rule_sentence(entry, p, parts, names)
    if action in ("rule.create", "rule.update", "rule.archive"):
        rule = rule_object(p.get("rule_id", "?"), str(p.get("name", entry.text)))
        version, mode = p.get("version", "?"), mode_words(p.get("mode", ""))
        if action == "rule.create":
            return say(N_("%(who)s created %(rule)s: version %(version)s, %(mode)s"), rule=rule, version=version, mode=mode)  # fmt: skip
        if action == "rule.update":
            return say(N_("%(who)s changed %(rule)s: version %(version)s, %(mode)s"), rule=rule, version=version, mode=mode)  # fmt: skip
        return say(N_("%(who)s archived %(rule)s (version %(version)s)"), rule=rule, version=version)
    if action == "reply.send":
        return say(N_("%(who)s replied to %(author)s %(where)s: %(text)s"))
    if action == "comment.delete":
        return say(N_("%(who)s deleted a comment by %(author)s %(where)s: %(text)s"))
    if action == "comment.restore":
        return _undoing(say(N_("%(who)s restored a comment by %(author)s %(where)s: %(text)s")), p)
    if action in ("author.ban", "vk.ban"):
        if action == "vk.ban":
            parts["author"] = _vk_target(p, names, entry.community_id)
        until = _until(p.get("end_date") if action == "author.ban" else p.get("until"))
        reason = _reason(p.get("reason"))
        if action == "author.ban":
            done = say(N_("%(who)s banned %(author)s until %(until)s (reason: %(reason)s)"), until=until, reason=reason) if until else say(N_("%(who)s banned %(author)s for good (reason: %(reason)s)"), reason=reason)  # fmt: skip
        else:
            done = say(N_("%(who)s banned %(author)s in VK, outside the proxy, until %(until)s (reason: %(reason)s)"), until=until, reason=reason) if until else say(N_("%(who)s banned %(author)s in VK, outside the proxy, for good (reason: %(reason)s)"), reason=reason)  # fmt: skip
        return _with_text(done, entry)
    if action == "author.unban":
        return _undoing(say(N_("%(who)s lifted the ban on %(author)s")), p)
    if action == "vk.unban":
        return say(
            N_("%(who)s lifted the ban on %(author)s in VK, outside the proxy"),
            author=_vk_target(p, names, entry.community_id),
        )
    if action == "ban.expired":
        return _say(N_("The ban on %(author)s ended"), author=_vk_target(p, names, entry.community_id))
    if action == "conversation.mark_read":
        return say(N_("%(who)s marked the messages of %(author)s as read"))
    if action == "conversation.mark_answered":
        return say(N_("%(who)s marked the dialog with %(author)s as answered in VK"))
    if action == "conversation.close":
        kind = p.get("kind")
        how = _("with nothing to answer") if p.get("nothing_to_answer") else (
            _("with a reply") if kind == "with_reply" else _("without a reply")
        )  # fmt: skip
        return say(N_("%(who)s closed the conversation with %(author)s %(how)s"), how=how)
    if action == "conversation.reopen":
        return say(N_("%(who)s reopened the conversation with %(author)s"))
    if action == "conversation.assign":
        assignee_id = p.get("assignee_id")
        if assignee_id is None:
            return say(N_("%(who)s unassigned the conversation with %(author)s"))
        if assignee_id == entry.operator_id:  # type: ignore[attr-defined]
            return say(N_("%(who)s took the conversation with %(author)s"))
        assignee, _female = _operator(names, assignee_id)
        return say(N_("%(who)s assigned the conversation with %(author)s to %(assignee)s"), assignee=assignee)
    if action == "note.add":
        return say(N_("%(who)s left a note on the conversation with %(author)s: %(text)s"))
    if action == "vk.reply":
        return say(N_("%(who)s replied to %(author)s in VK, outside the proxy, %(where)s: %(text)s"))
    if action == "vk.delete":
        return say(
            N_("%(who)s deleted a comment by %(author)s in VK, outside the proxy, %(where)s: %(text)s")
        )
    if action == "vk.restore":
        return say(N_("A comment by %(author)s was restored in VK, outside the proxy, %(where)s: %(text)s"))
    if action == "vk.officers_edit":
        old, new = p.get("level_old"), p.get("level_new")
        return say(
            N_("%(who)s changed the community role of %(user)s in VK: %(old)s → %(new)s"),
            user=_vk_target(p, names, entry.community_id),
            old=_(OFFICER_LEVELS.get(old, N_("no role"))) if isinstance(old, int) else "?",  # type: ignore[arg-type]
            new=_(OFFICER_LEVELS.get(new, N_("no role"))) if isinstance(new, int) else "?",  # type: ignore[arg-type]
        )
    if action == "author.mute":
        until = _until(p.get("until_date"))
        if until:
            return say(N_("%(who)s muted %(author)s in the group until %(until)s"), until=until)
        return say(N_("%(who)s muted %(author)s in the group until lifted"))
    if action in ("vk.restrict", "vk.unrestrict"):
        user = _vk_target(p, names, entry.community_id)
        if action == "vk.unrestrict":
            return say(N_("%(who)s let %(user)s write again in Telegram, outside the proxy"), user=user)
        until = _until(p.get("until"))
        if until:
            return say(N_("%(who)s muted %(user)s in Telegram, outside the proxy, until %(until)s"), user=user, until=until)  # fmt: skip
        return say(N_("%(who)s muted %(user)s in Telegram, outside the proxy, until lifted"), user=user)
    if action == "vk.member":
        return say(
            N_("%(who)s changed the membership of %(user)s in Telegram: %(old)s → %(new)s"),
            user=_vk_target(p, names, entry.community_id),
            old=_(MEMBER_STATUSES.get(str(p.get("old")), N_("unknown"))),
            new=_(MEMBER_STATUSES.get(str(p.get("new")), N_("unknown"))),
        )
    if action == "access.denied":
        attempted = str(p.get("action", ""))
        return say(
            N_("%(who)s was refused %(attempt)s, %(count)s times (%(reason)s)"),
            attempt=_(ATTEMPTS[attempted]) if attempted in ATTEMPTS else attempted,
            count=p.get("count", 1),
            reason=_(str(p.get("reason", ""))),
        )
    if action == "callback.bad_secret":
        return _say(
            N_("VK callback requests to %(community)s with a wrong secret were refused, %(count)s times"),
            community=community,
            count=p.get("count", 1),
        )
    if action == "auth.login":
        return say(N_("%(who)s logged in from %(ip)s"), ip=p.get("ip", "?"))
    if action == "auth.logout":
        return say(N_("%(who)s logged out"))
    if action == "auth.sessions_ended":
        return say(N_("%(who)s ended all their other sessions"))
    if action == "auth.login_failed":
        return _say(N_("A failed log in as %(login)s from %(ip)s"), login=login, ip=p.get("ip", "?"))
    if action == "auth.login_throttled":
        return _say(
            N_("Too many attempts to log in as %(login)s from %(ip)s: log in refused for a while"),
            login=login,
            ip=p.get("ip", "?"),
        )
    if action == "export.csv":
        path = str(p.get("path", ""))
        what = (
            _(EXPORTS[path]) if path in EXPORTS else (_("statistics") if path.startswith("/stats") else path)
        )
        return say(N_("%(who)s exported %(what)s as CSV"), what=what)
    if action == "sla.alert":
        waited = p.get("waited_seconds")
        if isinstance(waited, int | float) and conversation is not None:
            return _say(
                N_("SLA alert: %(author)s has waited %(waited)s for an answer %(where)s"),
                author=author,
                where=where,
                waited=duration(waited),
            )
        return _with_text(Markup(_("SLA alert")), entry)
    if action == "account.create":
        return say(
            N_("%(who)s created the account %(login)s (%(role)s)"), login=login, role=_role(p.get("role"))
        )
    if action == "account.update":
        return say(N_("%(who)s changed the account %(login)s: %(changes)s"), login=login, changes=_changes(p.get("changes")))  # fmt: skip
    if action == "account.enable":
        return say(N_("%(who)s enabled the account %(login)s"), login=login)
    if action == "account.disable":
        return say(N_("%(who)s disabled the account %(login)s"), login=login)
    if action == "account.password_reset":
        return say(N_("%(who)s reset the password of the account %(login)s"), login=login)
    if action == "account.communities":
        return say(N_("%(who)s changed the communities of the account %(login)s"), login=login)
    if action == "account.link_vk":
        return _say(
            N_("The account %(login)s was linked to the VK user %(vk)s"),
            login=login,
            vk=_vk_link(p["vk_user_id"], names, None, bare=True)
            if isinstance(p.get("vk_user_id"), int)
            else "?",
        )
    if action == "account.link_telegram":
        user_id = p.get("telegram_user_id")
        return _say(
            N_("The account %(login)s was linked to the Telegram user %(telegram)s"),
            login=login,
            telegram=user_id if isinstance(user_id, int) else "?",
        )
    if action == "token.create":
        return say(N_("%(who)s created the API token %(name)s for %(login)s"), name=_bdi(str(p.get("name", ""))), login=login)  # fmt: skip
    if action == "token.revoke":
        return say(N_("%(who)s revoked the API token %(name)s of %(login)s"), name=_bdi(str(p.get("name", ""))), login=login)  # fmt: skip
    if action == "community.add":
        if p.get("network") == "telegram":
            return say(N_("%(who)s added the bot %(community)s"), community=community)
        return say(N_("%(who)s connected the community %(community)s"), community=community)
    if action == "community.update":
        return say(N_("%(who)s changed the settings of the community %(community)s: %(changes)s"), community=community, changes=_changes(p.get("changes")))  # fmt: skip
    if action == "community.activate":
        return say(N_("%(who)s started serving the community %(community)s again"), community=community)
    if action == "community.deactivate":
        return say(N_("%(who)s stopped serving the community %(community)s"), community=community)
    if action in ("community.connect", "community.test"):
        results = p.get("results") if isinstance(p.get("results"), dict) else {}
        # A warning (the demo's "these answers come from the emulator") is said on the page, not a problem.
        failed = ", ".join(name for name, status in results.items() if status == "failed")  # type: ignore[union-attr]
        if action == "community.connect":
            if failed:
                return say(N_("%(who)s connected the bot %(community)s to the proxy: problems with %(failed)s"), community=community, failed=failed)  # fmt: skip
            return say(N_("%(who)s connected the bot %(community)s to the proxy: all is well"), community=community)  # fmt: skip
        if failed:
            return say(N_("%(who)s tested the connection of the community %(community)s: problems with %(failed)s"), community=community, failed=failed)  # fmt: skip
        return say(N_("%(who)s tested the connection of the community %(community)s: all is well"), community=community)  # fmt: skip
    if action == "canned.save":
        title = _bdi(str(p.get("title", "")))
        if p.get("created"):
            return say(N_("%(who)s created the canned response %(title)s"), title=title)
        return say(N_("%(who)s changed the canned response %(title)s"), title=title)
    if action == "canned.delete":
        return say(N_("%(who)s deleted the canned response %(title)s"), title=_bdi(str(p.get("title", ""))))
    if action == "audit.digest":
        return Markup(_("The proxy recorded digests of the stored content for the next checkpoint"))
    if action == "journal.checkpoint_refused":
        return Markup(_("The proxy could not make a checkpoint of the journal: %(reason)s")) % {
            "reason": entry.text
        }
    if action == "journal.checkpoint_resumed":
        return Markup(_("The proxy makes checkpoints of the journal again"))
    if action == "journal.outcome":  # shown only when asked for by name: its entry shows the outcome
        ended = _("Done") if p.get("outcome") == "done" else _("Not done")
        return say(N_("The proxy added the outcome of entry #%(entry)s to the chain: %(ended)s"), entry=p.get("entry", "?"), ended=ended)  # fmt: skip
    return _with_text(say(N_("%(who)s: %(action)s"), action=Markup("<code>{}</code>").format(action)), entry)


def _parts_of(entry: JournalEntry, names: Names) -> dict[str, object]:
    """Who, whose item, where and its text, for an entry that is not the one being said."""
    conversation = names.conversations.get(entry.conversation_id) if entry.conversation_id else None  # type: ignore[attr-defined]
    item = names.items.get(entry.item_id) if entry.item_id else None  # type: ignore[attr-defined]
    author_row = names.authors.get(item.author_id) if item is not None and item.author_id else None  # type: ignore[attr-defined]
    if author_row is None and conversation is not None:
        author_row = conversation.author
    return dict(
        who=_actor(entry, names)[0],
        author=_author(author_row, conversation, names),
        where=_place(conversation, names),
        text=_quote(entry.text, entry.conversation_id, entry.item_id),  # type: ignore[attr-defined]
    )


def _vk_target(p: Mapping[str, Any], names: Names, community_id: int | None) -> Markup:
    user_id = p.get("user_id")
    return _vk_link(user_id, names, community_id) if isinstance(user_id, int) else Markup(_("the author"))


# A member's status in a Telegram group (ChatMember.status), as chat_member reports it.
MEMBER_STATUSES = {
    "creator": N_("owner"),
    "administrator": N_("admin"),
    "member": N_("member"),
    "restricted": N_("muted member"),
    "left": N_("not a member"),
    "kicked": N_("banned"),
}


def _role(value: object) -> str:
    return {"admin": _("Admin"), "manager": _("Manager"), "operator": _("Operator")}.get(
        str(value), str(value)
    )


def outcome_words(entry: JournalEntry, names: Names) -> str:
    """How the action ended, in words: the network's answer for what was sent there, else done."""
    sent = isinstance(entry.params, dict) and "method" in entry.params

    def said(message: str, **parts: object) -> str:
        return _(names.worded(message, entry.community_id), **parts)

    if entry.outcome == "pending":
        return said(N_("Waiting to be sent to VK"))
    if entry.outcome == "done":
        return said(N_("VK accepted it")) if sent else _("Done")
    if entry.outcome == "failed":
        # The outbox records "<network> error <code>: <message>" (proxy/outbox.py record_failure).
        network_error = re.match(r"(?:VK|Telegram) error (-?\d+)", entry.outcome_detail or "")
        if network_error:
            return said(N_("Not done: VK answered with error %(code)s"), code=network_error.group(1))
        return _("Not done")
    return ""


@dataclass(frozen=True)
class JournalLine:
    entry: JournalEntry
    sentence: Markup
    outcome: str


async def journal_lines(
    entries: list[JournalEntry],
    operators: Mapping[int, Operator],
    communities: Mapping[int, str],
    settings: Settings,
) -> list[JournalLine]:
    names = await names_for(entries, operators, communities, settings)
    return [JournalLine(e, sentence(e, names), outcome_words(e, names)) for e in entries]


# --- timeline events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineLine:
    event: TimelineEvent
    sentence: Markup
    outcome: str
    entry: JournalEntry | None


DELETED_BY = {
    "author": N_("by the author"),
    "vk_admin": N_("by a community admin in VK"),
    "proxy": N_("by an operator"),
}


def event_sentence(event: TimelineEvent, names: Names, entry: JournalEntry | None) -> Markup:
    """A timeline event as a sentence; a journal event reads as its entry does on the journal page."""
    if entry is not None:
        return sentence(entry, names)
    conversation = names.conversations.get(event.conversation_id) if event.conversation_id else None
    author = _author(names.authors.get(event.author_id) if event.author_id else None, conversation, names)
    where = _place(conversation, names)
    text = _quote(event.text, event.conversation_id, event.item_id)
    who, female = _operator(names, event.operator_id) if event.operator_id else (Markup(""), False)
    if event.kind == "item":
        if event.detail == "in":
            return _say(N_("%(author)s wrote %(where)s: %(text)s"), author=author, where=where, text=text)
        if event.operator_id:
            return _say(N_("%(who)s replied %(where)s: %(text)s"), female, who=who, where=where, text=text)
        item = names.items.get(event.item_id) if event.item_id else None
        if item is not None and item.sent_by_rule_id:
            rule = names.rules.get(item.sent_by_rule_id)
            subject = rule_subject(item.sent_by_rule_id, rule.name if rule else "?", None)
            return _say(N_("%(rule)s replied %(where)s: %(text)s"), rule=subject, where=where, text=text)
        message = names.worded(N_("The community replied in VK, outside the proxy, %(where)s: %(text)s"), event.community_id)  # fmt: skip
        return _say(message, where=where, text=text)
    if event.kind == "edit":
        editor = who if event.operator_id else author
        return _say(N_("A new version of the text %(where)s (%(who)s): %(text)s"), who=editor, where=where, text=text)  # fmt: skip
    if event.kind == "delete":
        how = Markup(_(DELETED_BY.get(event.detail, N_("by someone VK did not name"))))
        rule_id = names.tombstone_rules.get(event.ref_id) if not event.operator_id else None
        if rule_id is not None:
            how = by_rule(names.rules.get(rule_id), rule_id)
        elif event.operator_id:
            how = _say(N_("%(how)s %(who)s"), how=how, who=who)
        return _say(N_("Deleted %(how)s %(where)s: %(text)s"), how=how, where=where, text=text)
    if event.kind == "restore":
        how = who if event.operator_id else Markup(in_network(names.community_rows.get(event.community_id)))  # type: ignore[arg-type]
        return _say(N_("Restored (%(how)s) %(where)s: %(text)s"), how=how, where=where, text=text)
    return _say(N_("%(who)s: %(action)s"), who=who, action=Markup("<code>{}</code>").format(event.detail))


async def timeline_lines(
    events: list[TimelineEvent],
    entries: Mapping[int, JournalEntry],
    operators: Mapping[int, Operator],
    communities: Mapping[int, str],
    settings: Settings,
) -> list[TimelineLine]:
    """`entries`: the journal entries of the journal events, by id (their params make the sentence)."""
    names = await names_for([*events, *entries.values()], operators, communities, settings)
    lines = []
    for event in events:
        entry = entries.get(event.ref_id) if event.kind == "journal" else None
        lines.append(
            TimelineLine(
                event,
                event_sentence(event, names, entry),
                outcome_words(entry, names) if entry else "",
                entry,
            )
        )
    return lines
