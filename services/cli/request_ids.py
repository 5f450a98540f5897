"""The request id of a command that moves money: given by the caller (`--request-id`) or
generated and printed, so a script that did not see the answer can send the same command again
and get the first outcome instead of a second trade (the engine never runs an id twice)."""

from __future__ import annotations

import argparse
import re
import sys
import uuid

# The engine's own rule for request ids (services/engine/commands.py).
MAX_LENGTH = 128
_PRINTABLE_NO_SPACE = re.compile(r"^[\x21-\x7e]+$")

OPTION_HELP = (
    "idempotency key (1-128 printable characters, no spaces): the same id again answers the "
    "first outcome and never trades twice; without it one is generated and printed on stderr")


def request_id(text: str) -> str:
    """argparse type: refuses what the engine would refuse, before anything is sent."""
    if not 1 <= len(text) <= MAX_LENGTH or not _PRINTABLE_NO_SPACE.match(text):
        raise argparse.ArgumentTypeError(
            f"must be 1-{MAX_LENGTH} printable characters without spaces, found {text[:40]!r}")
    return text


def add_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--request-id", type=request_id, default=None, metavar="ID",
                        help=OPTION_HELP)


def generated() -> str:
    return f"cli-{uuid.uuid4().hex}"


def resolve(args: argparse.Namespace) -> str:
    """The caller's id, or a new one announced on stderr before anything is sent (a timeout
    or a kill must still leave the script the id to retry with)."""
    if args.request_id is None:
        args.request_id = generated()
        print(f"dne {args.command_name}: request id {args.request_id}; to retry without "
              f"trading twice, run the same command with --request-id {args.request_id}",
              file=sys.stderr)
    return str(args.request_id)
