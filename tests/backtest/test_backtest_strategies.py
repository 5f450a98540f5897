"""carry and rotate decide with the engine's own rules: the rebalancer plan, the profitability
gate and fee guard; and neither looks at an hour it has not seen settle."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.backtest.data import BacktestData
from services.backtest.engine_gates import engine_defaults
from services.backtest.runner import BacktestRun, run_backtest
from services.backtest.strategies import Carry, Rotate
from services.engine.entry_economics import EntryCosts, assess_entry
from services.feed.settings import DEFAULT_DATA_DIR

DATA = BacktestData.load(DEFAULT_DATA_DIR)
START = datetime(2026, 1, 10, tzinfo=UTC)
END = datetime(2026, 3, 24, tzinfo=UTC)
HOUR = timedelta(hours=1)


def run(strategy, start: datetime = START, end: datetime = END,  # type: ignore[no-untyped-def]
        capital: str = "100000") -> BacktestRun:
    return asyncio.run(run_backtest(DATA, strategy, start, end, Decimal(capital)))


def test_the_carry_buys_spot_shorts_the_hedge_and_earns_sol_perps_recorded_funding() -> None:
    carry = run(Carry(Decimal(50)))
    kinds = [(t.kind, t.market, t.side, t.size) for t in carry.ledger.trades]
    assert kinds == [("spot_buy", "SOL", "long", 50), ("perp_open", "SOL-PERP", "short", 50),
                     ("perp_close", "SOL-PERP", "long", 50), ("spot_sell", "SOL", "short", 50)]
    # Neutral all along on held prices: no rebalance, and the funding is the SOL short's.
    assert {row.market for row in carry.ledger.hours} == {"SOL-PERP"}
    assert all(row.position == -50 for row in carry.ledger.hours)
    assert sum(row.funding_usd for row in carry.ledger.hours) < 0   # SOL shorts paid (2026)


def test_the_carry_enters_at_the_first_hour_the_engine_s_gates_pass_it() -> None:
    # Through the engine's gates the entry waits for an hour whose settled SOL rate pays the
    # short its round trip; past them it enters at once.
    gated = run(Carry(Decimal(50)))
    refusals = gated.ledger.refusals
    assert {(r.gate, r.code, r.market, r.side) for r in refusals} == {
        ("profitability", "UNPROFITABLE", "SOL-PERP", "short"),   # paid, or earned nothing
        ("fee_guard", "UNPROFITABLE", "SOL-PERP", "short")}      # earned, under 2x its costs
    entered = gated.ledger.trades[0].time
    assert [r.time for r in refusals] == [START + n * HOUR for n in range(len(refusals))]
    assert entered == refusals[-1].time + HOUR
    # The rate the gate read at the entry paid shorts, the one before it did not pay enough.
    assert DATA.rate("SOL-PERP", entered - HOUR).rate_1h > 0
    ungated = run(Carry(Decimal(50), gated=False))
    assert ungated.ledger.refusals == [] and ungated.ledger.trades[0].time == START
    # The gas reserve stays in the wallet and outside the equity: the last trade sells the
    # spot leg, not the reserve.
    assert gated.ledger.trades[-1].kind == "spot_sell" and gated.ledger.trades[-1].size == 50


def test_rotate_takes_the_next_market_where_the_engine_refuses_the_best() -> None:
    # SOL-PERP is the engine's hedge market: it takes no long there. Past the gates the
    # rotation goes long SOL-PERP when SOL shorts pay most; through them it takes the next.
    markets = ["BTC-PERP", "ETH-PERP", "SOL-PERP"]
    sol_longs = [t for t in run(Rotate(markets, gated=False)).ledger.trades
                 if (t.kind, t.market, t.side) == ("perp_open", "SOL-PERP", "long")]
    gated = run(Rotate(markets))
    assert sol_longs and gated.ledger.refusals == []
    opens = [t for t in gated.ledger.trades if t.kind == "perp_open"]
    assert opens and all((t.market, t.side) != ("SOL-PERP", "long") for t in opens)
    def best(moment: datetime) -> str:
        seen = {m: DATA.rate(m, moment - HOUR).rate_1h for m in markets}
        return max(seen, key=lambda m: abs(seen[m]))
    # Some entry was made while SOL-PERP's long side paid most: the next market was taken.
    assert any(best(t.time) == "SOL-PERP" and t.market != "SOL-PERP" for t in opens)


def test_rotate_never_decides_on_an_hour_that_has_not_settled() -> None:
    rotate = run(Rotate(["BTC-PERP", "ETH-PERP", "SOL-PERP"]), START, START + 5 * 24 * HOUR)
    assert rotate.ledger.trades and rotate.ledger.trades[0].time > START
    for trade in rotate.ledger.trades:
        if trade.kind != "perp_open":
            continue
        seen = {m: DATA.rate(m, trade.time - HOUR).rate_1h
                for m in ("BTC-PERP", "ETH-PERP", "SOL-PERP")}
        best = max(seen, key=lambda m: abs(seen[m]))
        assert trade.market == best
        assert trade.side == ("short" if seen[best] > 0 else "long")


def test_rotate_enters_only_what_the_engine_s_fee_guard_passes() -> None:
    # A horizon of one hour: no recorded rate pays twice its round trip in an hour.
    costs = EntryCosts.of(engine_defaults())
    short_horizon = EntryCosts(Decimal(1), costs.fee_guard_multiple, costs.tip_lamports,
                               costs.base_fee_lamports)
    refused = run(Rotate(["BTC-PERP", "ETH-PERP", "SOL-PERP"], costs=short_horizon))
    assert refused.ledger.trades == [] and refused.ledger.hours == []
    economics = assess_entry(size=Decimal(1), rate_1h=Decimal("0.00001"),
                             price=Decimal(100000), short=True, sol_price=Decimal(85),
                             spot_sol=Decimal(0), costs=short_horizon)
    assert not economics.decision.allowed and economics.decision.gate == "profitability"


def test_rotate_holds_at_least_its_minimum_and_switches_only_past_the_margin() -> None:
    rotate = run(Rotate(["BTC-PERP", "ETH-PERP", "SOL-PERP"], min_hold_hours=48,
                        switch_margin_apr=Decimal(15)))
    opens = [t for t in rotate.ledger.trades if t.kind == "perp_open"]
    closes = [t for t in rotate.ledger.trades if t.kind == "perp_close"]
    assert opens and len(closes) == len(opens)
    for opened, closed in zip(opens, closes, strict=True):
        assert closed.time - opened.time >= 48 * HOUR or closed.time == END


def test_the_default_rotation_set_is_the_markets_with_recorded_rates() -> None:
    assert DATA.recorded_markets(START, END) == ["BTC-PERP", "ETH-PERP", "SOL-PERP"]
    assert len(DATA.tradable_markets()) > 3


def test_a_short_the_venue_refuses_after_the_spot_leg_is_unwound_by_the_engine_s_entry(
        monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The carry's entry is the engine's HedgedEntry itself: when the paper venue refuses the
    short after the spot was bought, the spot is sold back (the engine's rollback leg) and the
    entry is asked again the next hour, where it goes through."""
    from services.common.venue import OrderKind, OrderResult
    from services.executor.paper_driver import PaperDriver

    opened = PaperDriver.open_position
    refused: list[str] = []

    async def refuse_the_first_short(self, order):  # type: ignore[no-untyped-def]
        if order.kind is OrderKind.PERP_OPEN and not refused:
            refused.append(order.client_order_id)
            return OrderResult.refused(order, "VENUE_REJECTED", "the venue is busy")
        return await opened(self, order)

    monkeypatch.setattr(PaperDriver, "open_position", refuse_the_first_short)
    start = datetime(2026, 2, 21, 1, tzinfo=UTC)   # the first hour the gates pass the short
    carry = run(Carry(Decimal(50)), start=start, end=start + 4 * HOUR)
    trades = [(t.time, t.kind, t.size, t.reason) for t in carry.ledger.trades]
    assert trades[:4] == [
        (start, "spot_buy", 50, "carry: buy the spot leg"),
        (start, "spot_sell", 50, "carry: the short was refused, sell the spot back"),
        (start + HOUR, "spot_buy", 50, "carry: buy the spot leg"),
        (start + HOUR, "perp_open", 50, "carry: short the hedge")]
    assert refused == ["backtest-carry-perp_open-1"]
    assert all(row.position == -50 for row in carry.ledger.hours[1:])
