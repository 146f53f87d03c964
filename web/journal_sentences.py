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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from proxy.audit.incidents import TimelineEvent
from proxy.emulation import author_path, vk_url
from proxy.models import (
    ActorKind,
    Author,
    Channel,
    Community,
    Conversation,
    Item,
    ItemTombstone,
    JournalEntry,
    ModerationRule,
    Operator,
    RuleMode,
)
from proxy.settings import Settings
from web.i18n import current_locale, duration, local_time, translations
from web.i18n import gettext as _
from web.params import N_
from web.rule_words import (
    by_rule,
    done_list,
    matched_words,
    mode_words,
    rule_object,
    rule_subject,
    undone_rules,
    would_list,
)

QUOTE_CHARS = 90

# VK's ban reasons (groups.ban `reason`, proxy/actions.py BAN_REASONS).
BAN_REASONS = {
    0: N_("other"),
    1: N_("spam"),
    2: N_("verbal abuse"),
    3: N_("strong language"),
    4: N_("irrelevant messages"),
}
# VK's community roles (officers `level_old` / `level_new`).
OFFICER_LEVELS = {0: N_("no role"), 1: N_("moderator"), 2: N_("editor"), 3: N_("administrator")}
# Where a conversation lives; the link goes on the object in VK.
PLACES = {
    Channel.MESSAGE: N_("in private messages"),
    Channel.WALL: N_("under %(link)sa wall post%(end)s"),
    Channel.PHOTO: N_("under %(link)sa photo%(end)s"),
    Channel.VIDEO: N_("under %(link)sa video%(end)s"),
    Channel.MARKET: N_("under %(link)sa product%(end)s"),
    Channel.BOARD: N_("in %(link)sa board topic%(end)s"),
}
VK_OBJECT_PATHS = {
    Channel.WALL: "wall",
    Channel.PHOTO: "photo",
    Channel.VIDEO: "video",
    Channel.MARKET: "product",
    Channel.BOARD: "topic",
}
EXPORTS = {
    "/audit/journal.csv": N_("the journal"),
    "/audit/deleted.csv": N_("the deleted content"),
}
CHANGED_FIELDS = {
    "display_name": N_("display name"),
    "role": N_("role"),
    "locale": N_("language"),
    "vk_user_id": N_("VK id"),
    "name": N_("name"),
    "mode": N_("mode"),
    "community_token": N_("community token"),
    "admin_token": N_("admin token"),
    "sla_seconds": N_("SLA"),
    "business_hours": N_("business hours"),
}
# Names of what an operator was refused (access.denied `action`), as a noun phrase.
ATTEMPTS = {
    "audit.view": N_("opening a manager page"),
    "journal.view": N_("reading someone else's journal"),
    "timeline.view": N_("reading someone else's timeline"),
    "conversation.view": N_("opening a conversation"),
    "outbox.view": N_("opening an outgoing action"),
    "export.csv": N_("a CSV export"),
    "admin.view": N_("opening the settings"),
    "admin.change": N_("changing the settings"),
    "stats.drill": N_("the rows behind a figure"),
}
# Why a refusal was journaled (proxy/access.py, admin_access.py, stats/scoped.py, web/views/audit.py), marked
# for the catalog: the journal keeps the English, the page says it in the reader's language.
REFUSAL_REASONS = (
    N_("only admins may do this"),
    N_("only managers and admins may do this"),
    N_("operators may export only their own journal"),
    N_("operators may read only their own journal"),
    N_("operators may read only their own timeline"),
    N_("operators see only their own figures"),
    N_("you have no access to this community"),
)
_MASCULINE_IN_A = frozenset(
    "никита илья кузьма фома лука савва данила гаврила миша саша женя паша дима ваня петя коля толя лёша "
    "алёша серёжа витя вова слава гоша гриша юра костя федя nikita ilya ilia sasha misha dima vanya kolya "
    "petya tolya slava yura kostya".split()
)


