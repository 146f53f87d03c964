"""Operators at work while the VK API fails: errors, dropped connections, lost answers, timeouts, slowness.

The proxy runs as a child process with its workers (`python -m proxy serve`), VK is the emulator in this
process, delivering the community's events (members' messages and comments, and VK's echoes of what the
proxy did) by callback. Members write; then operators, logged in through the login form, reply to
messages and comments, delete comments and ban authors through the same forms a browser posts. While
they do, a seeded policy makes the emulator misbehave on every call of those actions:

- transient VK errors 1, 6, 9, 10 (the outbox must retry them);
- the connection closed before VK did anything;
- VK did it and the answer was lost on the way (the retry must not do it twice);
- no answer within the client's timeout, VK doing it afterwards (the same, the hard way);
- slow answers (0.3-3 s);
- for some actions a permanent refusal on every attempt: 15 (access denied), 27 (wrong token kind),
  901 (the member does not accept messages).

At the end every accepted action must have one outbox row that ended `sent` or `failed` (none left
pending), every `sent` row must be done exactly once at VK, every `failed` one not at all, the journal
must carry each outcome, the operator's view of each row (`GET /outbox/{id}`) must say what the row says,
and VK's echo of each reply must be matched to its row rather than counted as a second answer.

The outbox keeps its production schedule (retries after 5, 10, 20, 40 s...), so a run takes a few minutes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.cases.common import log_in
from bench.processes import BENCH_SECRET_KEY
from bench.soak_common import CallbackRun, check_store, start_callback_run
from proxy.connectors.vk.transport import DEFAULT_TIMEOUT
from vk_emulator import Fault, World

PASSWORD = "soak operator password"
OPERATORS = 3
ACTION_METHODS = ("messages.send", "wall.createComment", "wall.deleteComment", "groups.ban")
TRANSIENT_CODES = (1, 6, 9, 10)
PERMANENT_CODES = {
    "messages.send": (901, 15),
    "wall.createComment": (15,),
    "wall.deleteComment": (15, 27),
    "groups.ban": (15, 27),
}
# What the operator's page says for each outbox status (English UI; web/templates/_labels.html).
STATE_WORDS = {"pending": "waiting to be sent", "sending": "sending", "sent": "sent", "failed": "not sent"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Rates:
    """How often VK misbehaves: `permanent` per action, the others per call."""

    permanent: float = 0.08
    transient: float = 0.12
    dropped: float = 0.04
    lost: float = 0.04
    timeout: float = 0.02
    slow: float = 0.08


class ErrorPolicy:
    """The emulator's seeded fault policy for the actions' VK methods (FaultPlan.policy).

    Each action (its idempotency key, or the comment or user it is about) is refused for good on every
    attempt, or never: VK does not refuse a request it has already carried out. `planned` faults (by
    method) come before the dice; one that lets VK act is kept for an action that is not refused.
    """

    def __init__(
        self,
        rng: random.Random,
        rates: Rates,
        client_timeout: float = DEFAULT_TIMEOUT,
        planned: Sequence[Fault] = (),
    ) -> None:
        self.rng = rng
        self.rates = rates
        self.client_timeout = client_timeout
        self.planned = [dataclasses.replace(fault) for fault in planned]
        self.fates: dict[tuple[str, str], int | None] = {}
        self.calls: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()

    def planned_unused(self) -> int:
        """Planned faults with uses left (those planned for good, `times` None, do not count)."""
        return sum(1 for fault in self.planned if fault.times is not None and fault.times > 0)

    def _take_planned(self, method: str, refused: bool) -> Fault | None:
        for fault in self.planned:
            if not fault.matches(method, None):
                continue
            lets_vk_act = fault.error_code is None and not fault.drop and fault.http_status is None
            if refused and lets_vk_act:
                continue
            if fault.times is not None:
                fault.times -= 1
            return fault
        return None

    @staticmethod
    def key(params: dict[str, str]) -> str:
        """What identifies one action across its attempts."""
        for name in ("random_id", "guid", "comment_id", "owner_id"):
            if params.get(name):
                return params[name]
        return ""

    def __call__(self, method: str, token: str | None, params: dict[str, str]) -> Fault | None:
        if method not in ACTION_METHODS:
            return None
        rng, rates = self.rng, self.rates
        self.calls[method] += 1
        key = (method, self.key(params))
        if key not in self.fates:
            permanent = rng.random() < rates.permanent
            self.fates[key] = rng.choice(PERMANENT_CODES[method]) if permanent else None
        fate = self.fates[key]
        planned = self._take_planned(method, refused=fate is not None)
        if planned is not None:
            self.injected["planned"] += 1
            return planned
        roll = rng.random()
        if roll < rates.transient:
            code = rng.choice(TRANSIENT_CODES)
            self.injected[f"error {code}"] += 1
            return Fault(error_code=code)
        roll -= rates.transient
        if roll < rates.dropped:
            self.injected["connection closed before VK acted"] += 1
            return Fault(drop=True)
        roll -= rates.dropped
        if fate is not None:
            self.injected[f"error {fate} (permanent)"] += 1
            return Fault(error_code=fate)
        if roll < rates.lost:
            self.injected["answer lost after VK acted"] += 1
            return Fault(lose_answer=True)
        roll -= rates.lost
        if roll < rates.timeout:
            self.injected["no answer in time, VK acted later"] += 1
            return Fault(delay=self.client_timeout + 1.0)
        roll -= rates.timeout
        if roll < rates.slow:
            self.injected["slow answer"] += 1
            return Fault(delay=rng.uniform(0.3, 3.0))
        return None


@dataclass
class VkErrorsReport:
    """What one run did and what it found."""

    database: str
    actions: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    refused: list[str] = field(default_factory=list)
    rows: int = 0
    sent: int = 0
    failed: int = 0
    unfinished: int = 0
    failed_by_code: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    most_attempts: int = 0
    vk_calls: dict[str, int] = field(default_factory=dict)
    # Calls VK (the emulator, enforcing 20/s per community token and 3/s per user token) refused with
    # error 6 before any fault was considered: the proxy's own rate limiter let them through too early.
    vk_rate_limited: int = 0
    injected: dict[str, int] = field(default_factory=dict)
    done_at_vk: int = 0
    done_twice_at_vk: int = 0
    sent_but_not_done: int = 0
    failed_but_done: int = 0
    permanent_refusals_planned: int = 0
    planned_faults: int = 0
    planned_faults_unused: int = 0
    journal_outcomes_missing: int = 0
    operator_views_checked: int = 0
    operator_view_mismatches: list[str] = field(default_factory=list)
    states_seen_by_operators: dict[str, int] = field(default_factory=dict)
    echoes_matched: int = 0
    replies_counted_twice: int = 0
    # Journal entries of actions "taken directly in VK": none were, so each would be an echo mistaken.
    outside_proxy_entries: int = 0
    events_emitted: int = 0
    events_stored_once: int = 0
    events_lost: int = 0
    seconds: float = 0.0
    finished_after_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            not self.refused
            and self.rows == self.accepted == sum(self.actions.values())
            and self.unfinished == 0
            and self.sent + self.failed == self.rows
            and self.done_twice_at_vk == 0
            and self.sent_but_not_done == 0
            and self.failed_but_done == 0
            and self.journal_outcomes_missing == 0
            and not self.operator_view_mismatches
            and self.operator_views_checked == self.rows
            and self.replies_counted_twice == 0
            and self.outside_proxy_entries == 0
            and self.events_lost == 0
            and self.events_stored_once == self.events_emitted
            and self.planned_faults_unused == 0
        )

    def line(self) -> str:
        injected = sum(self.injected.values())
        return (
            f"{self.database}: {self.accepted} actions accepted ({self.actions}), {sum(self.vk_calls.values())} "
            f"VK calls (and {self.vk_rate_limited} refused by VK's rate limit), {injected} faults injected; {self.sent} sent, {self.failed} failed "
            f"({self.failed_by_code}), {self.unfinished} unfinished; {self.attempts} attempts (at most "
            f"{self.most_attempts} for one row); done at VK {self.done_at_vk}, twice {self.done_twice_at_vk}, "
            f"sent but not done {self.sent_but_not_done}, failed but done {self.failed_but_done}; journal "
            f"outcomes missing {self.journal_outcomes_missing}; operator views {self.operator_views_checked} "
            f"checked, {len(self.operator_view_mismatches)} wrong; echoes matched {self.echoes_matched}, "
            f"counted twice {self.replies_counted_twice}, journaled as outside the proxy "
            f"{self.outside_proxy_entries}; events stored once {self.events_stored_once}/"
            f"{self.events_emitted}; {self.seconds:.1f} s"
        )


@dataclass
class Plan:
    """The members' traffic and the actions the operators take on it."""

    messages: int
    comments: int
    deletions: int
    bans: int
    # Authors of messages who then forbid messages from the community: VK refuses replies to them (901).
    denying: int = 0


