"""Reading VK method parameters the way VK does: strings in, error 100 for anything malformed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .state import bad_param

_ATTACHMENT = re.compile(r"^([a-z_]+?)(-?\d+)_(\d+)(?:_(\w+))?$")


class Params:
    """The parameters of one call (query string and form merged)."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self.raw = dict(raw)

    def __contains__(self, name: str) -> bool:
        return self.raw.get(name, "") != ""

    def text(self, name: str, default: str | None = None) -> str | None:
        """A text parameter, or `default` when absent."""
        value = self.raw.get(name)
        return default if value is None else value

    def integer(self, name: str, default: int | None = None) -> int | None:
        """An integer parameter, or `default` when absent or empty."""
        value = self.raw.get(name, "")
        if value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise bad_param(f"{name} not integer") from None

    def required(self, name: str) -> int:
        """An integer parameter VK insists on."""
        value = self.integer(name)
        if value is None:
            raise bad_param(f"{name} is undefined")
        return value

    def flag(self, name: str) -> bool:
        """A 0/1 parameter (vk_api sends Python booleans as "True"/"False")."""
        return self.raw.get(name, "").lower() in ("1", "true")

    def ints(self, name: str) -> list[int]:
        """A comma-separated list of integers (`id123` accepted, as users.get does)."""
        result = []
        for part in self.raw.get(name, "").split(","):
            part = part.strip().removeprefix("id")
            if part:
                try:
                    result.append(int(part))
                except ValueError:
                    raise bad_param(f"{name} is invalid") from None
        return result

    def page(self, default_count: int, max_count: int) -> tuple[int, int]:
        """(offset, count) clamped like VK."""
        offset = max(self.integer("offset", 0) or 0, 0)
        count = self.integer("count", default_count)
        count = default_count if count is None else min(max(count, 0), max_count)
        return offset, count

    def attachments(self) -> list[dict[str, Any]]:
        """`attachment=photo-1_2,doc3_4` turned into attachment objects."""
        result: list[dict[str, Any]] = []
        for part in (self.raw.get("attachment") or self.raw.get("attachments") or "").split(","):
            part = part.strip()
            if not part:
                continue
            match = _ATTACHMENT.match(part)
            if match is None:
                raise bad_param("attachment is invalid")
            kind, owner_id, item_id, access_key = match.groups()
            obj: dict[str, Any] = {"id": int(item_id), "owner_id": int(owner_id)}
            if access_key:
                obj["access_key"] = access_key
            result.append({"type": kind, kind: obj})
        return result
