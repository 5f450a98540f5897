"""The live venue driver (design.md's DriftAdapter): a VenueDriver on driftpy and a Solana RPC.

Every order: replay check (the order journal) -> trading allowed (session: link up, not an
unconfirmed mainnet, program and market active, fresh State) -> instructions (order_prep) ->
sign -> simulate (a failure is REJECTED, never retried) -> signature logged -> send -> confirm
(30 s, then every 5 s up to 60 s more, else UNKNOWN with the signature) -> outcome logged
(sending, outcomes). An order call answers PENDING when confirmation takes longer than
`answer_within` seconds; the outcome follows through get_order and the same id. An order an
earlier run left PENDING or UNKNOWN is looked up every `recheck_every` seconds until it is
final, and counts as the one order in flight meanwhile.

This module holds what each order kind asks of the venue; the jobs it relies on live beside
it: session (connection, sync, status, guards), order_prep (checks, sizes, instructions),
sending (the send/confirm pipeline and later looks at a signature), outcomes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from services.common.clock import Clock, SystemClock
from services.common.errors import DomainError, ErrorCode
from services.common.venue import (
    SPOT_MARKET,
    SPOT_PRICE_MARKET,
    AccountState,
    CloseOutcome,
    OpenOrder,
    OrderIntent,
    OrderKind,
    OrderResult,
    OrderStatus,
    Side,
    VenueStatus,
)
from services.common.venue_profile import VenueProfile
from services.executor.drift import account_view, order_prep, venue_rules
from services.executor.drift.account_view import LAMPORTS, QUOTE, base, quote
from services.executor.drift.funding import funding_payments
from services.executor.drift.link import RpcLink
from services.executor.drift.order_log import OrderLog, SentOrder
from services.executor.drift.order_prep import Finish, PerpOrder, Prepared
from services.executor.drift.outcomes import Outcomes
from services.executor.drift.sending import OrderSender
from services.executor.drift.session import DriverTiming, VenueSession
from services.executor.drift.venue_view import VenueView
from services.executor.drift.wallet_key import WalletKey
from services.executor.order_journal import OrderJournal
from services.executor.order_record import OrderRecord

log = logging.getLogger(__name__)

__all__ = ["DriftDriver", "DriverTiming"]

ZERO = Decimal(0)
SETTLE_THRESHOLD_USD = Decimal(1)  # property 16


class DriftDriver:
    """A VenueDriver (see services.executor.driver) on a live venue through driftpy."""

    def __init__(
        self,
        *,
        rpc_url: str,
        wallet: WalletKey,
        profile: VenueProfile,
        sub_account: int = 0,
        swap_api_url: str = "",
        trading_confirmed: bool = False,
        order_log: OrderLog | None = None,
        slippage_tolerance: Decimal = Decimal("0.005"),
        swap_slippage_bps: int = 50,
        oracle_max_stale_slots: int = venue_rules.ORACLE_MAX_STALE_SLOTS,
        timing: DriverTiming | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        profile.require_supported()  # never connect with an IDL that misreads the venue
        self.name = profile.name
        # The quote a transfer moves (USDC, USDT): its order's market and its messages' unit.
        self._quote = profile.quote_symbol
        timing = timing or DriverTiming()
        self._clock = clock or SystemClock()
        self._timing = timing
        self._slippage = slippage_tolerance
        self._swap_bps = swap_slippage_bps
        self._log = order_log or OrderLog(None)
        self._session = VenueSession(
            name=profile.name, rpc_url=rpc_url, wallet=wallet, profile=profile,
            sub_account=sub_account, swap_api_url=swap_api_url or profile.swap_api_url,
            trading_confirmed=trading_confirmed, oracle_max_stale_slots=oracle_max_stale_slots,
            timing=timing, clock=self._clock, sleep=sleep, monotonic=monotonic)
        self._orders: OrderJournal[SentOrder] = OrderJournal(
            persist=self._log.save, new_record=SentOrder, look_up=self._look_up,
            one_at_a_time=True, detach=True, answer_within=timing.answer_within,
            now=self._clock.now)
        self._outcomes = Outcomes(self._orders, self._clock)
        self._sender = OrderSender(self._session, self._orders, self._outcomes, sleep=sleep,
                                   monotonic=monotonic)

    def __repr__(self) -> str:
        return f"DriftDriver(venue={self.name}, wallet={self._session.wallet.pubkey})"

    @property
    def _link(self) -> RpcLink | None:
        return self._session.link

    # --- lifecycle

    async def start(self) -> None:
        self._orders.load(self._log.load())
        await self._session.open()
        for record in self._orders.unsettled():
            if record.signature:
                self._orders.follow(record, self._sender.until_final)

    async def close(self) -> None:
        await self._orders.cancel_running()
        await self._session.close()

    # --- reads

    async def status(self) -> VenueStatus:
        return await self._session.status()

    async def account_after_fill(
        self, sub_account: int, funding_since: datetime | None = None
    ) -> AccountState | None:
        """None: reading it takes RPC round trips, which the order's answer (and the engine's
        record of the fill) should not wait for; the engine reads it beside that record."""
        return None

    async def status_and_account_state(
        self, sub_account: int, funding_since: datetime | None = None
    ) -> tuple[VenueStatus, AccountState]:
        return await asyncio.gather(self.status(),
                                    self.account_state(sub_account, funding_since))

    async def account_state(
        self, sub_account: int, funding_since: datetime | None = None
    ) -> AccountState:
        session = self._session
        session.require_sub_account(sub_account)
        view = session.require_link()
        await session.read("account", view.refresh)
        usdc, sol = await session.wallet_balances()
        state = account_view.account_state(view, account=str(session.wallet.pubkey),
                                           venue=self.name, wallet_usdc=usdc, wallet_sol=sol,
                                           as_of=self._clock.now())
        state = replace(state, funding_payments=funding_payments(view, funding_since))
        log.info("account state", extra={
            "sub_account": sub_account, "health_ratio": str(state.health_ratio),
            "leverage": str(state.leverage), "total_collateral": str(state.collateral),
            "free_collateral": str(state.free_collateral)})
        return state

    async def get_order(self, client_order_id: str) -> OrderResult | None:
        record = await self._orders.settled(client_order_id)
        return record.result if record else None

    async def _look_up(self, record: SentOrder) -> SentOrder:
        """An order not final and not at work: confirmation gave up (UNKNOWN) or an earlier
        run stopped, but the transaction may have landed since, or its blockhash expired: one
        look by signature, so the caller is not left guessing (never a second send)."""
        return await self._sender.recheck(record) if record.signature else record

    # --- orders

    async def deposit(self, client_order_id: str, sub_account: int, amount: Decimal) -> OrderResult:
        intent = OrderIntent(client_order_id, OrderKind.DEPOSIT, self._quote, size=amount)

        async def prepare() -> Prepared:
            session = self._session
            session.require_sub_account(sub_account)
            view = await session.require_trading()
            venue_rules.require_operation(view.state().exchange_status, venue_rules.DEPOSIT,
                                          "deposit")
            units = self._quote_units(view, amount)
            usdc, _ = await session.wallet_balances()
            if amount > usdc:
                raise DomainError(ErrorCode.INSUFFICIENT_BALANCE,
                                  f"deposit of {amount} {self._quote} exceeds the wallet's "
                                  f"{usdc} {self._quote}")
            ixs = await view.deposit_instructions(units, session.quote_token_account())
            return Prepared(self._pending(intent), self._transfer_done(amount), ixs)

        return (await self._order(intent, prepare)).result

    async def withdraw(self, client_order_id: str, sub_account: int,
                       amount: Decimal) -> OrderResult:
        intent = OrderIntent(client_order_id, OrderKind.WITHDRAW, self._quote, size=amount)

        async def prepare() -> Prepared:
            session = self._session
            session.require_sub_account(sub_account)
            view = await session.require_trading()
            venue_rules.require_operation(view.state().exchange_status, venue_rules.WITHDRAW,
                                          "withdraw")
            units = self._quote_units(view, amount)
            free = quote(view.user.get_free_collateral())
            if amount > free:
                raise DomainError(ErrorCode.INSUFFICIENT_COLLATERAL,
                                  f"withdrawal of {amount} {self._quote} exceeds free "
                                  f"collateral {free:.6f} {self._quote}")
            ixs = await view.withdraw_instructions(units, session.quote_token_account())
            return Prepared(self._pending(intent), self._transfer_done(amount), ixs)

        return (await self._order(intent, prepare)).result

    async def open_position(self, order: OpenOrder) -> OrderResult:
        intent = OrderIntent(order.client_order_id, order.kind, order.market, order.side,
                             order.size)

        async def prepare() -> Prepared:
            session = self._session
            session.require_sub_account(order.sub_account)
            view = session.require_link()
            ref = view.perp_ref(order.market)
            view = await session.require_trading((ref.index,))
            current = order_prep.base_amount(view, ref.index)
            opposite = current != 0 and (current > 0) != (order.side is Side.LONG)
            units = order_prep.base_units(view, ref.index, order.size)
            if order.reduce_only:
                if not opposite:
                    raise DomainError(ErrorCode.NO_POSITION,
                                      f"reduce-only {order.side.value} on {order.market}: no "
                                      f"{order.side.opposite.value} position to reduce")
                units = min(units, abs(current))
            reducing = opposite and units <= abs(current)
            order_prep.check_market(view, ref.index, order.market, increasing=not reducing)
            oracle = quote(view.perp_oracle(ref.index).price)
            if not reducing:
                order_prep.check_leverage(view, order.market, units, oracle)
            limit = order.price_limit or venue_rules.price_limit(oracle, order.side,
                                                                 self._slippage)
            return self._perp_prepared(view, intent, ref.index, order.side, units, limit,
                                       oracle, reduce_only=order.reduce_only)

        return (await self._order(intent, prepare)).result

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

        async def prepare() -> Prepared:
            session = self._session
            session.require_sub_account(sub_account)
            view = session.require_link()
            ref = view.perp_ref(market)
            view = await session.require_trading((ref.index,))
            current = order_prep.base_amount(view, ref.index)
            if current == 0:
                raise DomainError(ErrorCode.NO_POSITION,
                                  f"sub-account {sub_account} has no {market} position")
            order_prep.check_market(view, ref.index, market, increasing=False)
            side = Side.SHORT if current > 0 else Side.LONG
            oracle = quote(view.perp_oracle(ref.index).price)
            limit = price_limit or venue_rules.price_limit(oracle, side, self._slippage)
            # Property 15: exactly the position's size, reduce-only.
            prepared = self._perp_prepared(view, replace(intent, side=side, size=base(
                abs(current))), ref.index, side, abs(current), limit, oracle, reduce_only=True)
            if settle_pnl:
                prepared.finish = self._then_settle(prepared.finish, ref.index, market)
            return prepared

        record = await self._order(intent, prepare)
        return CloseOutcome(record.result, record.settlement)

    async def settle_pnl(self, client_order_id: str, sub_account: int, market: str) -> OrderResult:
        intent = OrderIntent(client_order_id, OrderKind.SETTLE_PNL, market)

        async def prepare() -> Prepared:
            session = self._session
            session.require_sub_account(sub_account)
            view = session.require_link()
            ref = view.perp_ref(market)
            view = await session.require_trading((ref.index,))
            return self._settle_prepared(view, intent, ref.index)

        return (await self._order(intent, prepare)).result

    async def swap(
        self, client_order_id: str, side: Side, size: Decimal, price_limit: Decimal | None = None
    ) -> OrderResult:
        kind = OrderKind.SPOT_BUY if side is Side.LONG else OrderKind.SPOT_SELL
        intent = OrderIntent(client_order_id, kind, SPOT_MARKET, side, size)

        async def prepare() -> Prepared:
            session = self._session
            if session.swap is None:
                raise DomainError(ErrorCode.VENUE_UNAVAILABLE,
                                  "no swap API configured (SWAP_API_URL or the profile's "
                                  "swap_api_url)")
            swap_api = session.swap
            view = session.require_link()
            ref = view.perp_ref(SPOT_PRICE_MARKET)
            view = await session.require_trading((ref.index,))
            oracle = quote(view.perp_oracle(ref.index).price)
            usdc, sol = await session.wallet_balances()
            quote_mint, sol_mint = session.profile.quote_mint, session.profile.sol_mint
            if side is Side.LONG:
                spend = (size * oracle).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
                if spend > usdc:
                    raise DomainError(ErrorCode.INSUFFICIENT_BALANCE,
                                      f"buying {size} SOL costs about {spend} "
                                      f"{self._quote}; the wallet holds {usdc}")
                offer = await swap_api.quote(quote_mint, sol_mint,
                                             self._quote_units(view, spend), self._swap_bps)
                sol_amount = Decimal(offer.out_amount) / LAMPORTS
                usdc_amount = Decimal(offer.in_amount) / QUOTE
            else:
                if size > sol:
                    raise DomainError(ErrorCode.INSUFFICIENT_BALANCE,
                                      f"selling {size} SOL: the wallet holds {sol} SOL")
                lamports = int((size * LAMPORTS).to_integral_value(ROUND_DOWN))
                offer = await swap_api.quote(sol_mint, quote_mint, lamports, self._swap_bps)
                sol_amount = Decimal(offer.in_amount) / LAMPORTS
                usdc_amount = Decimal(offer.out_amount) / QUOTE
            if sol_amount <= 0:
                raise DomainError(ErrorCode.INVALID_SIZE, f"size {size} SOL rounds to nothing")
            price = usdc_amount / sol_amount
            if price_limit is not None and (price > price_limit if side is Side.LONG
                                            else price < price_limit):
                raise DomainError(ErrorCode.PRICE_LIMIT,
                                  f"the swap quotes {price:.6f} {self._quote}/SOL, beyond the "
                                  f"limit {price_limit}")
            unsigned, last_valid = await swap_api.transaction(offer, session.wallet.pubkey)
            assert session.pipeline is not None
            signed = session.pipeline.sign_prepared(unsigned, last_valid)
            fill = OrderResult(
                client_order_id=client_order_id, kind=kind, status=OrderStatus.FILLED,
                market=SPOT_MARKET, side=side, requested_size=size, filled_size=sol_amount,
                fill_price=price, oracle_price=oracle,
                slippage=side.sign * (price - oracle) / oracle, fee=ZERO, notional=usdc_amount)

            async def finish(record: SentOrder) -> SentOrder:
                return self._outcomes.filled(record, fill)

            return Prepared(self._pending(intent), finish, signed=signed)

        return (await self._order(intent, prepare)).result

    # --- pieces of orders

    async def _order(self, intent: OrderIntent,
                     prepare: Callable[[], Awaitable[Prepared]]) -> OrderRecord:
        return await self._orders.submit(intent, lambda: self._sender.execute(intent, prepare))

    def _pending(self, intent: OrderIntent) -> SentOrder:
        return order_prep.pending(intent, self._clock.now())

    def _quote_units(self, view: VenueView, amount: Decimal) -> int:
        return order_prep.quote_units(view, self._session.profile.quote_spot_market_index,
                                      amount)

    def _perp_prepared(self, view: VenueView, intent: OrderIntent, index: int, side: Side,
                       units: int, limit: Decimal, oracle: Decimal, *,
                       reduce_only: bool) -> Prepared:
        return order_prep.perp_prepared(
            view, intent, PerpOrder(index, side, units, limit, oracle, reduce_only),
            now=self._clock.now(),
            fill_wait=self._timing.fill_wait, finish=self._sender.perp_done)

    def _settle_prepared(self, view: VenueView, intent: OrderIntent, index: int) -> Prepared:
        venue_rules.require_operation(view.state().exchange_status, venue_rules.SETTLE,
                                      f"settle PnL on {intent.market}")
        amount = account_view.unsettled_pnl(view, index)
        ix = view.settle_pnl_instruction(index)
        record = self._pending(intent)
        record.extra = {"unsettled_pnl": str(amount)}

        async def finish(done: SentOrder) -> SentOrder:
            return self._outcomes.filled(done, replace(done.result, status=OrderStatus.FILLED,
                                                       notional=abs(amount), fee=ZERO))

        return Prepared(record, finish, [ix])

    def _transfer_done(self, amount: Decimal) -> Finish:
        async def finish(record: SentOrder) -> SentOrder:
            return self._outcomes.filled(record, replace(
                record.result, status=OrderStatus.FILLED, filled_size=amount,
                fill_price=Decimal(1), notional=amount, fee=ZERO))

        return finish

    def _then_settle(self, finish: Finish, index: int, market: str) -> Finish:
        """Property 16: after the close, settle when the unsettled PnL exceeds $1 either way."""

        async def close_then_settle(record: SentOrder) -> SentOrder:
            closed = await finish(record)
            if closed.result.status is not OrderStatus.FILLED:
                return closed
            assert self._session.view is not None
            view = self._session.view
            try:
                await self._session.read("PnL", lambda: view.refresh((index,)))
                unsettled = account_view.unsettled_pnl(view, index)
                if abs(unsettled) <= SETTLE_THRESHOLD_USD:
                    return closed
                intent = OrderIntent(f"{record.result.client_order_id}:settle",
                                     OrderKind.SETTLE_PNL, market)
                settled = await self._sender.execute_prepared(
                    self._settle_prepared(view, intent, index))
            except DomainError as error:
                settled = SentOrder(OrderResult.refused(
                    OrderIntent(f"{record.result.client_order_id}:settle",
                                OrderKind.SETTLE_PNL, market),
                    error.code, error.message, at=self._clock.now()))
            closed.settlement = settled.result
            self._orders.put(closed)
            return closed

        return close_then_settle
