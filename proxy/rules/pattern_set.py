"""Every regular expression of a rule set, and the RE2 set that narrows down which of them to run.

A rule's regular expressions run with the `regex` package, each under PATTERN_TIME_LIMIT_SECONDS per
item: a pattern that backtracks catastrophically is cut off, the rule gives a RuleFailure for that item
and no hit, and the other rules still run. The RE2 set only decides which patterns are worth running:
a pattern RE2 cannot express (backreferences, lookarounds, possessive repeats) is always run, and
the patterns given to RE2 are widened where its meaning differs (`\\w`, `\\d`, `\\s` are ASCII in RE2,
so they become Unicode classes; `\\b` is dropped), so the set never leaves out a pattern that would
match.
"""

from __future__ import annotations

import re
from typing import Any

import regex

from proxy.rules.spec import compile_pattern

try:  # RE2 only narrows down which patterns to run; without it every pattern runs.
    import re2
except ImportError:  # pragma: no cover - the dependency is declared; this keeps matching correct without it
    re2 = None


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


class PatternSet:
    """Every distinct pattern of the rule set, compiled for `regex`, and the RE2 set that narrows them."""

    def __init__(self) -> None:
        self.patterns: list[str] = []
        self.compiled: list[regex.Pattern[str]] = []
        self._index: dict[str, int] = {}
        self.always: set[int] = set()  # patterns RE2 does not narrow down: run for every item
        self._set: Any = None

    def add(self, pattern: str) -> int:
        if pattern not in self._index:
            compiled = compile_pattern(pattern)
            self._index[pattern] = len(self.patterns)
            self.patterns.append(pattern)
            self.compiled.append(compiled)
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
        try:
            found = self._set.Match(text)
        except Exception:  # RE2 gave up on this text (its memory limit, say): every pattern runs
            return set(range(len(self.patterns)))
        if not found:
            return self.always
        return self.always | {self._members[i] for i in found}
