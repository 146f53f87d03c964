"""Matching incoming items against the moderation rules: compiled once per change, evaluated per item.

`RuleSet.compile` turns the stored rules into indexes so that an item costs about the same with one
rule or a thousand: a word's Snowball stem (proxy/search_terms.py, the stemmer search uses) points at
the rules that list a form of it, a phrase is found by its first stem, a linked domain and each of its
parent domains are looked up in a dict, and every regular expression of every rule is tried at once by
one RE2 set (linear time, no backtracking). Only a rule that one of these points at — or a rule with
no such condition, which is checked directly — has its other conditions checked. A rule matches when
every condition it gives holds; a condition that lists values holds when one of them does.

The regular expressions and their RE2 prefilter live in proxy/rules/pattern_set.py; what counts as a
word, a link, a phone number and a mention, in proxy/rules/text_scan.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from proxy.models import RuleMode
from proxy.rules import text_scan
from proxy.rules.pattern_set import PatternSet
from proxy.rules.pattern_set import re2_form as re2_form  # imported from here by tests
from proxy.rules.spec import parse_actions, parse_conditions
from proxy.rules.text_scan import normalise_domain, parents, word_forms

PATTERN_TIME_LIMIT_SECONDS = 0.05
MATCHED_MAX_CHARS = 300


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class PatternTimeout(Exception):
    """A rule's regular expression ran past its time limit on this item."""


# ---------------------------------------------------------------------------------------------------
# One item, as the conditions look at it (each part computed when a condition first asks)


@dataclass(frozen=True)
class Candidate:
    community_id: int
    channel: str  # proxy.events.Channel value
    text: str
    attachment_kinds: frozenset[str]  # VK attachment "type"s of the item
    author_vk_id: int | None
    is_new_author: bool  # the author's first item in this community
    local_hour: int  # 0-23, team time zone, at arrival
    # Arrival times of the author's earlier items in this community with the same text (whitespace and
    # case normalised), within RuleSet.repeat_window; this item is not among them.
    same_text_times: tuple[datetime, ...]
    arrived_at: datetime  # aware UTC


class _Item:
    def __init__(self, candidate: Candidate, patterns: PatternSet) -> None:
        self.candidate = candidate
        self.text = candidate.text or ""
        self._patterns = patterns
        self._tokens: list[tuple[str, str]] | None = None
        self._positions: dict[str, list[int]] | None = None
        self._links: list[tuple[str, str]] | None = None
        self._phones: list[str] | None = None
        self._mentions: list[str] | None = None
        self._lower: str | None = None
        self._worth: set[int] | None = None
        self._pattern_results: dict[int, str | None | PatternTimeout] = {}

    @property
    def tokens(self) -> list[tuple[str, str]]:
        """(stem, word as written), in order."""
        if self._tokens is None:
            tokens = []
            for word in text_scan.WORD.findall(self.text):
                stem = text_scan.stem_of(word)
                if stem is not None:
                    tokens.append((stem, word))
            self._tokens = tokens
        return self._tokens

    @property
    def positions(self) -> dict[str, list[int]]:
        if self._positions is None:
            positions: dict[str, list[int]] = {}
            for index, (stem, _) in enumerate(self.tokens):
                positions.setdefault(stem, []).append(index)
            self._positions = positions
        return self._positions

    @property
    def lower(self) -> str:
        if self._lower is None:
            self._lower = " ".join(self.text.lower().replace("ё", "е").split())
        return self._lower

    @property
    def links(self) -> list[tuple[str, str, bool]]:
        if self._links is None:
            self._links = text_scan.links(self.text)
        return self._links

    @property
    def plain_links(self) -> list[tuple[str, str, bool]]:
        return [link for link in self.links if link[2]]

    @property
    def phones(self) -> list[str]:
        if self._phones is None:
            self._phones = text_scan.phones(self.text)
        return self._phones

    @property
    def mentions(self) -> list[str]:
        if self._mentions is None:
            self._mentions = text_scan.mentions(self.text)
        return self._mentions

    def pattern(self, index: int) -> str | None:
        """What the pattern matched in the text (None: nothing); PatternTimeout when it ran out of time."""
        if index in self._pattern_results:
            result = self._pattern_results[index]
        else:
            if self._worth is None:
                self._worth = self._patterns.worth_running(self.text)
            if index not in self._worth:
                result = None
            else:
                try:
                    match = self._patterns.compiled[index].search(
                        self.text, timeout=PATTERN_TIME_LIMIT_SECONDS
                    )
                    result = None if match is None else match.group(0)
                except TimeoutError:
                    result = PatternTimeout(
                        f"pattern /{_short(self._patterns.patterns[index])}/ ran past its "
                        f"{PATTERN_TIME_LIMIT_SECONDS * 1000:.0f} ms limit"
                    )
            self._pattern_results[index] = result
        if isinstance(result, PatternTimeout):
            raise result
        return result


