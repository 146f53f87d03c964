"""Matching incoming items against the moderation rules: compiled once per change, evaluated per item.

`RuleSet.compile` turns the stored rules into indexes so that an item costs about the same with one
rule or a thousand: a word's Snowball stem (proxy/search_terms.py, the stemmer search uses) points at
the rules that list a form of it, a phrase is found by its first stem, a linked domain and each of its
parent domains are looked up in a dict, and every regular expression of every rule is tried at once by
one RE2 set (linear time, no backtracking). Only a rule that one of these points at — or a rule with
no such condition, which is checked directly — has its other conditions checked. A rule matches when
every condition it gives holds; a condition that lists values holds when one of them does.

A rule's regular expressions run with the `regex` package, each under PATTERN_TIME_LIMIT_SECONDS per
item: a pattern that backtracks catastrophically is cut off, the rule gives a RuleFailure for that item
and no hit, and the other rules still run. The RE2 set only decides which patterns are worth running:
a pattern RE2 cannot express (backreferences, lookarounds, possessive repeats) is always run, and
the patterns given to RE2 are widened where its meaning differs (`\\w`, `\\d`, `\\s` are ASCII in RE2,
so they become Unicode classes; `\\b` is dropped), so the set never leaves out a pattern that would
match.

What counts as a link, a phone number and a mention is decided here (docs/rules.md):

- A link: an address with a scheme (`https://…`), one starting with `www.`, or a bare domain whose
  last label is a country code (two letters: `vk.cc/x`, `spam.ru`), a common generic one (`.com`,
  `.org`, `.info`, `.online`, …) or a Cyrillic one (`.рф`, `.рус`, …). "hello.world" or "т.е." is
  not a link; an e-mail address is not a link. A listed domain matches itself and its subdomains.
- A phone number: `+` and 10 to 15 digits (`+7 999 123-45-67`, `+44 20 7946 0958`), or 11 digits
  starting with 7 or 8 (`8 (999) 123 45 67`, `89991234567`); spaces, dashes, dots and brackets may
  separate the digits. Any other run of digits — an order number `123456789`, a bare ten-digit
  `9991234567`, a date — is not a phone number.
- A mention: VK's `[id123|Name]`, `[club1|Name]` (also public, event), `@name` (a Latin short name or
  id123; not an e-mail address), `*id123` (also club, public, event with a number).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import regex

from proxy.models import RuleMode
from proxy.rules.spec import compile_pattern, parse_actions, parse_conditions
from proxy.search_terms import stems

try:  # RE2 only narrows down which patterns to run; without it every pattern runs.
    import re2
except ImportError:  # pragma: no cover - the dependency is declared; this keeps matching correct without it
    re2 = None

PATTERN_TIME_LIMIT_SECONDS = 0.05
MATCHED_MAX_CHARS = 300

# The tokenising of proxy/search_terms.py (letters and digits; ё read as е), with a cache of stems:
# the words of comments repeat a lot, and a cached stem costs a dict look-up instead of a stemmer call.
_WORD = re.compile(r"[^\W_]+")
_STEM_CACHE: dict[str, str | None] = {}
_STEM_CACHE_LIMIT = 200_000


# Snowball leaves a soft vowel on some Russian stems and not on others of the same word («лотерея» ->
# "лотере", «лотереи» -> "лотер"): a rule's word must match every form, so a trailing vowel, й or ь after
# three letters is dropped from both the rule's stems and the text's.
# Likewise a fleeting vowel before the last consonant («заработок», «заработка»; «отец», «отца») is dropped.
_SOFT_ENDING = re.compile(r"(?<=[\u0400-\u04ff]{3})[аеиоуыэюяйь]+$")
_FLEETING_VOWEL = re.compile(r"(?<=[\u0400-\u04ff]{3})[оеё](?=[кцлнр]$)")


def word_forms(text: str) -> list[str]:
    """The text's words as rules compare them: Snowball stems, Russian ones without a soft ending or a
    fleeting vowel (one form for every case of the word, on the rule's side and the text's alike)."""
    return [_FLEETING_VOWEL.sub("", _SOFT_ENDING.sub("", stem)) for stem in stems(text)]


def _stem_of(word: str) -> str | None:
    stem = _STEM_CACHE.get(word, "")
    if stem == "":
        found = word_forms(word)
        stem = found[0] if len(found) == 1 else None
        if len(_STEM_CACHE) >= _STEM_CACHE_LIMIT:
            _STEM_CACHE.clear()
        _STEM_CACHE[word] = stem
    return stem


# Generic top-level domains a bare "name.tld" is read as a link with (any two-letter one is a country's).
_GENERIC_TLDS = frozenset(
    "com net org info biz pro xyz top site online store shop club app dev io ai co me tv cc ru su "
    "tech space website blog icu buzz vip mobi asia tel travel digital email cloud network social "
    "рф рус москва онлайн сайт орг ком укр бел срб дети".split()
)
_LABEL = r"[a-z0-9\u0400-\u04ff](?:[a-z0-9\u0400-\u04ff-]{0,61}[a-z0-9\u0400-\u04ff])?"
_LINK = regex.compile(
    r"(?<![\w@.\-])(?P<scheme>https?://|www\.)?(?P<host>(?:"
    + _LABEL
    + r"\.)+(?P<tld>[a-z\u0400-\u04ff]{2,24}|xn--[a-z0-9-]{1,59}))"
    r"(?![\w\-]|@|\.[\w])(?P<rest>[/?#][^\s<>\"«»]*)?",
    regex.IGNORECASE,
)
_PHONE = regex.compile(r"(?<![\w+])(\+)?\s?\d(?:[ .\-()]{0,2}\d){9,14}(?![\w])")
_MENTION = regex.compile(
    r"\[(?:id|club|public|event)\d+\|[^\]\n]{0,100}\]"
    r"|(?<![\w@.])@(?:[a-z][a-z0-9_.]{1,31}[a-z0-9_]|id\d+)"
    r"|(?<![\w*])\*(?:id|club|public|event)\d+",
    regex.IGNORECASE,
)


def _decode_label(label: str) -> str:
    if label.startswith("xn--"):
        try:
            return label.encode("ascii").decode("idna")
        except (UnicodeError, ValueError):
            return label
    return label


def normalise_domain(domain: str) -> str:
    """A domain as rules and links compare it: lower case, no `www.`, punycode read as letters."""
    domain = domain.lower().rstrip(".").removeprefix("www.")
    return ".".join(_decode_label(label) for label in domain.split("."))


def _parents(domain: str) -> list[str]:
    """The domain and every domain it is under ("a.b.c" -> a.b.c, b.c, c)."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class PatternTimeout(Exception):
    """A rule's regular expression ran past its time limit on this item."""


