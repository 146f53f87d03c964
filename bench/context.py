"""What every benchmark case receives: the database, the data set, where servers write their logs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.database import BenchDatabase
from bench.dataset import Dataset
from bench.processes import ServerProcess, proxy_server
from bench.profiling import Profiler, summarise, summarise_inclusive


@dataclass
class Context:
    database: BenchDatabase
    dataset: Dataset
    log_dir: Path
    profile: bool = False
    # Profiles taken during the current case: (what was profiled, summary tables).
    profiles: list[tuple[str, list[list[list[str]]]]] = field(default_factory=list)

    def proxy(self, **extra_env: str) -> ServerProcess:
        """A proxy instance on the bench database (use `async with`)."""
        return proxy_server(self.database.dsn, self.log_dir, **extra_env)

    @contextlib.asynccontextmanager
    async def profiled(self, server: ServerProcess, label: str) -> AsyncIterator[None]:
        """Sample the server with py-spy during the block, when the run asked for profiles."""
        if not self.profile:
            yield
            return
        path = self.log_dir / f"profile-{len(self.profiles)}.txt"
        profiler = Profiler(server.pid, path)
        await profiler.start()
        try:
            yield
        finally:
            await profiler.stop()
            self.profiles.append((label, [summarise(path), summarise_inclusive(path)]))
