"""`proxy rule ...`: the commands as an admin types them, against a real database of each backend.

Each command runs as `proxy` runs it (`proxy.cli.main`: its own event loop and its own connection, in a
thread here), so what is checked is what an admin sees: the exit status, one line on stderr, and what
the database holds afterwards (nothing, when the input was refused).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from proxy import db as proxy_db
from proxy.cli import main
from proxy.clock import utcnow
from proxy.models import (
    ActorKind,
    Author,
    Channel,
    Community,
    CommunityMode,
    Conversation,
    Direction,
    Item,
    JournalEntry,
    ModerationRule,
)


@pytest.fixture
def proxy(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """`await proxy("rule", "list")`: (exit status, stdout, stderr) of one command."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("PROXY_JOURNAL_KEY", raising=False)
    monkeypatch.delenv("PROXY_JOURNAL_KEY_FILE", raising=False)

    async def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = await asyncio.to_thread(main, list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run


async def _community(db_url: str, group_id: int = 5001) -> int:
    async with proxy_db.database(db_url):
        community = await Community.create(vk_group_id=group_id, name="Клуб", mode=CommunityMode.CALLBACK)
        return community.id


async def _rules_and_their_journal(db_url: str) -> tuple[list[ModerationRule], list[JournalEntry]]:
    async with proxy_db.database(db_url):
        rules = await ModerationRule.all().order_by("id")
        entries = await JournalEntry.filter(action__startswith="rule.").order_by("id")
        return rules, entries


async def test_a_rule_from_adding_to_archiving(db_url: str, proxy) -> None:  # type: ignore[no-untyped-def]
    community_id = await _community(db_url, group_id=7001)
    status, out, err = await proxy(
        "rule", "add", "--name", "Казино", "--community", "7001", "--words", "казино,casino",
        "--phrase", "без вложений", "--channels", "comments", "--action", "delete", "--ban", "7",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert out.startswith("added rule 1 (Казино), dry_run, version 1")

    status, out, _ = await proxy("rule", "list")
    assert status == 0
    assert out.splitlines()[1].split() == ["1", "dry_run", "1", str(community_id), "Казино"]

    status, out, _ = await proxy("rule", "show", "1")
    shown = json.loads(out)
    assert shown["conditions"] == {
        "words": ["казино", "casino"],
        "phrases": ["без вложений"],
        "channels": ["wall", "photo", "video", "market", "board", "group"],
    }
    assert shown["actions"] == [{"do": "delete"}, {"do": "ban", "days": 7, "reason": 1, "comment": ""}]
    assert (shown["mode"], shown["hits"], shown["undos"], shown["community_id"]) == (
        "dry_run",
        0,
        0,
        community_id,
    )

    assert (await proxy("rule", "mode", "1", "on"))[1] == "rule 1 (Казино) is on, version 2\n"
    # A flag changes its own condition only; --drop-condition takes one away.
    status, out, err = await proxy(
        "rule", "update", "1", "--pattern", r"\d{3,}\s*₽", "--drop-condition", "phrases"
    )
    assert (status, err) == (0, "")
    assert "version 3" in out
    assert (await proxy("rule", "update", "1", "--name", "Казино"))[1] == "rule 1 unchanged, version 3\n"
    assert (await proxy("rule", "archive", "1"))[0] == 0
    assert (await proxy("rule", "list"))[1] == "no rules\n"
    assert (await proxy("rule", "list", "--archived"))[1].splitlines()[1].split() == [
        "1",
        "off",
        "4",
        str(community_id),
        "Казино",
    ]
    status, _, err = await proxy("rule", "mode", "1", "on")
    assert (status, err) == (2, "error: this rule is archived and cannot be changed\n")

    rules, entries = await _rules_and_their_journal(db_url)
    assert rules[0].conditions == {
        "words": ["казино", "casino"],
        "patterns": [r"\d{3,}\s*₽"],
        "channels": ["wall", "photo", "video", "market", "board", "group"],
    }
    assert rules[0].created_by_id is None  # type: ignore[attr-defined]
    # Journaled as the proxy's own, each with the whole definition at its version.
    assert [(e.action, e.actor_kind, e.params["version"]) for e in entries] == [
        ("rule.create", ActorKind.SYSTEM, 1),
        ("rule.update", ActorKind.SYSTEM, 2),
        ("rule.update", ActorKind.SYSTEM, 3),
        ("rule.archive", ActorKind.SYSTEM, 4),
    ]
    assert entries[1].params["mode"] == "on"


async def test_flags_and_json_give_the_same_rule(db_url: str, proxy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    conditions = {
        "domains_allow": ["vk.com", "vk.cc"], "phone": True, "repeated": {"count": 3, "window_minutes": 10},
        "authors": [5, 7], "hours": {"from": 22, "to": 8}, "attachments": ["doc"], "channels": ["wall"],
    }  # fmt: skip
    actions = [{"do": "delete"}, {"do": "note", "text": "Проверить"}, {"do": "alert"}]
    (tmp_path / "c.json").write_text(json.dumps(conditions, ensure_ascii=False), encoding="utf-8")
    assert (await proxy(
        "rule", "add", "--name", "Из JSON", "--conditions-file", str(tmp_path / "c.json"),
        "--actions", json.dumps(actions, ensure_ascii=False),
    ))[0] == 0  # fmt: skip
    assert (await proxy(
        "rule", "add", "--name", "Из флагов", "--domain-allow", "vk.com", "--domain-allow", "vk.cc", "--phone",
        "--repeated", "3:10", "--authors", "5,7", "--hours", "22-8", "--attachments", "doc", "--channels", "wall",
        "--action", "alert", "--note", "Проверить", "--action", "delete",
    ))[0] == 0  # fmt: skip
    rules, _ = await _rules_and_their_journal(db_url)
    assert rules[0].conditions == rules[1].conditions
    assert rules[0].actions == rules[1].actions == actions
    status, out, _ = await proxy("rule", "list", "--json")
    assert [r["name"] for r in json.loads(out)] == ["Из JSON", "Из флагов"]


HOSTILE = [
    (["--pattern", "(a+"], "the regular expression (a+ does not compile"),
    (["--conditions", '{"colour": "red"}'], "unknown condition colour"),
    (["--conditions", '{"words": ['], "--conditions is not valid JSON"),
    (["--conditions", "[" * 100_000], "--conditions is nested too deeply"),
    (["--conditions", '["casino"]'], "the conditions must be a JSON object"),
    (["--conditions", '{"words": ["ok\\u0000"]}'], "conditions contains the NUL character"),
    (["--words", "x" * 65], "a value of words is too long: at most 64 characters"),
    (["--repeated", "1:10"], "repeated.count must be between 2 and 100"),
    (["--repeated", "3"], "--repeated takes COUNT:MINUTES"),
    (["--hours", "5-5"], "hours.from and hours.to must differ"),
    (["--domain-deny", "not a domain"], "not a domain is not a domain name"),
    (["--channels", "comments,telegram"], "channels: unknown value telegram"),
    (["--community", "424242"], "no community with group id or id 424242"),
    (["--community", "club"], "--community takes a VK group id"),
    (["--ban", "99999"], "ban days must be between 1 and 3650"),
    (["--assign", "77"], "the operator to assign to does not exist or is disabled"),
    (["--reply", "77"], "the canned response does not exist"),
    (["--actions", '[{"do": "explode"}]'], "unknown action; one of: delete"),
    (
        ["--actions", '[{"do": "note", "text": "a"}]', "--action", "flag"],
        "either as --actions JSON or by flags",
    ),
    (["--name", "я" * 101], "the name is too long: at most 100 characters"),
    (["--name", "  "], "a rule needs a name"),
    (["--ban-comment", "Спам"], "--ban-reason and --ban-comment go with --ban DAYS"),
]


HOSTILE_IDS = [
    "bad-regex",
    "unknown-condition",
    "bad-json",
    "deep-json",
    "conditions-not-object",
    "nul",
    "long-word",
    "repeated-once",
    "repeated-no-window",
    "empty-hours",
    "bad-domain",
    "unknown-channel",
    "unknown-community",
    "community-not-number",
    "ban-too-long",
    "unknown-operator",
    "unknown-canned",
    "unknown-action",
    "json-and-flag-actions",
    "long-name",
    "blank-name",
    "ban-comment-alone",
]


@pytest.mark.parametrize(("extra", "message"), HOSTILE, ids=HOSTILE_IDS)
async def test_bad_input_is_one_line_of_error_and_nothing_written(  # type: ignore[no-untyped-def]
    db_url: str, proxy, extra: list[str], message: str
) -> None:
    argv = ["rule", "add", "--name", "Правило", "--words", "казино", "--action", "delete"]
    for flag in ("--name", "--words"):  # the case's own value replaces the default one
        if flag in extra:
            at = argv.index(flag)
            del argv[at : at + 2]
    if "--actions" in extra:
        argv.remove("--action")
        argv.remove("delete")
    if any(f in extra for f in ("--conditions", "--pattern", "--repeated", "--hours", "--domain-deny")):
        at = argv.index("--words")
        del argv[at : at + 2]
    status, out, err = await proxy(*argv, *extra)
    assert status == 2, err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert out == ""
    rules, entries = await _rules_and_their_journal(db_url)
    assert rules == [] and entries == []


async def test_a_refused_change_leaves_the_rule_as_it_was(db_url: str, proxy) -> None:  # type: ignore[no-untyped-def]
    assert (await proxy("rule", "add", "--name", "Слова", "--words", "казино", "--action", "flag"))[0] == 0
    for argv, message in [
        (["rule", "update", "1", "--pattern", "(a+"], "does not compile"),
        (["rule", "update", "1", "--drop-condition", "words"], "a rule needs at least one condition"),
        (["rule", "update", "1", "--drop-condition", "phone"], "the rule has no such condition"),
        (["rule", "update", "1"], "nothing to change"),
        (["rule", "update", "9", "--name", "x"], "no rule 9"),
        (["rule", "mode", "1", "loud"], "invalid choice: 'loud'"),
        (["rule", "show", "9"], "no rule 9"),
        (["rule", "archive", "9"], "no rule 9"),
        (
            ["rule", "show", "99999999999"],
            "not an id: 99999999999",
        ),  # past the column: not the database's error
        (["rule", "list", "--community", "99999999999"], "--community takes a VK group id"),
        (["rule", "test", "1", "--item", "99999999999999999999"], "not an id"),
        (["rule", "mode", "--", "-1", "on"], "not an id: -1"),
    ]:
        status, _, err = await proxy(*argv)
        assert status == 2 and message in err, (argv, err)
    rules, entries = await _rules_and_their_journal(db_url)
    assert (rules[0].version, rules[0].conditions) == (1, {"words": ["казино"]})
    assert [e.action for e in entries] == ["rule.create"]


async def test_trying_a_rule_on_a_text_does_nothing(db_url: str, proxy) -> None:  # type: ignore[no-untyped-def]
    await proxy("rule", "add", "--name", "Заработок", "--words", "заработок", "--phrase", "без вложений",
                "--action", "delete", "--mode", "off")  # fmt: skip
    status, out, err = await proxy("rule", "test", "1", "--text", "Лёгкий заработок без вложений!")
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "match: word: заработок; phrase: без вложений",
        "rule 1 (Заработок) would: delete (mode off; nothing was done)",
    ]
    status, out, _ = await proxy("rule", "test", "1", "--text", "Спасибо за заработанные бонусы")
    assert out == "no match: rule 1 (Заработок) would do nothing\n"

    await proxy(
        "rule",
        "add",
        "--name",
        "Повтор",
        "--repeated",
        "3:10",
        "--channels",
        "comments",
        "--action",
        "delete",
    )
    assert (await proxy("rule", "test", "2", "--text", "Привет", "--times", "3"))[1].startswith(
        "match: repeated"
    )
    assert (await proxy("rule", "test", "2", "--text", "Привет", "--times", "2"))[1].startswith("no match")
    assert (await proxy("rule", "test", "2", "--text", "Привет", "--times", "3", "--channel", "message"))[
        1
    ].startswith("no match")

    # A pattern that backtracks catastrophically is cut off, as it is on ingest.
    # (A lookahead the RE2 prefilter cannot read, so the pattern reaches `regex`, which backtracks.)
    await proxy("rule", "add", "--name", "Жадный", "--pattern", "(x+x+)+(?=y)", "--action", "flag")
    status, _, err = await proxy("rule", "test", "3", "--text", "x" * 10_000 + "!")
    assert status == 2 and "ran past its" in err
    assert (await proxy("rule", "test", "3"))[
        2
    ] == "error: give what to test the rule on: --text TEXT or --item ITEM_ID\n"

    rules, entries = await _rules_and_their_journal(db_url)
    assert [r.version for r in rules] == [1, 1, 1]
    assert [e.action for e in entries] == ["rule.create"] * 3


async def test_trying_a_rule_on_a_stored_item(db_url: str, proxy) -> None:  # type: ignore[no-untyped-def]
    community_id = await _community(db_url, group_id=8001)
    async with proxy_db.database(db_url):
        author = await Author.create(vk_id=31, name="Пётр")
        conversation = await Conversation.create(
            community_id=community_id, channel=Channel.WALL, key="wall:-8001_10:5", author=author,
            vk_owner_id=-8001, vk_object_id=10, vk_root_id=5, opened_at=utcnow(),
        )  # fmt: skip
        item = await Item.create(
            community_id=community_id, conversation=conversation, channel=Channel.WALL, direction=Direction.IN,
            key="wall:-8001_10:5", vk_id=5, author=author, from_vk_id=31, text="Звоните: +7 912 345-67-89", created_at=utcnow(),
        )  # fmt: skip
    await proxy("rule", "add", "--name", "Телефон", "--community", "8001", "--phone", "--action", "flag")
    await proxy("rule", "add", "--name", "Чужой", "--community", "all", "--authors", "99", "--action", "flag")
    status, out, _ = await proxy("rule", "test", "1", "--item", str(item.id))
    assert status == 0 and out.startswith("match: phone: +7 912 345-67-89"), out
    assert (await proxy("rule", "test", "2", "--item", str(item.id)))[1].startswith("no match")
    assert (await proxy("rule", "test", "1", "--item", "999999"))[2] == "error: no item 999999\n"
