"""Reading an item's text the way rules compare it: its words as stems, its links, phones and mentions.

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
from functools import lru_cache

import regex

from proxy.search_terms import stems

# The tokenising of proxy/search_terms.py (letters and digits; ё read as е), with a cache of stems:
# the words of comments repeat a lot, and a cached stem costs a look-up instead of a stemmer call.
WORD = re.compile(r"[^\W_]+")
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


@lru_cache(maxsize=_STEM_CACHE_LIMIT)
def stem_of(word: str) -> str | None:
    """The word's one form (None when the stemmer makes no word, or several, of it)."""
    found = word_forms(word)
    return found[0] if len(found) == 1 else None


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


def parents(domain: str) -> list[str]:
    """The domain and every domain it is under ("a.b.c" -> a.b.c, b.c, c)."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def links(text: str) -> list[tuple[str, str, bool]]:
    """(domain, the link as written, whether it reads as a link on its own) of every link and bare
    "name.word": "spam.example" is not a link to any_link, but is one to a rule that lists it."""
    found = []
    for match in _LINK.finditer(text):
        tld = match.group("tld").lower()
        plain = bool(match.group("scheme")) or len(tld) == 2 or tld in _GENERIC_TLDS or tld.startswith("xn--")
        found.append((normalise_domain(match.group("host")), match.group(0), plain))
    return found


def phones(text: str) -> list[str]:
    found = []
    for match in _PHONE.finditer(text):
        digits = sum(c.isdigit() for c in match.group(0))
        if match.group(1):
            if 10 <= digits <= 15:
                found.append(match.group(0).strip())
        elif digits == 11 and match.group(0).lstrip()[0] in "78":
            found.append(match.group(0).strip())
    return found


def mentions(text: str) -> list[str]:
    return [m.group(0) for m in _MENTION.finditer(text)]
