"""Which passwords an account may have: long enough, and not one guessers try first.

The common passwords are zxcvbn's list of the 30,000 most frequent in leaked password sets (a maintained
library, the list behind many sites' strength meters), compared without regard to case, and also as
typed on a Russian keyboard left in its Cyrillic layout (`йцукенгш` is `qwertyui`).
"""

from __future__ import annotations

from functools import cache

from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
# Each Cyrillic letter and the Latin key under it on a ЙЦУКЕН / QWERTY keyboard.
_CYRILLIC_LAYOUT = str.maketrans("йцукенгшщзхъфывапролджэячсмитьбюё", "qwertyuiop[]asdfghjkl;'zxcvbnm,.`")


@cache
def _common() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str) -> tuple[str, dict[str, object]] | None:
    """Why a password is refused (a message with its parameters), or None when it may be used."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return "password must be at most %(max)s characters long", {"max": MAX_PASSWORD_LENGTH}
    if len(password) < MIN_PASSWORD_LENGTH or not password.strip():
        return "password must be at least %(min)s characters long", {"min": MIN_PASSWORD_LENGTH}
    if len(set(password)) == 1:
        return "password must not be one character repeated: guessers try those first", {}
    lowered = password.lower()
    if lowered in _common() or lowered.translate(_CYRILLIC_LAYOUT) in _common():
        return (
            "this password is one of the %(count)s most common ones, which guessers try first: choose another",
            {"count": "30,000"},
        )
    return None
