"""Fault injection for the emulator: VK errors, slow answers, dropped connections, long-poll failures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    """One planned misbehaviour of /method calls.

    `method` None matches every method; `token` None matches every token; `times` None never runs out.
    A fault delays by `delay` seconds, then answers VK error `error_code`, or an HTTP `http_status`,
    or closes the connection without answering (`drop`), or, with none of those, answers normally.
    `lose_answer` performs the call and then closes the connection: VK did it, the client never heard.
    A `delay` past the client's timeout has the same effect (the call is performed after the delay).
    """

    method: str | None = None
    token: str | None = None
    error_code: int | None = None
    error_msg: str | None = None
    delay: float = 0.0
    drop: bool = False
    http_status: int | None = None
    times: int | None = 1
    lose_answer: bool = False

    def matches(self, method: str, token: str | None) -> bool:
        """Whether this fault applies to a call."""
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.token is None or self.token == token


LONGPOLL_DROPS = ("close", "reset", "truncate")


@dataclass
class LongPollFault:
    """Make the next `times` a_check requests of a community (or any, if None) misbehave.

    `failed` answers `{"failed": N}` at once. Otherwise the request is answered as usual (held until an
    event or `wait`), then `delay` seconds later, and the answer is lost on the way: `drop` "close"
    closes the connection without a byte of it, "reset" resets the connection (TCP RST), "truncate" sends
    the headers and half the body and closes; `http_status` answers a bare HTTP error instead. A
    `delay` alone is a slow answer, or a timeout for a client that waits less.
    """

    failed: int | None = None
    group_id: int | None = None
    times: int = 1
    drop: str | None = None
    delay: float = 0.0
    http_status: int | None = None


# Decides a fault for one /method call from (method, token, request parameters); None: no fault.
FaultPolicy = Callable[[str, str | None, dict[str, str]], "Fault | None"]


class FaultPlan:
    """The faults waiting to happen; each use counts one off its `times`.

    `policy`, when set, is asked about every call no planned fault matched (a soak's seeded chance of
    errors, say); the faults it returns are used once and never listed.
    """

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.longpoll_faults: list[LongPollFault] = []
        self.policy: FaultPolicy | None = None

    def add(self, fault: Fault) -> Fault:
        """Plan a /method fault."""
        self.faults.append(fault)
        return fault

    def error(
        self, method: str | None, code: int, *, times: int | None = 1, message: str | None = None
    ) -> Fault:
        """Answer the VK error `code` to the next `times` calls of `method`."""
        return self.add(Fault(method=method, error_code=code, error_msg=message, times=times))

    def delay(self, method: str | None, seconds: float, *, times: int | None = 1) -> Fault:
        """Answer the next `times` calls of `method` normally but `seconds` late."""
        return self.add(Fault(method=method, delay=seconds, times=times))

    def drop(self, method: str | None, *, times: int | None = 1) -> Fault:
        """Close the connection of the next `times` calls of `method` without answering."""
        return self.add(Fault(method=method, drop=True, times=times))

    def http_status(self, method: str | None, status: int, *, times: int | None = 1) -> Fault:
        """Answer the next `times` calls of `method` with a bare HTTP error status (as a broken proxy would)."""
        return self.add(Fault(method=method, http_status=status, times=times))

    def longpoll(self, failed: int, *, group_id: int | None = None, times: int = 1) -> LongPollFault:
        """Answer `{"failed": N}` to the next `times` long-poll requests."""
        if failed not in (1, 2, 3):
            raise ValueError("failed must be 1, 2 or 3")
        return self._add_longpoll(LongPollFault(failed, group_id, times))

    def longpoll_drop(
        self, drop: str, *, group_id: int | None = None, times: int = 1, delay: float = 0.0
    ) -> LongPollFault:
        """Lose the answer to the next `times` long-poll requests: "close", "reset" or "truncate"."""
        if drop not in LONGPOLL_DROPS:
            raise ValueError(f"drop must be one of {', '.join(LONGPOLL_DROPS)}")
        return self._add_longpoll(LongPollFault(None, group_id, times, drop=drop, delay=delay))

    def longpoll_delay(self, seconds: float, *, group_id: int | None = None, times: int = 1) -> LongPollFault:
        """Answer the next `times` long-poll requests `seconds` late."""
        if seconds < 0:
            raise ValueError("delay must not be negative")
        return self._add_longpoll(LongPollFault(None, group_id, times, delay=seconds))

    def longpoll_http_status(
        self, status: int, *, group_id: int | None = None, times: int = 1
    ) -> LongPollFault:
        """Answer the next `times` long-poll requests with a bare HTTP error (a broken front end)."""
        if not 400 <= status <= 599:
            raise ValueError("http_status must be an HTTP error status (400-599)")
        return self._add_longpoll(LongPollFault(None, group_id, times, http_status=status))

    def _add_longpoll(self, fault: LongPollFault) -> LongPollFault:
        if fault.times < 1:
            raise ValueError("times must be at least 1")
        self.longpoll_faults.append(fault)
        return fault

    def add_from_json(self, data: dict[str, Any]) -> Fault | LongPollFault:
        """Plan a fault described as by the /_emulator/faults endpoint."""
        group_id = int(data["group_id"]) if data.get("group_id") is not None else None
        if "longpoll_failed" in data:
            return self.longpoll(
                int(data["longpoll_failed"]), group_id=group_id, times=int(data.get("times", 1))
            )
        if "longpoll_drop" in data:
            return self.longpoll_drop(
                str(data["longpoll_drop"]),
                group_id=group_id,
                times=int(data.get("times", 1)),
                delay=float(data.get("delay", 0.0)),
            )
        if "longpoll_delay" in data:
            return self.longpoll_delay(
                float(data["longpoll_delay"]), group_id=group_id, times=int(data.get("times", 1))
            )
        if "longpoll_http_status" in data:
            return self.longpoll_http_status(
                int(data["longpoll_http_status"]), group_id=group_id, times=int(data.get("times", 1))
            )
        times = data.get("times", 1)
        return self.add(
            Fault(
                method=data.get("method"),
                token=data.get("token"),
                error_code=int(data["error_code"]) if data.get("error_code") is not None else None,
                error_msg=data.get("error_msg"),
                delay=float(data.get("delay", 0.0)),
                drop=bool(data.get("drop", False)),
                http_status=int(data["http_status"]) if data.get("http_status") is not None else None,
                times=None if times is None else int(times),
                lose_answer=bool(data.get("lose_answer", False)),
            )
        )

    def take(self, method: str, token: str | None, params: dict[str, str] | None = None) -> Fault | None:
        """The first fault matching a call, counted as used; else what the policy decides."""
        for fault in self.faults:
            if fault.matches(method, token):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        if self.policy is not None:
            return self.policy(method, token, params or {})
        return None

    def take_longpoll(self, group_id: int) -> LongPollFault | None:
        """The fault planned for this long-poll request, counted as used."""
        for fault in self.longpoll_faults:
            if fault.times > 0 and fault.group_id in (None, group_id):
                fault.times -= 1
                return fault
        return None

    def clear(self) -> None:
        """Forget every planned fault."""
        self.faults.clear()
        self.longpoll_faults.clear()

    def as_json(self) -> dict[str, Any]:
        """The remaining plan, for the control endpoint."""
        return {
            "faults": [vars(f) for f in self.faults if f.times is None or f.times > 0],
            "longpoll": [vars(f) for f in self.longpoll_faults if f.times > 0],
        }
