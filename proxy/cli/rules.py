"""`proxy rule list|show|add|update|mode|archive|test`: automatic moderation rules from the command line.

Whoever runs these commands runs the service, so changes are journaled as the proxy's own (actor
"system"), as `proxy community add` is. Everything goes through proxy/rules/store.py and spec.py, the
admin pages' path: the same checks, the same versions and journal entries, and bad input changes nothing.

The conditions and actions are given whole as JSON (`--conditions`, `--conditions-file`, `--actions`,
docs/rules.md has the reference) or, for the common cases, by flags (`--words`, `--pattern`,
`--domain-deny`, `--phone`, `--action delete`, `--ban DAYS`, ...); a flag replaces that condition of the
JSON (or, in `update`, of the rule as it is).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proxy.cli.common import Parser, with_db
from proxy.cli_errors import CommandError
from proxy.settings import Settings

# `--channels comments`: every public channel (all but private dialogs: VK's messages, a Telegram bot's
# private and business chats); a Telegram group is one.
COMMENT_CHANNELS_ALIAS = "comments"
# Actions whose kind is all they say (the others take their parameter from their own flag).
PLAIN_ACTIONS = ("delete", "ban", "alert", "flag")
# The order actions given by flags take (JSON `--actions` keeps its own): the item first, then its author,
# then the conversation, then people.
FLAG_ACTION_ORDER = ("delete", "ban", "assign", "note", "reply", "alert", "flag")


# --- reading the arguments ------------------------------------------------------------------------


def _json(raw: str, what: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise CommandError(f"{what} is nested too deeply") from None


def _read_json_file(path: str, what: str) -> Any:
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text") from None
    return _json(raw, f"{what} ({path})")


# The largest id a rule (an integer column) and an item (a big integer) can have: a larger number is no
# rule or item, said as such instead of as the database's complaint about the number.
MAX_RULE_ID = 2**31 - 1
MAX_ITEM_ID = 2**63 - 1


def _id_of(limit: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"not an id: {raw} (from 1 to {limit})")
        return value

    return parse


def _split(values: list[str] | None) -> list[str]:
    """Repeatable flags that also take comma-separated lists: `--words "a,b" --words c`."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _repeated(raw: str) -> dict[str, Any]:
    count, sep, minutes = raw.partition(":")
    if not sep:
        raise CommandError(
            f"--repeated takes COUNT:MINUTES (3:10: three times within ten minutes), not {raw!r}"
        )
    return {"count": count, "window_minutes": minutes}


def _hours(raw: str) -> dict[str, Any]:
    start, sep, end = raw.partition("-")
    if not sep:
        raise CommandError(f"--hours takes FROM-TO in whole hours (22-8: from 22:00 to 8:00), not {raw!r}")
    return {"from": start, "to": end}


def _channels(values: list[str] | None) -> list[str]:
    from proxy.events import Channel

    out: list[str] = []
    for value in _split(values):
        if value == COMMENT_CHANNELS_ALIAS:
            out.extend(c.value for c in Channel if c not in (Channel.MESSAGE, Channel.BUSINESS))
        else:
            out.append(value)
    return list(dict.fromkeys(out))


