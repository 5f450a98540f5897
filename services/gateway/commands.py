"""Browser command frames: one pydantic model per action, a discriminated union on `action`.

Parsing never raises: a frame is either a Command or a FrameError with the code and sentence
the browser gets back (docs/protocol.md, "Malformed frames never close the connection")."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from services.common.decimals import parse_decimal
from services.common.errors import DomainError, ErrorCode

MAX_SIZE_SOL = Decimal(1_000_000)
MAX_AMOUNT_USD = Decimal(1_000_000_000)
MAX_PLACES = 18  # more than any amount needs; the engine holds each to its asset's precision
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
_ID = re.compile(ID_PATTERN)
POSITION_ACTIONS = frozenset({
    "DRIFT_OPEN_POSITION", "DRIFT_CLOSE_POSITION", "DRIFT_SETTLE_PNL", "DRIFT_SWAP",
})


def _bounded_decimal(limit: Decimal) -> Any:
    def parse(value: object) -> Decimal:
        # bool is an int in Python, and a float would already have rounded: refuse both.
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise PydanticCustomError("decimal_type", "must be a number or a decimal string")
        text = value if isinstance(value, str) else str(value)
        try:
            # Bounded in length, exponent and places before anything expands it (issue 11);
            # the venue's own precision (USDC 6, SOL 9) is the engine's to check.
            parsed = parse_decimal(text, "value", positive=True, places=MAX_PLACES)
        except DomainError as error:
            raise PydanticCustomError("decimal_value", error.message) from None
        if parsed > limit:
            raise PydanticCustomError("decimal_range", f"must be at most {limit:,}")
        return parsed

    return BeforeValidator(parse)


Size = Annotated[Decimal, _bounded_decimal(MAX_SIZE_SOL)]
Amount = Annotated[Decimal, _bounded_decimal(MAX_AMOUNT_USD)]
Market = Annotated[str, Field(min_length=1, max_length=32)]
CommandId = Annotated[str, Field(pattern=ID_PATTERN)]
# The engine's quote id (CONFIRMATION_REQUIRED); empty confirms nothing.
ConfirmationId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{0,64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Empty(_Strict):
    pass


class StartEnginePayload(_Strict):
    mode: Literal["paper", "live"]


class AmountPayload(_Strict):
    amount: Amount


class OpenPositionPayload(_Strict):
    market: Market
    direction: Literal["long", "short"]
    size: Size
    confirmed: StrictBool = False  # accepted for older clients; only confirmation_id confirms
    confirmation_id: ConfirmationId = ""


class ClosePositionPayload(_Strict):
    market: Market
    confirmed: StrictBool = False
    confirmation_id: ConfirmationId = ""
    unwind_spot: StrictBool = False


class SettlePnlPayload(_Strict):
    market: Market


class SwapPayload(_Strict):
    direction: Literal["buy", "sell"]
    size: Size
    confirmed: StrictBool = False
    confirmation_id: ConfirmationId = ""


class StartEngine(_Strict):
    action: Literal["START_ENGINE"]
    id: CommandId
    payload: StartEnginePayload


class StopEngine(_Strict):
    action: Literal["STOP_ENGINE"]
    id: CommandId
    payload: Empty = Empty()


class Deposit(_Strict):
    action: Literal["DRIFT_DEPOSIT"]
    id: CommandId
    payload: AmountPayload


class Withdraw(_Strict):
    action: Literal["DRIFT_WITHDRAW"]
    id: CommandId
    payload: AmountPayload


class OpenPosition(_Strict):
    action: Literal["DRIFT_OPEN_POSITION"]
    id: CommandId
    payload: OpenPositionPayload


class ClosePosition(_Strict):
    action: Literal["DRIFT_CLOSE_POSITION"]
    id: CommandId
    payload: ClosePositionPayload


class SettlePnl(_Strict):
    action: Literal["DRIFT_SETTLE_PNL"]
    id: CommandId
    payload: SettlePnlPayload


class Swap(_Strict):
    action: Literal["DRIFT_SWAP"]
    id: CommandId
    payload: SwapPayload


class Ping(_Strict):
    action: Literal["PING"]
    id: CommandId
    payload: Empty = Empty()


Command = Annotated[
    StartEngine | StopEngine | Deposit | Withdraw | OpenPosition | ClosePosition | SettlePnl
    | Swap | Ping,
    Field(discriminator="action"),
]
_COMMAND: TypeAdapter[Any] = TypeAdapter(Command)
ACTIONS = ("START_ENGINE", "STOP_ENGINE", "DRIFT_DEPOSIT", "DRIFT_WITHDRAW",
           "DRIFT_OPEN_POSITION", "DRIFT_CLOSE_POSITION", "DRIFT_SETTLE_PNL", "DRIFT_SWAP",
           "PING")

# A field's own code, the one the engine would answer for the same mistake.
_FIELD_CODES = {
    "size": ErrorCode.INVALID_SIZE, "amount": ErrorCode.INVALID_AMOUNT,
    "direction": ErrorCode.INVALID_DIRECTION, "market": ErrorCode.INVALID_MARKET,
    "mode": ErrorCode.INVALID_MODE,
}


@dataclass(frozen=True)
class FrameError:
    code: str
    message: str
    id: str | None = None
    action: str = ""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _decode(text: str | bytes) -> Any:
    # Numbers as Decimal: "size": 0.1 stays 0.1, never the float 0.1000000000000000055.
    return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)


def frame_id(frame: Any) -> str | None:
    """The frame's id when it is a valid one (it is echoed back), else None."""
    if isinstance(frame, dict):
        value = frame.get("id")
        if isinstance(value, str) and _ID.match(value):
            return value
    return None


def parse_frame(text: str | bytes) -> Any:
    """Answers a Command model or a FrameError."""
    try:
        frame = _decode(text)
    except (ValueError, RecursionError):
        return FrameError(ErrorCode.INVALID_MESSAGE,
                          "the frame is not valid JSON: send one JSON object per frame")
    if not isinstance(frame, dict):
        return FrameError(ErrorCode.INVALID_MESSAGE,
                          "the frame must be a JSON object with action, id and payload")
    command_id = frame_id(frame)
    action = frame.get("action")
    if not isinstance(action, str):
        return FrameError(ErrorCode.INVALID_MESSAGE,
                          "the frame has no action: expected a string like 'PING'", command_id)
    if action not in ACTIONS:
        return FrameError(ErrorCode.UNKNOWN_ACTION,
                          f"unknown action {action[:40]!r}; expected one of {', '.join(ACTIONS)}",
                          command_id)
    try:
        return _COMMAND.validate_python(frame)
    except ValidationError as error:
        return _invalid(error, command_id, action)


def _invalid(error: ValidationError, command_id: str | None, action: str) -> FrameError:
    first = error.errors(include_url=False, include_input=False)[0]
    path = [str(part) for part in first["loc"] if not str(part).startswith(action)]
    field = path[-1] if path else "frame"
    code = _FIELD_CODES.get(field, ErrorCode.INVALID_ARGUMENT)
    if path == ["id"]:
        problem = "must be 1-64 characters of letters, digits, '_', '.', ':' or '-'"
    else:
        problem = first["msg"]
    return FrameError(code, f"{'.'.join(path) or 'frame'}: {problem}", command_id, action)
