"""The Russian UI is complete and consistent: every message the pages and views use is translated, and no
two area catalogs translate one message differently (they are merged over each other at load)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parent.parent / "web"
CATALOGS = WEB / "translations" / "ru" / "LC_MESSAGES"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def _first(value: str | tuple[str, ...]) -> str:
    return value if isinstance(value, str) else value[0]


def _translations() -> dict[tuple[str, str | None], dict[str, str]]:
    """(message id, context) -> {catalog file: translation}, translated messages only."""
    found: dict[tuple[str, str | None], dict[str, str]] = {}
    for path in sorted(CATALOGS.glob("*.po")):
        with path.open("rb") as po_file:
            for message in read_po(po_file, locale="ru"):
                if message.id and _first(message.string):
                    found.setdefault((_first(message.id), message.context), {})[path.name] = _first(
                        message.string
                    )
    return found


def test_every_ui_message_has_a_russian_translation() -> None:
    translated = {message_id for message_id, _context in _translations()}
    used = list(extract_from_dir(str(WEB), METHODS, options_map=OPTIONS))
    assert len(used) > 100, "extraction found almost nothing: the patterns no longer match the tree"
    missing = sorted(
        {
            f"{path}:{line}: {_first(message)!r}"
            for path, line, message, _, _ in used
            if _first(message) not in translated
        }
    )
    assert missing == []


def test_no_message_is_translated_differently_by_two_catalogs() -> None:
    conflicts = {key: by_file for key, by_file in _translations().items() if len(set(by_file.values())) > 1}
    assert conflicts == {}


def test_every_reason_vk_gives_for_a_refusal_is_translated() -> None:
    """The outbox keeps VK's refusals in English (proxy/connectors/vk/client.py); the pages show them
    through the `translated` filter, so each needs its Russian."""
    from proxy.connectors.vk.client import ERROR_MESSAGES, VkNetworkError  # noqa: PLC0415

    reasons = {*ERROR_MESSAGES.values(), VkNetworkError().operator_message}
    reasons.add("the action was abandoned after repeated attempts")  # proxy/outbox.py
    translated = {message for message, _context in _translations()}
    assert sorted(reasons - translated) == []
