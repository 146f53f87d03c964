"""What every benchmark case receives: the database, the data set, where servers write their logs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.database import BenchDatabase
from bench.dataset import Dataset
from bench.processes import ServerProcess, proxy_server


@dataclass
class Context:
    database: BenchDatabase
    dataset: Dataset
    log_dir: Path

    def proxy(self, **extra_env: str) -> ServerProcess:
        """A proxy instance on the bench database (use `async with`)."""
        return proxy_server(self.database.dsn, self.log_dir, **extra_env)