def feminine(name: str) -> bool:
    """A guess at whether a Russian verb about this person takes the feminine form."""
    words = [w.strip(".,").lower() for w in name.split() if w.strip(".,")]
    if not words:
        return False
    first, last = words[0], words[-1]
    if len(words) > 1 and last.endswith(
        ("ова", "ева", "ёва", "ина", "ына", "ская", "цкая", "ova", "eva", "ina")
    ):
        return True
    return first.endswith(("а", "я", "a")) and first not in _MASCULINE_IN_A and len(first) > 2


def _say(message: str, female: bool = False, **parts: object) -> Markup:
    """`message` in the reader's language (its feminine form when `female`), with `parts` escaped in."""
    catalog = translations(current_locale())
    text = catalog.pgettext("feminine", message) if female else catalog.gettext(message)
    # Markup's % escapes every part that is not Markup already.
    return escape(text) % parts if parts else escape(text)


def _link(href: str, label: object, *, outside: bool = False) -> Markup:
    extra = Markup(' rel="noopener noreferrer" target="_blank"') if outside else Markup("")
    return Markup('<a href="{}"{}>{}</a>').format(href, extra, label)


def _bdi(text: str) -> Markup:
    return Markup("<bdi>{}</bdi>").format(text)


def shortened(text: str, limit: int = QUOTE_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Names:
    """What the sentences name, loaded once for a page of entries or events."""

    operators: Mapping[int, Operator]
    communities: Mapping[int, str]
    conversations: Mapping[int, Conversation]
    items: Mapping[int, Item]
    authors: Mapping[int, Author]  # by the proxy's id
    authors_by_vk: Mapping[int, Author]
    # The communities named, with the settings: whether a VK page may be linked (proxy/emulation.py).
    community_rows: Mapping[int, Community] = field(default_factory=dict)
    settings: Settings | None = None  # None: no link to VK at all
    # Rules that deleted or wrote what timeline events show: by id, and a deletion's rule by tombstone id.
    rules: Mapping[int, ModerationRule] = field(default_factory=dict)
    tombstone_rules: Mapping[int, int] = field(default_factory=dict)
    # The "rule.hit" entries that "rule.alert" entries name (hit_entry_id): the alert reads by its hit.
    hit_entries: Mapping[int, JournalEntry] = field(default_factory=dict)

    def vk_href(self, community_id: int | None, path: str) -> str | None:
        """A link to a VK page of a community's world; None for an emulated or unknown community."""
        community = self.community_rows.get(community_id) if community_id else None
        return vk_url(self.settings, community, path) if self.settings is not None else None


async def names_for(
    entries: Iterable[JournalEntry | TimelineEvent],
    operators: Mapping[int, Operator],
    communities: Mapping[int, str],
    settings: Settings,
) -> Names:
    """Everything the sentences of `entries` name: four reads, whatever their number (one more for the
    hits that rules' alerts name, and up to two for the rules behind timeline deletions and replies)."""
    entries = list(entries)
    hit_entries = await _alerted_hits(entries)
    entries += list(hit_entries.values())
    conversation_ids = {e.conversation_id for e in entries if e.conversation_id}
    item_ids = {e.item_id for e in entries if e.item_id}
    vk_ids = set()
    for e in entries:
        user_id = (getattr(e, "params", None) or {}).get("user_id")
        if isinstance(user_id, int):
            vk_ids.add(user_id)
    conversations = (
        {c.id: c for c in await Conversation.filter(id__in=conversation_ids).select_related("author")}
        if conversation_ids
        else {}
    )
    items = {i.id: i for i in await Item.filter(id__in=item_ids)} if item_ids else {}
    author_ids = {i.author_id for i in items.values() if i.author_id}  # type: ignore[attr-defined]
    author_ids |= {e.author_id for e in entries if isinstance(e, TimelineEvent) and e.author_id}
    authors = {c.author.id: c.author for c in conversations.values() if c.author}
    wanted = author_ids - set(authors)
    if wanted:
        authors.update({a.id: a for a in await Author.filter(id__in=wanted)})
    by_vk = {a.vk_id: a for a in authors.values()}
    if vk_ids - set(by_vk):
        by_vk.update({a.vk_id: a for a in await Author.filter(vk_id__in=vk_ids - set(by_vk))})
    community_ids = {c.community_id for c in conversations.values()}  # type: ignore[attr-defined]
    community_ids |= {e.community_id for e in entries if getattr(e, "community_id", None)}  # type: ignore[misc]
    rows = {c.id: c for c in await Community.filter(id__in=community_ids)} if community_ids else {}
    tombstone_rules, rules = await _rules_of_events(entries, items)
    return Names(
        operators, communities, conversations, items, authors, by_vk, rows, settings, rules, tombstone_rules,
        hit_entries,
    )  # fmt: skip


async def _alerted_hits(entries: list[JournalEntry | TimelineEvent]) -> dict[int, JournalEntry]:
    """The hits a rule's alerts were raised for: the alert's own entry names only its hit's entry."""
    wanted = set()
    for e in entries:
        hit_id = (getattr(e, "params", None) or {}).get("hit_entry_id") if getattr(e, "action", "") == "rule.alert" else None
        if isinstance(hit_id, int):
            wanted.add(hit_id)
    return {e.id: e for e in await JournalEntry.filter(id__in=wanted)} if wanted else {}


async def _rules_of_events(
    entries: list[JournalEntry | TimelineEvent], items: Mapping[int, Item]
) -> tuple[dict[int, int], dict[int, ModerationRule]]:
    """The rules behind timeline events: a deletion's (its tombstone's) and an outgoing reply's."""
    deletions = [e.ref_id for e in entries if isinstance(e, TimelineEvent) and e.kind == "delete" and not e.operator_id]
    tombstone_rules: dict[int, int] = {}
    if deletions:
        tombstone_rules = dict(
            await ItemTombstone.filter(id__in=deletions, deleted_by_rule_id__isnull=False).values_list(
                "id", "deleted_by_rule_id"
            )
        )
    rule_ids = set(tombstone_rules.values()) | {i.sent_by_rule_id for i in items.values() if i.sent_by_rule_id}
    rules = {r.id: r for r in await ModerationRule.filter(id__in=rule_ids)} if rule_ids else {}
    return tombstone_rules, rules


# --- the parts of a sentence ------------------------------------------------------------------------


def _operator(names: Names, operator_id: int | None) -> tuple[Markup, bool]:
    op = names.operators.get(operator_id) if operator_id else None
    if op is None:
        return (Markup(escape(f"#{operator_id}")) if operator_id else Markup(_("Someone"))), False
    name = op.display_name or op.login
    return _link(f"/timeline?operator={op.id}", _bdi(name)), feminine(name)


def _actor(entry: JournalEntry, names: Names) -> tuple[Markup, bool]:
    """Who acted: an operator (linked to their timeline), a VK admin, or the proxy itself."""
    if entry.operator_id:  # type: ignore[attr-defined]
        return _operator(names, entry.operator_id)  # type: ignore[attr-defined]
    if entry.actor_kind == ActorKind.OUTSIDE:
        if entry.vk_user_id:
            admin = _vk_link(entry.vk_user_id, names, entry.community_id)  # type: ignore[attr-defined]
            return _say(N_("A community admin (%(vk)s)"), vk=admin), False
        return Markup(_("Someone in VK")), False
    if entry.actor_kind == ActorKind.RULE:
        return _rule_of(entry), False
    return Markup(_("The proxy")), False


def _rule_of(entry: JournalEntry) -> Markup:
    """The rule that wrote an entry, as it was then (its name and version are in the entry)."""
    rule = (entry.params or {}).get("rule") if isinstance(entry.params, dict) else None
    if not isinstance(rule, dict) or rule.get("id") is None:
        return Markup(_("A moderation rule"))
    return rule_subject(rule["id"], str(rule.get("name", "")), rule.get("version"))


def _vk_link(vk_id: int, names: Names, community_id: int | None) -> Markup:
    author = names.authors_by_vk.get(vk_id)
    label = _bdi(author.name) if author and author.name else f"id{vk_id}"
    href = names.vk_href(community_id, author_path(vk_id))
    return _link(href, label, outside=True) if href else Markup(label)


def _author(author: Author | None, conversation: Conversation | None, names: Names) -> Markup:
    """A VK author, linked to the conversation in the proxy (or to VK when there is none)."""
    if author is None:
        return Markup(_("the author"))
    label = _bdi(author.name) if author.name else f"id{author.vk_id}"
    if conversation is not None:
        return _link(f"/conversations/{conversation.id}", label)
    href = names.vk_href(None, author_path(author.vk_id))  # no conversation, so no community to judge by
    return _link(href, label, outside=True) if href else Markup(label)


def _place(conversation: Conversation | None, names: Names) -> Markup:
    if conversation is None:
        return Markup("")
    channel = Channel(conversation.channel)
    path = VK_OBJECT_PATHS.get(channel)
    start, end, href = Markup(""), Markup(""), None
    if path and conversation.vk_owner_id is not None and conversation.vk_object_id is not None:
        href = names.vk_href(
            conversation.community_id,  # type: ignore[attr-defined]
            f"{path}{conversation.vk_owner_id}_{conversation.vk_object_id}",
        )
    if href:
        start, end = (
            Markup('<a href="{}" rel="noopener noreferrer" target="_blank">').format(href),
            Markup("</a>"),
        )
    return _say(PLACES[channel], link=start, end=end)


def _quote(text: str, conversation_id: int | None, item_id: int | None) -> Markup:
    if not text.strip():
        return Markup("")
    quoted = _say(N_("“%(text)s”"), text=_bdi(shortened(text)))
    if conversation_id and item_id:
        return Markup('<a class="quote" href="/conversations/{}#item-{}">{}</a>').format(
            conversation_id, item_id, quoted
        )
    return Markup('<span class="quote">{}</span>').format(quoted)


def _until(value: object) -> str | None:
    """A ban's end: VK's `end_date` (seconds) or an ISO time; None for a ban without end."""
    if isinstance(value, int | float) and value > 0:
        return local_time(datetime.fromtimestamp(value, UTC))
    if isinstance(value, str) and value:
        return local_time(value)
    return None


def _reason(value: object) -> str:
    return _(BAN_REASONS[value]) if isinstance(value, int) and value in BAN_REASONS else _(BAN_REASONS[0])


def _changes(changes: object) -> str:
    keys = list(changes) if isinstance(changes, dict | list) else []
    return ", ".join(_(CHANGED_FIELDS[k]) if k in CHANGED_FIELDS else str(k) for k in keys)


def _with_text(sentence: Markup, entry: JournalEntry) -> Markup:
    if not entry.text.strip():
        return sentence
    return _say(N_("%(sentence)s: %(text)s"), sentence=sentence, text=_quote(entry.text, None, None))


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
        return _say(message, female, **{**parts, **more})

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
            N_("%(who)s lifted the ban on %(author)s in VK, outside the proxy"), author=_vk_target(p, names, entry.community_id)
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
            vk=_vk_link(p["vk_user_id"], names, None) if isinstance(p.get("vk_user_id"), int) else "?",
        )
    if action == "token.create":
        return say(N_("%(who)s created the API token %(name)s for %(login)s"), name=_bdi(str(p.get("name", ""))), login=login)  # fmt: skip
    if action == "token.revoke":
        return say(N_("%(who)s revoked the API token %(name)s of %(login)s"), name=_bdi(str(p.get("name", ""))), login=login)  # fmt: skip
    if action == "community.add":
        return say(N_("%(who)s connected the community %(community)s"), community=community)
    if action == "community.update":
        return say(N_("%(who)s changed the settings of the community %(community)s: %(changes)s"), community=community, changes=_changes(p.get("changes")))  # fmt: skip
    if action == "community.activate":
        return say(N_("%(who)s started serving the community %(community)s again"), community=community)
    if action == "community.deactivate":
        return say(N_("%(who)s stopped serving the community %(community)s"), community=community)
    if action == "community.test":
        results = p.get("results") if isinstance(p.get("results"), dict) else {}
        failed = [name for name, status in results.items() if status not in ("ok", "skipped")]  # type: ignore[union-attr]
        if failed:
            return say(N_("%(who)s tested the connection of the community %(community)s: problems with %(failed)s"), community=community, failed=", ".join(failed))  # fmt: skip
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
    return _with_text(say(N_("%(who)s: %(action)s"), action=Markup("<code>{}</code>").format(action)), entry)


