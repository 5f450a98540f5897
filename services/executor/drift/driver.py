"""The live venue driver (design.md's DriftAdapter): a VenueDriver on driftpy and a Solana RPC.

Every order: replay check -> trading allowed (link up, not an unconfirmed mainnet, program and
market active, fresh State) -> instructions -> sign -> simulate (a failure is REJECTED, never
retried) -> signature logged -> send -> confirm (30 s, then every 5 s up to 60 s more, else
UNKNOWN with the signature) -> outcome logged. An order call answers PENDING when confirmation
takes longer than `answer_within` seconds; the outcome follows through get_order and the same id.
An order an earlier run left PENDING or UNKNOWN is looked up every `recheck_every` seconds
until it is final, and counts as the one order in flight meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from driftpy.types import MarketType, OrderParams, OrderType, PositionDirection
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.instruction import Instruction
from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from services.common.clock import Clock, SystemClock
from services.common.errors import DomainError, ErrorCode
from services.common.venue_profile import VenueProfile
from services.executor.domain import (
    QUOTE_MARKET,
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
from services.executor.drift import account_view, venue_rules
from services.executor.drift.account_view import BASE, LAMPORTS, QUOTE, base, quote
from services.executor.drift.confirmation import Confirmer, ConfirmTiming, Landing
from services.executor.drift.drift_view import DriftView, build_drift_client
from services.executor.drift.funding import funding_payments
from services.executor.drift.link import LinkDown, RpcLink, is_transport_error
from services.executor.drift.order_log import OrderLog, SentOrder
from services.executor.drift.swap_api import SwapApi
from services.executor.drift.transactions import Signed, TxPipeline
from services.executor.drift.wallet_key import WalletKey
from services.executor.order_journal import OrderJournal
from services.executor.order_record import NOT_FINAL, OrderRecord

log = logging.getLogger(__name__)

ZERO = Decimal(0)
SETTLE_THRESHOLD_USD = Decimal(1)  # property 16
LIVE_MAX_LEVERAGE = Decimal(5)  # property 4, live venue
FILL_POLL_SECONDS = 1.0
RPC_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class DriverTiming:
    confirm: ConfirmTiming = field(default_factory=ConfirmTiming)
    answer_within: float = 4.0
    fill_wait: float = 20.0
    fill_poll: float = FILL_POLL_SECONDS
    retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0)
    reconnect_every: float = 10.0
    # How often an order left PENDING or UNKNOWN by an earlier run is looked up again.
    recheck_every: float = 5.0


@dataclass
class Prepared:
    """An order ready to sign: its instructions (or a prepared transaction) and how to read
    its outcome once it landed."""

    record: SentOrder
    finish: Callable[[SentOrder], Awaitable[SentOrder]]
    instructions: list[Instruction] | None = None
    signed: Signed | None = None


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
        timing: DriverTiming = DriverTiming(),
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = profile.name
        self._rpc_url = rpc_url
        self._wallet = wallet
        self._profile = profile
        self._sub_account = sub_account
        self._swap_url = swap_api_url or profile.swap_api_url
        self._trading_confirmed = trading_confirmed
        self._log = order_log or OrderLog(None)
        self._slippage = slippage_tolerance
        self._swap_bps = swap_slippage_bps
        self._max_stale_slots = oracle_max_stale_slots
        self._timing = timing
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._monotonic = monotonic
        self._orders: OrderJournal[SentOrder] = OrderJournal(
            persist=self._log.save, new_record=SentOrder, look_up=self._look_up,
            one_at_a_time=True, detach=True, answer_within=timing.answer_within,
            now=self._clock.now)
        self._lookup_tables: list[AddressLookupTableAccount] = []
        self._mainnet_refusal = "the cluster has not been identified yet"
        self._connection: AsyncClient | None = None
        self._view: DriftView | None = None
        self._link: RpcLink | None = None
        self._pipeline: TxPipeline | None = None
        self._confirmer: Confirmer | None = None
        self._swap: SwapApi | None = None

    def __repr__(self) -> str:
        return f"DriftDriver(venue={self.name}, wallet={self._wallet.pubkey})"

    # --- lifecycle

    async def start(self) -> None:
        self._orders.load(self._log.load())
        self._connection = AsyncClient(self._rpc_url, timeout=RPC_TIMEOUT_SECONDS)
        client = build_drift_client(self._connection, self._wallet.keypair(), self._profile,
                                    self._sub_account)
        self._view = DriftView(client, self._sub_account, self._profile.quote_spot_market_index)
        timing = self._timing
        self._link = RpcLink(self._probe, self._sync, sleep=self._sleep,
                             retry_delays=timing.retry_delays,
                             reconnect_every=timing.reconnect_every)
        self._confirmer = Confirmer(self._connection, timing.confirm, sleep=self._sleep,
                                    monotonic=self._monotonic)
        self._pipeline = TxPipeline(self._connection, self._link, self._confirmer,
                                    self._wallet.keypair)
        self._swap = SwapApi(self._swap_url) if self._swap_url else None
        try:
            await self._link.timed(self._probe)
            await self._sync()
            self._link.up()
        except Exception as error:
            log.error("live venue not reachable at start; reconnecting", exc_info=True)
            self._link.drop(f"start failed: {type(error).__name__}")
        log.info("live venue driver started", extra={
            "venue": self.name, "wallet": str(self._wallet.pubkey),
            "sub_account": self._sub_account, "connected": self._link.connected})
        for record in self._orders.unsettled():
            if record.signature:
                self._orders.follow(record, self._until_final)

    async def close(self) -> None:
        await self._orders.cancel_running()
        if self._link is not None:
            await self._link.close()
        if self._swap is not None:
            await self._swap.close()
        if self._connection is not None:
            await self._connection.close()

    async def _until_final(self, record: SentOrder) -> SentOrder:
        while True:
            record = await self._recheck(record)
            if record.result.status not in NOT_FINAL:
                return record
            await self._sleep(self._timing.recheck_every)

    async def _probe(self) -> object:
        assert self._connection is not None
        return await self._connection.get_slot(Confirmed)

    async def _sync(self) -> None:
        """Identifies the cluster, loads State, markets, oracles and the user: at start and
        after every reconnection, before trading resumes (property 44)."""
        assert self._connection is not None and self._view is not None
        await self._identify_cluster()
        await self._view.load_all()
        try:
            self._lookup_tables = await self._view.client.fetch_market_lookup_table_accounts()
        except Exception:
            log.warning("market lookup tables not readable; sending without them")
            self._lookup_tables = []

    async def _identify_cluster(self) -> None:
        assert self._connection is not None
        try:
            genesis = str((await self._connection.get_genesis_hash()).value)
        except Exception as error:
            if is_transport_error(error):
                raise
            self._mainnet_refusal = (f"the RPC gives no usable getGenesisHash answer "
                                     f"({type(error).__name__}), so the cluster cannot be told "
                                     "apart from mainnet; trading is halted")
            return
        if genesis == self._profile.genesis_hash and not self._trading_confirmed:
            self._mainnet_refusal = (
                f"the RPC serves {self._profile.cluster} (genesis {genesis}) and "
                "LIVE_TRADING_CONFIRMED=true is not set: trading with real funds is halted")
        else:
            self._mainnet_refusal = ""

    # --- reads

    async def status(self) -> VenueStatus:
        assert self._link is not None and self._view is not None
        reasons = []
        latency = self._link.latency_ms
        if self._link.connected:
            try:
                slot = (await self._link.timed(self._probe)).value  # type: ignore[attr-defined]
                latency = self._link.latency_ms
                await self._refresh_state()
                latency = max(latency, self._oracle_staleness_ms(slot))
            except Exception as error:
                self._link.drop(f"status probe failed: {type(error).__name__}")
        if not self._link.connected:
            reasons.append(f"not connected to the RPC ({self._link.reason}); reconnecting every "
                           f"{self._timing.reconnect_every:.0f} s, trading resumes after a "
                           "re-sync")
        else:
            reasons.extend(self._halts())
        return VenueStatus(
            venue=self.name,
            connected=self._link.connected,
            latency_ms=latency,
            trading_halted=bool(reasons),
            halt_reason="; ".join(reasons),
            account=str(self._wallet.pubkey),
            as_of=self._clock.now(),
        )

    def _halts(self) -> list[str]:
        assert self._view is not None
        reasons = []
        if self._mainnet_refusal:
            reasons.append(self._mainnet_refusal)
        state = self._view.client.get_state_account()
        if state is not None and venue_rules.halt_reason(state.exchange_status):
            reasons.append(venue_rules.halt_reason(state.exchange_status))
        if not self._view.has_user():
            reasons.append(f"no venue user account for sub-account {self._sub_account}")
        return reasons

    def _oracle_staleness_ms(self, slot: int) -> float:
        """The hedge market's oracle staleness in ms, when past the limit (venue_rules)."""
        assert self._view is not None
        index = self._view.perp_by_symbol.get(SPOT_PRICE_MARKET)
        if index is None:
            return 0.0
        oracle = self._view.client.get_oracle_price_data_for_perp_market(index)
        if oracle is None or not oracle.slot:
            return 0.0
        return venue_rules.oracle_staleness_ms(slot, oracle.slot, self._max_stale_slots)

    async def _refresh_state(self) -> None:
        assert self._view is not None and self._link is not None
        view = self._view
        index = view.perp_by_symbol.get(SPOT_PRICE_MARKET)
        await self._link.read("State and oracle", lambda: view.refresh_status(index))

    async def account_state(
        self, sub_account: int, funding_since: datetime | None = None
    ) -> AccountState:
        self._require_sub_account(sub_account)
        view = self._require_link()
        await self._read("account", view.refresh)
        usdc, sol = await self._wallet_balances()
        state = account_view.account_state(view, account=str(self._wallet.pubkey),
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
        return await self._recheck(record) if record.signature else record

    async def _read(self, what: str, call: Callable[[], Awaitable[object]]) -> object:
        assert self._link is not None
        try:
            return await self._link.read(what, call)
        except LinkDown as down:
            raise DomainError(ErrorCode.VENUE_UNAVAILABLE, str(down)) from None

    async def _wallet_balances(self) -> tuple[Decimal, Decimal]:
        assert self._connection is not None
        connection, owner = self._connection, self._wallet.pubkey
        lamports = await self._read("wallet SOL", lambda: connection.get_balance(owner,
                                                                                 Confirmed))
        ata = self._quote_token_account()

        async def token_balance() -> Decimal:
            try:
                answer = await connection.get_token_account_balance(ata, Confirmed)
            except RPCException as error:
                said = _rpc_error_text(error)
                if "could not find account" in said:
                    return ZERO  # no token account yet: nothing held
                # Any other error answer says nothing about the balance: fail closed.
                raise DomainError(ErrorCode.VENUE_UNAVAILABLE,
                                  f"the wallet's quote balance could not be read: the RPC "
                                  f"answered {said!r}") from None
            return Decimal(answer.value.amount) / Decimal(10**answer.value.decimals)

        usdc = await self._read("wallet quote", token_balance)
        return usdc, Decimal(lamports.value) / LAMPORTS  # type: ignore[attr-defined]

    def _quote_token_account(self) -> Pubkey:
        return get_associated_token_address(self._wallet.pubkey,
                                            Pubkey.from_string(self._profile.quote_mint))

    # --- guards

    def _require_sub_account(self, sub_account: int) -> None:
        if sub_account != self._sub_account:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"this executor trades sub-account {self._sub_account} (DRIFT_SUB_ACCOUNT); "
                f"sub-account {sub_account} was asked for")

    def _require_link(self) -> DriftView:
        assert self._link is not None and self._view is not None
        if not self._link.connected:
            raise DomainError(
                ErrorCode.VENUE_UNAVAILABLE,
                f"the venue link is down ({self._link.reason}); trading resumes once it is "
                "re-established and the account re-synced")
        return self._view

    async def _require_trading(self, perp_indexes: tuple[int, ...] = ()) -> DriftView:
        """Before every trade: link up, not an unconfirmed mainnet, fresh State and user."""
        view = self._require_link()
        if self._mainnet_refusal:
            raise DomainError(ErrorCode.TRADING_DISABLED, self._mainnet_refusal)
        await self._read("State and account", lambda: view.refresh(perp_indexes))
        view.user_account()  # refuses a wallet without a venue user
        return view

    # --- orders

    async def deposit(self, client_order_id: str, sub_account: int, amount: Decimal) -> OrderResult:
        intent = OrderIntent(client_order_id, OrderKind.DEPOSIT, QUOTE_MARKET, size=amount)

        async def prepare() -> Prepared:
            self._require_sub_account(sub_account)
            view = await self._require_trading()
            venue_rules.require_operation(view.state().exchange_status, venue_rules.DEPOSIT,
                                          "deposit")
            units = self._quote_units(amount)
            usdc, _ = await self._wallet_balances()
            if amount > usdc:
                raise DomainError(ErrorCode.INSUFFICIENT_BALANCE,
                                  f"deposit of {amount} {QUOTE_MARKET} exceeds the wallet's "
                                  f"{usdc} {QUOTE_MARKET}")
            ixs = await view.client.get_deposit_collateral_ix(
                units, self._profile.quote_spot_market_index, self._quote_token_account(),
                self._sub_account, False, True)
            return Prepared(self._pending(intent), self._transfer_done(amount), ixs)

        return (await self._order(intent, prepare)).result

    async def withdraw(self, client_order_id: str, sub_account: int,
                       amount: Decimal) -> OrderResult:
        intent = OrderIntent(client_order_id, OrderKind.WITHDRAW, QUOTE_MARKET, size=amount)

        async def prepare() -> Prepared:
            self._require_sub_account(sub_account)
            view = await self._require_trading()
            venue_rules.require_operation(view.state().exchange_status, venue_rules.WITHDRAW,
                                          "withdraw")
            units = self._quote_units(amount)
            free = quote(view.user.get_free_collateral())
            if amount > free:
                raise DomainError(ErrorCode.INSUFFICIENT_COLLATERAL,
                                  f"withdrawal of {amount} {QUOTE_MARKET} exceeds free "
                                  f"collateral {free:.6f} {QUOTE_MARKET}")
            # reduce_only: never borrow, only take back what is deposited.
            ixs = await view.client.get_withdraw_collateral_ix(
                units, self._profile.quote_spot_market_index, self._quote_token_account(),
                True, self._sub_account)
            return Prepared(self._pending(intent), self._transfer_done(amount), ixs)

        return (await self._order(intent, prepare)).result

    async def open_position(self, order: OpenOrder) -> OrderResult:
        intent = OrderIntent(order.client_order_id, order.kind, order.market, order.side,
                             order.size)

        async def prepare() -> Prepared:
            self._require_sub_account(order.sub_account)
            view = self._require_link()
            ref = view.perp_ref(order.market)
            view = await self._require_trading((ref.index,))
            current = self._base_amount(view, ref.index)
            opposite = current != 0 and (current > 0) != (order.side is Side.LONG)
            units = self._base_units(view, ref.index, order.size)
            if order.reduce_only:
                if not opposite:
                    raise DomainError(ErrorCode.NO_POSITION,
                                      f"reduce-only {order.side.value} on {order.market}: no "
                                      f"{order.side.opposite.value} position to reduce")
                units = min(units, abs(current))
            reducing = opposite and units <= abs(current)
            self._check_market(view, ref.index, order.market, increasing=not reducing)
            oracle = quote(view.perp_oracle(ref.index).price)
            if not reducing:
                self._check_leverage(view, order.market, units, oracle)
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
            self._require_sub_account(sub_account)
            view = self._require_link()
            ref = view.perp_ref(market)
            view = await self._require_trading((ref.index,))
            current = self._base_amount(view, ref.index)
            if current == 0:
                raise DomainError(ErrorCode.NO_POSITION,
                                  f"sub-account {sub_account} has no {market} position")
            self._check_market(view, ref.index, market, increasing=False)
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
            self._require_sub_account(sub_account)
            view = self._require_link()
            ref = view.perp_ref(market)
            view = await self._require_trading((ref.index,))
            return self._settle_prepared(view, intent, ref.index)

        return (await self._order(intent, prepare)).result

    async def swap(
        self, client_order_id: str, side: Side, size: Decimal, price_limit: Decimal | None = None
    ) -> OrderResult:
        kind = OrderKind.SPOT_BUY if side is Side.LONG else OrderKind.SPOT_SELL
        intent = OrderIntent(client_order_id, kind, SPOT_MARKET, side, size)

        async def prepare() -> Prepared:
            if self._swap is None:
                raise DomainError(ErrorCode.VENUE_UNAVAILABLE,
                                  "no swap API configured (SWAP_API_URL or the profile's "
                                  "swap_api_url)")
            view = self._require_link()
            ref = view.perp_ref(SPOT_PRICE_MARKET)
            view = await self._require_trading((ref.index,))
            oracle = quote(view.perp_oracle(ref.index).price)
            usdc, sol = await self._wallet_balances()
            quote_mint, sol_mint = self._profile.quote_mint, self._profile.sol_mint
            if side is Side.LONG:
                spend = (size * oracle).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
                if spend > usdc:
                    raise DomainError(ErrorCode.INSUFFICIENT_BALANCE,
                                      f"buying {size} SOL costs about {spend} "
                                      f"{QUOTE_MARKET}; the wallet holds {usdc}")
                offer = await self._swap.quote(quote_mint, sol_mint, self._quote_units(spend),
                                               self._swap_bps)
                sol_amount = Decimal(offer.out_amount) / LAMPORTS
                usdc_amount = Decimal(offer.in_amount) / QUOTE
            else:
                if size > sol:
                    raise DomainError(ErrorCode.INSUFFICIENT_BALANCE,
                                      f"selling {size} SOL: the wallet holds {sol} SOL")
                lamports = int((size * LAMPORTS).to_integral_value(ROUND_DOWN))
                offer = await self._swap.quote(sol_mint, quote_mint, lamports, self._swap_bps)
                sol_amount = Decimal(offer.in_amount) / LAMPORTS
                usdc_amount = Decimal(offer.out_amount) / QUOTE
            if sol_amount <= 0:
                raise DomainError(ErrorCode.INVALID_SIZE, f"size {size} SOL rounds to nothing")
            price = usdc_amount / sol_amount
            if price_limit is not None and (price > price_limit if side is Side.LONG
                                            else price < price_limit):
                raise DomainError(ErrorCode.PRICE_LIMIT,
                                  f"the swap quotes {price:.6f} {QUOTE_MARKET}/SOL, beyond the "
                                  f"limit {price_limit}")
            unsigned, last_valid = await self._swap.transaction(offer, self._wallet.pubkey)
            assert self._pipeline is not None
            signed = self._pipeline.sign_prepared(unsigned, last_valid)
            fill = OrderResult(
                client_order_id=client_order_id, kind=kind, status=OrderStatus.FILLED,
                market=SPOT_MARKET, side=side, requested_size=size, filled_size=sol_amount,
                fill_price=price, oracle_price=oracle,
                slippage=side.sign * (price - oracle) / oracle, fee=ZERO, notional=usdc_amount)

            async def finish(record: SentOrder) -> SentOrder:
                return self._filled(record, fill)

            return Prepared(self._pending(intent), finish, signed=signed)

        return (await self._order(intent, prepare)).result

    # --- pieces of orders

    def _pending(self, intent: OrderIntent) -> SentOrder:
        return SentOrder(OrderResult(
            client_order_id=intent.client_order_id, kind=intent.kind,
            status=OrderStatus.PENDING, market=intent.market, side=intent.side,
            requested_size=intent.size, executed_at=self._clock.now()))

    def _quote_units(self, amount: Decimal) -> int:
        assert self._view is not None
        decimals = self._view.spot_market(self._profile.quote_spot_market_index).decimals
        units = int((amount * Decimal(10**decimals)).to_integral_value(ROUND_DOWN))
        if units <= 0:
            raise DomainError(ErrorCode.INVALID_AMOUNT,
                              f"amount {amount} is below the venue's smallest unit")
        return units

    @staticmethod
    def _base_amount(view: DriftView, index: int) -> int:
        position = view.user.get_perp_position(index)
        return position.base_asset_amount if position else 0

    @staticmethod
    def _base_units(view: DriftView, index: int, size: Decimal) -> int:
        """The size on the market's order step; a size below its minimum is refused."""
        amm = view.perp_market(index).amm
        units = int((size * BASE).to_integral_value(ROUND_DOWN))
        step = max(amm.order_step_size, 1)
        units -= units % step
        if units <= 0 or units < amm.min_order_size:
            raise DomainError(ErrorCode.INVALID_SIZE,
                              f"size {size} is below the market's minimum order "
                              f"{base(max(amm.min_order_size, step))}")
        return units

    @staticmethod
    def _check_market(view: DriftView, index: int, symbol: str, *, increasing: bool) -> None:
        venue_rules.require_operation(view.state().exchange_status, venue_rules.PERP_ORDER,
                                      f"trade {symbol}")
        market = view.perp_market(index)
        venue_rules.require_market(symbol, index, venue_rules.variant(market.status),
                                   venue_rules.variant(market.contract_type),
                                   increasing=increasing)

    @staticmethod
    def _check_leverage(view: DriftView, symbol: str, units: int, oracle: Decimal) -> None:
        user = view.user
        collateral = quote(user.get_total_collateral())
        exposure = sum((base(abs(p.base_asset_amount)) * quote(view.perp_oracle(
            p.market_index).price) for p in view.user_account().perp_positions
            if p.base_asset_amount), ZERO)
        after = exposure + base(units) * oracle
        if collateral <= 0 or after / collateral > LIVE_MAX_LEVERAGE:
            leverage = after / collateral if collateral > 0 else Decimal("Infinity")
            raise DomainError(ErrorCode.LEVERAGE_LIMIT,
                              f"the {symbol} order would take leverage to {leverage:.2f}x; "
                              f"live trading allows at most {LIVE_MAX_LEVERAGE}x",
                              leverage=f"{leverage:.4f}")

    def _perp_prepared(self, view: DriftView, intent: OrderIntent, index: int, side: Side,
                       units: int, limit: Decimal, oracle: Decimal, *,
                       reduce_only: bool) -> Prepared:
        position = view.user.get_perp_position(index)
        record = self._pending(intent)
        record.base_before = position.base_asset_amount if position else 0
        record.quote_before = position.quote_asset_amount if position else 0
        record.extra = {"market_index": str(index), "oracle_price": str(oracle),
                        "price_limit": str(limit)}
        params = OrderParams(
            order_type=OrderType.Market(),
            market_type=MarketType.Perp(),
            direction=PositionDirection.Long() if side is Side.LONG else PositionDirection.Short(),
            base_asset_amount=units,
            market_index=index,
            price=int((limit * QUOTE).to_integral_value(ROUND_DOWN)),
            user_order_id=_user_order_id(intent.client_order_id),
            reduce_only=reduce_only,
            # The order cannot fill after this: an unfilled market order expires on chain.
            max_ts=int(self._clock.now().timestamp() + self._timing.fill_wait),
        )
        ix = view.client.get_place_perp_order_ix(params, self._sub_account)
        return Prepared(record, self._perp_done, [ix])

    def _settle_prepared(self, view: DriftView, intent: OrderIntent, index: int) -> Prepared:
        venue_rules.require_operation(view.state().exchange_status, venue_rules.SETTLE,
                                      f"settle PnL on {intent.market}")
        amount = account_view.unsettled_pnl(view, index)
        ix = view.client.get_settle_pnl_ix(view.client.get_user_account_public_key(
            self._sub_account), view.user_account(), index)
        record = self._pending(intent)
        record.extra = {"unsettled_pnl": str(amount)}

        async def finish(done: SentOrder) -> SentOrder:
            return self._filled(done, replace(done.result, status=OrderStatus.FILLED,
                                              notional=abs(amount), fee=ZERO))

        return Prepared(record, finish, [ix])

    def _transfer_done(self, amount: Decimal) -> Callable[[SentOrder], Awaitable[SentOrder]]:
        async def finish(record: SentOrder) -> SentOrder:
            return self._filled(record, replace(
                record.result, status=OrderStatus.FILLED, filled_size=amount,
                fill_price=Decimal(1), notional=amount, fee=ZERO))

        return finish

    async def _perp_done(self, record: SentOrder) -> SentOrder:
        """After the order landed: waits for its fill (the position moves) until its max_ts."""
        assert self._view is not None
        view, index = self._view, int(record.extra["market_index"])
        deadline = self._monotonic() + self._timing.fill_wait
        wanted = int((record.result.requested_size or ZERO) * BASE)
        moved, quote_moved = 0, 0
        while True:
            try:
                await self._read("fill", lambda: view.refresh((index,)))
            except DomainError:
                return self._unknown(record, "the order landed but its fill could not be read "
                                     "(the RPC link dropped)")
            position = view.user.get_perp_position(index)
            moved = (position.base_asset_amount if position else 0) - (record.base_before or 0)
            quote_moved = (position.quote_asset_amount if position else 0) - \
                (record.quote_before or 0)
            if abs(moved) >= wanted or self._monotonic() >= deadline:
                break
            await self._sleep(self._timing.fill_poll)
        if moved == 0:
            return self._final(record, replace(
                record.result, status=OrderStatus.FAILED, error_code=ErrorCode.VENUE_REJECTED,
                error_message=f"the market order landed ({record.signature}) but did not fill "
                              "before it expired; nothing traded",
                error_details={"tx_signature": record.signature}))
        return self._filled(record, self._fill(view, record, moved, quote_moved))

    def _fill(self, view: DriftView, record: SentOrder, moved: int,
              quote_moved: int) -> OrderResult:
        """Size and price from the position's change; the taker fee from the State's first
        fee tier (Drift charges it in the quote asset amount)."""
        size = base(abs(moved))
        side = Side.LONG if moved > 0 else Side.SHORT
        effective = quote(abs(quote_moved)) / size
        tier = view.state().perp_fee_structure.fee_tiers[0]
        rate = Decimal(tier.fee_numerator) / Decimal(tier.fee_denominator) \
            if tier.fee_denominator else ZERO
        price = effective / (1 + rate) if side is Side.LONG else effective / (1 - rate)
        price = price.quantize(Decimal("0.000001"))
        oracle = Decimal(record.extra.get("oracle_price", "0")) or price
        notional = size * price
        return replace(record.result, status=OrderStatus.FILLED, side=side, filled_size=size,
                       fill_price=price, oracle_price=oracle,
                       slippage=side.sign * (price - oracle) / oracle,
                       fee=(notional * rate).quantize(Decimal("0.000001")), notional=notional)

    def _then_settle(self, finish: Callable[[SentOrder], Awaitable[SentOrder]], index: int,
                     market: str) -> Callable[[SentOrder], Awaitable[SentOrder]]:
        """Property 16: after the close, settle when the unsettled PnL exceeds $1 either way."""

        async def close_then_settle(record: SentOrder) -> SentOrder:
            closed = await finish(record)
            if closed.result.status is not OrderStatus.FILLED:
                return closed
            assert self._view is not None
            view = self._view
            try:
                await self._read("PnL", lambda: view.refresh((index,)))
                unsettled = account_view.unsettled_pnl(view, index)
                if abs(unsettled) <= SETTLE_THRESHOLD_USD:
                    return closed
                intent = OrderIntent(f"{record.result.client_order_id}:settle",
                                     OrderKind.SETTLE_PNL, market)
                settled = await self._execute_prepared(self._settle_prepared(view, intent,
                                                                             index))
            except DomainError as error:
                settled = SentOrder(OrderResult.refused(
                    OrderIntent(f"{record.result.client_order_id}:settle",
                                OrderKind.SETTLE_PNL, market),
                    error.code, error.message, at=self._clock.now()))
            closed.settlement = settled.result
            self._orders.put(closed)
            return closed

        return close_then_settle

    # --- the pipeline

    async def _order(self, intent: OrderIntent,
                     prepare: Callable[[], Awaitable[Prepared]]) -> OrderRecord:
        return await self._orders.submit(intent, lambda: self._execute(intent, prepare))

    async def _recheck(self, stored: SentOrder) -> SentOrder:
        """One look at an earlier signature: landed, failed, or (still) unknown."""
        assert self._confirmer is not None and self._pipeline is not None
        try:
            landed = await self._confirmer.status(stored.signature)
            if landed is None:
                if not await self._pipeline.blockhash_expired(stored.last_valid_block_height):
                    return stored  # it can still land: never sign a second one now
                return self._final(stored, replace(
                    stored.result, status=OrderStatus.FAILED,
                    error_code=ErrorCode.VENUE_REJECTED,
                    error_message=f"transaction {stored.signature} never landed and its "
                                  "blockhash has expired: nothing traded",
                    error_details={"tx_signature": stored.signature}))
        except Exception:
            log.warning("could not look up an earlier signature", exc_info=True,
                        extra={"tx_signature": stored.signature})
            return stored
        if landed.outcome == "failed":
            return self._landed_failed(stored, landed)
        if stored.result.kind in (OrderKind.PERP_OPEN, OrderKind.PERP_REBALANCE,
                                  OrderKind.PERP_CLOSE) and stored.extra.get("market_index"):
            try:
                return await self._perp_done(stored)
            except Exception:
                log.error("fill of a late-confirmed order not readable", exc_info=True)
        return self._final(stored, replace(
            stored.result, status=OrderStatus.FILLED, filled_size=stored.result.requested_size,
            error_code="", error_message="", error_details={}))

    async def _execute(self, intent: OrderIntent,
                       prepare: Callable[[], Awaitable[Prepared]]) -> SentOrder:
        try:
            prepared = await prepare()
        except DomainError as error:
            # Unreachable venue: FAILED, so the same id may be tried again once it is back.
            transient = error.code == ErrorCode.VENUE_UNAVAILABLE
            return self._refused(intent, error,
                                 OrderStatus.FAILED if transient else OrderStatus.REJECTED)
        except LinkDown as down:
            return self._refused(intent, DomainError(ErrorCode.VENUE_UNAVAILABLE, str(down)),
                                 OrderStatus.FAILED)
        try:
            return await self._execute_prepared(prepared)
        except Exception:
            log.error("live order failed unexpectedly", exc_info=True,
                      extra={"client_order_id": intent.client_order_id})
            current = self._orders.get(intent.client_order_id)
            if current is not None and current.signature:
                return self._unknown(current, "the executor failed while confirming; verify "
                                     "the transaction")
            return self._refused(intent, DomainError(
                ErrorCode.INTERNAL, "the executor failed before sending; nothing was sent"),
                OrderStatus.FAILED)

    async def _execute_prepared(self, prepared: Prepared) -> SentOrder:
        assert self._pipeline is not None
        record = prepared.record
        intent = OrderIntent(record.result.client_order_id, record.result.kind,
                             record.result.market, record.result.side,
                             record.result.requested_size)
        try:
            signed = prepared.signed or await self._pipeline.sign(prepared.instructions or [],
                                                                  self._lookup_tables)
            simulation = await self._pipeline.simulate(signed)
        except LinkDown as down:
            return self._refused(intent, DomainError(ErrorCode.VENUE_UNAVAILABLE, str(down)),
                                 OrderStatus.FAILED)
        if not simulation.ok:
            # Property 10: rejected, nothing sent, no retry.
            return self._refused(intent, DomainError(
                ErrorCode.VENUE_REJECTED, f"transaction simulation failed: "
                f"{simulation.summary()}", simulation_error=simulation.error))
        record.signature = signed.signature
        record.blockhash = signed.blockhash
        record.last_valid_block_height = signed.last_valid_block_height
        record.result = replace(record.result, tx_signature=signed.signature)
        self._orders.put(record)  # the signature is on disk before the transaction leaves
        sent = await self._pipeline.send(signed)
        if sent.landing is None:
            return self._refused(intent, DomainError(
                ErrorCode.VENUE_REJECTED, f"the RPC node refused the transaction: {sent.refused}"))
        landing = sent.landing
        if landing.outcome == "unknown":
            waited = self._timing.confirm.wait + self._timing.confirm.poll_total
            return self._unknown(record, f"no confirmation after {waited:.0f} s")
        if landing.outcome == "failed":
            return self._landed_failed(record, landing)
        return await prepared.finish(record)

    # --- outcomes

    def _final(self, record: SentOrder, result: OrderResult) -> SentOrder:
        record.result = result
        self._orders.put(record)
        return record

    def _refused(self, intent: OrderIntent, error: DomainError,
                 status: OrderStatus = OrderStatus.REJECTED) -> SentOrder:
        result = replace(OrderResult.refused(intent, error.code, error.message, status=status,
                                             at=self._clock.now()),
                         error_details=dict(error.details))
        record = SentOrder(result)
        self._orders.put(record)
        return record

    def _landed_failed(self, record: SentOrder, landing: Landing) -> SentOrder:
        return self._final(record, replace(
            record.result, status=OrderStatus.FAILED, error_code=ErrorCode.VENUE_REJECTED,
            error_message=f"transaction {record.signature} failed on chain: {landing.error}; "
                          "nothing changed",
            error_details={"tx_signature": record.signature, "error": str(landing.error)}))

    def _unknown(self, record: SentOrder, why: str) -> SentOrder:
        """Property 42: the outcome cannot be determined; a human checks the signature."""
        log.error("order outcome unknown", extra={
            "client_order_id": record.result.client_order_id, "tx_signature": record.signature,
            "reason": why})
        return self._final(record, replace(
            record.result, status=OrderStatus.UNKNOWN, error_code=ErrorCode.VENUE_UNAVAILABLE,
            error_message=f"{why}: the outcome of transaction {record.signature} is unknown; "
                          "verify it on an explorer before trading again",
            error_details={"tx_signature": record.signature,
                           "last_valid_block_height": str(record.last_valid_block_height)}))

    def _filled(self, record: SentOrder, result: OrderResult) -> SentOrder:
        done = replace(result, status=OrderStatus.FILLED, tx_signature=record.signature,
                       executed_at=self._clock.now(), error_code="", error_message="",
                       error_details={})
        # Property 46: every executed trade logs timestamp, market, side, size, price, signature.
        log.info("fill", extra={
            "timestamp": done.executed_at.isoformat() if done.executed_at else "",
            "market": done.market, "side": done.side.value if done.side else "",
            "size": str(done.filled_size), "price": str(done.fill_price),
            "tx_signature": done.tx_signature, "client_order_id": done.client_order_id,
            "kind": done.kind.value, "fee": str(done.fee)})
        return self._final(record, done)


def _rpc_error_text(error: RPCException) -> str:
    """The message of a JSON-RPC error answer (solders wraps it in a typed object)."""
    first = error.args[0] if error.args else error
    return str(getattr(first, "message", first))


def _user_order_id(client_order_id: str) -> int:
    """Drift's user_order_id is a u8 (1..255); derived from the client order id."""
    return hashlib.sha256(client_order_id.encode()).digest()[0] % 255 + 1
