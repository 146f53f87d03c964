"""What a benchmark returns: figures, each beside its ceiling, the ratio, and the target's verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figure:
    """One measured figure; `ratio` is value / ceiling when there is a ceiling.

    `target` is the issue's target in words; `met` is its verdict (None: no target, or not measurable).
    """

    name: str
    value: float | None
    unit: str
    ceiling: float | None = None
    ceiling_name: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.ceiling:
            return None
        return self.value / self.ceiling


@dataclass
class BenchResult:
    """Everything one benchmark measured (or why it could not)."""

    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Extra tables: a title and rows (the first row is the header).
    tables: list[tuple[str, list[list[str]]]] = field(default_factory=list)
    missing: str = ""  # why nothing could be measured (a feature not there yet, say)
    measured_at: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchResult:
        figures = [Figure(**f) for f in data.get("figures", [])]
        tables = [(t[0], t[1]) for t in data.get("tables", [])]
        return cls(**{**data, "figures": figures, "tables": tables})


class FeatureMissing(Exception):
    """The feature a benchmark measures is not in the code yet; the message says which."""