def _undoing(said: Markup, p: Mapping[str, Any]) -> Markup:
    """An operator's restore or unban that undid what rules did (counted as their false positives)."""
    if not p.get("undoes_rules"):
        return said
    return _say(N_("%(sentence)s, undoing %(rules)s"), sentence=said, rules=undone_rules(p["undoes_rules"]))


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


def _rule_sentence(entry: JournalEntry, p: Mapping[str, Any], parts: dict[str, object], names: Names) -> Markup:
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
                N_("%(rule)s would have %(actions)s (dry run): it matched %(matched)s in what %(author)s wrote %(where)s: %(text)s"),  # fmt: skip
                actions=would_list(planned, names.operators),
                matched=matched_words(matched),
            )
        return say(
            N_("%(rule)s matched %(matched)s in what %(author)s wrote %(where)s: %(text)s; actions: %(actions)s"),
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
        done = say(N_("%(rule)s assigned the conversation with %(author)s to %(assignee)s"), assignee=assignee)
    elif action == "rule.alert":
        done = say(N_("%(rule)s raised an alert about what %(author)s wrote %(where)s: %(text)s"))
    else:
        done = _with_text(say(N_("%(rule)s: %(action)s"), action=Markup("<code>{}</code>").format(action)), entry)
    if matched.strip():
        return _say(N_("%(sentence)s — matched %(matched)s"), sentence=done, matched=matched_words(matched))
    return done


def _vk_target(p: Mapping[str, Any], names: Names, community_id: int | None) -> Markup:
    user_id = p.get("user_id")
    return _vk_link(user_id, names, community_id) if isinstance(user_id, int) else Markup(_("the author"))


def _role(value: object) -> str:
    return {"admin": _("Admin"), "manager": _("Manager"), "operator": _("Operator")}.get(
        str(value), str(value)
    )


def outcome_words(entry: JournalEntry) -> str:
    """How the action ended, in words: VK's answer for what was sent there, else done."""
    sent_to_vk = isinstance(entry.params, dict) and "method" in entry.params
    if entry.outcome == "pending":
        return _("Waiting to be sent to VK")
    if entry.outcome == "done":
        return _("VK accepted it") if sent_to_vk else _("Done")
    if entry.outcome == "failed":
        detail = entry.outcome_detail or ""
        if detail.startswith("VK error "):
            code = detail[len("VK error ") :].split(":", 1)[0]
            return _("Not done: VK answered with error %(code)s", code=code)
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
    return [JournalLine(e, sentence(e, names), outcome_words(e)) for e in entries]


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
        return _say(N_("The community replied in VK, outside the proxy, %(where)s: %(text)s"), where=where, text=text)  # fmt: skip
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
        how = who if event.operator_id else Markup(_("in VK"))
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
                event, event_sentence(event, names, entry), outcome_words(entry) if entry else "", entry
            )
        )
    return lines
