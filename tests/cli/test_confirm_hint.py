"""The hint after a quote is pasted back as it is printed: an id that looks like an option must
still reach --confirm (argparse reads `--confirm -Xy` as a missing value, exit 2)."""

from __future__ import annotations

import shlex

import pytest

from dne.engine.v1 import engine_pb2 as E
from services.cli.main import build_parser
from services.cli.trading import _print_human


@pytest.mark.parametrize("confirmation_id", ["-Xy12ab", "Ab-3_x", "0f3a"])
def test_the_printed_confirm_hint_parses_back_to_the_quotes_id(
    confirmation_id: str, capsys: pytest.CaptureFixture[str],
) -> None:
    reply = E.OpenPositionResponse(result=E.CommandResult(
        ok=False, confirmation=E.Confirmation(confirmation_id=confirmation_id,
                                              valid_for_ms=30_000)))
    _print_human("open", reply)
    hint = capsys.readouterr().out.strip().splitlines()[-1]
    option = hint.split(" with ", 1)[1]
    args = build_parser().parse_args(["open", "SOL-PERP", "short", "3", *shlex.split(option)])
    assert args.confirm == confirmation_id
