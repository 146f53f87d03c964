"""Words reduced to their Snowball stems, so that a search finds every form of a word, alike on both databases.

A text's terms are its words, lower-cased (ё read as е), each reduced by the Snowball stemmer of its
script: Russian for a word with a Cyrillic letter, English otherwise (digits stay as they are). The
terms are stored beside the text when a row is written (`item_version.search_terms`,
`journal_entry.search_terms`, migration 0015) and a query's words are reduced the same way, so
«гарантия» finds «гарантии» and "warranties" finds "warranty". PostgreSQL's own 'russian'
configuration is Snowball too, but with its own parser and stop words: SQLite cannot run it, and the
two databases answered the same query differently. One stemmer, here, on both, gives one answer.

PyStemmer is the Snowball project's own C binding (about 4 µs for 30 words), fast enough to run on
every stored message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import Stemmer

# Letters and digits; an underscore or any other sign separates words.
_WORD = re.compile(r"[^\W_]+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# Longer "words" (a pasted hash, a link's tail) are not what anyone searches for, and a PostgreSQL GIN
# entry has a size limit.
MAX_WORD_CHARS = 64

_RUSSIAN = Stemmer.Stemmer("russian")
_ENGLISH = Stemmer.Stemmer("english")


def _stem(word: str) -> str | None:
    word = word.lower().replace("ё", "е")
    if len(word) > MAX_WORD_CHARS:
        return None
    return (_RUSSIAN if _CYRILLIC.search(word) else _ENGLISH).stemWord(word)


def stems(text: str) -> list[str]:
    """The stems of the text's words, in order, repeats kept."""
    return [stem for word in _WORD.findall(text) if (stem := _stem(word)) is not None]


def spans_of(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Where in `text` the words whose stem is one of `terms` are (start, end), to mark them."""
    wanted = set(terms)
    return [m.span() for m in _WORD.finditer(text) if _stem(m.group()) in wanted]


def search_terms(*texts: str | None) -> str:
    """What a row stores: the distinct stems of its texts, sorted, separated by one space."""
    terms = set()
    for text in texts:
        if text:
            terms.update(stems(text))
    return " ".join(sorted(terms))


def query_terms(text: str) -> tuple[str, ...]:
    """The distinct stems of a query's words, in order: a row matches when it has all of them."""
    return tuple(dict.fromkeys(stems(text)))