def conditions_from(args: argparse.Namespace, current: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The conditions the arguments give: the JSON (or `current`), then each flag's condition over it.

    None when the arguments say nothing about conditions (an update that keeps them).
    """
    if args.conditions is not None and args.conditions_file is not None:
        raise CommandError("give the conditions once: --conditions or --conditions-file")
    base: Any = current
    if args.conditions is not None:
        base = _json(args.conditions, "--conditions")
    elif args.conditions_file is not None:
        base = _read_json_file(args.conditions_file, "--conditions-file")
    flags: dict[str, Any] = {}
    if args.words:
        flags["words"] = _split(args.words)
    if args.phrase:
        flags["phrases"] = [p.strip() for p in args.phrase]
    if args.pattern:
        flags["patterns"] = list(args.pattern)
    if args.domain_deny:
        flags["domains_deny"] = _split(args.domain_deny)
    if args.domain_allow:
        flags["domains_allow"] = _split(args.domain_allow)
    for name in ("any_link", "phone", "mention", "new_author"):
        if getattr(args, name):
            flags[name] = True
    if args.attachments:
        flags["attachments"] = _split(args.attachments)
    if args.repeated is not None:
        flags["repeated"] = _repeated(args.repeated)
    if args.authors:
        flags["authors"] = _split(args.authors)
    if args.channels:
        flags["channels"] = _channels(args.channels)
    if args.hours is not None:
        flags["hours"] = _hours(args.hours)
    dropped = _split(getattr(args, "drop_condition", None))
    if args.conditions is None and args.conditions_file is None and not flags and not dropped:
        return None
    if base is not None and not isinstance(base, dict):
        raise CommandError('the conditions must be a JSON object, such as {"words": ["casino"]}')
    merged = {**(base or {}), **flags}
    for name in dropped:
        if name not in merged:
            raise CommandError(f"--drop-condition {name}: the rule has no such condition")
        merged.pop(name)
    return merged


def actions_from(args: argparse.Namespace) -> list[Any] | None:
    """The actions the arguments give (JSON, or flags in FLAG_ACTION_ORDER); None when none are given."""
    flagged: dict[str, dict[str, Any]] = {kind: {"do": kind} for kind in args.action or []}
    if args.ban is not None:
        flagged["ban"] = {"do": "ban", "days": args.ban}
    if "ban" in flagged:
        if args.ban_reason is not None:
            flagged["ban"]["reason"] = args.ban_reason
        if args.ban_comment is not None:
            flagged["ban"]["comment"] = args.ban_comment
    elif args.ban_reason is not None or args.ban_comment is not None:
        raise CommandError("--ban-reason and --ban-comment go with --ban DAYS (or --action ban)")
    if args.note is not None:
        flagged["note"] = {"do": "note", "text": args.note}
    if args.assign is not None:
        flagged["assign"] = {"do": "assign", "operator_id": args.assign}
    if args.reply is not None:
        flagged["reply"] = {"do": "reply", "canned_id": args.reply}
    if args.actions is not None:
        if flagged:
            raise CommandError("give the actions either as --actions JSON or by flags, not both")
        return _json(args.actions, "--actions")  # type: ignore[no-any-return]
    if not flagged:
        return None
    return [flagged[kind] for kind in FLAG_ACTION_ORDER if kind in flagged]


async def _community_id(reference: str | None) -> int | None:
    """`--community`: a VK group id or the community's id in the proxy; `all` (or none): every community."""
    from proxy.sync import find_community

    if reference is None or reference == "all":
        return None
    try:
        number = _id_of(MAX_RULE_ID)(reference)
    except argparse.ArgumentTypeError:
        raise CommandError(
            f"--community takes a VK group id, the community's id or all, not {reference!r}"
        ) from None
    community = await find_community(number)
    if community is None:
        raise CommandError(f"no community with group id or id {number}")
    return community.id


async def _rule(rule_id: int) -> Any:
    from proxy.models import ModerationRule

    rule = await ModerationRule.get_or_none(id=rule_id)
    if rule is None:
        raise CommandError(f"no rule {rule_id}")
    return rule


class _Refused:
    """Input the rules' store refuses, as the command line's one-line error (nothing was written)."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        from proxy.access import ActionError
        from proxy.admin_access import InputError

        if isinstance(exc, InputError):
            raise CommandError(str(exc)) from None
        if isinstance(exc, ActionError):
            raise CommandError(exc.message) from None
        return False


def _community_label(rule: Any) -> str:
    return "all" if rule.community_id is None else str(rule.community_id)


# --- the commands ---------------------------------------------------------------------------------


async def cmd_rule_list(args: argparse.Namespace, settings: Settings) -> int:
    from proxy.rules.store import list_rules

    async def body() -> int:
        community_id = await _community_id(args.community)
        rules = await list_rules(community_id=community_id, archived=args.archived)
        if args.json:
            from proxy.rules.store import definition

            print(json.dumps([definition(r) for r in rules], ensure_ascii=False, indent=2))
            return 0
        if not rules:
            print("no rules")
            return 0
        rows = [("ID", "MODE", "VERSION", "COMMUNITY", "NAME")] + [
            (str(r.id), str(r.mode), str(r.version), _community_label(r), r.name) for r in rules
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
        return 0

    return await with_db(settings, body)


async def rule_figures(rule_id: int) -> dict[str, int]:
    """How often the rule matched (by mode) and how often an operator undid what it did."""
    from proxy.models import RuleHit, RuleMode

    hits = RuleHit.filter(rule_id=rule_id)
    return {
        "hits": await hits.count(),
        "hits_dry_run": await hits.filter(mode=RuleMode.DRY_RUN).count(),
        "hits_on": await hits.filter(mode=RuleMode.ON).count(),
        "undos": await hits.filter(undone_at__isnull=False).count(),
    }


async def cmd_rule_show(args: argparse.Namespace, settings: Settings) -> int:
    from proxy.rules.store import definition

    async def body() -> int:
        rule = await _rule(args.rule_id)
        shown = {
            **definition(rule),
            "created_at": rule.created_at.isoformat(),
            "updated_at": rule.updated_at.isoformat(),
            "last_error": rule.last_error,
            **await rule_figures(rule.id),
        }
        print(json.dumps(shown, ensure_ascii=False, indent=2))
        return 0

    return await with_db(settings, body)


async def cmd_rule_add(args: argparse.Namespace, settings: Settings) -> int:
    from proxy.rules.store import create_rule

    conditions = conditions_from(args)
    actions = actions_from(args)
    if conditions is None:
        raise CommandError(
            "a rule needs conditions: --conditions JSON, --conditions-file F or flags (--words ...)"
        )
    if actions is None:
        raise CommandError("a rule needs actions: --actions JSON or flags (--action delete, --ban DAYS ...)")

    async def body() -> int:
        community_id = await _community_id(args.community)
        async with _Refused():
            rule = await create_rule(
                None, name=args.name, community_id=community_id, mode=args.mode, conditions=conditions,
                actions=actions,
            )  # fmt: skip
        print(f"added rule {rule.id} ({rule.name}), {rule.mode}, version {rule.version}")
        return 0

    return await with_db(settings, body)


async def cmd_rule_update(args: argparse.Namespace, settings: Settings) -> int:
    from proxy.rules.store import update_rule

    async def body() -> int:
        rule = await _rule(args.rule_id)
        changes: dict[str, Any] = {}
        if args.name is not None:
            changes["name"] = args.name
        if args.community is not None:
            changes["community_id"] = await _community_id(args.community)
        if args.mode is not None:
            changes["mode"] = args.mode
        conditions = conditions_from(args, current=dict(rule.conditions))
        if conditions is not None:
            changes["conditions"] = conditions
        actions = actions_from(args)
        if actions is not None:
            changes["actions"] = actions
        if not changes:
            raise CommandError("nothing to change: give --name, --mode, --community, conditions or actions")
        before = rule.version
        async with _Refused():
            rule = await update_rule(None, rule.id, **changes)
        if rule.version == before:
            print(f"rule {rule.id} unchanged, version {rule.version}")
        else:
            print(f"updated rule {rule.id} ({rule.name}), {rule.mode}, version {rule.version}")
        return 0

    return await with_db(settings, body)


async def cmd_rule_mode(args: argparse.Namespace, settings: Settings) -> int:
    from proxy.rules.store import set_mode

    async def body() -> int:
        await _rule(args.rule_id)
        async with _Refused():
            rule = await set_mode(None, args.rule_id, args.mode)
        print(f"rule {rule.id} ({rule.name}) is {rule.mode}, version {rule.version}")
        return 0

    return await with_db(settings, body)


async def cmd_rule_archive(args: argparse.Namespace, settings: Settings) -> int:
    from proxy.rules.store import archive_rule

    async def body() -> int:
        await _rule(args.rule_id)
        async with _Refused():
            rule = await archive_rule(None, args.rule_id)
        print(f"archived rule {rule.id} ({rule.name}), version {rule.version}")
        return 0

    return await with_db(settings, body)


async def _test_candidate(args: argparse.Namespace, rule: Any, settings: Settings, ruleset: Any) -> Any:
    """What the rule is tried on: a stored item as the worker would see it, or a text as a new comment."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from proxy.clock import utcnow
    from proxy.models import Item
    from proxy.rules.matching import Candidate
    from proxy.rules.worker import _candidate

    tz = ZoneInfo(settings.timezone)
    if args.item is not None:
        rows = await Item.filter(id=args.item).values(
            "id", "community_id", "conversation_id", "channel", "text", "attachments", "author_id",
            "created_at", "recorded_at", author_vk_id="author__vk_id",
        )  # fmt: skip
        if not rows:
            raise CommandError(f"no item {args.item}")
        return await _candidate(rows[0], ruleset, tz)
    now = utcnow()
    return Candidate(
        community_id=rule.community_id if rule.community_id is not None else 0,
        channel=args.channel,
        text=args.text,
        attachment_kinds=frozenset(_split(args.attachments)),
        author_vk_id=args.author,
        is_new_author=args.new_author,
        local_hour=args.hour if args.hour is not None else now.astimezone(tz).hour,
        # The author's earlier copies of this text, a minute apart, just before this one.
        same_text_times=tuple(now - timedelta(minutes=n + 1) for n in range(max(args.times - 1, 0))),
        arrived_at=now,
    )


async def cmd_rule_test(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate one rule, whatever its mode, as the worker would; nothing is recorded and nothing done."""
    from types import SimpleNamespace

    from proxy.rules.matching import RuleSet

    if (args.text is None) == (args.item is None):
        raise CommandError("give what to test the rule on: --text TEXT or --item ITEM_ID")

    async def body() -> int:
        rule = await _rule(args.rule_id)
        # Off and archived rules are left out of the worker's set; a test tries the rule as if it ran.
        trial = SimpleNamespace(
            id=rule.id, version=rule.version, name=rule.name, community_id=rule.community_id,
            mode="dry_run", archived=False, conditions=rule.conditions, actions=rule.actions,
            updated_at=rule.updated_at,
        )  # fmt: skip
        ruleset = RuleSet.compile([trial])
        if rule.id in ruleset.broken:
            raise CommandError(f"rule {rule.id} does not compile: {ruleset.broken[rule.id]}")
        candidate = await _test_candidate(args, rule, settings, ruleset)
        if rule.community_id is not None and candidate.community_id != rule.community_id:
            print(f"no match: rule {rule.id} is for community {rule.community_id}, the item is in another")
            return 0
        hits, failures = ruleset.evaluate(candidate)
        if failures:
            raise CommandError(f"rule {rule.id} failed on this text: {failures[0].error}")
        if not hits:
            print(f"no match: rule {rule.id} ({rule.name}) would do nothing")
            return 0
        would = ", ".join(str(action["do"]) for action in hits[0].rule.actions)
        print(f"match: {hits[0].matched}")
        print(f"rule {rule.id} ({rule.name}) would: {would} (mode {rule.mode}; nothing was done)")
        return 0

    return await with_db(settings, body)


# --- registering them -----------------------------------------------------------------------------


def _add_definition_flags(p: argparse.ArgumentParser, *, update: bool) -> None:
    given = p.add_argument_group("conditions (JSON whole, or flags; a flag replaces that condition)")
    given.add_argument(
        "--conditions", metavar="JSON", help='e.g. \'{"words": ["casino"], "channels": ["wall"]}\''
    )
    given.add_argument("--conditions-file", metavar="FILE", help="the conditions as a JSON file")
    given.add_argument("--words", action="append", metavar="A,B", help="any of these words, in any form")
    given.add_argument(
        "--phrase", action="append", metavar="PHRASE", help="these words in this order (repeatable)"
    )
    given.add_argument(
        "--pattern", action="append", metavar="REGEX", help="a regular expression (repeatable)"
    )
    given.add_argument("--domain-deny", action="append", metavar="DOMAIN", help="a link to this domain")
    given.add_argument(
        "--domain-allow", action="append", metavar="DOMAIN", help="a link to a domain not listed"
    )
    given.add_argument("--any-link", action="store_true", help="any link")
    given.add_argument("--phone", action="store_true", help="a phone number")
    given.add_argument("--mention", action="store_true", help="a mention of someone")
    given.add_argument("--new-author", action="store_true", help="the author's first item in the community")
    given.add_argument("--attachments", action="append", metavar="KIND,..", help="photo, doc, link, ...")
    given.add_argument("--repeated", metavar="COUNT:MINUTES", help="the same text COUNT times within MINUTES")
    given.add_argument("--authors", action="append", metavar="VK_ID,..", help="the author is one of these")
    given.add_argument("--channels", action="append", metavar="CHANNEL,..",
                       help="message, wall, photo, video, market, board, or comments (all but message)")  # fmt: skip
    given.add_argument("--hours", metavar="FROM-TO", help="arrived between these hours, team time (22-8)")
    if update:
        given.add_argument("--drop-condition", action="append", metavar="NAME", help="remove this condition")
    acts = p.add_argument_group("actions (JSON whole, or flags)")
    acts.add_argument(
        "--actions", metavar="JSON", help='e.g. \'[{"do": "delete"}, {"do": "ban", "days": 7}]\''
    )
    acts.add_argument(
        "--action", action="append", choices=PLAIN_ACTIONS, help="delete, ban (forever), alert, flag"
    )
    acts.add_argument("--ban", type=int, metavar="DAYS", help="ban the author for DAYS (0: forever)")
    acts.add_argument("--ban-reason", type=int, metavar="0-4", help="VK's ban reason (1: spam, the default)")
    acts.add_argument("--ban-comment", metavar="TEXT", help="the ban's comment, shown to the author")
    acts.add_argument("--note", metavar="TEXT", help="add this internal note to the conversation")
    acts.add_argument(
        "--assign", type=int, metavar="OPERATOR_ID", help="assign the conversation to this operator"
    )
    acts.add_argument("--reply", type=int, metavar="CANNED_ID", help="reply with this canned response")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rule = sub.add_parser("rule", help="automatic moderation rules").add_subparsers(
        dest="rule_command", required=True, parser_class=Parser
    )
    modes = ("off", "dry_run", "on")
    channel_names = ("message", "wall", "photo", "video", "market", "board")
    p = rule.add_parser("list", help="the rules: id, mode, version, community, name")
    p.add_argument("--community", metavar="ID", help="this community's rules and the team-wide ones")
    p.add_argument("--archived", action="store_true", help="the archived rules instead")
    p.add_argument("--json", action="store_true", help="every rule's definition as JSON")
    p.set_defaults(func=cmd_rule_list)

    p = rule.add_parser("show", help="a rule's definition and figures (hits, undos) as JSON")
    p.add_argument("rule_id", type=_id_of(MAX_RULE_ID))
    p.set_defaults(func=cmd_rule_show)

    p = rule.add_parser("add", help="a new rule (in dry run unless --mode says otherwise)")
    p.add_argument("--name", required=True)
    p.add_argument("--community", metavar="ID", help="a VK group id or the community's id; default: all")
    p.add_argument("--mode", choices=modes, default="dry_run")
    _add_definition_flags(p, update=False)
    p.set_defaults(func=cmd_rule_add)

    p = rule.add_parser("update", help="change a rule: a new version (what is not given stays)")
    p.add_argument("rule_id", type=_id_of(MAX_RULE_ID))
    p.add_argument("--name")
    p.add_argument("--community", metavar="ID", help="a VK group id, the community's id, or all")
    p.add_argument("--mode", choices=modes)
    _add_definition_flags(p, update=True)
    p.set_defaults(func=cmd_rule_update)

    p = rule.add_parser("mode", help="switch a rule off, to dry run, or on")
    p.add_argument("rule_id", type=_id_of(MAX_RULE_ID))
    p.add_argument("mode", choices=modes)
    p.set_defaults(func=cmd_rule_mode)

    p = rule.add_parser("test", help="try a rule on a text or a stored item, doing nothing")
    p.add_argument("rule_id", type=_id_of(MAX_RULE_ID))
    p.add_argument("--text", help="a new comment with this text")
    p.add_argument(
        "--item",
        type=_id_of(MAX_ITEM_ID),
        metavar="ITEM_ID",
        help="an item already stored, as the worker saw it",
    )
    p.add_argument(
        "--channel", choices=channel_names, default="wall", help="where the text is (default: wall)"
    )
    p.add_argument("--hour", type=int, choices=range(24), metavar="0-23", help="arrival hour, team time")
    p.add_argument("--author", type=int, metavar="VK_ID", help="the author's VK id")
    p.add_argument("--new-author", action="store_true", help="the author's first item in the community")
    p.add_argument("--attachments", action="append", metavar="KIND,..", help="the text's attachments")
    p.add_argument("--times", type=int, default=1, metavar="N", help="the author's Nth copy of this text")
    p.set_defaults(func=cmd_rule_test)

    p = rule.add_parser("archive", help="take a rule out of use for good (its hits and journal stay)")
    p.add_argument("rule_id", type=_id_of(MAX_RULE_ID))
    p.set_defaults(func=cmd_rule_archive)
