"""In-memory fakes of the feed, executor and vault stubs for the engine's tests.

Each fake has the async method names of the real stub (and of the servicer: the same objects
serve over a real grpc.aio server), answers real proto messages, and behaves like a paper venue
closely enough: wallet and sub-account balances, positions with entry prices and PnL, margin,
health, funding payments, idempotent client order ids, and knobs for failures."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import grpc

from dne.common.v1 import common_pb2 as K
from dne.executor.v1 import executor_pb2, executor_pb2_grpc
from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from dne.vault.v1 import vault_pb2, vault_pb2_grpc
from services.common.clock import ManualClock
from services.common.decimals import from_wire, to_wire
from services.common.timeutil import from_timestamp, is_set, to_timestamp
from services.engine.settings import EngineSettings

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ZERO = Decimal(0)
SOL_PRICE = Decimal(150)


def transport_error(
    code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE, details: str = "fake: unreachable"
) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


# --- feed ----------------------------------------------------------------------------------

@dataclass
class MarketSpec:
    symbol: str
    rate_1h: Decimal = Decimal("0.0001")
    tradable: bool = True
    status: str = "active"
    margin_ratio_initial: Decimal = Decimal("0.1")
    margin_ratio_maintenance: Decimal = Decimal("0.05")


DEFAULT_MARKETS = (
    MarketSpec("SOL-PERP"),
    MarketSpec("BTC-PERP", rate_1h=Decimal("0.00005")),
    MarketSpec("ETH-PERP", rate_1h=Decimal("-0.00002")),
    MarketSpec("PAUSED-PERP", tradable=False, status="funding_paused"),
)
DEFAULT_PRICES = {"SOL-PERP": SOL_PRICE, "BTC-PERP": Decimal(60000), "ETH-PERP": Decimal(3000),
                  "PAUSED-PERP": Decimal(2)}


class FakeFeed:
    def __init__(
        self,
        clock: ManualClock,
        markets: Iterable[MarketSpec] = DEFAULT_MARKETS,
        prices: dict[str, Decimal] | None = None,
    ) -> None:
        self.clock = clock
        self.markets = {market.symbol: market for market in markets}
        self.prices = dict(prices or DEFAULT_PRICES)
        self.available = True
        self.calls: list[str] = []

    def _check(self, method: str) -> None:
        self.calls.append(method)
        if not self.available:
            raise transport_error()

    def _price(self, market: str) -> feed_pb2.Price:
        price = to_wire(self.prices[market])
        return feed_pb2.Price(
            market=market, mark_price=price, oracle_price=price, oracle_twap=price,
            as_of=to_timestamp(self.clock.now()), price_source="snapshot_held")

    def _prices(self, markets: Iterable[str]) -> list[feed_pb2.Price]:
        """As the feed answers `with_prices`: each market it has a price for, once."""
        return [self._price(market) for market in dict.fromkeys(markets) if market in self.prices]

    async def GetPrice(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check("GetPrice")
        if request.market not in self.prices:
            raise transport_error(grpc.StatusCode.NOT_FOUND, f"no market {request.market}")
        return feed_pb2.GetPriceResponse(price=self._price(request.market))

    async def ListFundingMarkets(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check("ListFundingMarkets")
        reply = feed_pb2.ListFundingMarketsResponse(as_of=to_timestamp(self.clock.now()),
                                                    source="replay",
                                                    prices=self._prices(request.with_prices))
        for spec in self.markets.values():
            if not spec.tradable and not request.include_untradable:
                continue
            price = to_wire(self.prices.get(spec.symbol, ZERO))
            reply.markets.append(feed_pb2.FundingMarket(
                symbol=spec.symbol, rate_1h=to_wire(spec.rate_1h),
                rate_8h=to_wire(spec.rate_1h * 8), oracle_price=price, mark_price=price,
                status=spec.status, contract_type="perpetual", tradable=spec.tradable,
                margin_ratio_initial=to_wire(spec.margin_ratio_initial),
                margin_ratio_maintenance=to_wire(spec.margin_ratio_maintenance)))
        return reply

    async def GetClock(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check("GetClock")
        # Paused, so the engine's FeedClock never extrapolates: tests move time explicitly.
        return feed_pb2.GetClockResponse(clock=feed_pb2.Clock(
            now=to_timestamp(self.clock.now()), speed=1.0, paused=True, mode="replay",
            start=to_timestamp(START)), prices=self._prices(request.with_prices))


# --- executor (a paper venue) --------------------------------------------------------------

@dataclass
class FakePosition:
    size: Decimal          # signed: negative is short
    entry_price: Decimal
    funding_pnl: Decimal = ZERO


@dataclass
class SubAccount:
    quote: Decimal = ZERO
    positions: dict[str, FakePosition] = field(default_factory=dict)
    payments: list[K.FundingPayment] = field(default_factory=list)


class FakeExecutor:
    def __init__(
        self,
        feed: FakeFeed,
        *,
        usdc: Decimal = Decimal(10000),
        sol: Decimal = Decimal(1),
        venue: str = "paper",
        account: str = "paper-wallet",
    ) -> None:
        self.feed = feed
        self.wallet_usdc = usdc
        self.wallet_sol = sol
        self.venue = venue
        self.account = account
        self.subs: dict[int, SubAccount] = {}
        self.orders: dict[str, tuple[K.OrderResult, K.OrderResult | None]] = {}
        self.order_calls: list[tuple[str, str]] = []
        self.last_requests: dict[str, object] = {}
        self.latency_ms = 5.0
        self.connected = True
        self.halted = False
        self.available = True
        self.transport_failures = 0   # the next N order calls fail before reaching the venue
        self.lost_replies = 0         # the next N order calls trade, then the reply is lost
        self.failing_orders = 0       # the next N orders FAIL at the venue (nothing changes)
        self.failing_methods: set[str] = set()  # orders through these RPCs FAIL at the venue
        self.pending_methods: set[str] = set()  # these are sent but answered PENDING (unconfirmed)
        self.landing: dict[str, object] = {}    # pending orders' trades, applied by confirm()
        self.answers_account_after = True  # False: an executor that never carries the account
        self.fee_rate = Decimal("0.001")

    # knobs for test set-up ---------------------------------------------------------------

    def sub(self, sub_account: int = 0) -> SubAccount:
        return self.subs.setdefault(sub_account, SubAccount())

    def set_position(self, market: str, size: Decimal, entry: Decimal | None = None,
                     sub_account: int = 0) -> None:
        if size == 0:
            self.sub(sub_account).positions.pop(market, None)
            return
        self.sub(sub_account).positions[market] = FakePosition(
            size, entry if entry is not None else self._price(market))

    def pay_funding(self, market: str, rate_1h: Decimal, period_start: datetime,
                    sub_account: int = 0) -> Decimal:
        """Settles one funding hour: positive rates pay shorts."""
        position = self.sub(sub_account).positions.get(market)
        if position is None:
            return ZERO
        price = self._price(market)
        amount = -position.size * rate_1h * price
        self.sub(sub_account).quote += amount
        position.funding_pnl += amount
        self.sub(sub_account).payments.append(K.FundingPayment(
            payment_id=f"{sub_account}:{market}:{int(period_start.timestamp())}",
            market=market, period_start=to_timestamp(period_start), rate_1h=to_wire(rate_1h),
            side=K.SIDE_SHORT if position.size < 0 else K.SIDE_LONG,
            size=to_wire(abs(position.size)), oracle_price=to_wire(price),
            amount=to_wire(amount)))
        return amount

    # reads -------------------------------------------------------------------------------

    def _check(self) -> None:
        if not self.available:
            raise transport_error()

    def _price(self, market: str) -> Decimal:
        return self.feed.prices["SOL-PERP" if market == "SOL" else market]

    async def GetVenueStatus(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check()
        return executor_pb2.GetVenueStatusResponse(
            venue=self.venue, connected=self.connected, latency_ms=self.latency_ms,
            trading_halted=self.halted, account=self.account,
            as_of=to_timestamp(self.feed.clock.now()))

    def state(self, sub_account: int = 0, since: datetime | None = None) -> K.AccountState:
        sub = self.sub(sub_account)
        unrealized = ZERO
        maintenance = ZERO
        initial = ZERO
        notional_total = ZERO
        positions = []
        for market, position in sub.positions.items():
            price = self._price(market)
            spec = self.feed.markets[market]
            notional = abs(position.size) * price
            pnl = (price - position.entry_price) * position.size
            unrealized += pnl
            maintenance += notional * spec.margin_ratio_maintenance
            initial += notional * spec.margin_ratio_initial
            notional_total += notional
            positions.append(K.Position(
                market=market, side=K.SIDE_SHORT if position.size < 0 else K.SIDE_LONG,
                size=to_wire(abs(position.size)), entry_price=to_wire(position.entry_price),
                mark_price=to_wire(price), unrealized_pnl=to_wire(pnl),
                total_pnl=to_wire(pnl), notional=to_wire(notional),
                funding_pnl=to_wire(position.funding_pnl)))
        collateral = sub.quote + unrealized
        if maintenance == 0 and collateral >= 0:
            health = Decimal(100)
        elif collateral <= 0:
            health = ZERO
        else:
            health = max(ZERO, min(Decimal(100), 100 * (1 - maintenance / collateral)))
        leverage = notional_total / collateral if notional_total and collateral > 0 else ZERO
        payments = [p for p in sub.payments
                    if since is None or from_timestamp(p.period_start) >= since]
        return K.AccountState(
            account=self.account, sub_account=sub_account, venue=self.venue,
            collateral=to_wire(collateral), free_collateral=to_wire(max(ZERO,
                                                                         collateral - initial)),
            equity=to_wire(collateral), positions=positions, health_ratio=to_wire(health, 4),
            leverage=to_wire(leverage, 6), margin_requirement=to_wire(maintenance),
            initial_margin_requirement=to_wire(initial), quote_balance=to_wire(sub.quote),
            wallet=K.Wallet(usdc=to_wire(self.wallet_usdc), sol=to_wire(self.wallet_sol)),
            funding_payments=payments, as_of=to_timestamp(self.feed.clock.now()))

    async def GetAccountState(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check()
        since = from_timestamp(request.funding_since) if is_set(request.funding_since) else None
        response = executor_pb2.GetAccountStateResponse(
            state=self.state(request.sub_account, since))
        if request.with_venue_status:
            response.venue.CopyFrom(await self.GetVenueStatus(None))
        return response

    async def GetOrder(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check()
        stored = self.orders.get(request.client_order_id)
        if stored is None:
            return executor_pb2.GetOrderResponse(found=False)
        return executor_pb2.GetOrderResponse(found=True, result=stored[0])

    # orders ------------------------------------------------------------------------------

    async def _order(self, method, request, trade):  # type: ignore[no-untyped-def]
        self._check()
        self.order_calls.append((method, request.client_order_id))
        self.last_requests[method] = request
        if self.transport_failures > 0:
            self.transport_failures -= 1
            raise transport_error()
        stored = self.orders.get(request.client_order_id)
        if stored is not None:
            replay = K.OrderResult()
            replay.CopyFrom(stored[0])
            replay.replayed = True
            return replay, stored[1]
        await asyncio.sleep(0)
        if self.failing_orders > 0 or method in self.failing_methods:
            self.failing_orders = max(0, self.failing_orders - 1)
            result, settlement = K.OrderResult(
                status=K.TRADE_STATUS_FAILED,
                error=K.Error(code="VENUE_REJECTED", message="fake: simulation failed")), None
        elif method in self.pending_methods:
            result, settlement = K.OrderResult(
                status=K.TRADE_STATUS_PENDING, tx_signature=f"sig-{request.client_order_id}",
                market=getattr(request, "market", "")), None
            self.landing[request.client_order_id] = trade
        else:
            result, settlement = trade()
        result.client_order_id = request.client_order_id
        result.executed_at.CopyFrom(to_timestamp(self.feed.clock.now()))
        if result.status == K.TRADE_STATUS_FILLED:
            result.tx_signature = f"paper-{request.client_order_id}"
        self.orders[request.client_order_id] = (result, settlement)
        if settlement is not None:  # like the real drivers: a settlement is an order of its own
            self.orders[settlement.client_order_id] = (settlement, None)
        if self.lost_replies > 0:
            self.lost_replies -= 1
            raise transport_error(grpc.StatusCode.DEADLINE_EXCEEDED, "fake: reply lost")
        return result, settlement

    def _with_account(self, reply, request):  # type: ignore[no-untyped-def]
        """As the real executor: the account after a fresh fill, when the order asked for it."""
        result = reply.result
        if (self.answers_account_after and request.HasField("account_after")
                and result.status == K.TRADE_STATUS_FILLED and not result.replayed):
            wanted = request.account_after
            since = (from_timestamp(wanted.funding_since) if is_set(wanted.funding_since)
                     else None)
            reply.account.CopyFrom(self.state(wanted.sub_account, since))
        return reply

    def confirm(self, client_order_id: str, *, unknown: bool = False) -> None:
        """The venue's final word on a PENDING order: it landed (the trade applies) or its
        outcome stays unknown."""
        trade = self.landing.pop(client_order_id)
        if unknown:
            result = K.OrderResult(status=K.TRADE_STATUS_UNKNOWN,
                                   tx_signature=f"sig-{client_order_id}",
                                   error=K.Error(code="VENUE_UNAVAILABLE", message="fake: unknown"))
            settlement = None
        else:
            result, settlement = trade()  # type: ignore[operator]
            result.tx_signature = f"sig-{client_order_id}"
        result.client_order_id = client_order_id
        self.orders[client_order_id] = (result, settlement)

    @staticmethod
    def _rejected(kind: int, code: str, message: str) -> K.OrderResult:
        return K.OrderResult(kind=kind, status=K.TRADE_STATUS_REJECTED,  # type: ignore[arg-type]
                             error=K.Error(code=code, message=message))

    async def Deposit(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        def trade():  # type: ignore[no-untyped-def]
            amount = Decimal(request.amount)
            if amount > self.wallet_usdc:
                return self._rejected(K.TRADE_KIND_DEPOSIT, "INSUFFICIENT_BALANCE",
                                      "wallet too small"), None
            self.wallet_usdc -= amount
            self.sub(request.sub_account).quote += amount
            return self._filled(K.TRADE_KIND_DEPOSIT, "USDC", K.SIDE_UNSPECIFIED, amount,
                                Decimal(1)), None
        result, _ = await self._order("Deposit", request, trade)
        return self._with_account(executor_pb2.DepositResponse(result=result), request)

    async def Withdraw(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        def trade():  # type: ignore[no-untyped-def]
            amount = Decimal(request.amount)
            free = from_wire(self.state(request.sub_account).free_collateral)
            if amount > free:
                return self._rejected(K.TRADE_KIND_WITHDRAW, "INSUFFICIENT_COLLATERAL",
                                      "not enough free collateral"), None
            self.sub(request.sub_account).quote -= amount
            self.wallet_usdc += amount
            return self._filled(K.TRADE_KIND_WITHDRAW, "USDC", K.SIDE_UNSPECIFIED, amount,
                                Decimal(1)), None
        result, _ = await self._order("Withdraw", request, trade)
        return self._with_account(executor_pb2.WithdrawResponse(result=result), request)

    def _filled(self, kind: int, market: str, side: int, size: Decimal, price: Decimal,
                fee: Decimal = ZERO) -> K.OrderResult:
        return K.OrderResult(
            kind=kind, status=K.TRADE_STATUS_FILLED, market=market, side=side,  # type: ignore
            requested_size=to_wire(size), filled_size=to_wire(size), fill_price=to_wire(price),
            oracle_price=to_wire(price), slippage="0", fee=to_wire(fee),
            notional=to_wire(size * price))

    def _move(self, sub_account: int, market: str, change: Decimal, price: Decimal) -> None:
        sub = self.sub(sub_account)
        position = sub.positions.get(market)
        if position is None:
            sub.positions[market] = FakePosition(change, price)
            return
        new_size = position.size + change
        if position.size * change > 0:
            position.entry_price = ((abs(position.size) * position.entry_price
                                     + abs(change) * price) / abs(new_size))
        else:
            closed = min(abs(change), abs(position.size))
            direction = 1 if position.size > 0 else -1
            sub.quote += closed * (price - position.entry_price) * direction
            if new_size * position.size < 0:
                position.entry_price = price
        position.size = new_size
        if new_size == 0:
            del sub.positions[market]

    def _perp(self, request, kind: int, side: int, size: Decimal):  # type: ignore[no-untyped-def]
        price = self._price(request.market)
        limit = from_wire(request.price_limit) if request.price_limit else None
        buying = side == K.SIDE_LONG
        if limit is not None and (price > limit if buying else price < limit):
            return self._rejected(kind, "PRICE_LIMIT", "price beyond the limit")
        fee = size * price * self.fee_rate
        self.sub(request.sub_account).quote -= fee
        self._move(request.sub_account, request.market, size if buying else -size, price)
        return self._filled(kind, request.market, side, size, price, fee)

    async def OpenPosition(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        def trade():  # type: ignore[no-untyped-def]
            kind = request.kind or K.TRADE_KIND_PERP_OPEN
            return self._perp(request, kind, request.side, Decimal(request.size)), None
        result, _ = await self._order("OpenPosition", request, trade)
        return self._with_account(executor_pb2.OpenPositionResponse(result=result), request)

    async def ClosePosition(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        def trade():  # type: ignore[no-untyped-def]
            position = self.sub(request.sub_account).positions.get(request.market)
            if position is None:
                return self._rejected(K.TRADE_KIND_PERP_CLOSE, "NO_POSITION", "none"), None
            pnl = (self._price(request.market) - position.entry_price) * position.size
            side = K.SIDE_LONG if position.size < 0 else K.SIDE_SHORT
            result = self._perp(request, K.TRADE_KIND_PERP_CLOSE, side, abs(position.size))
            settlement = None
            if request.settle_pnl and abs(pnl) > 1 and result.status == K.TRADE_STATUS_FILLED:
                settlement = K.OrderResult(
                    client_order_id=f"{request.client_order_id}:settle",
                    kind=K.TRADE_KIND_SETTLE_PNL, status=K.TRADE_STATUS_FILLED,
                    market=request.market, notional=to_wire(pnl))
            return result, settlement
        result, settlement = await self._order("ClosePosition", request, trade)
        reply = executor_pb2.ClosePositionResponse(result=result)
        if settlement is not None:
            reply.settlement.CopyFrom(settlement)
        return self._with_account(reply, request)

    async def SettlePnl(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        def trade():  # type: ignore[no-untyped-def]
            return self._filled(K.TRADE_KIND_SETTLE_PNL, request.market, K.SIDE_UNSPECIFIED,
                                ZERO, ZERO), None
        result, _ = await self._order("SettlePnl", request, trade)
        return self._with_account(executor_pb2.SettlePnlResponse(result=result), request)

    async def Swap(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        def trade():  # type: ignore[no-untyped-def]
            size = Decimal(request.size)
            price = self._price("SOL")
            buying = request.side == K.SIDE_LONG
            kind = K.TRADE_KIND_SPOT_BUY if buying else K.TRADE_KIND_SPOT_SELL
            fee = size * price * self.fee_rate
            if buying:
                if size * price + fee > self.wallet_usdc:
                    return self._rejected(kind, "INSUFFICIENT_BALANCE", "usdc"), None
                self.wallet_usdc -= size * price + fee
                self.wallet_sol += size
            else:
                if size > self.wallet_sol:
                    return self._rejected(kind, "INSUFFICIENT_BALANCE", "sol"), None
                self.wallet_sol -= size
                self.wallet_usdc += size * price - fee
            return self._filled(kind, "SOL", request.side, size, price, fee), None
        result, _ = await self._order("Swap", request, trade)
        return self._with_account(executor_pb2.SwapResponse(result=result), request)


# --- vault ---------------------------------------------------------------------------------

class FakeVault:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.available = True
        self.failing: set[str] = set()   # methods that fail while listed
        self.sync_failures = 0            # the next N SyncAccount calls fail
        self.trades: dict[str, K.Trade] = {}
        self.payments: dict[str, K.FundingPayment] = {}
        # False: a vault that writes a completion's sync request not (an older vault)
        self.syncs_beside_completion = True
        self.syncs_with_completion = 0
        self.statuses: dict[tuple[str, int], vault_pb2.VaultStatus] = {}
        self.calls: list[str] = []
        self.sync_calls = 0

    def _check(self, method: str) -> None:
        self.calls.append(method)
        if not self.available or method in self.failing:
            raise transport_error()

    def _status(self, key: vault_pb2.VaultKey) -> vault_pb2.VaultStatus:
        index = (key.account, key.sub_account)
        if index not in self.statuses:
            self.statuses[index] = vault_pb2.VaultStatus(
                key=key, vault_id=f"vault-{key.account}-{key.sub_account}", balance="0",
                allocated_capital="0", available_capital="0", realized_funding_pnl="0",
                created_at=to_timestamp(self.clock.now()))
        return self.statuses[index]

    async def OpenVault(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check("OpenVault")
        created = (request.key.account, request.key.sub_account) not in self.statuses
        return vault_pb2.OpenVaultResponse(status=self._status(request.key), created=created)

    async def GetVaultStatus(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check("GetVaultStatus")
        return vault_pb2.GetVaultStatusResponse(status=self._status(request.key))

    async def RecordIntent(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check("RecordIntent")
        existing = self.trades.get(request.trade.client_order_id)
        if existing is not None:
            return vault_pb2.RecordIntentResponse(trade=existing, created=False)
        trade = K.Trade()
        trade.CopyFrom(request.trade)
        trade.status = K.TRADE_STATUS_PENDING
        self.trades[trade.client_order_id] = trade
        return vault_pb2.RecordIntentResponse(trade=trade, created=True)

    async def CompleteTrade(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check("CompleteTrade")
        if request.HasField("settlement") and \
                request.settlement.client_order_id not in self.trades:
            settlement = request.settlement
            self.trades[settlement.client_order_id] = K.Trade(
                client_order_id=settlement.client_order_id, kind=K.TRADE_KIND_SETTLE_PNL,
                status=settlement.status, market=settlement.market,
                notional=settlement.notional, tx_signature=settlement.tx_signature)
        trade = self.trades[request.client_order_id]
        result = request.result
        trade.status = result.status
        trade.filled_size = result.filled_size
        trade.price = result.fill_price
        trade.fee = result.fee
        trade.notional = result.notional or trade.notional
        trade.tx_signature = result.tx_signature
        trade.slippage = result.slippage
        if result.HasField("error"):
            trade.error.CopyFrom(result.error)
        trade.updated_at.CopyFrom(to_timestamp(self.clock.now()))
        response = vault_pb2.CompleteTradeResponse(trade=trade)
        if request.HasField("sync") and self.syncs_beside_completion:
            self.syncs_with_completion += 1
            response.sync.CopyFrom(self._apply_sync(request.sync))
        return response

    async def ListTrades(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check("ListTrades")
        trades = [t for t in self.trades.values()
                  if (not request.client_order_id or t.client_order_id == request.client_order_id)
                  and (not request.statuses or t.status in request.statuses)]
        return vault_pb2.ListTradesResponse(trades=trades[: request.limit or 1000])

    async def SyncAccount(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check("SyncAccount")
        self.sync_calls += 1
        if self.sync_failures > 0:
            self.sync_failures -= 1
            raise transport_error()
        return self._apply_sync(request)

    def _apply_sync(self, request):  # type: ignore[no-untyped-def]
        status = self._status(request.key)
        state = request.state
        previous = from_wire(status.balance)
        new = 0
        for payment in state.funding_payments:
            if payment.payment_id not in self.payments:
                self.payments[payment.payment_id] = payment
                new += 1
        realized = sum((from_wire(p.amount) for p in self.payments.values()), ZERO)
        allocated = from_wire(state.initial_margin_requirement)
        balance = from_wire(state.collateral)
        status.balance = state.collateral
        status.allocated_capital = to_wire(allocated)
        status.available_capital = to_wire(max(ZERO, balance - allocated))
        status.realized_funding_pnl = to_wire(realized)
        del status.positions[:]
        status.positions.extend(
            vault_pb2.VaultPosition(market=p.market, side=p.side, size=p.size,
                                    entry_price=p.entry_price) for p in state.positions)
        status.last_synced_at.CopyFrom(to_timestamp(self.clock.now()))
        status.pending_trades = sum(
            1 for t in self.trades.values() if t.status == K.TRADE_STATUS_PENDING)
        status.trade_count = len(self.trades)
        return vault_pb2.SyncAccountResponse(status=status, funding_payments_recorded=new,
                                             balance_change=to_wire(balance - previous))

    async def ListFundingPayments(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check("ListFundingPayments")
        payments = list(self.payments.values())
        total = sum((from_wire(p.amount) for p in payments), ZERO)
        return vault_pb2.ListFundingPaymentsResponse(payments=payments, total=to_wire(total))


# --- set-ups -------------------------------------------------------------------------------

def hedge(executor: FakeExecutor, spot_sol: Decimal, short_sol: Decimal,
          collateral: Decimal = Decimal(2000)) -> None:
    """A carry position: `spot_sol` in the wallet, a SOL-PERP short, collateral deposited."""
    executor.wallet_sol = spot_sol
    executor.wallet_usdc -= collateral
    executor.sub(0).quote += collateral
    executor.set_position("SOL-PERP", -short_sol)


# --- assembly ------------------------------------------------------------------------------

def engine_settings(**overrides: object) -> EngineSettings:
    """Settings for tests: no automatic ticks unless asked (tests call tick())."""
    values: dict[str, object] = {
        "feed_address": "fake-feed", "executor_address": "fake-executor",
        "vault_address": "fake-vault", "tick_interval_sec": 3600,
    }
    values.update(overrides)
    return EngineSettings(**values)  # type: ignore[arg-type]


@dataclass
class EngineHarness:
    clock: ManualClock
    feed: FakeFeed
    executor: FakeExecutor
    vault: FakeVault
    engine: object
    sleeps: list[float]
    wall: list[float]  # the engine's monotonic wall clock (health alert repeats), in seconds


def build_engine(**overrides: object) -> EngineHarness:
    """An engine wired to fresh fakes; retry waits are recorded in `sleeps`, not slept."""
    from services.common.market_clock import FeedClock
    from services.engine.engine import FundingEngine

    clock = ManualClock(START)
    feed = FakeFeed(clock)
    executor = FakeExecutor(feed)
    vault = FakeVault(clock)
    sleeps: list[float] = []
    wall = [0.0]

    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    engine = FundingEngine(
        engine_settings(**overrides), feed, executor, vault,  # type: ignore[arg-type]
        market_clock=FeedClock(feed, max_age_seconds=0),  # type: ignore[arg-type]
        sleep=record_sleep, monotonic=lambda: wall[0],
    )
    return EngineHarness(clock, feed, executor, vault, engine, sleeps, wall)


def restarted_engine(harness: EngineHarness, **overrides: object) -> EngineHarness:
    """A new engine process on the same venue, vault and feed: its memory is gone, what the
    others (and its own state file) persisted is not."""
    from services.common.market_clock import FeedClock
    from services.engine.engine import FundingEngine

    async def record_sleep(seconds: float) -> None:
        harness.sleeps.append(seconds)

    engine = FundingEngine(
        engine_settings(**overrides), harness.feed, harness.executor,  # type: ignore[arg-type]
        harness.vault,  # type: ignore[arg-type]
        market_clock=FeedClock(harness.feed, max_age_seconds=0),  # type: ignore[arg-type]
        sleep=record_sleep, monotonic=lambda: harness.wall[0],
    )
    return EngineHarness(harness.clock, harness.feed, harness.executor, harness.vault, engine,
                         harness.sleeps, harness.wall)


async def serve_fakes(
    feed: FakeFeed, executor: FakeExecutor, vault: FakeVault
) -> tuple[grpc.aio.Server, str]:
    """The three fakes behind one real grpc.aio server on 127.0.0.1:0."""
    server = grpc.aio.server()
    feed_pb2_grpc.add_FeedServiceServicer_to_server(
        _servicer(feed_pb2_grpc.FeedServiceServicer, feed), server)
    executor_pb2_grpc.add_ExecutorServiceServicer_to_server(
        _servicer(executor_pb2_grpc.ExecutorServiceServicer, executor), server)
    vault_pb2_grpc.add_VaultServiceServicer_to_server(
        _servicer(vault_pb2_grpc.VaultServiceServicer, vault), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


def _servicer(base: type, fake: object) -> object:
    """The generated servicer (UNIMPLEMENTED for every RPC) with the fake's methods on top."""
    adapter = base()
    for name in dir(base):
        if not name.startswith("_") and hasattr(fake, name):
            setattr(adapter, name, getattr(fake, name))
    return adapter
