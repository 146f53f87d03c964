"""docs/guide.md and its pictures agree: every picture it shows or links is in docs/guide/, and each page
is there in Russian and English at desktop and phone width (as `make guide-screenshots` leaves them)."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
PICTURE = re.compile(r"\]\((guide/[^)\s]+\.png)\)")
FORM = re.compile(r"^(?P<name>.+)-(?P<locale>ru|en)-(?P<view>desktop|phone)\.png$")
FORMS = {(locale, view) for locale in ("ru", "en") for view in ("desktop", "phone")}


def test_every_picture_the_guide_names_is_there() -> None:
    named = PICTURE.findall((DOCS / "guide.md").read_text(encoding="utf-8"))
    assert named, "docs/guide.md shows no pictures"
    assert [path for path in named if not (DOCS / path).is_file()] == []


def test_every_guide_picture_comes_in_both_languages_and_both_widths() -> None:
    pictures = sorted(path.name for path in (DOCS / "guide").glob("*.png"))
    assert [name for name in pictures if not FORM.match(name)] == []
    forms: dict[str, set[tuple[str, str]]] = {}
    for name in pictures:
        match = FORM.match(name)
        assert match is not None
        forms.setdefault(match["name"], set()).add((match["locale"], match["view"]))
    assert {name: sorted(FORMS - seen) for name, seen in forms.items() if seen != FORMS} == {}
