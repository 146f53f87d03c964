"""Faults survived, in `make test` size: the proxy killed during a callback burst, PostgreSQL stopped under traffic.

The same code runs at soak size in `make soak` (bench/soak.py); the figures of both are in docs/reliability.md.
Everything runs on loopback: the proxy is a child process (`python -m proxy serve`), VK is the emulator in
this process, and the stopped PostgreSQL is a private cluster made for the test, never the shared server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak_kill import run_kill_burst
from bench.soak_postgres import PrivateCluster, postgres_bin, run_postgres_outage


async def test_sigkill_during_a_callback_burst_loses_and_doubles_nothing(db_url: str, tmp_path: Path) -> None:
    report = await run_kill_burst(db_url, events=300, kills=2, seed=10, log_dir=tmp_path, limit_seconds=120)
    assert report.restarts == 2
    assert report.retried > 0, "no delivery was retried: the kills missed the burst"
    assert report.given_up == 0
    assert report.missing_acknowledged == []
    assert report.missing_events == []
    assert (report.stored_events, report.doubled_events) == (300, 0)
    assert report.items_stored == report.items_expected == 300


@pytest.mark.skipif(postgres_bin() is None, reason="Debian's PostgreSQL server programs are not installed")
async def test_postgres_stopped_under_traffic_recovers_without_a_restart(tmp_path: Path) -> None:
    cluster = PrivateCluster().init()
    cluster.start()
    try:
        report = await run_postgres_outage(cluster, events=200, outage_seconds=3, seed=11, log_dir=tmp_path)
    finally:
        cluster.destroy()
    assert set(report.health_while_down) == {503}, report.line()
    assert report.health_after == 200 and report.server_restarts == 0, report.line()
    assert report.callbacks_refused_while_down > 0 and report.acknowledged_while_down == 0, report.line()
    assert (report.lost, report.missing_acknowledged, report.given_up) == (0, 0, 0), report.line()
    assert (report.stored_events, report.doubled_events) == (200, 0), report.line()