# ---------------------------------------------------------------------------------------------------
# Regular expressions for the RE2 prefilter


_RE2_FAIL = object()
# Escapes that mean the same to RE2 and to `regex` (outside and inside a class).
_SAME_ESCAPES = set(".^$*+?()[]{}|\\/-#&~\"'!%,:;<=>@`_ ntrfv0123456789")
_SAME_ESCAPES -= set("0123456789")


# Supersets, in RE2's syntax, of what `regex` reads as a word character (Unicode's Alphabetic, marks,
# decimal digits, connectors, joiners) and as a space (White_Space); RE2's own \w and \s are ASCII.
_WIDE_WORD = r"\p{L}\p{N}\p{M}\p{Pc}\p{So}_\x{200C}\x{200D}"
_WIDE_SPACE = r"\s\p{Z}\x0b\x1c-\x1f\x85"
_BOUNDS = re.compile(r"\{\d*,?\d*\}")


def _group_end(pattern: str, start: int) -> int | None:
    """The index just past the ")" closing the group opened at `start`; None when it is not closed."""
    depth, i, n, in_class = 0, start, len(pattern), False
    while i < n:
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern.startswith("[]", i) or pattern.startswith("[^]", i):
                i += 2 if pattern[i + 1] == "]" else 3
                continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def re2_form(pattern: str) -> str | None:
    """The pattern for the RE2 prefilter: it matches somewhere in every text the pattern matches in under
    `regex` (and maybe in more), or None when that cannot be had (then the pattern runs on every item).

    What RE2 reads differently is widened: `\\w`, `\\d`, `\\s` become Unicode classes; word boundaries,
    lookarounds and possessive or atomic parts are dropped (an assertion dropped matches more, never
    less); a backreference matches anything; `$` also before a last newline, as in Python.
    """
    out: list[str] = []
    i, n, in_class, class_start, negated = 0, len(pattern), False, -1, False
    prev = ""  # "repeat" right after a quantifier: a "+" then makes it possessive, a "?" lazy
    while i < n:
        char = pattern[i]
        if char == "\\":
            if i + 1 >= n:
                return None
            escape = pattern[i + 1]
            i += 2
            prev = "atom"
            if escape in "pPx":  # \p{L}, \x41: RE2 rejects the names and forms it does not know
                out.append("\\" + escape)
            elif escape in "ws" and in_class and negated:
                return None  # widening a member of a negated class would narrow the class
            elif escape == "w":
                out.append(_WIDE_WORD if in_class else f"[{_WIDE_WORD}]")
            elif escape == "d":
                out.append(r"\p{Nd}")
            elif escape == "s":
                out.append(_WIDE_SPACE if in_class else f"[{_WIDE_SPACE}]")
            elif escape in "WS" and not in_class:
                # The complement of what both engines agree is a word character, or a space.
                out.append(r"[^\p{L}\p{Nd}_]" if escape == "W" else r"[^\s\p{Z}]")
            elif escape == "D":
                out.append(r"\P{Nd}")
            elif escape in "bBmM" and not in_class:
                if i < n and pattern[i] in "*+?{":
                    return None  # a quantified assertion: dropping it would quantify what precedes
            elif escape == "A" and not in_class:
                out.append(r"\A")
            elif escape == "Z" and not in_class:
                out.append(r"\z")
            elif escape in "123456789" and not in_class:
                out.append(r"(?s:.*)")
                while i < n and pattern[i].isdigit():
                    i += 1
            elif escape in _SAME_ESCAPES:
                out.append("\\" + escape)
            else:
                return None
            continue
        if in_class:
            if char == "[" and i + 1 < n and pattern[i + 1] in ":=.":
                return None  # POSIX classes are ASCII in RE2, Unicode in `regex`
            if char == "]" and i > class_start:
                in_class = False
                prev = "atom"
            out.append(char)
            i += 1
            continue
        if char == "[":
            in_class = True
            j = i + 1
            negated = j < n and pattern[j] == "^"
            if negated:
                j += 1
            class_start = j  # a "]" right at the start is a literal
            out.append(pattern[i:j])
            i = j
            continue
        if char == "(" and pattern.startswith("(?", i):
            head = pattern[i + 2 : i + 4]
            if head[:1] in ("=", "!") or head in ("<=", "<!"):
                end = _group_end(pattern, i)
                if end is None or (end < n and pattern[end] in "*+?{"):
                    return None
                i = end
                continue
            if head[:1] == ">":  # atomic: matches a subset of the plain group
                out.append("(?:")
                i += 3
                prev = ""
                continue
            if head[:1] == "<":
                out.append("(?P<")
                i += 3
                prev = ""
                continue
            if not (head[:1] == ":" or head.startswith("P<") or head[:1] in ("i", "m", "s", "-")):
                return None  # comments, branch resets, conditionals, verbose and other flags
        if char in "*+?":
            if prev == "repeat" and char == "+":  # possessive: it matches a subset of the greedy repeat
                i += 1
                continue
            out.append(char)
            i += 1
            prev = "lazy" if prev == "repeat" and char == "?" else "repeat"
            continue
        if char == "{" and (bounds := _BOUNDS.match(pattern, i)):
            out.append(bounds.group(0))
            i = bounds.end()
            prev = "repeat"
            continue
        if char == "$":
            out.append(r"(?:\n?$)")
            i += 1
            prev = "atom"
            continue
        out.append(char)
        prev = "atom"
        i += 1
    return "".join(out)


