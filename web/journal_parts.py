"""The parts the journal's sentences are made of (web/journal_sentences.py): the vocabulary of VK's codes,
the names an entry refers to (loaded once per page), and who, whom, where and what, as linked words.

Russian verbs agree with the actor's gender, which the proxy does not store: `feminine` guesses it from
the operator's name (a first name in -а/-я, a surname in -ова/-ина/-ая), and the feminine form of a
message is its translation in the "feminine" context of the catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
    Network,
    Operator,
)
from proxy.settings import Settings
from web.i18n import current_locale, local_time, translations
from web.i18n import gettext as _
from web.network_words import network_of, unnamed_person
from web.params import N_
from web.rule_words import (
    rule_subject,
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
    Channel.GROUP: N_("in a Telegram group"),
    Channel.BUSINESS: N_("in a Telegram business chat"),
}
# A Telegram bot's private chats are with the bot itself.
TELEGRAM_PLACES = {Channel.MESSAGE: N_("in the private chat with the bot")}
# What was done outside the proxy reads "in Telegram" for a Telegram community's entries: each VK
# sentence's Telegram wording (the network is the entry's community's: `Names.network`). Telegram reports
# no reason for a ban: its sentences name none.
IN_TELEGRAM = {
    N_("%(who)s banned %(author)s in VK, outside the proxy, until %(until)s (reason: %(reason)s)"): N_(
        "%(who)s banned %(author)s in Telegram, outside the proxy, until %(until)s"
    ),
    N_("%(who)s banned %(author)s in VK, outside the proxy, for good (reason: %(reason)s)"): N_(
        "%(who)s banned %(author)s in Telegram, outside the proxy, for good"
    ),
    N_("%(who)s lifted the ban on %(author)s in VK, outside the proxy"): N_(
        "%(who)s lifted the ban on %(author)s in Telegram, outside the proxy"
    ),
    N_("%(who)s replied to %(author)s in VK, outside the proxy, %(where)s: %(text)s"): N_(
        "%(who)s replied to %(author)s in Telegram, outside the proxy, %(where)s: %(text)s"
    ),
    N_("%(who)s deleted a comment by %(author)s in VK, outside the proxy, %(where)s: %(text)s"): N_(
        "%(who)s deleted a message by %(author)s in Telegram, outside the proxy, %(where)s: %(text)s"
    ),
    N_("A comment by %(author)s was restored in VK, outside the proxy, %(where)s: %(text)s"): N_(
        "A message by %(author)s was restored in Telegram, outside the proxy, %(where)s: %(text)s"
    ),
    N_("%(who)s changed the community role of %(user)s in VK: %(old)s → %(new)s"): N_(
        "%(who)s changed the role of %(user)s in Telegram: %(old)s → %(new)s"
    ),
    N_("The community replied in VK, outside the proxy, %(where)s: %(text)s"): N_(
        "The community replied in Telegram, outside the proxy, %(where)s: %(text)s"
    ),
    N_("Someone in VK"): N_("Someone in Telegram"),
    # What became of an action sent to the network (web/journal_sentences.py `outcome_words`).
    N_("Waiting to be sent to VK"): N_("Waiting to be sent to Telegram"),
    N_("VK accepted it"): N_("Telegram accepted it"),
    N_("Not done: VK answered with error %(code)s"): N_("Not done: Telegram answered with error %(code)s"),
    # Through the proxy: a Telegram group's item is a message, not a comment.
    N_("%(who)s deleted a comment by %(author)s %(where)s: %(text)s"): N_(
        "%(who)s deleted a message by %(author)s %(where)s: %(text)s"
    ),
    N_("%(who)s restored a comment by %(author)s %(where)s: %(text)s"): N_(
        "%(who)s restored a message by %(author)s %(where)s: %(text)s"
    ),
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

    def network(self, community_id: int | None) -> Network:
        """The network of an entry's community (web/network_words.py: VK when it names none)."""
        return network_of(self.community_rows.get(community_id) if community_id else None)

    def worded(self, message: str, community_id: int | None) -> str:
        """`message` as the community's network words it ("in VK" or "in Telegram")."""
        if self.network(community_id) is Network.TELEGRAM:
            return IN_TELEGRAM.get(message, message)
        return message

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
        by_vk.update(
            {a.vk_id: a for a in await Author.filter(network=Network.VK, vk_id__in=vk_ids - set(by_vk))}
        )
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
        hit_id = (
            (getattr(e, "params", None) or {}).get("hit_entry_id")
            if getattr(e, "action", "") == "rule.alert"
            else None
        )
        if isinstance(hit_id, int):
            wanted.add(hit_id)
    return {e.id: e for e in await JournalEntry.filter(id__in=wanted)} if wanted else {}


async def _rules_of_events(
    entries: list[JournalEntry | TimelineEvent], items: Mapping[int, Item]
) -> tuple[dict[int, int], dict[int, ModerationRule]]:
    """The rules behind timeline events: a deletion's (its tombstone's) and an outgoing reply's."""
    deletions = [
        e.ref_id for e in entries if isinstance(e, TimelineEvent) and e.kind == "delete" and not e.operator_id
    ]
    tombstone_rules: dict[int, int] = {}
    if deletions:
        tombstone_rules = dict(
            await ItemTombstone.filter(id__in=deletions, deleted_by_rule_id__isnull=False).values_list(
                "id", "deleted_by_rule_id"
            )
        )
    rule_ids = set(tombstone_rules.values()) | {
        i.sent_by_rule_id for i in items.values() if i.sent_by_rule_id
    }
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
        return Markup(_(names.worded(N_("Someone in VK"), entry.community_id))), False  # type: ignore[attr-defined]
    if entry.actor_kind == ActorKind.RULE:
        return _rule_of(entry), False
    return Markup(_("The proxy")), False


def _rule_of(entry: JournalEntry) -> Markup:
    """The rule that wrote an entry, as it was then (its name and version are in the entry)."""
    rule = (entry.params or {}).get("rule") if isinstance(entry.params, dict) else None
    if not isinstance(rule, dict) or rule.get("id") is None:
        return Markup(_("A moderation rule"))
    return rule_subject(rule["id"], str(rule.get("name", "")), rule.get("version"))


def _vk_link(vk_id: int, names: Names, community_id: int | None, *, bare: bool = False) -> Markup:
    """`bare` for a sentence that says "VK user" itself: an unnamed one is then just its id<N>."""
    author = names.authors_by_vk.get(vk_id)
    label = (
        _bdi(author.name)
        if author and author.name
        else (f"id{vk_id}" if bare else unnamed_person(vk_id, names.network(community_id)))
    )
    href = names.vk_href(community_id, author_path(vk_id))
    return _link(href, label, outside=True) if href else Markup(label)


def _author(author: Author | None, conversation: Conversation | None, names: Names) -> Markup:
    """A VK author, linked to the conversation in the proxy (or to VK when there is none)."""
    if author is None:
        return Markup(_("the author"))
    label = _bdi(author.name) if author.name else unnamed_person(author.vk_id, author.network)
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
    places = PLACES
    if names.network(conversation.community_id) is Network.TELEGRAM:  # type: ignore[attr-defined]
        places = {**PLACES, **TELEGRAM_PLACES}
    return _say(places[channel], link=start, end=end)


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
