"""A browser command -> the engine's RPC -> a COMMAND_RESULT message (always one, with a code
and a message on failure: properties 39 and 40)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.context import Context

from dne.engine.v1 import engine_pb2 as E
from dne.engine.v1 import engine_pb2_grpc
from services.common.decimals import to_wire
from services.common.errors import ErrorCode
from services.common.telemetry import (
    ATTR_ACTION,
    ATTR_ERROR_CODE,
    ATTR_MARKET,
    ATTR_RESULT_OK,
    ATTR_SIDE,
    ATTR_SIZE,
    ATTR_TX_SIGNATURE,
)
from services.gateway import commands as C
from services.gateway import wire
from services.gateway.errors import ApiError
from services.gateway.markets import MarketDirectory
from services.gateway.rate_limits import SIGNED_IN, RateLimits, describe
from services.gateway.request_ids import RequestIds

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


def result_message(
    command_id: str | None, action: str, *, ok: bool, message: str,
    error: dict[str, Any] | None = None, order: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {"type": "COMMAND_RESULT", "id": command_id, "payload": {
        "ok": ok, "action": action, "message": message, "error": error, "order": order}}


def failure(command_id: str | None, action: str, code: str, message: str,
            details: dict[str, Any] | None = None) -> dict[str, Any]:
    return result_message(command_id, action, ok=False, message=message,
                          error={"code": code, "message": message, "details": details or {}})


class CommandDispatcher:
    def __init__(
        self, engine: engine_pb2_grpc.EngineServiceStub, markets: MarketDirectory,
        rate_limits: RateLimits, request_ids: RequestIds, *, timeout: float,
        max_frame_bytes: int,
    ) -> None:
        self._max_frame_bytes = max_frame_bytes
        self._request_ids = request_ids
        self._engine = engine
        self._markets = markets
        self._limits = rate_limits
        self._timeout = timeout

    async def admit(self, connection_id: str) -> dict[str, Any] | None:
        """The per-connection frame limit (5/s); answers a refusal when over it."""
        wait = await self._limits.retry_after(self._limits.ws_commands, "ws", connection_id)
        if wait is None:
            return None
        return {"code": ErrorCode.RATE_LIMITED, "retry_after_seconds": round(wait, 3),
                "message": f"too many commands: at most {describe(self._limits.ws_commands)} "
                           f"per connection; retry in {wait:.1f} s"}

    async def handle(self, frame: str | bytes, connection_id: str) -> dict[str, Any]:
        limited = await self.admit(connection_id)
        size = len(frame) if isinstance(frame, bytes) else len(frame.encode(errors="replace"))
        if size > self._max_frame_bytes:
            parsed: Any = C.FrameError(
                ErrorCode.INVALID_MESSAGE,
                f"the frame is {size} bytes; the limit is {self._max_frame_bytes} bytes")
        else:
            parsed = C.parse_frame(frame)
        if isinstance(parsed, C.FrameError):
            if limited:
                return failure(parsed.id, parsed.action, ErrorCode.RATE_LIMITED,
                               limited["message"],
                               {"retry_after_seconds": limited["retry_after_seconds"]})
            return failure(parsed.id, parsed.action, parsed.code, parsed.message)
        if limited:
            return failure(parsed.id, parsed.action, ErrorCode.RATE_LIMITED, limited["message"],
                           {"retry_after_seconds": limited["retry_after_seconds"]})
        try:
            return await self._execute(parsed)
        except ApiError as error:
            return failure(parsed.id, parsed.action, error.code, error.message, error.details)
        except grpc.aio.AioRpcError as error:
            timed_out = error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            log.warning("engine call failed", extra={"action": parsed.action,
                                                     "grpc_code": error.code().name})
            message = (f"the engine did not answer within {self._timeout:g} s; the command may "
                       "still complete: check the positions before sending it again"
                       if timed_out else "the engine is unavailable; retry shortly")
            return failure(parsed.id, parsed.action, ErrorCode.ENGINE_UNAVAILABLE, message)
        except Exception as error:  # a bug must still answer the browser (property 40)
            log.error("command failed unexpectedly", extra={"action": parsed.action},
                      exc_info=error)
            return failure(parsed.id, parsed.action, ErrorCode.INTERNAL,
                           "the gateway could not process this command; it was logged")

    async def _execute(self, command: Any) -> dict[str, Any]:
        # One span per browser command: the root of the trace through engine, feed, executor
        # and vault (the gRPC client interceptor carries it in metadata).
        # A root of its own (not a child of the long-lived WebSocket span): one trace per
        # command, linked to the connection it came through.
        connection = trace.get_current_span().get_span_context()
        links = [trace.Link(connection)] if connection.is_valid else []
        with tracer.start_as_current_span(
            f"command {command.action}", context=Context(), links=links
        ) as span:
            span.set_attribute(ATTR_ACTION, command.action)
            payload = getattr(command, "payload", None)
            for attribute, field in ((ATTR_MARKET, "market"), (ATTR_SIDE, "direction"),
                                     (ATTR_SIZE, "size")):
                value = getattr(payload, field, None)
                if value is not None:
                    span.set_attribute(attribute, str(value))
            message = await self._execute_traced(command)
            result = message.get("payload", {})
            span.set_attribute(ATTR_RESULT_OK, bool(result.get("ok")))
            if result.get("error"):
                span.set_attribute(ATTR_ERROR_CODE, str(result["error"].get("code", "")))
            if (result.get("order") or {}).get("tx_signature"):
                span.set_attribute(ATTR_TX_SIGNATURE, result["order"]["tx_signature"])
            return message

    async def _execute_traced(self, command: Any) -> dict[str, Any]:
        if isinstance(command, C.Ping):
            return result_message(command.id, command.action, ok=True, message="pong")
        if command.action in C.POSITION_ACTIONS:
            # The account's budget: every connection holds the one token, so neither many
            # addresses nor an ingress in front changes how many operations pass.
            wait = await self._limits.retry_after(self._limits.position_ops, "ops", SIGNED_IN)
            if wait is not None:
                raise ApiError(429, ErrorCode.RATE_LIMITED,
                               f"too many position operations: at most "
                               f"{describe(self._limits.position_ops)}; retry in {wait:.0f} s",
                               {"retry_after_seconds": round(wait, 3)})
        if isinstance(command, C.OpenPosition):
            await self._check_tradable(command.payload.market)
        # Per token, not per connection: a command retried after a reconnection is the same one.
        reply = await self._rpc(command, self._request_ids.for_command(command.id))
        return {"type": "COMMAND_RESULT", "id": command.id,
                "payload": wire.command_result(reply.result, command.action)}

    async def _check_tradable(self, market: str) -> None:
        tradable = await self._markets.tradable()
        if market.upper() not in tradable:
            raise ApiError(400, ErrorCode.INVALID_MARKET,
                           f"market {market[:32]!r} is not a tradable market; expected one of "
                           f"{', '.join(sorted(tradable)) or 'none (the feed lists none)'}")

    def _rpc(self, command: Any, rid: str) -> Awaitable[Any]:
        engine, timeout = self._engine, self._timeout
        payload = command.payload
        match command:
            case C.StartEngine():
                return engine.StartEngine(E.StartEngineRequest(request_id=rid, mode=payload.mode),
                                          timeout=timeout)
            case C.StopEngine():
                return engine.StopEngine(E.StopEngineRequest(request_id=rid), timeout=timeout)
            case C.Deposit():
                return engine.Deposit(E.DepositRequest(
                    request_id=rid, amount=to_wire(payload.amount)), timeout=timeout)
            case C.Withdraw():
                return engine.Withdraw(E.WithdrawRequest(
                    request_id=rid, amount=to_wire(payload.amount)), timeout=timeout)
            case C.OpenPosition():
                return engine.OpenPosition(E.OpenPositionRequest(
                    request_id=rid, market=payload.market.upper(), direction=payload.direction,
                    size=to_wire(payload.size), confirmation_id=payload.confirmation_id),
                    timeout=timeout)
            case C.ClosePosition():
                return engine.ClosePosition(E.ClosePositionRequest(
                    request_id=rid, market=payload.market.upper(), settle_pnl=True,
                    confirmation_id=payload.confirmation_id, unwind_spot=payload.unwind_spot),
                    timeout=timeout)
            case C.SettlePnl():
                return engine.SettlePnl(E.SettlePnlRequest(
                    request_id=rid, market=payload.market.upper()), timeout=timeout)
            case C.Swap():
                return engine.Swap(E.SwapRequest(
                    request_id=rid, direction=payload.direction, size=to_wire(payload.size),
                    confirmation_id=payload.confirmation_id), timeout=timeout)
        raise AssertionError(f"no engine call for {type(command).__name__}")
