"""A clone of the repository, with nothing beside it, has everything its code, tests and docs refer to."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A folder beside the checkout, a machine's home or work folder, or background notes kept outside the
# repository. Spelled in pieces so that this file does not match itself.
OUTSIDE = re.compile(
    "|".join(
        [
            r"\.\./" + "shared",
            "shared/" + r"(DESIGN|CONVENTIONS|vk-samples|telegram-samples)",
            "CONVENTIONS" + r" \d",
            r"(?<![\w.])/(work|home|root|Users|mnt|srv)/",
            r"parents\[2\] / " + '"shared"',
        ]
    )
)


def _tracked_text_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:  # an exported tree without .git
        pytest.skip(f"git ls-files failed: {exc}")
    files = []
    for name in listed.decode().split("\0"):
        path = ROOT / name
        if name and path.is_file() and path.suffix not in {".png", ".jpg", ".ico", ".woff2", ".gz"}:
            files.append(path)
    return files


def test_no_tracked_file_refers_outside_the_repository() -> None:
    offenders = []
    for path in _tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not offenders, "refers to something a fresh clone does not have:\n" + "\n".join(offenders)


def test_the_pattern_catches_what_it_is_for() -> None:
    for line in [
        "SAMPLES = Path(__file__).parents[2] / " + '"shared"' + ' / "vk-samples"',
        "see .." + "/shar" + "ed/DESIGN.md",
        'Path("/' + 'wor' + 'k/x/vk")',
        "(CONVENTIONS" + " 7)",
    ]:
        assert OUTSIDE.search(line), line
    for line in ["/usr/bin/chromium", "tests/fixtures/vk/message_new-1.json", "a shared secret", "https://vk.com/"]:
        assert not OUTSIDE.search(line), line


def test_vk_samples_are_in_the_repository() -> None:
    from tests.fixtures import VK_SAMPLES

    assert (VK_SAMPLES / "SOURCES.md").is_file()
    assert len(list(VK_SAMPLES.glob("*.json"))) >= 40