class _PatternSet:
    """Every distinct pattern of the rule set, compiled for `regex`, and the RE2 set that narrows them."""

    def __init__(self) -> None:
        self.patterns: list[str] = []
        self.compiled: list[regex.Pattern[str]] = []
        self._index: dict[str, int] = {}
        self.always: set[int] = set()  # patterns RE2 does not narrow down: run for every item
        self._set: Any = None

    def add(self, pattern: str) -> int:
        if pattern not in self._index:
            self._index[pattern] = len(self.patterns)
            self.patterns.append(pattern)
            self.compiled.append(compile_pattern(pattern))
        return self._index[pattern]

    def build(self) -> None:
        if not self.patterns:
            return
        if re2 is None:
            self.always = set(range(len(self.patterns)))
            return
        options = re2.Options()
        options.case_sensitive = False
        options.max_mem = 64 << 20
        candidate = re2.Set.SearchSet(options)
        in_set: list[int] = []
        for index, pattern in enumerate(self.patterns):
            form = re2_form(pattern)
            added = -1
            if form is not None:
                try:
                    added = candidate.Add(form)
                except Exception:  # RE2 rejects what it cannot express: the pattern is run every time
                    added = -1
            if added < 0:
                self.always.add(index)
            else:
                in_set.append(index)
        try:
            if in_set:
                candidate.Compile()
                self._set, self._members = candidate, in_set
        except Exception:
            self._set = None
            self.always = set(range(len(self.patterns)))

    def worth_running(self, text: str) -> set[int]:
        """The patterns that may match the text: those the RE2 set found, and those it cannot judge."""
        if self._set is None:
            return self.always
        found = self._set.Match(text)
        if not found:
            return self.always
        return self.always | {self._members[i] for i in found}


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
    def __init__(self, candidate: Candidate, patterns: _PatternSet) -> None:
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
            for word in _WORD.findall(self.text):
                stem = _stem_of(word)
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
        """(domain, the link as written, whether it reads as a link on its own) of every link and bare
        "name.word": "spam.example" is not a link to any_link, but is one to a rule that lists it."""
        if self._links is None:
            links = []
            for match in _LINK.finditer(self.text):
                tld = match.group("tld").lower()
                plain = (
                    bool(match.group("scheme"))
                    or len(tld) == 2
                    or tld in _GENERIC_TLDS
                    or tld.startswith("xn--")
                )
                links.append((normalise_domain(match.group("host")), match.group(0), plain))
            self._links = links
        return self._links

    @property
    def plain_links(self) -> list[tuple[str, str, bool]]:
        return [link for link in self.links if link[2]]

    @property
    def phones(self) -> list[str]:
        if self._phones is None:
            phones = []
            for match in _PHONE.finditer(self.text):
                digits = sum(c.isdigit() for c in match.group(0))
                if match.group(1):
                    if 10 <= digits <= 15:
                        phones.append(match.group(0).strip())
                elif digits == 11 and match.group(0).lstrip()[0] in "78":
                    phones.append(match.group(0).strip())
            self._phones = phones
        return self._phones

    @property
    def mentions(self) -> list[str]:
        if self._mentions is None:
            self._mentions = [m.group(0) for m in _MENTION.finditer(self.text)]
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


def _pattern_check(indexes: tuple[int, ...], patterns: _PatternSet) -> Check:
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
            if any(parent in domains for parent in _parents(domain)):
                return f"link: {_short(written, 120)}"
        return None

    return check


def _allow_check(domains: frozenset[str]) -> Check:
    def check(item: _Item) -> str | None:
        for domain, written, _ in item.plain_links:
            if not any(parent in domains for parent in _parents(domain)):
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
        self._patterns = _PatternSet()
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
            add("domains", (parent for domain, _, _ in item.links for parent in _parents(domain)))
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
