"""Shared fixtures: a fresh migrated database per test on SQLite and on PostgreSQL, the app, a client.

Tests that take the `db_url` fixture (directly or through `db`, `app`, `client`) run once per backend.
PostgreSQL is skipped only outside CI: with CI=true a missing PostgreSQL fails the run.
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from proxy import db as proxy_db
from proxy import refusals
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tests.databases import PostgresFactory, SqliteFactory, postgres_available

BACKENDS = ("sqlite", "postgres")


def run_blocking(coro):
    """Run a coroutine to completion from sync code, even while a test's event loop is running."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


TEST_SECRET_KEY = "test-secret-key-0123456789abcdef"


def pytest_report_header(config: pytest.Config) -> str:
    reason = run_blocking(postgres_available())
    return "databases: sqlite + postgres" if reason is None else f"databases: sqlite only ({reason})"


@pytest.fixture(scope="session")
def postgres_factory() -> Iterator[PostgresFactory]:
    reason = run_blocking(postgres_available())
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required under CI=true and is not reachable: {reason}")
        pytest.skip(f"PostgreSQL not reachable: {reason}")
    factory = PostgresFactory()
    run_blocking(factory.prepare())
    yield factory
    run_blocking(factory.drop_all())


@pytest.fixture(scope="session")
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> SqliteFactory:
    factory = SqliteFactory(tmp_path_factory.mktemp("sqlite"))
    run_blocking(factory.prepare())
    return factory


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh, migrated, empty database of each backend."""
    factory = request.getfixturevalue(f"{request.param}_factory")
    url = await factory.new_database()
    yield url
    await factory.drop(url)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {},
        database_url=db_url,
        secret_key=TEST_SECRET_KEY,
        workers=False,
        public_url="http://127.0.0.1:8080",
        # Refused callbacks are answered at once here (in service, after a second: a flood's senders
        # slow down); tests/test_refusals.py sets the delay where it is what is tested.
        callback_refusal_delay=0.0,
    )


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[str]:
    """The ORM opened on a fresh database, for tests that do not need the web app."""
    await proxy_db.open_database(db_url)
    yield db_url
    await proxy_db.close_database()


@pytest.fixture(autouse=True)
def _refusals_stay_in_their_test() -> Iterator[None]:
    """Refusals are counted per process (proxy/refusals.py); a count a test left unjournaled belongs to
    that test's database and must not be journaled into the next test's."""
    yield
    refusals.REFUSALS.discard()


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return create_app(settings)


@pytest.fixture
async def client(aiohttp_client, app: web.Application) -> AsyncIterator[TestClient]:
    test_client = await aiohttp_client(app)
    yield test_client
    await test_client.close()
    # A test body that queried the ORM outside the app's own context opened connections of its own
    # (tortoise keeps its state in a context variable): close them too, or they leak into later tests.
    await proxy_db.close_database()


# How long the interpreter may take to exit after the last report before the run is ended for it.
EXIT_GRACE_SECONDS = 60
EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[EXIT_STATUS] = int(exitstatus)


def _end_a_held_exit(status: int) -> None:
    """Print what still runs and leave with the run's own status.

    A thread that never ends (a blocking call to a server a failed test left half-closed, a connection
    nobody closed) would keep a finished run waiting until CI's own time runs out, with nothing in the log
    to say why. Its stack is printed instead, and the run ends with the status its tests earned.
    """
    sys.stderr.write(
        f"\nthe run still had not exited {EXIT_GRACE_SECONDS} s after its results; threads left:\n"
    )
    for thread in threading.enumerate():
        sys.stderr.write(f"  {thread.name} (daemon={thread.daemon})\n")
    sys.stderr.flush()
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stdout.flush()
    os._exit(status)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the worker thread of any SQLite connection a test left open, so the run can exit.

    aiosqlite runs each connection on a non-daemon thread; one connection left open by a test (for
    example one a test body opened outside the app's ORM context) would keep the interpreter waiting
    for ever after the results are printed.
    """
    import gc

    import aiosqlite

    for obj in gc.get_objects():
        if isinstance(obj, aiosqlite.Connection) and obj._running:
            try:
                obj.stop()
            except Exception:  # no event loop any more: the thread is stopped all the same
                pass
    watchdog = threading.Timer(EXIT_GRACE_SECONDS, _end_a_held_exit, args=(config.stash.get(EXIT_STATUS, 1),))
    watchdog.daemon = True
    watchdog.start()