def plan_for(actions: int) -> Plan:
    """About `actions` actions: 45% message replies (one in 25 to an author who then forbids messages),
    35% comment replies, 13% deletions, 7% bans."""
    bans = max(1, actions * 7 // 100)
    deletions = max(bans, actions * 13 // 100)
    comments = max(1, actions * 35 // 100)
    messages = max(1, actions - bans - deletions - comments)
    return Plan(messages, comments, deletions, bans, denying=max(1, messages // 25))


def _members_write(world: World, plan: Plan) -> int:
    """Each member writes once: a message, a comment to answer, or a comment to delete. Returns the count."""
    state, group = world.state, world.group
    for n in range(plan.messages):
        user = state.add_user("Автор", f"Сообщения {n}")
        world.scenario.member_writes_message(group, user, f"вопрос {n}")
        if n < plan.denying:
            world.scenario.member_denies_messages(group, user)
    for n in range(plan.comments):
        user = state.add_user("Автор", f"Комментария {n}")
        world.scenario.member_comments(group, user, world.post, f"комментарий {n}")
    for n in range(plan.deletions):
        user = state.add_user("Нарушитель", f"{n}")
        world.scenario.member_comments(group, user, world.post, f"спам {n}")
    return plan.messages + plan.comments + plan.deletions


async def _wait_for(predicate: Any, what: str, deadline: float, poll: float = 0.25) -> None:
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        await asyncio.sleep(poll)


async def _operator_session(base_url: str, login: str) -> tuple[aiohttp.ClientSession, str]:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    await log_in(session, base_url, login, PASSWORD)
    async with session.get(base_url + "/") as response:
        match = _CSRF.search(await response.text())
    if match is None:
        await session.close()
        raise RuntimeError("no CSRF token on the inbox page")
    return session, match.group(1)


async def _act(
    session: aiohttp.ClientSession, base_url: str, token: str, path: str, data: dict[str, str]
) -> tuple[bool, str]:
    """POST an action form as a browser without JavaScript would; accepted when redirected back."""
    async with session.post(
        base_url + path, data={**data, "csrf_token": token}, allow_redirects=False
    ) as response:
        body = await response.text()
        return response.status == 303, f"{path}: HTTP {response.status} {body[:200]}"


async def _outbox_view(session: aiohttp.ClientSession, base_url: str, row_id: int) -> str:
    async with session.get(f"{base_url}/outbox/{row_id}", headers={"HX-Request": "true"}) as response:
        text = await response.text()
        if response.status != 200:
            return f"HTTP {response.status}"
        return " ".join(re.sub(r"<[^>]+>", " ", text).split())


def _seen_state(view: str) -> str:
    for status in ("failed", "pending", "sending", "sent"):  # "not sent" before "sent"
        if view.startswith(STATE_WORDS[status]):
            return status
    return "unknown"


def _done_at_vk(world: World, method: str, params: dict[str, Any]) -> bool:
    """Whether VK (the emulator) did what the row asked."""
    group = world.group
    if method == "messages.send":
        return int(params["random_id"]) in group.sent_random_ids
    if method == "wall.createComment":
        return ("wall", str(params["guid"])) in group.comment_guids
    if method == "wall.deleteComment":
        return group.comments[("wall", int(params["comment_id"]))].deleted
    if method == "groups.ban":
        return int(params["owner_id"]) in group.bans
    raise ValueError(method)


async def run_vk_errors(
    database_url: str,
    *,
    actions: int,
    seed: int,
    log_dir: Path,
    label: str = "",
    rates: Rates = Rates(),
    planned: Sequence[Fault] = (),
    limit_seconds: float = 900.0,
) -> VkErrorsReport:
    """Members write, operators act on about `actions` items while VK misbehaves; check VK, store, pages.

    `database_url` must name an empty, migrated database that nothing else uses. `planned` faults happen
    first, whatever the policy's dice say (so a short run is sure to meet each kind).
    """
    from proxy import db
    from proxy.accounts import hash_password
    from proxy.crypto import encrypt_token
    from proxy.models import Direction, Item, Operator, OutboxRow, Role

    rng = random.Random(seed)
    report = VkErrorsReport(database=label or database_url.split("://", 1)[0])
    started = time.monotonic()
    deadline = started + limit_seconds
    plan = plan_for(actions)
    world = World.create()
    group = world.group
    logins = [f"soak{n}" for n in range(OPERATORS)]

    async def accounts(community: Any) -> None:
        for login in logins:
            operator = await Operator.create(
                login=login,
                display_name=login.title(),
                password_hash=hash_password(PASSWORD),
                role=Role.OPERATOR,
                locale="en",
            )
            await operator.communities.add(community)

    run: CallbackRun = await start_callback_run(
        database_url,
        log_dir,
        world=world,
        community_fields={
            "community_token_enc": encrypt_token(BENCH_SECRET_KEY, group.community_token),
            "admin_token_enc": encrypt_token(BENCH_SECRET_KEY, group.admin_token),
            "admin_vk_user_id": group.admin_user_id,
        },
        prepare=accounts,
        route_vk_api=True,
        PROXY_WORKERS="true",
    )
    base = run.server.base_url
    sessions: list[tuple[aiohttp.ClientSession, str]] = []
    policy = ErrorPolicy(rng, rates, planned=planned)
    try:
        written = _members_write(world, plan)
        await db.open_database(database_url)
        try:
            await _wait_for(
                lambda: _count_at_least(Item.filter(direction=Direction.IN), written),
                "the members' items",
                deadline,
            )
            texts = dict(await Item.filter(direction=Direction.IN).values_list("text", "id"))
            conversations = dict(
                await Item.filter(direction=Direction.IN).values_list("text", "conversation_id")
            )
            work: list[tuple[str, str, dict[str, str]]] = []
            for n in range(plan.messages):
                work.append(
                    (
                        "message reply",
                        f"/conversations/{conversations[f'вопрос {n}']}/reply",
                        {"text": f"ответ {n}"},
                    )
                )
            for n in range(plan.comments):
                work.append(
                    (
                        "comment reply",
                        f"/conversations/{conversations[f'комментарий {n}']}/reply",
                        {"text": f"ответ на комментарий {n}"},
                    )
                )
            for n in range(plan.deletions):
                work.append(("deletion", f"/items/{texts[f'спам {n}']}/delete", {}))
            for n in range(plan.bans):
                work.append(
                    (
                        "ban",
                        f"/conversations/{conversations[f'спам {n}']}/ban",
                        {"reason": "1", "comment": "спам", "days": "7"},
                    )
                )
            rng.shuffle(work)
            report.actions = dict(Counter(kind for kind, _, _ in work))
            # From here on VK misbehaves on every call of an action.
            world.state.faults.policy = policy
            sessions = [await _operator_session(base, login) for login in logins]
            seen: Counter[str] = Counter()
            acting_started = time.monotonic()

            async def operator(index: int) -> None:
                session, token = sessions[index]
                for _kind, path, data in work[index::OPERATORS]:
                    accepted, detail = await _act(session, base, token, path, data)
                    if accepted:
                        report.accepted += 1
                    else:
                        report.refused.append(detail)

            async def watch() -> None:
                """An operator keeps looking at replies in flight, as the conversation page does."""
                session = sessions[0][0]
                while True:
                    ids = (
                        await OutboxRow.filter(status__in=["pending", "sending"])
                        .limit(5)
                        .values_list("id", flat=True)
                    )
                    ids += (
                        await OutboxRow.filter(status="failed")
                        .order_by("-id")
                        .limit(1)
                        .values_list("id", flat=True)
                    )
                    for row_id in ids:
                        seen[_seen_state(await _outbox_view(session, base, row_id))] += 1
                    await asyncio.sleep(0.5)

            watcher = asyncio.create_task(watch())
            try:
                await asyncio.gather(*(operator(i) for i in range(OPERATORS)))

                async def all_finished() -> bool:
                    return not await OutboxRow.filter(status__in=["pending", "sending"]).exists()

                await _wait_for(all_finished, "every outbox row to finish", deadline, poll=0.5)
                report.finished_after_seconds = round(time.monotonic() - acting_started, 1)
            finally:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            report.states_seen_by_operators = dict(seen)
            world.state.faults.policy = None
            report.planned_faults = len(planned)
            report.planned_faults_unused = policy.planned_unused()
            # VK's echoes of what was done reach the proxy by callback: wait until each is stored.
            async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
                await run.delivery.wait_idle()
            await _check_rows(report, world, sessions[0][0], base)
        finally:
            await db.close_database()
    finally:
        for session, _ in sessions:
            await session.close()
        await run.close()
    store = await check_store(database_url, run)
    report.events_emitted = len(run.emitted)
    report.events_stored_once = store.stored_events - store.doubled_events
    report.events_lost = len(store.missing_events)
    report.vk_calls = dict(policy.calls)
    recorded = sum(
        1 for records in world.state.calls.values() for record in records if record.method in ACTION_METHODS
    )
    report.vk_rate_limited = recorded - sum(policy.calls.values())
    report.injected = dict(sorted(policy.injected.items()))
    report.permanent_refusals_planned = sum(1 for fate in policy.fates.values() if fate is not None)
    report.seconds = time.monotonic() - started
    return report


async def _count_at_least(query: Any, wanted: int) -> bool:
    return await query.count() >= wanted


async def _check_rows(
    report: VkErrorsReport, world: World, session: aiohttp.ClientSession, base_url: str
) -> None:
    """Every outbox row against VK (the emulator), the journal, the operator's view and VK's echoes."""
    from proxy.models import ActorKind, Direction, Item, JournalEntry, OutboxRow, OutboxStatus, Outcome

    group = world.group
    failed_codes: Counter[str] = Counter()
    done_by_method: Counter[str] = Counter()
    for row in await OutboxRow.all().order_by("id"):
        report.rows += 1
        report.attempts += row.attempts
        report.most_attempts = max(report.most_attempts, row.attempts)
        done = _done_at_vk(world, row.method, row.params)
        done_by_method[row.method] += done
        report.done_at_vk += done
        if row.status == OutboxStatus.SENT:
            report.sent += 1
            report.sent_but_not_done += not done
            expected = Outcome.DONE
        elif row.status == OutboxStatus.FAILED:
            report.failed += 1
            report.failed_but_done += done
            failed_codes[str(row.error_code)] += 1
            expected = Outcome.FAILED
        else:
            report.unfinished += 1
            expected = Outcome.PENDING
        entry = await JournalEntry.get(id=row.journal_entry_id)  # type: ignore[attr-defined]
        if entry.outcome != expected:
            report.journal_outcomes_missing += 1
        view = html.unescape(await _outbox_view(session, base_url, row.id))
        report.operator_views_checked += 1
        if _seen_state(view) != row.status or (
            row.status == OutboxStatus.FAILED and (row.error_message or "") not in view
        ):
            report.operator_view_mismatches.append(f"row {row.id} {row.status}: {view[:120]!r}")
        if row.method in ("messages.send", "wall.createComment") and row.status == OutboxStatus.SENT:
            matched = await Item.filter(outbox_row_id=row.id).count()
            report.echoes_matched += matched == 1
            report.replies_counted_twice += max(0, matched - 1)
    report.failed_by_code = dict(sorted(failed_codes.items()))
    # Anything VK holds beyond one object per row it did was sent twice.
    messages_at_vk = sum(1 for message in group.messages.values() if message.out)
    comments_at_vk = sum(1 for comment in group.comments.values() if comment.from_id == -group.id)
    report.done_twice_at_vk = (messages_at_vk - done_by_method["messages.send"]) + (
        comments_at_vk - done_by_method["wall.createComment"]
    )
    # A community-side item no row claims would be a reply counted again, as if written outside the proxy.
    report.replies_counted_twice += await Item.filter(direction=Direction.OUT, outbox_row_id=None).count()
    report.outside_proxy_entries = await JournalEntry.filter(actor_kind=ActorKind.OUTSIDE).count()
