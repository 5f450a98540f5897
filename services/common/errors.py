"""Error codes shared by every service, and the exception that carries one."""

from __future__ import annotations

from enum import StrEnum

from dne.common.v1 import common_pb2

# A refusal that travels as a gRPC status carries its stable code in the trailing metadata
# under this key (the vault's calls, the engine's backtests).
ERROR_CODE_METADATA = "dne-error-code"


class ErrorCode(StrEnum):
    # Input
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_SIZE = "INVALID_SIZE"
    INVALID_MARKET = "INVALID_MARKET"
    INVALID_DIRECTION = "INVALID_DIRECTION"
    INVALID_MODE = "INVALID_MODE"
    MISSING_REQUEST_ID = "MISSING_REQUEST_ID"
    INVALID_MESSAGE = "INVALID_MESSAGE"
    UNKNOWN_ACTION = "UNKNOWN_ACTION"
    INVALID_HOST = "INVALID_HOST"
    UNAUTHORIZED = "UNAUTHORIZED"
    RATE_LIMITED = "RATE_LIMITED"
    ENGINE_UNAVAILABLE = "ENGINE_UNAVAILABLE"
    # Market
    MARKET_NOT_TRADABLE = "MARKET_NOT_TRADABLE"
    MARKET_FUNDING_PAUSED = "MARKET_FUNDING_PAUSED"
    NO_POSITION = "NO_POSITION"
    # Capital and risk
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    INSUFFICIENT_COLLATERAL = "INSUFFICIENT_COLLATERAL"
    LEVERAGE_LIMIT = "LEVERAGE_LIMIT"
    HEALTH_LIMIT = "HEALTH_LIMIT"
    SIZE_LIMIT = "SIZE_LIMIT"
    UNPROFITABLE = "UNPROFITABLE"
    LATENCY_TOO_HIGH = "LATENCY_TOO_HIGH"
    INSUFFICIENT_GAS = "INSUFFICIENT_GAS"
    PRICE_LIMIT = "PRICE_LIMIT"
    PRICE_STALE = "PRICE_STALE"
    HEDGE_MARKET_LONG = "HEDGE_MARKET_LONG"
    CONFIRMATION_REQUIRED = "CONFIRMATION_REQUIRED"
    CONFIRMATION_EXPIRED = "CONFIRMATION_EXPIRED"
    CONFIRMATION_MISMATCH = "CONFIRMATION_MISMATCH"
    # Engine state
    ENGINE_NOT_RUNNING = "ENGINE_NOT_RUNNING"
    ENGINE_ALREADY_RUNNING = "ENGINE_ALREADY_RUNNING"
    LIVE_MODE_UNAVAILABLE = "LIVE_MODE_UNAVAILABLE"
    TRADING_DISABLED = "TRADING_DISABLED"
    VAULT_SYNC_ERROR = "VAULT_SYNC_ERROR"
    VAULT_UNAVAILABLE = "VAULT_UNAVAILABLE"
    FEED_UNAVAILABLE = "FEED_UNAVAILABLE"
    VENUE_UNAVAILABLE = "VENUE_UNAVAILABLE"
    VENUE_HALTED = "VENUE_HALTED"
    DUPLICATE_ORDER = "DUPLICATE_ORDER"
    VENUE_REJECTED = "VENUE_REJECTED"
    ORDER_PENDING = "ORDER_PENDING"
    NOT_FOUND = "NOT_FOUND"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    INTERNAL = "INTERNAL"


class DomainError(Exception):
    """A refusal with a stable code and a sentence a human can act on."""

    def __init__(self, code: ErrorCode, message: str, **details: object) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = {key: str(value) for key, value in details.items()}

    def to_proto(self) -> common_pb2.Error:
        return common_pb2.Error(code=self.code, message=self.message, details=self.details)
