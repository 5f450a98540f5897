"""Proto messages -> the JSON of docs/protocol.md.

Display values become JSON numbers (design.md's frontend models); a value the backend does not
know (an empty decimal string) becomes null. Timestamps are ISO 8601 UTC with a trailing Z."""

from __future__ import annotations

import logging
import math
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from dne.common.v1 import common_pb2
from dne.engine.v1 import engine_pb2
from dne.feed.v1 import feed_pb2
from services.common.timeutil import from_timestamp, is_set

log = logging.getLogger(__name__)
SIDES = {common_pb2.SIDE_LONG: "long", common_pb2.SIDE_SHORT: "short"}
STALE_AFTER_SECONDS = 300.0


def number(text: str) -> float | None:
    """A decimal string as a JSON number for display; empty, junk or beyond a float is null.

    1E+400 is a finite Decimal but an infinite float, which no JSON frame can carry: it would
    have stopped every browser's updates, so it is null and said once in the log."""
    if not text:
        return None
    try:
        exact = Decimal(text)
    except InvalidOperation:
        return None
    if not exact.is_finite():
        return None  # "Infinity" is a health ratio without margin: expected, not news
    value = float(exact)
    if math.isfinite(value):
        return value
    _warn_once(text)
    return None


_warned = False


def _warn_once(text: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning("a value no JSON number can hold is sent as null (said once)",
                    extra={"value": text[:40]})


def iso(stamp: Timestamp) -> str | None:
    if not is_set(stamp):
        return None
    return from_timestamp(stamp).isoformat().replace("+00:00", "Z")


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix)
    except ValueError:
        return "UNSPECIFIED"


# --- feed ------------------------------------------------------------------------------------

def funding_market(market: feed_pb2.FundingMarket) -> dict[str, Any]:
    return {
        "symbol": market.symbol,
        "market_index": market.market_index,
        "rate_1h": number(market.rate_1h),
        "rate_8h": number(market.rate_8h),
        "apr": number(market.apr),
        "direction": market.direction,
        "open_interest": number(market.open_interest),
        "volume_24h": number(market.volume_24h),
        "oracle_price": number(market.oracle_price),
        "mark_price": number(market.mark_price),
        "status": market.status,
        "tradable": market.tradable,
        "not_tradable_reason": market.not_tradable_reason,
        "rate_source": market.rate_source,
        "rate_period_start": iso(market.rate_period_start),
        "contract_tier": market.contract_tier,
    }


def _apr_key(market: feed_pb2.FundingMarket) -> Decimal:
    try:
        value = Decimal(market.apr)
    except InvalidOperation:
        return Decimal("-Infinity")
    return value if value.is_finite() else Decimal("-Infinity")


def markets_table(reply: feed_pb2.ListFundingMarketsResponse) -> dict[str, Any]:
    return {**market_listing(reply), **listing_freshness(reply)}


def market_listing(reply: feed_pb2.ListFundingMarketsResponse) -> dict[str, Any]:
    """The markets, their stats and source: the same until the feed's table changes."""
    ordered = sorted(reply.markets, key=_apr_key, reverse=True)
    stats = reply.stats
    return {
        "markets": [funding_market(market) for market in ordered],
        "stats": {
            "total_oi": number(stats.total_oi) or 0.0,
            "volume_24h": number(stats.volume_24h) or 0.0,
            "avg_funding": number(stats.avg_funding) or 0.0,
            "avg_apr": number(stats.avg_apr) or 0.0,
            "market_count": stats.market_count,
        },
        "source": reply.source,
    }


# The fields of an answer that change with every answer (the moment, its age, the notes).
FRESHNESS_FIELDS = ("as_of", "data_age_seconds", "model_notes")


def listing_freshness(reply: feed_pb2.ListFundingMarketsResponse) -> dict[str, Any]:
    """When the answer was true and how old its data is: new with every answer."""
    return {
        "as_of": iso(reply.as_of),
        "data_age_seconds": _age(reply.data_age_seconds),
        "stale": not reply.data_age_seconds <= STALE_AFTER_SECONDS,  # NaN is stale too
        "model_notes": list(reply.model_notes),
    }


def _age(seconds: float) -> float:
    """An unknown (NaN) or endless age as the largest float: JSON has no infinity."""
    return seconds if math.isfinite(seconds) else sys.float_info.max


def funding_record(record: feed_pb2.FundingRecord) -> dict[str, Any]:
    return {
        "period_start": iso(record.period_start),
        "rate_1h": number(record.rate_1h),
        "apr": number(record.apr),
        "source": record.source,
    }


# --- engine ----------------------------------------------------------------------------------

def position(item: common_pb2.Position) -> dict[str, Any]:
    return {
        "market": item.market,
        "side": SIDES.get(item.side, ""),
        "size": number(item.size),
        "entry_price": number(item.entry_price),
        "mark_price": number(item.mark_price),
        "unrealized_pnl": number(item.unrealized_pnl),
        "settled_pnl": number(item.settled_pnl),
        "total_pnl": number(item.total_pnl),
        "liq_price": number(item.liq_price),
        "notional": number(item.notional),
        "funding_pnl": number(item.funding_pnl),
    }


