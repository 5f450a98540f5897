"""The paper venue (design.md's VirtualDriver): simulated fills against the feed's oracle prices,
hourly funding from the feed's history, margin and leverage like Drift, no liquidations.

One asyncio.Lock serializes every mutation; each is then one line of the state file (paper_state.
StateFile: the order's record and the balances it leaves together, so a crash never separates
them), and an executor restart answers earlier client order ids exactly as before.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from services.common.errors import DomainError, ErrorCode
from services.common.venue import (
    QUOTE_MARKET,
    SPOT_MARKET,
    SPOT_PRICE_MARKET,
    WALLET_ACCOUNT,
    AccountState,
    CloseOutcome,
    FundingPayment,
    OpenOrder,
    OrderIntent,
    OrderKind,
    OrderResult,
    OrderStatus,
    PositionState,
    Side,
    VenueStatus,
)
from services.executor import margin
from services.executor.market_data import (
    DEFAULT_MARGIN_RATIO_INITIAL,
    DEFAULT_MARGIN_RATIO_MAINTENANCE,
    MarketData,
    MarketInfo,
    PriceQuote,
)
from services.executor.order_journal import OrderJournal
from services.executor.order_record import OrderRecord
from services.executor.paper_fills import (
    DEFAULT_TAKER_FEE_RATE,
    Fill,
    apply_perp_fill,
    floor_hour,
    payment_id,
    simulate_fill,
    tx_signature,
)
from services.executor.paper_state import (
    PaperPosition,
    PaperVenueState,
    StateFile,
    SubAccount,
)
from services.executor.payment_order import PaymentOrder

log = logging.getLogger(__name__)

ZERO = Decimal(0)
ONE_HOUR = timedelta(hours=1)
# Drift v2 precisions: base 1e-9, price and quote 1e-6.
BASE_STEP = Decimal("1e-9")
SETTLE_THRESHOLD_USD = Decimal(1)  # property 16
DEFAULT_MAX_LEVERAGE = Decimal(10)  # property 4, paper venue
MAX_LATENCY_MS = 60_000.0


class PriceBook:
    """Oracle prices fetched once per operation, so every figure of one answer agrees."""

    def __init__(self, market_data: MarketData) -> None:
        self._market_data = market_data
        self._quotes: dict[str, PriceQuote] = {}
        self._refusals: dict[str, DomainError] = {}

    async def now_with(self, markets: Collection[str]) -> datetime:
        """Market time, with these markets' prices at it: one feed read for both. A price the
        feed refused is refused again where it is used, as a read of its own would be."""
        now, priced = await self._market_data.now_and_prices(markets)
        for market, answer in priced.items():
            if isinstance(answer, DomainError):
                self._refusals[market] = answer
            else:
                self._quotes[market] = answer
        return now

    async def get(self, market: str) -> PriceQuote:
        if market in self._refusals:
            raise self._refusals[market]
        if market not in self._quotes:
            self._quotes[market] = await self._market_data.price(market)
        return self._quotes[market]


class PaperDriver:
    """A VenueDriver (see services.executor.driver) that simulates the venue."""

    name = "paper"

    def __init__(
        self,
        market_data: MarketData,
        state_file: StateFile | None = None,
        *,
        start_usdc: Decimal = Decimal(10_000),
        start_sol: Decimal = Decimal(1),
        slippage_scale: Decimal = margin.DEFAULT_SLIPPAGE_SCALE_USD,
        taker_fee_rate: Decimal = DEFAULT_TAKER_FEE_RATE,
        max_leverage: Decimal = DEFAULT_MAX_LEVERAGE,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._market_data = market_data
        self._file = state_file
        self._start_usdc = start_usdc
        self._start_sol = start_sol
        self._slippage_scale = slippage_scale
        self._fee_rate = taker_fee_rate
        self._max_leverage = max_leverage
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._state = PaperVenueState(wallet_usdc=start_usdc, wallet_sol=start_sol)
        self._latency_ms = 0.0
        self._failures_left = 0
        self._failure_code = ErrorCode.VENUE_REJECTED.value
        self._failure_message = ""
        # Each change to the state counts. The last fill's sub-account, moment and prices, with
        # the count it left, describe that account after it while nothing else has changed it
        # (its funding is accrued to that moment: every order on a sub-account accrues first).
        self._changes = 0
        self._last_fill: tuple[int, int | None, datetime, PriceBook] | None = None
        # Orders run one at a time under the lock; the same id asked meanwhile joins its call.
        self._payment_order = PaymentOrder()
        self._journal: OrderJournal[OrderRecord] = OrderJournal(
            persist=self._write_change, new_record=OrderRecord)
        self._journal.load(self._state.orders)

    # --- lifecycle and controls

    async def start(self) -> None:
        loaded = await asyncio.to_thread(self._file.load) if self._file else None
        if loaded is not None:
            self._state = loaded
            self._journal.load(loaded.orders)
            log.info("paper venue state loaded", extra={"path": str(self._file.path)})
        else:
            await self._save()

    async def close(self) -> None:
        return None

    @property
    def latency_ms(self) -> float:
        return self._latency_ms

    def set_latency(self, latency_ms: float) -> None:
        if not 0 <= latency_ms <= MAX_LATENCY_MS:  # also refuses NaN
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"latency_ms must be between 0 and {MAX_LATENCY_MS:.0f}, found {latency_ms}",
            )
        self._latency_ms = latency_ms

    def fail_next(self, count: int, error_code: str = "", message: str = "") -> None:
        self._failures_left = count
        self._failure_code = error_code or ErrorCode.VENUE_REJECTED.value
        self._failure_message = message or "simulated venue failure (PaperVenueControl)"

    # --- reads

    async def status(self) -> VenueStatus:
        try:
            now: datetime | None = await self._market_data.now()
        except DomainError:
            now = None
        return self._status_at(now)

    def _status_at(self, now: datetime | None) -> VenueStatus:
        """Connected when the feed's clock answered (`now` is its answer)."""
        return VenueStatus(
            venue=self.name,
            connected=now is not None,
            latency_ms=self._latency_ms,
            trading_halted=False,
            halt_reason="",
            account=WALLET_ACCOUNT,
            as_of=now,
        )

    async def status_and_account_state(
        self, sub_account: int, funding_since: datetime | None = None
    ) -> tuple[VenueStatus, AccountState]:
        """One read of the feed's clock for both: the status is as of the account's moment."""
        state = await self.account_state(sub_account, funding_since)
        return self._status_at(state.as_of), state

    async def get_order(self, client_order_id: str) -> OrderResult | None:
        record = self._journal.get(client_order_id)
        return record.result if record else None

    async def account_state(
        self, sub_account: int, funding_since: datetime | None = None
    ) -> AccountState:
        async with self._lock:
            account = self._state.account(sub_account)
            prices = PriceBook(self._market_data)
            now = await prices.now_with(set(account.positions))
            if await self._accrue_funding(sub_account, account, now):
                self._write_change(None)
            return await self._describe(sub_account, account, now, prices, funding_since)

    async def account_after_fill(
        self, sub_account: int, funding_since: datetime | None = None
    ) -> AccountState:
        """The account as the last fill on it left it, at that fill's moment and prices (no
        feed call), when nothing has changed the state since; else as account_state() reads
        it (after a swap, say, which accrues no sub-account's funding)."""
        async with self._lock:
            last = self._last_fill
            if last is not None and last[:2] == (self._changes, sub_account):
                _, _, now, prices = last
                account = self._state.account(sub_account)
                return await self._describe(sub_account, account, now, prices, funding_since)
        return await self.account_state(sub_account, funding_since)

    # --- orders

    async def deposit(self, client_order_id: str, sub_account: int, amount: Decimal) -> OrderResult:
        intent = OrderIntent(client_order_id, OrderKind.DEPOSIT, QUOTE_MARKET, size=amount)

        async def execute(now: datetime, prices: PriceBook) -> OrderRecord:
            _require_positive(amount, "deposit amount", ErrorCode.INVALID_AMOUNT)
            if amount > self._state.wallet_usdc:
                raise DomainError(
                    ErrorCode.INSUFFICIENT_BALANCE,
                    f"deposit of {amount} USDC exceeds the wallet's {self._state.wallet_usdc} USDC",
                )
            account = self._state.account(sub_account)
            await self._accrue_funding(sub_account, account, now)
            self._state.wallet_usdc -= amount
            account.quote_balance += amount
            return OrderRecord(_transfer_result(intent, amount, now))

        return (await self._order(intent, sub_account, execute)).result

    async def withdraw(
        self, client_order_id: str, sub_account: int, amount: Decimal
    ) -> OrderResult:
        intent = OrderIntent(client_order_id, OrderKind.WITHDRAW, QUOTE_MARKET, size=amount)

        async def execute(now: datetime, prices: PriceBook) -> OrderRecord:
            _require_positive(amount, "withdrawal amount", ErrorCode.INVALID_AMOUNT)
            account = self._state.account(sub_account)
            await self._accrue_funding(sub_account, account, now)
            summary, _ = await self._summary(account, prices)
            if amount > summary.free_collateral:
                raise DomainError(
                    ErrorCode.INSUFFICIENT_COLLATERAL,
                    f"withdrawal of {amount} USDC exceeds free collateral "
                    f"{summary.free_collateral:.6f} USDC",
                )
            if amount > account.quote_balance:
                raise DomainError(
                    ErrorCode.INSUFFICIENT_COLLATERAL,
                    f"withdrawal of {amount} USDC exceeds the quote balance "
                    f"{account.quote_balance:.6f} USDC; settle PnL first",
                )
            account.quote_balance -= amount
            self._state.wallet_usdc += amount
            return OrderRecord(_transfer_result(intent, amount, now))

        return (await self._order(intent, sub_account, execute)).result

    async def open_position(self, order: OpenOrder) -> OrderResult:
        intent = OrderIntent(
            order.client_order_id, order.kind, order.market, order.side, order.size
        )

        async def execute(now: datetime, prices: PriceBook) -> OrderRecord:
            info = await self._market(order.market)
            size = _base_size(order.size)
            account = self._state.account(order.sub_account)
            await self._accrue_funding(order.sub_account, account, now)
            position = account.positions.get(order.market)
            current = position.signed_size if position else ZERO
            opposite = current != 0 and (current > 0) != (order.side is Side.LONG)
            if order.reduce_only:
                if not opposite:
                    raise DomainError(
                        ErrorCode.NO_POSITION,
                        f"reduce-only {order.side.value} on {order.market}: no "
                        f"{order.side.opposite.value} position to reduce",
                    )
                size = min(size, abs(current))
            reducing = opposite and size <= abs(current)
            _require_tradable(info, increasing=not reducing)
            quote = await prices.get(order.market)
            fill = self._fill(order.side, size, quote.oracle_price)
            fill.check_limit(order.price_limit)
            candidate = copy.deepcopy(account)
            apply_perp_fill(candidate, order.market, fill)
            if not reducing:
                await self._check_risk(candidate, prices, order.market)
            self._state.accounts[order.sub_account] = candidate
            return OrderRecord(self._fill_result(intent, fill, now, order.size))

        return (await self._order(intent, order.sub_account, execute)).result

    async def close_position(
        self,
        client_order_id: str,
        sub_account: int,
        market: str,
        *,
        settle_pnl: bool = False,
        price_limit: Decimal | None = None,
    ) -> CloseOutcome:
        intent = OrderIntent(client_order_id, OrderKind.PERP_CLOSE, market)

        async def execute(now: datetime, prices: PriceBook) -> OrderRecord:
            info = await self._market(market)
            account = self._state.account(sub_account)
            await self._accrue_funding(sub_account, account, now)
            position = account.positions.get(market)
            if position is None:
                raise DomainError(
                    ErrorCode.NO_POSITION, f"sub-account {sub_account} has no {market} position"
                )
            _require_tradable(info, increasing=False)
            size = abs(position.signed_size)  # property 15: exactly the position size
            quote = await prices.get(market)
            fill = self._fill(position.side.opposite, size, quote.oracle_price)
            fill.check_limit(price_limit)
            apply_perp_fill(account, market, fill)
            result = self._fill_result(intent, fill, now, size)
            settlement = None
            # Property 16: settle when the PnL waiting to be settled exceeds $1 either way.
            if settle_pnl and abs(account.unsettled_pnl.get(market, ZERO)) > SETTLE_THRESHOLD_USD:
                settlement = self._settle(f"{client_order_id}:settle", account, market, now)
            return OrderRecord(result, settlement)

        record = await self._order(intent, sub_account, execute)
        return CloseOutcome(record.result, record.settlement)

    async def settle_pnl(self, client_order_id: str, sub_account: int, market: str) -> OrderResult:
        intent = OrderIntent(client_order_id, OrderKind.SETTLE_PNL, market)

        async def execute(now: datetime, prices: PriceBook) -> OrderRecord:
            await self._market(market)
            account = self._state.account(sub_account)
            await self._accrue_funding(sub_account, account, now)
            position = account.positions.get(market)
            if position is not None:
                # Like Drift's settle_pnl: the open position's unrealized PnL is settled too.
                open_pnl = (await self._exposure(position, prices, {})).unrealized_pnl
                position.price_pnl_settled += open_pnl
                account.unsettled_pnl[market] = account.unsettled_pnl.get(market, ZERO) + open_pnl
            return OrderRecord(self._settle(client_order_id, account, market, now))

        return (await self._order(intent, sub_account, execute)).result

    async def swap(
        self, client_order_id: str, side: Side, size: Decimal, price_limit: Decimal | None = None
    ) -> OrderResult:
        kind = OrderKind.SPOT_BUY if side is Side.LONG else OrderKind.SPOT_SELL
        intent = OrderIntent(client_order_id, kind, SPOT_MARKET, side, size)

        async def execute(now: datetime, prices: PriceBook) -> OrderRecord:
            base = _base_size(size)
            # No spot feed: the spot leg fills against the SOL-PERP oracle with the same
            # slippage model, and pays no taker fee (a DEX route's fee is in its price).
            quote = await prices.get(SPOT_PRICE_MARKET)
            fill = simulate_fill(side, base, quote.oracle_price,
                                 slippage_scale=self._slippage_scale, fee_rate=ZERO)
            fill.check_limit(price_limit)
            state = self._state
            if side is Side.LONG:
                if fill.notional > state.wallet_usdc:
                    raise DomainError(
                        ErrorCode.INSUFFICIENT_BALANCE,
                        f"buying {base} SOL costs {fill.notional:.6f} USDC; the wallet holds "
                        f"{state.wallet_usdc} USDC",
                    )
                state.wallet_usdc -= fill.notional
                state.wallet_sol += base
            else:
                if base > state.wallet_sol:
                    raise DomainError(
                        ErrorCode.INSUFFICIENT_BALANCE,
                        f"selling {base} SOL: the wallet holds {state.wallet_sol} SOL",
                    )
                state.wallet_sol -= base
                state.wallet_usdc += fill.notional
            return OrderRecord(self._fill_result(intent, fill, now, size))

        return (await self._order(intent, None, execute)).result

    # --- the order pipeline

    async def _order(
        self,
        intent: OrderIntent,
        sub_account: int | None,
        execute: Callable[[datetime, PriceBook], Awaitable[OrderRecord]],
    ) -> OrderRecord:
        """The journal's rules first (an answered id replays, the same id joins its call),
        then simulated latency, an injected failure, and `execute` under the lock."""

        async def run() -> OrderRecord:
            if self._latency_ms > 0:
                await self._sleep(self._latency_ms / 1000)
            async with self._lock:
                return await self._execute(intent, sub_account, execute)

        return await self._journal.submit(intent, run)

    async def _execute(
        self,
        intent: OrderIntent,
        sub_account: int | None,
        execute: Callable[[datetime, PriceBook], Awaitable[OrderRecord]],
    ) -> OrderRecord:
        """A refusal (DomainError) becomes a REJECTED result, or FAILED when the feed did not
        answer; an unexpected error restores the state as it was and propagates. The record
        and the state it leaves are written together, or neither is."""
        now: datetime | None = None
        prices = PriceBook(self._market_data)
        snapshot = copy.deepcopy((self._state.wallet_usdc, self._state.wallet_sol,
                                  self._state.accounts))
        try:
            try:
                now = await prices.now_with(self._prices_read_by(intent, sub_account))
                if self._failures_left > 0:
                    self._failures_left -= 1
                    record = OrderRecord(OrderResult.refused(
                        intent, self._failure_code, self._failure_message,
                        status=OrderStatus.FAILED, at=now,
                    ))
                else:
                    record = await execute(now, prices)
            except DomainError as error:
                status = (
                    OrderStatus.FAILED
                    if error.code == ErrorCode.FEED_UNAVAILABLE
                    else OrderStatus.REJECTED
                )
                record = OrderRecord(OrderResult.refused(
                    intent, error.code, error.message, status=status, at=now
                ))
            self._journal.put(record)
        except BaseException:
            (self._state.wallet_usdc, self._state.wallet_sol, self._state.accounts) = snapshot
            raise
        if record.result.status is OrderStatus.FILLED:
            assert now is not None
            self._last_fill = (self._changes, sub_account, now, prices)
            await self._log_state(sub_account, now, prices)
        return record

    def _prices_read_by(self, intent: OrderIntent, sub_account: int | None) -> set[str]:
        """What an order prices, asked with the clock: its own market, and the sub-account's
        positions (its risk check, and the account it leaves, describe them all)."""
        account = self._state.accounts.get(sub_account) if sub_account is not None else None
        markets = set(account.positions) if account is not None else set()
        if intent.market == SPOT_MARKET:
            markets.add(SPOT_PRICE_MARKET)
        elif intent.market != QUOTE_MARKET:
            markets.add(intent.market)
        return markets

    def _write_change(self, record: OrderRecord | None) -> None:
        """One small synced line: the order (if any) with the balances it leaves."""
        self._changes += 1
        if self._file is not None:
            self._file.append(record, self._state)

    async def _save(self) -> None:
        if self._file is not None:
            await asyncio.to_thread(self._file.save, self._state)

    # --- pieces

    async def _market(self, symbol: str) -> MarketInfo:
        markets = await self._market_data.markets()
        info = markets.get(symbol)
        if info is None:
            known = ", ".join(sorted(m for m, i in markets.items() if i.tradable)[:12])
            raise DomainError(
                ErrorCode.INVALID_MARKET,
                f"unknown market {symbol[:40]!r}; tradable markets: {known or 'none'}",
            )
        return info

    def _fill(self, side: Side, size: Decimal, oracle_price: Decimal) -> Fill:
        return simulate_fill(side, size, oracle_price, slippage_scale=self._slippage_scale,
                             fee_rate=self._fee_rate)

    def _fill_result(
        self, intent: OrderIntent, fill: Fill, now: datetime, requested: Decimal | None
    ) -> OrderResult:
        result = OrderResult(
            client_order_id=intent.client_order_id,
            kind=intent.kind,
            status=OrderStatus.FILLED,
            market=intent.market,
            side=fill.side,
            requested_size=requested,
            filled_size=fill.size,
            fill_price=fill.price,
            oracle_price=fill.oracle_price,
            slippage=fill.slippage,
            fee=fill.fee,
            notional=fill.notional,
            tx_signature=tx_signature(intent.client_order_id),
            executed_at=now,
        )
        # Property 46: every executed trade logs timestamp, market, side, size, price, signature.
        log.info("fill", extra={
            "timestamp": now.isoformat(), "market": result.market, "side": fill.side.value,
            "size": str(fill.size), "price": str(fill.price),
            "tx_signature": result.tx_signature, "client_order_id": intent.client_order_id,
            "kind": intent.kind.value, "fee": str(fill.fee), "slippage": str(fill.slippage),
        })
        return result

    def _settle(
        self, client_order_id: str, account: SubAccount, market: str, now: datetime
    ) -> OrderResult:
        amount = account.unsettled_pnl.pop(market, ZERO)
        account.quote_balance += amount
        position = account.positions.get(market)
        if position is not None:
            position.settled_pnl += amount
        log.info("pnl settled", extra={
            "timestamp": now.isoformat(), "market": market, "amount": str(amount),
            "tx_signature": tx_signature(client_order_id), "client_order_id": client_order_id,
        })
        return OrderResult(
            client_order_id=client_order_id,
            kind=OrderKind.SETTLE_PNL,
            status=OrderStatus.FILLED,
            market=market,
            # OrderResult has no signed PnL field and a notional is never negative: the size of
            # the settlement is here; its sign is the quote balance's change (and in the log).
            notional=abs(amount),
            fee=ZERO,
            tx_signature=tx_signature(client_order_id),
            executed_at=now,
        )

    async def _summary(
        self, account: SubAccount, prices: PriceBook
    ) -> tuple[margin.MarginSummary, list[margin.Exposure]]:
        markets = await self._market_data.markets() if account.positions else {}
        exposures = [
            await self._exposure(position, prices, markets)
            for position in account.positions.values()
        ]
        summary = margin.summarize(account.quote_balance, account.total_unsettled, exposures)
        return summary, exposures

    @staticmethod
    async def _exposure(
        position: PaperPosition, prices: PriceBook, markets: Mapping[str, MarketInfo]
    ) -> margin.Exposure:
        quote = await prices.get(position.market)
        info = markets.get(position.market)
        return margin.Exposure(
            market=position.market,
            signed_size=position.signed_size,
            entry_price=position.entry_price,
            price=quote.oracle_price,
            margin_ratio_initial=(
                info.margin_ratio_initial if info else DEFAULT_MARGIN_RATIO_INITIAL
            ),
            margin_ratio_maintenance=(
                info.margin_ratio_maintenance if info else DEFAULT_MARGIN_RATIO_MAINTENANCE
            ),
            price_pnl_settled=position.price_pnl_settled,
        )

    async def _check_risk(self, candidate: SubAccount, prices: PriceBook, market: str) -> None:
        """The account after the trade: leverage within the limit (property 4), initial margin
        covered by collateral."""
        summary, _ = await self._summary(candidate, prices)
        if summary.collateral <= 0:
            raise DomainError(
                ErrorCode.INSUFFICIENT_COLLATERAL,
                f"the {market} order leaves no collateral ({summary.collateral:.6f} USD); "
                "deposit first",
            )
        if summary.leverage > self._max_leverage:
            raise DomainError(
                ErrorCode.LEVERAGE_LIMIT,
                f"the {market} order would take leverage to {summary.leverage:.2f}x; the paper "
                f"venue allows at most {self._max_leverage}x",
                leverage=f"{summary.leverage:.4f}",
            )
        if summary.initial_margin > summary.collateral:
            raise DomainError(
                ErrorCode.INSUFFICIENT_COLLATERAL,
                f"the {market} order needs {summary.initial_margin:.6f} USD of initial margin; "
                f"collateral is {summary.collateral:.6f} USD",
            )

    async def _accrue_funding(self, sub_account: int, account: SubAccount, now: datetime) -> bool:
        """Pays every funding hour settled since the last call (property 1); answers whether
        anything changed. A record with period_start H settles at H + 1h on the position held
        then; positive rate: longs pay shorts. Payment ids make this safe to repeat."""
        boundary = floor_hour(now)
        last = account.last_funding_settled
        if last is None:
            # The first look at this sub-account: no retroactive payments.
            account.last_funding_settled = boundary
            return True
        if boundary <= last:
            return False
        records = {
            market: await self._market_data.funding_records(market, last, boundary)
            for market in account.positions
        }
        prices = PriceBook(self._market_data)
        for market, position in account.positions.items():
            paid = {r.period_start for r in records[market]}
            missing = int((boundary - last) / ONE_HOUR) - len(paid)
            if missing > 0:
                log.warning("funding records missing", extra={
                    "market": market, "hours_missing": missing, "since": last.isoformat(),
                    "until": boundary.isoformat(), "sub_account": sub_account,
                })
            for record in records[market]:
                pid = payment_id(sub_account, market, record.period_start)
                if pid in account.funding_payments:
                    continue
                twap = record.oracle_twap or (await prices.get(market)).oracle_twap
                amount = -position.signed_size * record.rate_1h * twap
                account.quote_balance += amount
                position.funding_pnl += amount
                position.settled_pnl += amount
                account.funding_payments[pid] = FundingPayment(
                    payment_id=pid,
                    market=market,
                    period_start=record.period_start,
                    rate_1h=record.rate_1h,
                    side=position.side,
                    size=abs(position.signed_size),
                    oracle_price=twap,
                    amount=amount,
                )
                log.info("funding settled", extra={
                    "payment_id": pid, "market": market, "amount": str(amount),
                    "rate_1h": str(record.rate_1h), "sub_account": sub_account,
                })
        account.last_funding_settled = boundary
        return True

    async def _describe(
        self,
        sub_account: int,
        account: SubAccount,
        now: datetime,
        prices: PriceBook,
        funding_since: datetime | None,
    ) -> AccountState:
        summary, exposures = await self._summary(account, prices)
        positions = []
        for exposure in exposures:
            position = account.positions[exposure.market]
            unrealized = exposure.unrealized_pnl
            positions.append(PositionState(
                market=exposure.market,
                side=position.side,
                size=abs(position.signed_size),
                entry_price=position.entry_price,
                mark_price=exposure.price,
                unrealized_pnl=unrealized,
                settled_pnl=position.settled_pnl,
                total_pnl=position.settled_pnl + unrealized,
                liq_price=margin.liquidation_price(exposure, summary),
                notional=exposure.notional,
                funding_pnl=position.funding_pnl,
            ))
        payments = self._payment_order.since(sub_account, account, funding_since)
        return AccountState(
            account=WALLET_ACCOUNT,
            sub_account=sub_account,
            venue=self.name,
            collateral=summary.collateral,
            free_collateral=summary.free_collateral,
            # No asset weights on the paper venue, so equity equals total collateral.
            equity=summary.collateral,
            health_ratio=summary.health,
            leverage=summary.leverage,
            margin_requirement=summary.maintenance_margin,
            initial_margin_requirement=summary.initial_margin,
            quote_balance=account.quote_balance,
            wallet_usdc=self._state.wallet_usdc,
            wallet_sol=self._state.wallet_sol,
            as_of=now,
            positions=positions,
            funding_payments=payments,
        )

    async def _log_state(self, sub_account: int | None, now: datetime | None,
                         prices: PriceBook) -> None:
        """Property 47: after each state change, health, leverage and collateral, at the
        prices the change was made at."""
        if sub_account is None or now is None:
            return
        try:
            summary, _ = await self._summary(self._state.account(sub_account), prices)
        except DomainError:
            return
        log.info("account state", extra={
            "sub_account": sub_account, "health_ratio": str(summary.health),
            "leverage": str(summary.leverage), "total_collateral": str(summary.collateral),
            "free_collateral": str(summary.free_collateral),
        })


