"""A Bot API call's parameters, read the way Telegram reads them (JSON body, form or query string)."""

from __future__ import annotations

import json
from typing import Any

from .basics import TgError, bad_request


class Params:
    """Values arrive typed from a JSON body and as strings from a form or a query string; both are read."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def has(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "")

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.raw.get(name)
        return default if value is None else str(value)

    def int(self, name: str, default: int | None = None, *, error: TgError | None = None) -> int | None:
        value = self.raw.get(name)
        if value in (None, ""):
            if error is not None:
                raise error
            return default
        if isinstance(value, bool):
            raise error or bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise error or bad_request(f"invalid {name} specified") from None

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.raw.get(name)
        if value in (None, ""):
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1")

    def json(self, name: str, what: str) -> Any:
        """An object or array parameter: already decoded in a JSON body, a JSON string in a form."""
        value = self.raw.get(name)
        if value is None or isinstance(value, dict | list):
            return value
        try:
            return json.loads(str(value))
        except ValueError:
            raise bad_request(f"can't parse {what} JSON object") from None

    def chat_id(self) -> int | str:
        """`chat_id`: an integer id or a public chat's @username."""
        value = self.raw.get("chat_id")
        if value in (None, ""):
            raise bad_request("chat_id is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value)
        if text.startswith("@"):
            return text
        try:
            return int(text)
        except ValueError:
            raise bad_request("chat not found") from None
