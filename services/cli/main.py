"""`dne`: a small dispatcher; each subcommand lives with the service it serves."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from services.cli.backtest import add_backtest_command
from services.cli.trading import add_trading_commands
from services.feed.history_import import run_import


def _data_import(args: argparse.Namespace) -> int:
    return run_import(args.file, args.import_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dne", description="Delta Neutral Engine tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="market data for the replay")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    importer = data_commands.add_parser(
        "import",
        help="import hourly funding from a Drift Data API fundingRates response (JSON file)",
        description=(
            "Import hourly funding from a saved Drift Data API response, legacy "
            "{\"fundingRates\": [...]} or newer {\"success\", \"records\", \"meta\"}, into "
            "DNE_IMPORT_DIR/<SYMBOL>.json (merged by hour). Exit code 2 on a bad file."
        ),
    )
    importer.add_argument("file", type=Path, help="the saved JSON response")
    importer.add_argument(
        "--import-dir", type=Path, default=None,
        help="where the feed reads imported history (default: $DNE_IMPORT_DIR or var/history)",
    )
    importer.set_defaults(handler=_data_import)
    add_trading_commands(commands)
    add_backtest_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