def _require_positive(value: Decimal, what: str, code: ErrorCode) -> None:
    if not value.is_finite() or value <= 0:
        raise DomainError(code, f"{what} must be greater than zero, found {value}")


def _base_size(size: Decimal) -> Decimal:
    """Sizes trade on Drift's base grid (1e-9); a size that rounds to nothing is refused."""
    _require_positive(size, "size", ErrorCode.INVALID_SIZE)
    base = size.quantize(BASE_STEP, rounding=ROUND_DOWN)
    if base <= 0:
        raise DomainError(
            ErrorCode.INVALID_SIZE, f"size {size} is below the venue's step of {BASE_STEP}"
        )
    return base


def _require_tradable(info: MarketInfo, *, increasing: bool) -> None:
    """Opening needs a tradable market; reducing only needs a perpetual, so a position in a
    market that was paused can still be closed."""
    if not info.is_perpetual:
        raise DomainError(
            ErrorCode.MARKET_NOT_TRADABLE,
            f"{info.symbol} is a {info.contract_type} market, not a perpetual",
        )
    if not increasing or info.tradable:
        return
    if info.status == "funding_paused":
        raise DomainError(
            ErrorCode.MARKET_FUNDING_PAUSED, f"{info.symbol}: funding is paused on this market"
        )
    reason = info.not_tradable_reason or f"status {info.status}"
    raise DomainError(ErrorCode.MARKET_NOT_TRADABLE, f"{info.symbol} is not tradable: {reason}")


def _transfer_result(intent: OrderIntent, amount: Decimal, now: datetime) -> OrderResult:
    signature = tx_signature(intent.client_order_id)
    log.info("transfer", extra={
        "timestamp": now.isoformat(), "market": QUOTE_MARKET, "kind": intent.kind.value,
        "size": str(amount), "price": "1", "tx_signature": signature,
        "client_order_id": intent.client_order_id,
    })
    return OrderResult(
        client_order_id=intent.client_order_id,
        kind=intent.kind,
        status=OrderStatus.FILLED,
        market=QUOTE_MARKET,
        requested_size=amount,
        filled_size=amount,
        fill_price=Decimal(1),
        notional=amount,
        fee=ZERO,
        tx_signature=signature,
        executed_at=now,
    )
