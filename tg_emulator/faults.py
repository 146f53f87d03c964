"""Planned misbehaviour of Bot API calls: 429s, server errors, lost and slow answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    """One planned misbehaviour of the next `times` calls of `method` (None: any) by `bot_id` (None: any).

    It waits `delay` seconds, then: `retry_after` answers 429 "Too Many Requests: retry after N";
    `http_status` answers a server error (500 as Telegram's JSON error, other statuses as the HTML
    page of the front end, as a 502 from nginx is); `lose_answer` performs the call and closes the
    connection, so the client never learns it was done; `drop` closes it without performing the call.
    With none of these it is a slow answer. `times` None never runs out.
    """

    method: str | None = None
    bot_id: int | None = None
    retry_after: int | None = None
    http_status: int | None = None
    lose_answer: bool = False
    drop: bool = False
    delay: float = 0.0
    times: int | None = 1

    def matches(self, method: str, bot_id: int) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return self.method in (None, method) and self.bot_id in (None, bot_id)


class FaultPlan:
    """The faults waiting to happen; each use counts one off its `times`."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        if fault.http_status is not None and not 500 <= fault.http_status <= 599:
            raise ValueError("http_status must be a server error (500-599)")
        if fault.retry_after is not None and fault.retry_after < 1:
            raise ValueError("retry_after must be at least 1")
        if fault.delay < 0:
            raise ValueError("delay must not be negative")
        self.faults.append(fault)
        return fault

    def too_many_requests(
        self, method: str | None, retry_after: int, *, times: int | None = 1, bot_id: int | None = None
    ) -> Fault:
        return self.add(Fault(method, bot_id, retry_after=retry_after, times=times))

    def server_error(
        self, method: str | None, status: int = 502, *, times: int | None = 1, bot_id: int | None = None
    ) -> Fault:
        return self.add(Fault(method, bot_id, http_status=status, times=times))

    def lose_answer(self, method: str | None, *, times: int | None = 1, bot_id: int | None = None) -> Fault:
        return self.add(Fault(method, bot_id, lose_answer=True, times=times))

    def drop(self, method: str | None, *, times: int | None = 1, bot_id: int | None = None) -> Fault:
        return self.add(Fault(method, bot_id, drop=True, times=times))

    def slow(
        self, method: str | None, seconds: float, *, times: int | None = 1, bot_id: int | None = None
    ) -> Fault:
        return self.add(Fault(method, bot_id, delay=seconds, times=times))

    def add_from_json(self, data: dict[str, Any]) -> Fault:
        """A fault as the /_emulator/faults endpoint describes it (the fields of Fault)."""
        unknown = set(data) - set(Fault.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        times = data.get("times", 1)
        return self.add(
            Fault(
                method=data.get("method"),
                bot_id=int(data["bot_id"]) if data.get("bot_id") is not None else None,
                retry_after=int(data["retry_after"]) if data.get("retry_after") is not None else None,
                http_status=int(data["http_status"]) if data.get("http_status") is not None else None,
                lose_answer=bool(data.get("lose_answer", False)),
                drop=bool(data.get("drop", False)),
                delay=float(data.get("delay", 0.0)),
                times=None if times is None else int(times),
            )
        )

    def take(self, method: str, bot_id: int) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, bot_id):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def clear(self) -> None:
        self.faults.clear()

    def as_json(self) -> list[dict[str, Any]]:
        return [vars(f) for f in self.faults if f.times is None or f.times > 0]
