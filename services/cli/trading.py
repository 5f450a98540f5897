"""`dne markets | status | start | stop | deposit | withdraw | open | close`: the engine and the
feed over gRPC, for scripts (`--json`) and for people (tables).

Exit codes: 0 done (also a retried request id answered with its first outcome), 1 refused by
the engine (the answer carries a code and a message), 2 the service could not be reached or the
arguments were wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from rich.table import Table

from dne.common.v1 import common_pb2
from dne.engine.v1 import engine_pb2, engine_pb2_grpc
from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from services.cli import output, request_ids
from services.common.grpc_client import open_channel
from services.common.grpc_tls import TlsFiles
from services.common.service_auth import TokenError, read_token_file
from services.launcher.run_secrets import api_token_path

DEFAULT_ENGINE = "127.0.0.1:50054"
DEFAULT_FEED = "127.0.0.1:50051"
TIMEOUT_SEC = 10.0

Call = Callable[[argparse.Namespace, grpc.aio.Channel], Awaitable[Message]]


# The commands that move money: their request id is the caller's to give (see request_ids).
MONEY_COMMANDS = ("deposit", "withdraw", "open", "close")
CONFIRM_HELP = ("a trade over $100 is first refused with the engine's quote and its "
                "confirmation id; run the same command again with --confirm <that id> before "
                "the quote expires (30 s) to trade it")
RETRY_NOTE = (" Safe to retry: run it again with the same --request-id (printed on stderr when "
              "generated) and the engine answers the first outcome (exit 0 when it was done, "
              "marked replayed) without trading twice.")


async def _markets(args: argparse.Namespace, channel: grpc.aio.Channel) -> Message:
    stub = feed_pb2_grpc.FeedServiceStub(channel)
    return await stub.ListFundingMarkets(
        feed_pb2.ListFundingMarketsRequest(include_untradable=args.all), timeout=TIMEOUT_SEC)


async def _status(args: argparse.Namespace, channel: grpc.aio.Channel) -> Message:
    stub = engine_pb2_grpc.EngineServiceStub(channel)
    return await stub.GetEngineStatus(engine_pb2.GetEngineStatusRequest(), timeout=TIMEOUT_SEC)


def _engine_call(name: str, build: Callable[[argparse.Namespace], Message]) -> Call:
    async def call(args: argparse.Namespace, channel: grpc.aio.Channel) -> Message:
        stub = engine_pb2_grpc.EngineServiceStub(channel)
        return await getattr(stub, name)(build(args), timeout=TIMEOUT_SEC)
    return call


COMMANDS: dict[str, tuple[str, Call]] = {
    "markets": ("feed", _markets),
    "status": ("engine", _status),
    "start": ("engine", _engine_call("StartEngine", lambda a: engine_pb2.StartEngineRequest(
        request_id=request_ids.generated(), mode=a.mode))),
    "stop": ("engine", _engine_call("StopEngine", lambda a: engine_pb2.StopEngineRequest(
        request_id=request_ids.generated()))),
    "deposit": ("engine", _engine_call("Deposit", lambda a: engine_pb2.DepositRequest(
        request_id=a.request_id, amount=a.amount))),
    "withdraw": ("engine", _engine_call("Withdraw", lambda a: engine_pb2.WithdrawRequest(
        request_id=a.request_id, amount=a.amount))),
    "open": ("engine", _engine_call("OpenPosition", lambda a: engine_pb2.OpenPositionRequest(
        request_id=a.request_id, market=a.market.upper(), direction=a.direction,
        size=a.size, confirmation_id=a.confirm))),
    "close": ("engine", _engine_call("ClosePosition", lambda a: engine_pb2.ClosePositionRequest(
        request_id=a.request_id, market=a.market.upper(), settle_pnl=True,
        confirmation_id=a.confirm, unwind_spot=not a.keep_spot))),
}


def add_trading_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        description = help_text[0].upper() + help_text[1:] + "."
        if name in MONEY_COMMANDS:
            description += RETRY_NOTE
        parser = commands.add_parser(name, help=help_text, description=description)
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument("--engine", default=os.environ.get("DNE_ENGINE", DEFAULT_ENGINE),
                            help=f"engine address (default $DNE_ENGINE or {DEFAULT_ENGINE})")
        parser.add_argument("--feed", default=os.environ.get("DNE_FEED", DEFAULT_FEED),
                            help=f"feed address (default $DNE_FEED or {DEFAULT_FEED})")
        parser.add_argument("--token", default=None,
                            help="the API token the engine's commands need (default "
                                 "$DNE_API_TOKEN, else the file `make run` writes, "
                                 "$DNE_VAR_DIR/api-token or var/api-token); prefer those two: "
                                 "a command line is visible to other users in `ps`")
        if name in MONEY_COMMANDS:
            request_ids.add_option(parser)
        parser.set_defaults(handler=run, command_name=name)
        return parser

    command("markets", "the funding markets table").add_argument(
        "--all", action="store_true", help="prediction and settled markets too")
    command("status", "the engine's status and last account snapshot")
    command("start", "start the engine").add_argument(
        "--mode", default="paper", help="paper (default) or live")
    command("stop", "stop the engine")
    command("deposit", "move quote from the wallet into the venue").add_argument("amount")
    command("withdraw", "move quote from the venue into the wallet").add_argument("amount")
    opener = command("open", "open a position (a short on the hedge market buys its spot leg)")
    opener.add_argument("market")
    opener.add_argument("direction", choices=["long", "short"])
    opener.add_argument("size")
    opener.add_argument("--confirm", metavar="CONFIRMATION_ID", default="", help=CONFIRM_HELP)
    closer = command("close", "close a position")
    closer.add_argument("market")
    closer.add_argument("--confirm", metavar="CONFIRMATION_ID", default="", help=CONFIRM_HELP)
    closer.add_argument("--keep-spot", action="store_true",
                        help="keep the spot SOL a hedge-market short covered")


def run(args: argparse.Namespace) -> int:
    service, call = COMMANDS[args.command_name]
    address = args.feed if service == "feed" else args.engine
    sent_id = request_ids.resolve(args) if args.command_name in MONEY_COMMANDS else None
    try:
        # The feed is open to everyone; the token goes to the engine only.
        token = api_token(args) if service == "engine" else None
        # Mutual TLS when the services run with it (GRPC_TLS_*, as theirs).
        tls = TlsFiles.from_env(os.environ)
    except (TokenError, ValueError) as error:
        print(f"dne {args.command_name}: {error}", file=sys.stderr)
        return 2
    try:
        reply = asyncio.run(_invoke(call, args, address, token, tls))
    except grpc.aio.AioRpcError as error:
        retry = (f"; it may still have run: retry with --request-id {sent_id}"
                 if sent_id else "")
        print(f"dne {args.command_name}: the {service} at {address} answered "
              f"{error.code().name}: {error.details()}{retry}", file=sys.stderr)
        return 2
    result = getattr(reply, "result", None)
    refused = result is not None and not result.ok
    if args.json:
        print(json.dumps(MessageToDict(reply, preserving_proto_field_name=True), indent=2))
    else:
        _print_human(args.command_name, reply)
    return 1 if refused else 0


def api_token(args: argparse.Namespace) -> str | None:
    """--token, else $DNE_API_TOKEN, else the file the launcher wrote; None when none is set
    (the engine then refuses its commands and says how to send one)."""
    if args.token or os.environ.get("DNE_API_TOKEN"):
        return str(args.token or os.environ["DNE_API_TOKEN"]).strip()
    path = api_token_path(Path(os.environ.get("DNE_VAR_DIR", "var")))
    if not path.exists():
        return None
    return read_token_file(path, "the API token file").strip()


async def _invoke(call: Call, args: argparse.Namespace, address: str,
                  token: str | None, tls: TlsFiles | None) -> Message:
    async with open_channel(address, token, tls) as channel:
        return await call(args, channel)


def _print_human(name: str, reply: Any) -> None:
    console = output.console()
    if name == "markets":
        table = Table("market", "APR %", "rate 1h %", "receives", "OI $", "24h vol $", "status",
                      title=f"{reply.source} · as of {reply.as_of.ToJsonString()}")
        for market in reply.markets:
            # As the dashboard shows it: the wire's 34-digit decimal is for --json.
            table.add_row(market.symbol, f"{float(market.apr):+.2f}",
                          f"{float(market.rate_1h or 0) * 100:+.4f}",
                          market.direction, f"{float(market.open_interest):,.0f}",
                          f"{float(market.volume_24h):,.0f}", market.status)
        console.print(table)
        return
    if name == "status":
        status = reply.status
        console.print(f"engine: {'running ' + status.mode if status.running else 'stopped'}"
                      f"{'' if status.trading_enabled else ' · trading blocked: '}"
                      f"{status.blocked_reason}")
        snapshot = reply.snapshot
        if status.running and snapshot.health:
            # As the dashboard rounds them: the wire's full decimals are for --json.
            console.print(f"health {_fixed(snapshot.health, 2)} % · leverage "
                          f"{_fixed(snapshot.leverage, 2)}x · collateral "
                          f"{_fixed(snapshot.total_collateral, 2)} USD · net delta "
                          f"{_fixed(snapshot.net_delta, 4)} SOL")
            for position in snapshot.positions:
                console.print(f"  {position.market} {_side_name(position.side)} {position.size} "
                              f"@ {position.entry_price}, unrealized "
                              f"{_fixed(position.unrealized_pnl, 2)} USD")
        return
    result = reply.result
    replayed = (" (replayed: this request id ran before; nothing traded again)"
                if result.order.replayed else "")
    if result.ok:
        console.print(f"ok: {result.message}{replayed}")
    else:
        details = "".join(f"\n  {key}: {value}" for key, value in result.error.details.items())
        console.print(f"refused: {result.error.code}: {result.error.message}{replayed}{details}")
    if result.HasField("confirmation"):
        quote = result.confirmation
        console.print(f"to trade this quote, run the same command again within "
                      f"{quote.valid_for_ms // 1000} s with --confirm={quote.confirmation_id}",
                      soft_wrap=True)  # one line, '=' joined: copied as is, whatever it starts with


def _side_name(side: int) -> str:
    """The side as a word ("short"): a position's size is always positive, its side is the sign."""
    return common_pb2.Side.Name(side).removeprefix("SIDE_").lower()


def _fixed(wire: str, places: int) -> str:
    """A wire decimal rounded for people ("4999.230022750470" -> "4999.23"); as sent if not
    a number."""
    try:
        return f"{Decimal(wire):,.{places}f}"
    except (InvalidOperation, ValueError):
        return wire
