"""Optional sampling profiles of the servers under test (`python -m bench NAME --profile`), with py-spy.

py-spy attaches to the server process from outside, so the server runs unchanged. Its collapsed stacks
are summarised here into the functions that took most of the samples (self and inclusive).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


class Profiler:
    """`py-spy record` of one process until stop(); raw collapsed stacks in `path`."""

    def __init__(self, pid: int, path: Path, rate: int = 200) -> None:
        self.pid = pid
        self.path = path
        self.rate = rate
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        binary = py_spy()
        if binary is None:
            raise RuntimeError("py-spy is not installed: pip install -e '.[bench]'")
        self.process = await asyncio.create_subprocess_exec(
            binary, "record", "--pid", str(self.pid), "--rate", str(self.rate), "--format", "raw",
            "--output", str(self.path), "--nonblocking",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await asyncio.sleep(0.5)  # attach before the load starts

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py)"
    name, _, where = frame.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(file).parts
    tail = "/".join(parts[-2:]) if len(parts) > 1 else file
    return f"{name} ({tail})"


def summarise(path: Path, top: int = 12) -> list[list[str]]:
    """Rows [function, self %, inclusive %] of the functions with the most samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return []
    rows = [["function (self: on top of the stack)", "self %", "inclusive %"]]
    for frame, count in own.most_common(top):
        rows.append(
            [frame.replace("|", "/"), f"{100 * count / total:.1f}", f"{100 * inclusive[frame] / total:.1f}"]
        )
    rows.append([f"({total:,} samples)", "", ""])
    return rows


def summarise_inclusive(
    path: Path, prefixes: tuple[str, ...] = ("proxy/", "web/"), top: int = 12
) -> list[list[str]]:
    """Rows [function, inclusive %] of the project's own functions (where the time is spent, by caller)."""
    inclusive: Counter[str] = Counter()
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        seen = set()
        for frame in stack.split(";"):
            _, _, where = frame.partition(" (")
            # The serve command's own frames sit under everything; they say nothing about where time goes.
            own_code = (
                "site-packages" not in where
                and any(p in where for p in prefixes)
                and not any(skip in where for skip in ("proxy/__main__.py", "proxy/cli/"))
            )
            if own_code and frame not in seen:
                seen.add(frame)
                inclusive[_short(frame)] += count
    if not total:
        return []
    rows = [["project function", "inclusive %"]]
    rows += [[f.replace("|", "/"), f"{100 * c / total:.1f}"] for f, c in inclusive.most_common(top)]
    return rows
