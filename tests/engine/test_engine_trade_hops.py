"""dne_engine_trade_hop_seconds (issue 12): every hop of a trade is timed, so the share of each
in the order path is known."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import REGISTRY

from dne.common.v1 import common_pb2 as K
from services.engine.orders import TradeRequest
from tests.kit.engine_fakes import EngineHarness, hedge

HOPS = ("gates", "intent", "executor", "vault", "publish")


def samples(hop: str) -> float:
    return REGISTRY.get_sample_value("dne_engine_trade_hop_seconds_count", {"hop": hop}) or 0.0


async def test_a_filled_trade_is_timed_in_each_hop_of_its_path(running: EngineHarness) -> None:
    hedge(running.executor, Decimal(1), Decimal(0))
    before = {hop: samples(hop) for hop in HOPS}
    result = await running.engine.trade(TradeRequest(  # type: ignore[attr-defined]
        "hops-1", "DRIFT_OPEN_POSITION", K.TRADE_KIND_PERP_OPEN, "BTC-PERP", K.SIDE_SHORT,
        Decimal("0.001"), confirmed=True))
    assert result.ok, result.error
    assert {hop: samples(hop) - before[hop] for hop in HOPS} == dict.fromkeys(HOPS, 1.0)


async def test_a_replayed_request_id_is_timed_only_in_the_gates(running: EngineHarness) -> None:
    hedge(running.executor, Decimal(1), Decimal(0))
    request = TradeRequest("hops-2", "DRIFT_OPEN_POSITION", K.TRADE_KIND_PERP_OPEN, "BTC-PERP",
                           K.SIDE_SHORT, Decimal("0.001"), confirmed=True)
    assert (await running.engine.trade(request)).ok  # type: ignore[attr-defined]
    before = {hop: samples(hop) for hop in HOPS}
    replayed = await running.engine.trade(request)  # type: ignore[attr-defined]
    assert replayed.ok and replayed.order.replayed
    assert {hop: samples(hop) - before[hop] for hop in HOPS} == {
        "gates": 1.0, "intent": 0.0, "executor": 0.0, "vault": 0.0, "publish": 0.0}
