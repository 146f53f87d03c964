"""Operators' actions while the VK API fails, in `make test` size (bench/soak_vk_errors.py; `make soak` runs
it bigger). Besides the seeded chance of errors, one fault of each kind is planned, so the short run is sure
to meet a lost answer, a timeout after which VK still acts, a dropped connection, errors 6 and 9, and
permanent refusals (27 planned, 901 from an author who forbade messages, others by chance).
"""

from __future__ import annotations

from pathlib import Path

from bench.soak_vk_errors import Rates, run_vk_errors
from proxy.connectors.vk.transport import DEFAULT_TIMEOUT
from vk_emulator import Fault

# Fewer faults left to chance than in `make soak`: the planned ones cover every kind, and each retry of a
# row waits the outbox's real backoff (5 s, then 10 s...).
RATES = Rates(permanent=0.08, transient=0.05, dropped=0.02, lost=0.02, timeout=0.0, slow=0.05)
PLANNED = [
    Fault(method="messages.send", lose_answer=True),
    Fault(method="wall.createComment", delay=DEFAULT_TIMEOUT + 1),
    Fault(method="wall.createComment", lose_answer=True),
    Fault(method="messages.send", error_code=9),
    Fault(method="groups.ban", drop=True),
    Fault(method="wall.deleteComment", error_code=6),
    # Every deletion refused for good (as with a community token where an admin's is needed).
    Fault(method="wall.deleteComment", error_code=27, times=None),
]


async def test_operators_actions_survive_vk_errors(db_url: str, tmp_path: Path) -> None:
    report = await run_vk_errors(
        db_url, actions=30, seed=12, log_dir=tmp_path, rates=RATES, planned=PLANNED, limit_seconds=240
    )
    line = report.line()
    assert report.refused == [], line
    assert report.rows == report.accepted == sum(report.actions.values()) == 30, line
    assert report.planned_faults_unused == 0, line
    assert report.unfinished == 0 and report.sent + report.failed == report.rows, line
    assert report.attempts > report.rows, "nothing was retried: " + line
    # Refused for good: every deletion (27 on each attempt) and the reply to the author who forbade
    # messages (901 from VK itself), besides what the policy refused.
    assert report.failed_by_code.get("27", 0) >= report.actions["deletion"], line
    assert report.failed_by_code.get("901", 0) >= 1, line
    assert (report.done_twice_at_vk, report.sent_but_not_done, report.failed_but_done) == (0, 0, 0), line
    assert report.done_at_vk == report.sent, line
    assert report.journal_outcomes_missing == 0, line
    assert report.operator_views_checked == report.rows and report.operator_view_mismatches == [], line
    assert report.replies_counted_twice == 0 and report.echoes_matched > 0, line
    assert report.outside_proxy_entries == 0, line
    assert report.events_lost == 0 and report.events_stored_once == report.events_emitted, line
    assert report.ok, line
