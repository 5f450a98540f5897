"""Untrusted command input -> TradeRequest. Every refusal carries a code and a sentence."""

from __future__ import annotations

import re
from decimal import Decimal

from dne.engine.v1 import engine_pb2
from services.common.decimals import parse_decimal
from services.common.errors import DomainError, ErrorCode
from services.common.venue import OrderKind, Side
from services.engine.trade_request import TradeRequest

MAX_REQUEST_ID = 128
SIZE_PLACES = 9     # SOL and Drift base amounts have 9 decimals
AMOUNT_PLACES = 6   # USDC has 6
_MARKET = re.compile(r"^[A-Z0-9]{1,20}-PERP$")
_REQUEST_ID = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces
MAX_CONFIRMATION_ID = 64
_CONFIRMATION_ID = re.compile(r"^[A-Za-z0-9_-]*$")  # secrets.token_urlsafe's alphabet

DEPOSIT = "DRIFT_DEPOSIT"
WITHDRAW = "DRIFT_WITHDRAW"
OPEN_POSITION = "DRIFT_OPEN_POSITION"
CLOSE_POSITION = "DRIFT_CLOSE_POSITION"
SETTLE_PNL = "DRIFT_SETTLE_PNL"
SWAP = "SWAP"
REBALANCE = "REBALANCE"
RESET_VAULT = "RESET_VAULT"
START_ENGINE = "START_ENGINE"
STOP_ENGINE = "STOP_ENGINE"


def parse_request_id(text: str) -> str:
    value = (text or "").strip()
    if not value:
        raise DomainError(ErrorCode.MISSING_REQUEST_ID,
                          "request_id is required: it makes a retried command safe")
    if len(value) > MAX_REQUEST_ID or not _REQUEST_ID.match(value):
        raise DomainError(ErrorCode.INVALID_ARGUMENT,
                          f"request_id must be 1-{MAX_REQUEST_ID} printable characters "
                          "without spaces")
    return value


def parse_confirmation_id(text: str) -> str:
    """Empty when the request confirms nothing; the engine's quotes decide the rest."""
    value = (text or "").strip()
    if len(value) > MAX_CONFIRMATION_ID or not _CONFIRMATION_ID.match(value):
        raise DomainError(ErrorCode.INVALID_ARGUMENT,
                          f"confirmation_id must be the id of the engine's quote: up to "
                          f"{MAX_CONFIRMATION_ID} letters, digits, '-' or '_'")
    return value


def parse_market(text: str) -> str:
    value = (text or "").strip().upper()
    if not _MARKET.match(value):
        raise DomainError(ErrorCode.INVALID_MARKET,
                          f"market must look like 'SOL-PERP', found {(text or '')[:40]!r}")
    return value


def parse_size(text: str) -> Decimal:
    return parse_decimal(text, "size", code=ErrorCode.INVALID_SIZE, positive=True,
                         places=SIZE_PLACES)


def parse_amount(text: str) -> Decimal:
    return parse_decimal(text, "amount", code=ErrorCode.INVALID_AMOUNT, positive=True,
                         places=AMOUNT_PLACES)


def _direction(text: str, choices: dict[str, Side]) -> Side:
    value = (text or "").strip().lower()
    if value not in choices:
        raise DomainError(ErrorCode.INVALID_DIRECTION,
                          f"direction must be one of {sorted(choices)}, "
                          f"found {(text or '')[:20]!r}")
    return choices[value]


def deposit(request: engine_pb2.DepositRequest) -> TradeRequest:
    return TradeRequest(parse_request_id(request.request_id), DEPOSIT, OrderKind.DEPOSIT,
                        "USDC", size=parse_amount(request.amount))


def withdraw(request: engine_pb2.WithdrawRequest) -> TradeRequest:
    return TradeRequest(parse_request_id(request.request_id), WITHDRAW, OrderKind.WITHDRAW,
                        "USDC", size=parse_amount(request.amount))


def open_position(request: engine_pb2.OpenPositionRequest) -> TradeRequest:
    request_id = parse_request_id(request.request_id)
    market = parse_market(request.market)
    side = _direction(request.direction, {"long": Side.LONG, "short": Side.SHORT})
    return TradeRequest(request_id, OPEN_POSITION, OrderKind.PERP_OPEN, market, side,
                        parse_size(request.size),
                        confirmation_id=parse_confirmation_id(request.confirmation_id))


def close_position(request: engine_pb2.ClosePositionRequest) -> TradeRequest:
    return TradeRequest(parse_request_id(request.request_id), CLOSE_POSITION,
                        OrderKind.PERP_CLOSE, parse_market(request.market),
                        reduce_only=True, unwind_spot=request.unwind_spot,
                        confirmation_id=parse_confirmation_id(request.confirmation_id))


def settle_pnl(request: engine_pb2.SettlePnlRequest) -> TradeRequest:
    return TradeRequest(parse_request_id(request.request_id), SETTLE_PNL,
                        OrderKind.SETTLE_PNL, parse_market(request.market))


def swap(request: engine_pb2.SwapRequest) -> TradeRequest:
    request_id = parse_request_id(request.request_id)
    side = _direction(request.direction, {"buy": Side.LONG, "sell": Side.SHORT})
    kind = OrderKind.SPOT_BUY if side is Side.LONG else OrderKind.SPOT_SELL
    return TradeRequest(request_id, SWAP, kind, "SOL", side, parse_size(request.size),
                        confirmation_id=parse_confirmation_id(request.confirmation_id))
