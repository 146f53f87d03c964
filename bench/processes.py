"""Servers under test run in their own processes, so the load generator's CPU is not theirs."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
BENCH_SECRET_KEY = "bench-secret-key-not-for-production"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_status_kib(pid: int, field: str) -> int | None:
    """A memory figure from /proc/<pid>/status in KiB (VmHWM: peak resident set, VmRSS: current)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User plus system CPU seconds each process has used so far (one that has exited is left out)."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime and stime, fields 14 and 15 of the line
        seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two `cpu_seconds` readings by the processes alive at both."""
    return sum(after[pid] - before[pid] for pid in before.keys() & after.keys())


def postgres_pids() -> list[int]:
    """Every PostgreSQL process of this machine (the bench's backends among them)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine have spent not idle so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class ServerProcess:
    """One server in a child process: started, waited for until it answers, stopped."""

    def __init__(self, name: str, argv: list[str], *, port: int, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.env = env
        self.log_path = log_dir / f"{name}-{port}.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self, ready_path: str = "/healthz", wait_seconds: float = 60.0) -> ServerProcess:
        log = self.log_path.open("wb")
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, cwd=REPO, env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + wait_seconds
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    break
                try:
                    async with session.get(self.base_url + ready_path) as response:
                        if response.status < 500:
                            return self
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        await self.stop()
        raise RuntimeError(f"{self.name} did not start; last lines of its log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def peak_rss_mib(self) -> float | None:
        kib = proc_status_kib(self.pid, "VmHWM")
        return None if kib is None else kib / 1024

    def rss_mib(self) -> float | None:
        kib = proc_status_kib(self.pid, "VmRSS")
        return None if kib is None else kib / 1024

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    async def __aenter__(self) -> ServerProcess:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def proxy_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a proxy instance under test."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "PROXY_SECRET_KEY": BENCH_SECRET_KEY,
            "PROXY_WORKERS": "false",
            "PROXY_DEMO": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def proxy_server(database_url: str, log_dir: Path, **extra_env: str) -> ServerProcess:
    """`python -m proxy serve` on a free port (workers off unless PROXY_WORKERS says otherwise)."""
    port = free_port()
    argv = [sys.executable, "-m", "proxy", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return ServerProcess("proxy", argv, port=port, env=proxy_env(database_url, **extra_env), log_dir=log_dir)


def python_module_server(
    name: str, module: str, args: list[str], log_dir: Path, *, port: int | None = None
) -> ServerProcess:
    """`python -m <module> --port P <args>` (the ceiling app, the VK emulator)."""
    port = port or free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    argv = [sys.executable, "-m", module, "--port", str(port), *args]
    return ServerProcess(name, argv, port=port, env=env, log_dir=log_dir)


async def run_command(argv: list[str], env: dict[str, str], stdin: bytes | None = None) -> str:
    """Run a CLI command to completion; its output, or RuntimeError with it."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=REPO,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate(stdin)
    text = out.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:])} failed ({process.returncode}): {text.strip()[-500:]}")
    return text
