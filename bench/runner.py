"""Run the selected benchmarks on a dedicated PostgreSQL database and write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.cases import export, flood, inbox, ingest, journal_scale, live, outbox, reply, rules, stats, team
from bench.context import Context
from bench.database import BenchDatabase
from bench.dataset import Dataset
from bench.machine import machine_facts
from bench.results import BenchResult, FeatureMissing

Case = Callable[[Context], Awaitable[BenchResult]]
# In the order they run: ingest first, on a nearly empty database; the rest share the bulk data set.
CASES: dict[str, tuple[str, Case]] = {
    "ingest": ("Ingest (Callback API)", ingest.run),
    "flood": ("Valid callbacks during a wrong-secret flood", flood.run),
    "stats": ("Statistics (operators.csv)", stats.run),
    "export": ("CSV export (journal.csv)", export.run),
    "inbox": ("Inbox", inbox.run),
    "live": ("Live updates (SSE)", live.run),
    "team": ("Live team: an incident with 0, 25 and 100 open inboxes or 100 conversation pages", team.run),
    "outbox": ("Outbox", outbox.run),
    "reply": ("Outbox: click to VK", reply.run),
    # On databases of its own (a keyed journal and its restore), so it depends on no case before it.
    "journal_scale": (
        "Journal at scale: checkpoints, verification, backup and restore; the keyed chain's cost on ingest",
        journal_scale.run,
    ),
    # Evaluation in this process, then ingest with the rules worker on: the base data set only.
    "rules": ("Moderation rules: evaluation, a hostile pattern, ingest with 1,000 rules", rules.run),
}


def _load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Run benchmarks, write docs/benchmarks.md"
    )
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(CASES)}")
    parser.add_argument(
        "--keep-database", action="store_true", help="do not drop the bench database afterwards"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the servers under load with py-spy; summaries go to the report",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite docs/benchmarks.md from the last results, run nothing",
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in CASES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(CASES)}")
    return args


async def _run_case(name: str, title: str, case: Case, context: Context) -> BenchResult:
    print(f"[bench] {name}: running", flush=True)
    load_before = _load_average()
    started = time.perf_counter()
    try:
        result = await case(context)
    except FeatureMissing as exc:
        result = BenchResult(name, title, missing=str(exc))
    except Exception as exc:  # one broken benchmark must not cost the others their figures
        traceback.print_exc()
        result = BenchResult(name, title, missing=f"the benchmark failed: {type(exc).__name__}: {exc}")
    result.name, result.title = name, title
    # Other work on the machine takes cores from the servers and the load generator alike.
    result.notes.append(
        f"Load average (1 min) before this benchmark: {load_before}; after it: {_load_average()} "
        f"(the machine has {os.cpu_count()} cores; what the benchmark itself adds shows in the second)."
    )
    for label, tables in context.profiles:
        for index, rows in enumerate(tables):
            if rows:
                kind = "by function" if index == 0 else "by project function, inclusive"
                result.tables.append((f"py-spy profile of the server during {label} ({kind})", rows))
    context.profiles.clear()
    result.measured_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    result.seconds = time.perf_counter() - started
    for figure in result.figures:
        print(
            f"[bench] {name}: {figure.name} = {figure.value} {figure.unit} (ceiling {figure.ceiling})",
            flush=True,
        )
    if result.missing:
        print(f"[bench] {name}: missing: {result.missing}", flush=True)
    print(f"[bench] {name}: done in {result.seconds:.0f} s", flush=True)
    return result


async def run(names: list[str], keep_database: bool, profile: bool) -> int:
    database = BenchDatabase.from_env()
    machine = machine_facts(await database.server_version())
    _, results = report.load_previous()
    await database.create()
    dataset = Dataset(database)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-") as log_dir:
            context = Context(database, dataset, Path(log_dir), profile=profile)
            for name in names:
                title, case = CASES[name]
                results[name] = await _run_case(name, title, case, context)
                report.save(machine, results, list(CASES))
    finally:
        if not keep_database:
            await database.drop()
    if dataset.timings:
        print("[bench] data set: " + ", ".join(f"{k} {v:.0f} s" for k, v in dataset.timings.items()))
    print(f"[bench] wrote {report.REPORT.relative_to(report.REPO)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    names = args.names or list(CASES)
    if args.report_only:
        machine, results = report.load_previous()
        report.save(machine, results, list(CASES))
        print(
            f"[bench] wrote {report.REPORT.relative_to(report.REPO)} from {report.RESULTS.relative_to(report.REPO)}"
        )
        return 0
    try:
        return asyncio.run(run(names, args.keep_database, args.profile))
    except KeyboardInterrupt:
        print("[bench] interrupted", file=sys.stderr)
        return 130
