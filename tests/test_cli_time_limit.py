"""Commands are cut off when the database never answers, except those that work through the whole history
(a restore of years of journal takes minutes per million rows and must not be cut off half way)."""

from __future__ import annotations

import asyncio

import pytest

from proxy.cli import COMMAND_TIME_LIMIT, CommandError, bounded, build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "backup", "dir"],
        ["import", "backup", "dir"],
        ["journal", "verify"],
        ["journal", "checkpoint", "dir"],
    ],
)
def test_commands_over_the_whole_history_have_no_time_limit(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).time_limit is None


def test_other_commands_keep_the_limit() -> None:
    args = build_parser().parse_args(["migrate"])
    assert getattr(args, "time_limit", COMMAND_TIME_LIMIT) == COMMAND_TIME_LIMIT


async def test_a_limited_command_is_cut_off_and_an_unlimited_one_is_not() -> None:
    async def slow() -> int:
        await asyncio.sleep(0.2)
        return 0

    with pytest.raises(CommandError, match="did not answer"):
        await bounded(slow(), 0.01)
    assert await bounded(slow(), None) == 0