# ---------------------------------------------------------------------------------------------------
# Conditions: each a function of the item giving what matched ("" when nothing to show) or None.

Check = Callable[[_Item], "str | None"]
# The order a rule's conditions are checked in: the cheap and the selective first, patterns last.
_ORDER = (
    "channels", "new_author", "authors", "attachments", "hours", "repeated", "any_link", "domains_deny",
    "domains_allow", "mention", "phone", "words", "phrases", "patterns",
)  # fmt: skip


def _word_check(single: frozenset[str], phrases: Check | None, texts: tuple[str, ...]) -> Check:
    """Any of the words: by stem; a word the stemmer splits ("wi-fi") as a phrase; one of signs only
    ("$$$") as a substring."""

    def check(item: _Item) -> str | None:
        if single:
            positions = item.positions
            for stem in single:
                if stem in positions:
                    return f"word: {item.tokens[positions[stem][0]][1]}"
        if phrases is not None and (found := phrases(item)) is not None:
            return "word: " + found.removeprefix("phrase: ")
        for text in texts:
            if text in item.lower:
                return f"word: {text}"
        return None

    return check


def _plain(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def _phrase_check(phrases: tuple[tuple[tuple[str, ...], str], ...], texts: tuple[str, ...] = ()) -> Check:
    def check(item: _Item) -> str | None:
        positions, tokens = item.positions, item.tokens
        for sequence, _ in phrases:
            for start in positions.get(sequence[0], ()):
                end = start + len(sequence)
                if end <= len(tokens) and all(tokens[start + k][0] == s for k, s in enumerate(sequence)):
                    return "phrase: " + " ".join(word for _, word in tokens[start:end])
        for text in texts:
            if text in item.lower:
                return f"phrase: {text}"
        return None

    return check


def _pattern_check(indexes: tuple[int, ...], patterns: PatternSet) -> Check:
    def check(item: _Item) -> str | None:
        for index in indexes:
            found = item.pattern(index)
            if found is not None:
                return f"pattern /{_short(patterns.patterns[index], 80)}/: {_short(found, 120)}"
        return None

    return check


def _deny_check(domains: frozenset[str]) -> Check:
    def check(item: _Item) -> str | None:
        for domain, written, _ in item.links:
            if any(parent in domains for parent in parents(domain)):
                return f"link: {_short(written, 120)}"
        return None

    return check


def _allow_check(domains: frozenset[str]) -> Check:
    def check(item: _Item) -> str | None:
        for domain, written, _ in item.plain_links:
            if not any(parent in domains for parent in parents(domain)):
                return f"link: {_short(written, 120)}"
        return None

    return check


def _any_link(item: _Item) -> str | None:
    links = item.plain_links
    return f"link: {_short(links[0][1], 120)}" if links else None


def _phone(item: _Item) -> str | None:
    return f"phone: {item.phones[0]}" if item.phones else None


def _mention(item: _Item) -> str | None:
    return f"mention: {_short(item.mentions[0])}" if item.mentions else None


def _new_author(item: _Item) -> str | None:
    return "new author" if item.candidate.is_new_author else None


def _attachments_check(kinds: frozenset[str]) -> Check:
    def check(item: _Item) -> str | None:
        found = sorted(kinds & item.candidate.attachment_kinds)
        return f"attachment: {', '.join(found)}" if found else None

    return check


def _authors_check(authors: frozenset[int]) -> Check:
    def check(item: _Item) -> str | None:
        author = item.candidate.author_vk_id
        return f"author: {author}" if author is not None and author in authors else None

    return check


def _channels_check(channels: frozenset[str]) -> Check:
    def check(item: _Item) -> str | None:
        return f"channel: {item.candidate.channel}" if item.candidate.channel in channels else None

    return check


def _hours_check(start: int, end: int) -> Check:
    def check(item: _Item) -> str | None:
        hour = item.candidate.local_hour
        inside = start <= hour < end if start < end else (hour >= start or hour < end)
        return f"hour: {hour}" if inside else None

    return check


def _repeated_check(count: int, window: timedelta) -> Check:
    def check(item: _Item) -> str | None:
        since = item.candidate.arrived_at - window
        earlier = sum(1 for t in item.candidate.same_text_times if since <= t <= item.candidate.arrived_at)
        if earlier + 1 >= count:
            return f"repeated: {earlier + 1} times in {int(window.total_seconds() // 60)} min"
        return None

    return check


# ---------------------------------------------------------------------------------------------------
# Rules

# What a rule is filed under, most selective first: a rule is looked at only for an item that has its
# first condition in this order (every condition must hold, so one is enough to find it by).
_KEYS = (
    "stems", "domains", "authors", "patterns", "repeated", "new_author", "attachments", "mention", "phone",
    "links", "hours", "channels", "every",
)  # fmt: skip


class CompiledRule:
    """A stored rule ready to evaluate; `actions` as stored (proxy/rules/spec.py parse_actions)."""

    __slots__ = ("id", "version", "name", "community_id", "mode", "actions", "updated_at", "_checks")

    def __init__(
        self,
        *,
        id: int,
        version: int,
        name: str,
        community_id: int | None,
        mode: RuleMode,
        actions: list[dict[str, Any]],
        updated_at: datetime,
        checks: list[tuple[str, Check]],
    ) -> None:
        self.id, self.version, self.name = id, version, name
        self.community_id, self.mode, self.actions, self.updated_at = community_id, mode, actions, updated_at
        self._checks = checks

    def __repr__(self) -> str:
        return f"CompiledRule(id={self.id}, version={self.version}, name={self.name!r}, mode={self.mode})"

    def match(self, item: _Item) -> str | None:
        """What matched, when every condition holds; None otherwise."""
        shown = []
        for kind, check in self._checks:
            found = check(item)
            if found is None:
                return None
            if kind not in ("channels", "hours") or len(self._checks) == 1:
                shown.append(found)
        return _short("; ".join(shown), MATCHED_MAX_CHARS) if shown else ""


@dataclass(frozen=True)
class Hit:
    rule: CompiledRule
    matched: str  # what matched, for people ("word: скидки; link: spam.example/x"), at most ~300 chars


@dataclass(frozen=True)
class RuleFailure:
    rule_id: int
    error: str


class RuleSet:
    """The active rules, compiled; see the module's docstring for how an item is matched."""

    def __init__(self) -> None:
        self.rules: dict[int, CompiledRule] = {}
        self.broken: dict[int, str] = {}
        self.repeat_window: timedelta | None = None
        self.needs_new_author = False
        self._patterns = PatternSet()
        # Each rule is filed under its most selective condition (_KEYS), by that condition's values: a
        # word's stem (and a phrase's first), a domain, a pattern's number, an author, an attachment's
        # kind, an hour, a channel; or, for a yes/no condition, under True.
        self._index: dict[str, dict[Any, list[int]]] = {kind: {} for kind in _KEYS}

    @property
    def is_empty(self) -> bool:
        return not self.rules

    @classmethod
    def compile(cls, rules: Iterable[Any]) -> RuleSet:
        ruleset = cls()
        for rule in rules:
            mode = RuleMode(str(getattr(rule.mode, "value", rule.mode)))
            if rule.archived or mode == RuleMode.OFF:
                continue
            try:
                ruleset._add(rule, mode)
            except Exception as exc:  # a broken stored rule is reported, never blocks the others
                ruleset.broken[rule.id] = str(exc) or type(exc).__name__
        ruleset._patterns.build()
        return ruleset

    def _add(self, rule: Any, mode: RuleMode) -> None:
        conditions = parse_conditions(rule.conditions)
        actions = parse_actions(rule.actions)
        checks: list[tuple[str, Check]] = []
        keys: list[tuple[str, Any]] = []  # what the rule may be found by (one is enough: every must hold)
        for kind in _ORDER:
            if kind not in conditions:
                continue
            value = conditions[kind]
            if kind in ("words", "phrases"):
                single: set[str] = set()
                sequences: list[tuple[tuple[str, ...], str]] = []
                texts: list[str] = []
                for word in value:
                    found = tuple(word_forms(word))
                    if kind == "words" and len(found) == 1:
                        single.add(found[0])
                    elif found:
                        sequences.append((found, _plain(word)))
                    else:  # signs only: no stem to look for
                        texts.append(_plain(word))
                if kind == "words":
                    phrase_check = _phrase_check(tuple(sequences)) if sequences else None
                    checks.append((kind, _word_check(frozenset(single), phrase_check, tuple(texts))))
                else:
                    checks.append((kind, _phrase_check(tuple(sequences), tuple(texts))))
                if not texts:
                    keys.append(("stems", single | {sequence[0] for sequence, _ in sequences}))
            elif kind == "patterns":
                indexes = tuple(self._patterns.add(p) for p in value)
                checks.append((kind, _pattern_check(indexes, self._patterns)))
                keys.append(("patterns", indexes))
            elif kind == "domains_deny":
                domains = frozenset(normalise_domain(d) for d in value)
                checks.append((kind, _deny_check(domains)))
                keys.append(("domains", domains))
            elif kind == "domains_allow":
                checks.append((kind, _allow_check(frozenset(normalise_domain(d) for d in value))))
                keys.append(("links", {True}))
            elif kind == "any_link":
                checks.append((kind, _any_link))
                keys.append(("links", {True}))
            elif kind == "phone":
                checks.append((kind, _phone))
                keys.append(("phone", {True}))
            elif kind == "mention":
                checks.append((kind, _mention))
                keys.append(("mention", {True}))
            elif kind == "new_author":
                checks.append((kind, _new_author))
                keys.append(("new_author", {True}))
                self.needs_new_author = True
            elif kind == "attachments":
                checks.append((kind, _attachments_check(frozenset(value))))
                keys.append(("attachments", set(value)))
            elif kind == "authors":
                authors = frozenset(int(a) for a in value)
                checks.append((kind, _authors_check(authors)))
                keys.append(("authors", authors))
            elif kind == "channels":
                checks.append((kind, _channels_check(frozenset(value))))
                keys.append(("channels", set(value)))
            elif kind == "hours":
                start, end = int(value["from"]), int(value["to"])
                checks.append((kind, _hours_check(start, end)))
                hours = range(start, end) if start < end else [*range(start, 24), *range(0, end)]
                keys.append(("hours", set(hours)))
            elif kind == "repeated":
                window = timedelta(minutes=int(value["window_minutes"]))
                checks.append((kind, _repeated_check(int(value["count"]), window)))
                keys.append(("repeated", {True}))
                if self.repeat_window is None or window > self.repeat_window:
                    self.repeat_window = window
        compiled = CompiledRule(
            id=rule.id, version=rule.version, name=rule.name,
            community_id=getattr(rule, "community_id", None), mode=mode, actions=actions,
            updated_at=rule.updated_at, checks=checks,
        )  # fmt: skip
        # Every rule has a condition (parse_conditions insists); a condition of signs only ("$$$") has
        # no key, and then the rule is filed under a later condition, or under "every item".
        kind, values = min(keys, key=lambda key: _KEYS.index(key[0]), default=("every", {True}))
        self.rules[rule.id] = compiled
        for value in values:
            self._index[kind].setdefault(value, []).append(rule.id)

    def _candidates(self, item: _Item) -> set[int]:
        """The rules one of whose conditions may hold: those filed under something the item has."""
        found: set[int] = set()
        index, candidate = self._index, item.candidate

        def add(kind: str, values: Iterable[Any]) -> None:
            by_value = index[kind]
            for value in values:
                rules = by_value.get(value)
                if rules:
                    found.update(rules)

        add("every", (True,))
        if index["stems"]:
            add("stems", item.positions)
        if index["domains"]:
            add("domains", (parent for domain, _, _ in item.links for parent in parents(domain)))
        if index["authors"] and candidate.author_vk_id is not None:
            add("authors", (candidate.author_vk_id,))
        if index["patterns"]:
            if item._worth is None:
                item._worth = self._patterns.worth_running(item.text)
            add("patterns", item._worth)
        if index["repeated"] and candidate.same_text_times:
            add("repeated", (True,))
        if index["new_author"] and candidate.is_new_author:
            add("new_author", (True,))
        if index["attachments"]:
            add("attachments", candidate.attachment_kinds)
        if index["hours"]:
            add("hours", (candidate.local_hour,))
        if index["channels"]:
            add("channels", (candidate.channel,))
        if index["mention"] and item.mentions:
            add("mention", (True,))
        if index["phone"] and item.phones:
            add("phone", (True,))
        if index["links"] and item.plain_links:
            add("links", (True,))
        return found

    def evaluate(self, candidate: Candidate) -> tuple[list[Hit], list[RuleFailure]]:
        """The rules of the candidate's community and the team-wide ones that match it, and those that
        failed on it (a pattern out of time, say: no hit for that rule). Never raises."""
        hits: list[Hit] = []
        failures: list[RuleFailure] = []
        if not self.rules:
            return hits, failures
        item = _Item(candidate, self._patterns)
        try:
            candidates = self._candidates(item)
        except Exception:  # the indexes failed on this text: every rule is checked directly
            candidates = set(self.rules)
        for rule_id in sorted(candidates):
            rule = self.rules[rule_id]
            if rule.community_id is not None and rule.community_id != candidate.community_id:
                continue
            try:
                matched = rule.match(item)
            except PatternTimeout as exc:
                failures.append(RuleFailure(rule_id, str(exc)))
                continue
            except Exception as exc:
                failures.append(RuleFailure(rule_id, f"{type(exc).__name__}: {exc}"[:MATCHED_MAX_CHARS]))
                continue
            if matched is not None:
                hits.append(Hit(rule, matched))
        return hits, failures
