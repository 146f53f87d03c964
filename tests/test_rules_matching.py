"""Matching items against moderation rules (proxy/rules/matching.py): every condition true and false, word
forms, links, phones, mentions, scopes and modes, a hostile pattern cut off at its limit, broken rules.
Pure Python: no database."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import re2
import regex

from proxy.rules.matching import PATTERN_TIME_LIMIT_SECONDS, Candidate, RuleSet, re2_form
from proxy.rules.spec import PATTERN_FLAGS

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def stored(rule_id: int, conditions: dict[str, Any], *, community_id: int | None = None, mode: str = "on",
           archived: bool = False, actions: Any = None) -> SimpleNamespace:  # fmt: skip
    return SimpleNamespace(
        id=rule_id, version=3, name=f"rule {rule_id}", community_id=community_id, mode=mode,
        conditions=conditions, actions=actions or [{"do": "flag"}], updated_at=NOW, archived=archived,
    )  # fmt: skip


def item(text: str = "", **changes: Any) -> Candidate:
    base = Candidate(
        community_id=1, channel="wall", text=text, attachment_kinds=frozenset(), author_vk_id=42,
        is_new_author=False, local_hour=12, same_text_times=(), arrived_at=NOW,
    )  # fmt: skip
    return replace(base, **changes)


def hits(conditions: dict[str, Any], candidate: Candidate) -> list[str]:
    """What matched, for a rule set of this one rule."""
    found, failures = RuleSet.compile([stored(1, conditions)]).evaluate(candidate)
    assert failures == []
    return [hit.matched for hit in found]


@pytest.mark.parametrize(
    ("word", "text"),
    [("скидка", "Большие скидки сегодня"), ("скидка", "со скидкой!"), ("СКИДКА", "скидку дадим"),
     ("discount", "Discounts for all"), ("discount", "discounted prices"), ("ёлка", "купи елку")],
)  # fmt: skip
def test_words_match_their_forms(word: str, text: str) -> None:
    assert hits({"words": [word]}, item(text))


@pytest.mark.parametrize("text", ["скидочный день", "скидывать", "no discoun here", "", "discotheque"])
def test_words_do_not_match_other_words(text: str) -> None:
    assert not hits({"words": ["скидка", "discount"]}, item(text))


def test_a_word_hit_names_the_form_found() -> None:
    assert hits({"words": ["бесплатно", "скидка"]}, item("Только сегодня СКИДКИ")) == ["word: СКИДКИ"]


def test_words_the_stemmer_splits_and_signs_only() -> None:
    assert hits({"words": ["wi-fi"]}, item("бесплатный Wi-Fi тут"))
    assert not hits({"words": ["wi-fi"]}, item("wifi"))
    assert hits({"words": ["$$$"]}, item("get $$$ now"))
    assert not hits({"words": ["$$$"]}, item("get $$ now"))


def test_phrases_need_their_words_in_order() -> None:
    assert hits({"phrases": ["быстрая доставка"]}, item("Быстрой доставкой довольны")) == [
        "phrase: Быстрой доставкой"
    ]
    assert hits({"phrases": ["make money"]}, item("we make moneys fast"))
    assert not hits({"phrases": ["быстрая доставка"]}, item("доставка быстрая"))
    assert not hits({"phrases": ["быстрая доставка"]}, item("быстрая и дешёвая доставка"))


def test_patterns() -> None:
    assert hits({"patterns": [r"\bкупи\w+"]}, item("Купите слона")) == ["pattern /\\bкупи\\w+/: Купите"]
    assert not hits({"patterns": [r"\bкупи\w+"]}, item("покупите слона"))
    assert hits({"patterns": [r"(\w+) \1"]}, item("да да"))  # a backreference: RE2 cannot, regex runs it
    assert not hits({"patterns": [r"(\w+) \1"]}, item("да нет"))
    assert hits({"patterns": [r"скидк(?=а)"]}, item("скидка"))
    assert not hits({"patterns": [r"скидк(?=а)"]}, item("скидки"))


@pytest.mark.parametrize(
    "text",
    ["see spam.example", "http://spam.example/x", "https://a.b.spam.example/path?x=1", "www.SPAM.example",
     "(spam.example).", "https://spam.example."],
)  # fmt: skip
def test_denied_domain_and_its_subdomains(text: str) -> None:
    assert hits({"domains_deny": ["spam.example"]}, item(text))


@pytest.mark.parametrize(
    "text", ["notspam.example", "spam.example.org", "spam.examples", "me@spam.example", "spam"]
)
def test_denied_domain_does_not_match_lookalikes(text: str) -> None:
    assert not hits({"domains_deny": ["spam.example"]}, item(text))


def test_short_links_and_cyrillic_domains() -> None:
    assert hits({"domains_deny": ["vk.cc"]}, item("жми vk.cc/aBc1")) == ["link: vk.cc/aBc1"]
    assert hits({"domains_deny": ["пример.рф"]}, item("заходи на пример.рф"))
    assert hits({"domains_deny": ["пример.рф"]}, item("http://xn--e1afmkfd.xn--p1ai/"))


def test_allowed_domains_hold_when_a_link_goes_elsewhere() -> None:
    allow = {"domains_allow": ["vk.com", "example.org"]}
    assert not hits(allow, item("https://vk.com/wall-1_2 и m.vk.com/x и example.org"))
    assert hits(allow, item("https://vk.com/x и https://other.ru/y")) == ["link: https://other.ru/y"]
    assert not hits(allow, item("без ссылок"))


def test_any_link() -> None:
    for text in ("https://x.example/a", "www.x.ru", "example.com/x", "vk.cc/abc", "сайт.рф"):
        assert hits({"any_link": True}, item(text)), text
    for text in ("т.е. так", "hello.world", "a@mail.ru", "версия 1.5", "Привет.Как дела", "file.txt"):
        assert not hits({"any_link": True}, item(text)), text


@pytest.mark.parametrize(
    "text",
    ["+7 999 123-45-67", "8 (999) 123 45 67", "89991234567", "звони: 8-999-123-45-67!", "+44 20 7946 0958",
     "+79991234567", "7 999 123 45 67"],
)  # fmt: skip
def test_phone_numbers(text: str) -> None:
    assert hits({"phone": True}, item(text))


@pytest.mark.parametrize(
    "text",
    ["заказ 123456789", "9991234567", "03.12.2026", "номер 12345678901", "1 2 3 4 5", "8999123456", "+7 99"],
)
def test_not_phone_numbers(text: str) -> None:
    assert not hits({"phone": True}, item(text))


@pytest.mark.parametrize(
    "text", ["[id123|Вася], привет", "[club1|Сообщество]", "@durov смотри", "*id123 ку", "@id5"]
)
def test_mentions(text: str) -> None:
    assert hits({"mention": True}, item(text))


@pytest.mark.parametrize(
    "text", ["mail me a@b.ru", "[id123 без скобки", "звёздочка *важно*", "@ один", "x*id1"]
)
def test_not_mentions(text: str) -> None:
    assert not hits({"mention": True}, item(text))


def test_attachments() -> None:
    assert hits({"attachments": ["photo", "doc"]}, item(attachment_kinds=frozenset({"doc"})))
    assert not hits({"attachments": ["photo"]}, item(attachment_kinds=frozenset({"video"})))
    assert not hits({"attachments": ["photo"]}, item())


def test_repeated_within_the_window_only() -> None:
    rule = {"repeated": {"count": 3, "window_minutes": 10}}
    two_before = (NOW - timedelta(minutes=9), NOW - timedelta(minutes=1))
    assert hits(rule, item("купи", same_text_times=two_before))
    assert not hits(rule, item("купи", same_text_times=two_before[1:]))
    assert not hits(
        rule, item("купи", same_text_times=(NOW - timedelta(minutes=11), NOW - timedelta(minutes=1)))
    )
    ruleset = RuleSet.compile([stored(1, rule), stored(2, {"repeated": {"count": 2, "window_minutes": 30}})])
    assert ruleset.repeat_window == timedelta(minutes=30)
    assert RuleSet.compile([stored(1, {"words": ["a"]})]).repeat_window is None


def test_authors_new_author_channels() -> None:
    assert hits({"authors": [42, 7]}, item())
    assert not hits({"authors": [7]}, item())
    assert not hits({"authors": [7]}, item(author_vk_id=None))
    assert hits({"new_author": True}, item(is_new_author=True)) == ["new author"]
    assert not hits({"new_author": True}, item())
    assert hits({"channels": ["message", "wall"]}, item(channel="wall"))
    assert not hits({"channels": ["message"]}, item(channel="wall"))
    assert RuleSet.compile([stored(1, {"new_author": True})]).needs_new_author
    assert not RuleSet.compile([stored(1, {"channels": ["wall"]})]).needs_new_author


@pytest.mark.parametrize(
    ("start", "end", "inside", "outside"),
    [(9, 18, (9, 12, 17), (8, 18, 23)), (23, 6, (23, 0, 5), (6, 12, 22)), (0, 24, (0, 23), ()),
     (22, 0, (22, 23), (0, 21))],
)  # fmt: skip
def test_hours_wrap_past_midnight_and_end_before_to(
    start: int, end: int, inside: tuple[int, ...], outside: tuple[int, ...]
) -> None:
    rule = {"hours": {"from": start, "to": end}}
    for hour in inside:
        assert hits(rule, item(local_hour=hour)), hour
    for hour in outside:
        assert not hits(rule, item(local_hour=hour)), hour


def test_every_condition_must_hold() -> None:
    rule = {"words": ["скидка"], "any_link": True, "channels": ["wall"], "new_author": True}
    spam = item("скидки тут: spam.ru/x", is_new_author=True)
    assert hits(rule, spam) == ["new author; link: spam.ru/x; word: скидки"]
    assert not hits(rule, replace(spam, text="скидки тут"))
    assert not hits(rule, replace(spam, text="тут: spam.ru/x"))
    assert not hits(rule, replace(spam, channel="message"))
    assert not hits(rule, replace(spam, is_new_author=False))


def test_team_wide_and_community_rules() -> None:
    ruleset = RuleSet.compile([
        stored(1, {"words": ["скидка"]}, community_id=1),
        stored(2, {"words": ["скидка"]}, community_id=2),
        stored(3, {"words": ["скидка"]}),
    ])  # fmt: skip
    found, _ = ruleset.evaluate(item("скидка", community_id=1))
    assert [h.rule.id for h in found] == [1, 3]
    found, _ = ruleset.evaluate(item("скидка", community_id=5))
    assert [h.rule.id for h in found] == [3]


def test_off_and_archived_rules_are_left_out_dry_run_kept() -> None:
    ruleset = RuleSet.compile([
        stored(1, {"words": ["скидка"]}, mode="off"),
        stored(2, {"words": ["скидка"]}, archived=True),
        stored(3, {"words": ["скидка"]}, mode="dry_run"),
    ])  # fmt: skip
    found, _ = ruleset.evaluate(item("скидка"))
    assert [(h.rule.id, str(h.rule.mode), h.rule.version) for h in found] == [(3, "dry_run", 3)]
    assert RuleSet.compile([stored(1, {"words": ["a"]}, mode="off")]).is_empty
    assert RuleSet.compile([]).evaluate(item("скидка")) == ([], [])


def test_a_broken_stored_rule_lands_in_broken_and_the_others_still_run() -> None:
    ruleset = RuleSet.compile([
        stored(1, {"patterns": ["(unclosed"]}),
        stored(2, {"nonsense": True}),
        stored(3, {"words": ["скидка"]}, actions=[{"do": "explode"}]),
        stored(4, {"words": ["скидка"]}),
    ])  # fmt: skip
    assert sorted(ruleset.broken) == [1, 2, 3]
    assert "does not compile" in ruleset.broken[1]
    found, failures = ruleset.evaluate(item("скидка"))
    assert [h.rule.id for h in found] == [4] and failures == []


@pytest.mark.parametrize(
    ("pattern", "text"),
    [(r"(x+x+)+(?=y)", "x" * 10_230 + " скидка"), (r"(x+x+)+y\b", "x" * 10_227 + "yz скидка")],
)
def test_a_hostile_pattern_is_cut_off_at_its_limit_while_other_rules_hit(pattern: str, text: str) -> None:
    ruleset = RuleSet.compile([
        stored(1, {"patterns": [pattern]}),
        stored(2, {"words": ["скидка"]}),
        stored(3, {"patterns": [r"скидк\w"]}),
    ])  # fmt: skip
    started = time.perf_counter()
    found, failures = ruleset.evaluate(item(text))
    took = time.perf_counter() - started
    assert [f.rule_id for f in failures] == [1]
    assert failures[0].error.endswith("ran past its 50 ms limit")
    assert [h.rule.id for h in found] == [2, 3]
    assert PATTERN_TIME_LIMIT_SECONDS <= took < PATTERN_TIME_LIMIT_SECONDS * 6  # a busy machine's slack


def test_a_hostile_pattern_re2_rules_out_costs_nothing() -> None:
    ruleset = RuleSet.compile([stored(1, {"patterns": [r"(x+x+)+y"]})])
    started = time.perf_counter()
    assert ruleset.evaluate(item("x" * 10_240)) == ([], [])
    assert time.perf_counter() - started < PATTERN_TIME_LIMIT_SECONDS / 5


def test_a_rule_that_raises_gives_a_failure_not_an_exception() -> None:
    ruleset = RuleSet.compile([stored(1, {"words": ["скидка"]}), stored(2, {"authors": [42]})])
    rule = ruleset.rules[2]
    rule._checks = [("authors", lambda _: 1 / 0)]
    found, failures = ruleset.evaluate(item("скидка"))
    assert [h.rule.id for h in found] == [1]
    assert failures[0].rule_id == 2 and "ZeroDivisionError" in failures[0].error


def test_matched_is_short() -> None:
    long_word = "ы" * 64
    found = hits({"patterns": [r"ы+"]}, item(long_word * 20))
    assert len(found[0]) <= 300


# The RE2 form of a pattern decides which patterns run: it must match wherever `regex` does.
PREFILTER_PATTERNS = [
    r"\bкупи\w+", r"\w+@\w+\.ru", r"[\w-]+\s\S", r"\W\d", r"\d{3,}\s*руб", r"^скидка", r"скидка$", r"(\w+) \1",
    r"скидк(?=а)", r"(?<!по)купи", r"a++b", r"(?>ab|a)c", r"[^a-я]+", r"(?i)SALE", r"x{2,}", r"\bfree\b",
    r"[]a]", r"\s+$", r"(?P<w>да) (?P=w)",
]  # fmt: skip
PREFILTER_TEXTS = [
    "Купите слона", "покупите", "mail@site.ru", "a-b c", "Ёж 5", "цена 500 руб", "скидка", "скидка\n", "да да",
    "скидки", "xx", "aab", "abc", "Free stuff", "]", "ПРОДАЖА SALE", "Ⓐbc de", "tab\there ", "123\u00a0руб",
]  # fmt: skip


def test_the_re2_form_never_misses_a_match() -> None:
    options = re2.Options()
    options.case_sensitive = False
    for pattern in PREFILTER_PATTERNS:
        form = re2_form(pattern)
        if form is None:
            continue
        compiled, wide = regex.compile(pattern, PATTERN_FLAGS), re2.compile(form, options)
        for text in PREFILTER_TEXTS:
            if compiled.search(text):
                assert wide.search(text), (pattern, form, text)


def test_patterns_re2_cannot_read_still_run() -> None:
    for pattern in (r"[[:alpha:]]+", r"(?x) a", r"[^\w]"):
        assert re2_form(pattern) is None
        assert hits({"patterns": [pattern]}, item("ab" if "alpha" in pattern else "a!"))