def funding_update(update: engine_pb2.FundingUpdate) -> dict[str, Any]:
    return {
        "timestamp": iso(update.timestamp),
        "spot_sol": number(update.spot_sol),
        "perp_sol": number(update.perp_sol),
        "net_delta": number(update.net_delta),
        "drift_pct": number(update.drift_pct),
        "sol_price": number(update.sol_price),
        "health": number(update.health),
        "total_collateral": number(update.total_collateral),
        "equity": number(update.equity),
        "maintenance_margin": number(update.maintenance_margin),
        "leverage": number(update.leverage),
        "positions": [position(item) for item in update.positions],
        "free_collateral": number(update.free_collateral),
        "mode": update.mode,
        "wallet_usdc": number(update.wallet_usdc),
        "funding_received": number(update.funding_received),
        "trading_enabled": update.trading_enabled,
        "blocked_reason": update.blocked_reason,
    }


def engine_status(status: engine_pb2.EngineStatus) -> dict[str, Any]:
    return {
        "running": status.running,
        "mode": status.mode,
        "trading_enabled": status.trading_enabled,
        "blocked_reason": status.blocked_reason,
        "last_rebalance": iso(status.last_rebalance),
        "venue": status.venue,
        "hedge_market": status.hedge_market,
        "max_leverage": number(status.max_leverage),
    }


def error(item: common_pb2.Error) -> dict[str, Any]:
    details: dict[str, Any] = dict(item.details)
    if "estimated_fees" in details and "fees" not in details:
        details["fees"] = details["estimated_fees"]  # the name docs/protocol.md promises
    return {"code": item.code, "message": item.message, "details": details}


def order(result: common_pb2.OrderResult) -> dict[str, Any]:
    return {
        "status": _enum_name(common_pb2.TradeStatus, result.status, "TRADE_STATUS_"),
        "market": result.market,
        "side": SIDES.get(result.side, ""),
        "filled_size": number(result.filled_size),
        "fill_price": number(result.fill_price),
        "fee": number(result.fee),
        "notional": number(result.notional),
        "tx_signature": result.tx_signature,
        # True when this command id was seen before: the stored outcome, nothing traded again.
        "replayed": result.replayed,
    }


def command_result(result: engine_pb2.CommandResult, action: str) -> dict[str, Any]:
    """`action` is the browser's name for it (the engine calls DRIFT_SWAP "SWAP")."""
    return {
        "ok": result.ok,
        "action": action,
        "message": result.message,
        "error": None if result.ok or not result.HasField("error") else error(result.error),
        "order": order(result.order) if result.HasField("order") else None,
        "confirmation": (confirmation(result.confirmation)
                         if result.HasField("confirmation") else None),
    }


def confirmation(quote: engine_pb2.Confirmation) -> dict[str, Any]:
    """The engine's quote of a trade over the threshold: shown to the user, and its id sent
    back with the same trade to confirm it."""
    return {
        "confirmation_id": quote.confirmation_id,
        "market": quote.market,
        "side": quote.side,
        "size": number(quote.size),
        "price": number(quote.price),
        "notional": number(quote.notional),
        "estimated_fees": number(quote.estimated_fees),
        "expires_at": iso(quote.expires_at),
        "valid_for_ms": quote.valid_for_ms,
        "price_tolerance": number(quote.price_tolerance),
    }


def health_alert(alert: engine_pb2.HealthAlert) -> dict[str, Any]:
    return {"level": alert.level, "health": number(alert.health), "message": alert.message}


def vault_sync_error(event: engine_pb2.VaultSyncError) -> dict[str, Any]:
    return {"attempts": event.attempts,
            "error": {"code": event.error.code, "message": event.error.message}}


def rebalance(event: engine_pb2.RebalanceEvent) -> dict[str, Any]:
    result = event.result
    return {
        "action": event.plan.action,
        "correction_size": number(event.plan.correction_size),
        "drift_pct": number(event.plan.drift_pct),
        "ok": result.ok,
        "error": (None if result.ok or not result.HasField("error")
                  else {"code": result.error.code, "message": result.error.message}),
    }


def engine_event(event: engine_pb2.EngineEvent) -> dict[str, Any] | None:
    """A stream event as a browser message; command results are answered to their sender
    directly, so they are not broadcast (they carry another browser's ids)."""
    kind = event.WhichOneof("payload")
    if kind == "funding_update":
        return {"type": "FUNDING_UPDATE", "payload": funding_update(event.funding_update)}
    if kind == "engine_status":
        return {"type": "ENGINE_STATUS", "payload": engine_status(event.engine_status)}
    if kind == "health_alert":
        return {"type": "HEALTH_ALERT", "payload": health_alert(event.health_alert)}
    if kind == "vault_sync_error":
        return {"type": "VAULT_SYNC_ERROR", "payload": vault_sync_error(event.vault_sync_error)}
    if kind == "rebalance":
        return {"type": "REBALANCE", "payload": rebalance(event.rebalance)}
    return None
