"""The live venue's connection and health: connect, sync (cluster, State, markets, user) at
start and after every reconnection, status and halts, and the guards every trade passes
(sub-account, link up, not an unconfirmed mainnet, fresh State and user).

An account the profile's IDL refuses (another program's layout: AccountLayoutError) drops the
link with that reason: trading is refused, and the status says why, until a re-sync reads every
account in the IDL's layout."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from services.common.account_layouts import AccountLayoutError
from services.common.clock import Clock
from services.common.errors import DomainError, ErrorCode
from services.common.venue import SPOT_PRICE_MARKET, VenueStatus
from services.common.venue_profile import VenueProfile
from services.executor.drift import venue_rules
from services.executor.drift.account_view import LAMPORTS
from services.executor.drift.confirmation import Confirmer, ConfirmTiming
from services.executor.drift.link import LinkDown, RpcLink, is_transport_error
from services.executor.drift.swap_api import SwapApi
from services.executor.drift.transactions import TxPipeline
from services.executor.drift.venue_view import VenueView
from services.executor.drift.wallet_key import WalletKey
from services.executor.venue_views import open_venue_view

log = logging.getLogger(__name__)

ZERO = Decimal(0)
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


class VenueSession:
    """Everything the live driver holds of the venue once `open` has run."""

    def __init__(
        self,
        *,
        name: str,
        rpc_url: str,
        wallet: WalletKey,
        profile: VenueProfile,
        sub_account: int,
        swap_api_url: str,
        trading_confirmed: bool,
        oracle_max_stale_slots: int,
        timing: DriverTiming,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]],
        monotonic: Callable[[], float],
    ) -> None:
        self.name = name
        self.wallet = wallet
        self.profile = profile
        self.sub_account = sub_account
        self.timing = timing
        self._rpc_url = rpc_url
        self._swap_url = swap_api_url
        self._trading_confirmed = trading_confirmed
        self._max_stale_slots = oracle_max_stale_slots
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self.lookup_tables: list[AddressLookupTableAccount] = []
        self._mainnet_refusal = "the cluster has not been identified yet"
        self._layout_refusal = ""  # why the venue's accounts are not read, when they are not
        self.connection: AsyncClient | None = None
        self.view: VenueView | None = None
        self.link: RpcLink | None = None
        self.pipeline: TxPipeline | None = None
        self.confirmer: Confirmer | None = None
        self.swap: SwapApi | None = None

    # --- lifecycle

    async def open(self) -> None:
        """Connects and syncs; an unreachable venue is reconnected in the background."""
        self.connection = AsyncClient(self._rpc_url, timeout=RPC_TIMEOUT_SECONDS)
        self.view = open_venue_view(self.connection, self.wallet.keypair(), self.profile,
                                    self.sub_account)
        timing = self.timing
        self.link = RpcLink(self._probe, self._sync, sleep=self._sleep,
                            retry_delays=timing.retry_delays,
                            reconnect_every=timing.reconnect_every)
        self.confirmer = Confirmer(self.connection, timing.confirm, sleep=self._sleep,
                                   monotonic=self._monotonic)
        self.pipeline = TxPipeline(self.connection, self.link, self.confirmer,
                                   self.wallet.keypair)
        self.swap = SwapApi(self._swap_url) if self._swap_url else None
        try:
            await self.link.timed(self._probe)
            await self._sync()
            self.link.up()
        except AccountLayoutError as error:
            self.refuse_layout(error)
        except Exception as error:
            log.error("live venue not reachable at start; reconnecting", exc_info=True)
            self.link.drop(f"start failed: {type(error).__name__}")
        log.info("live venue driver started", extra={
            "venue": self.name, "wallet": str(self.wallet.pubkey),
            "sub_account": self.sub_account, "connected": self.link.connected})

    async def close(self) -> None:
        if self.link is not None:
            await self.link.close()
        if self.swap is not None:
            await self.swap.close()
        if self.connection is not None:
            await self.connection.close()

    async def _probe(self) -> object:
        assert self.connection is not None
        return await self.connection.get_slot(Confirmed)

    async def _sync(self) -> None:
        """Identifies the cluster, loads State, markets, oracles and the user: at start and
        after every reconnection, before trading resumes (property 44)."""
        assert self.connection is not None and self.view is not None
        await self._identify_cluster()
        try:
            await self.view.load_all()
        except AccountLayoutError as error:
            self._layout_refusal = self._layout_reason(error)
            raise
        self._layout_refusal = ""
        try:
            self.lookup_tables = await self.view.lookup_tables()
        except Exception:
            log.warning("market lookup tables not readable; sending without them")
            self.lookup_tables = []

    async def _identify_cluster(self) -> None:
        assert self.connection is not None
        try:
            genesis = str((await self.connection.get_genesis_hash()).value)
        except Exception as error:
            if is_transport_error(error):
                raise
            self._mainnet_refusal = (f"the RPC gives no usable getGenesisHash answer "
                                     f"({type(error).__name__}), so the cluster cannot be told "
                                     "apart from mainnet; trading is halted")
            return
        if genesis == self.profile.genesis_hash and not self._trading_confirmed:
            self._mainnet_refusal = (
                f"the RPC serves {self.profile.cluster} (genesis {genesis}) and "
                "LIVE_TRADING_CONFIRMED=true is not set: trading with real funds is halted")
        else:
            self._mainnet_refusal = ""

    def _layout_reason(self, error: AccountLayoutError) -> str:
        return f"{error}; nothing is read from it (venue profile {self.profile.name!r})"

    def refuse_layout(self, error: AccountLayoutError) -> str:
        """Drops the link with the reason; the reconnection's re-sync reads every account
        again and only a clean one lets trading resume."""
        assert self.link is not None
        self._layout_refusal = self._layout_reason(error)
        log.error("venue account refused: not the profile's IDL layout; trading halted",
                  extra={"venue": self.name, "reason": self._layout_refusal,
                         "account": error.account, "expected_bytes": error.expected,
                         "actual_bytes": error.actual})
        self.link.drop(self._layout_refusal)
        return self._layout_refusal

    def _link_down_reason(self) -> str:
        assert self.link is not None
        return self._layout_refusal or f"not connected to the RPC ({self.link.reason})"

    # --- status

    async def status(self) -> VenueStatus:
        assert self.link is not None and self.view is not None
        reasons = []
        latency = self.link.latency_ms
        if self.link.connected:
            try:
                slot = (await self.link.timed(self._probe)).value  # type: ignore[attr-defined]
                latency = self.link.latency_ms
                await self._refresh_state()
                latency = max(latency, self._oracle_staleness_ms(slot))
            except AccountLayoutError as error:
                self.refuse_layout(error)
            except Exception as error:
                self.link.drop(f"status probe failed: {type(error).__name__}")
        if not self.link.connected:
            reasons.append(f"{self._link_down_reason()}; reconnecting every "
                           f"{self.timing.reconnect_every:.0f} s, trading resumes after a "
                           "re-sync")
        else:
            reasons.extend(self._halts())
        return VenueStatus(
            venue=self.name,
            connected=self.link.connected,
            latency_ms=latency,
            trading_halted=bool(reasons),
            halt_reason="; ".join(reasons),
            account=str(self.wallet.pubkey),
            as_of=self._clock.now(),
        )

    def _halts(self) -> list[str]:
        assert self.view is not None
        reasons = []
        if self._mainnet_refusal:
            reasons.append(self._mainnet_refusal)
        state = self.view.state_or_none()
        if state is not None and venue_rules.halt_reason(state.exchange_status):
            reasons.append(venue_rules.halt_reason(state.exchange_status))
        if not self.view.has_user():
            reasons.append(f"no venue user account for sub-account {self.sub_account}")
        return reasons

    def _oracle_staleness_ms(self, slot: int) -> float:
        """The hedge market's oracle staleness in ms, when past the limit (venue_rules)."""
        assert self.view is not None
        index = self.view.perp_by_symbol.get(SPOT_PRICE_MARKET)
        if index is None:
            return 0.0
        oracle = self.view.perp_oracle_or_none(index)
        if oracle is None or not oracle.slot:
            return 0.0
        return venue_rules.oracle_staleness_ms(slot, oracle.slot, self._max_stale_slots)

    async def _refresh_state(self) -> None:
        assert self.view is not None and self.link is not None
        view = self.view
        index = view.perp_by_symbol.get(SPOT_PRICE_MARKET)
        await self.link.read("State and oracle", lambda: view.refresh_status(index))

    # --- reads

    async def read(self, what: str, call: Callable[[], Awaitable[object]]) -> object:
        assert self.link is not None
        try:
            return await self.link.read(what, call)
        except LinkDown as down:
            raise DomainError(ErrorCode.VENUE_UNAVAILABLE,
                              self._layout_refusal or str(down)) from None
        except AccountLayoutError as error:
            raise DomainError(ErrorCode.VENUE_UNAVAILABLE, self.refuse_layout(error)) from None

    async def wallet_balances(self) -> tuple[Decimal, Decimal]:
        assert self.connection is not None
        connection, owner = self.connection, self.wallet.pubkey
        lamports = await self.read("wallet SOL", lambda: connection.get_balance(owner,
                                                                                Confirmed))
        ata = self.quote_token_account()

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

        usdc = await self.read("wallet quote", token_balance)
        return usdc, Decimal(lamports.value) / LAMPORTS  # type: ignore[attr-defined]

    def quote_token_account(self) -> Pubkey:
        return get_associated_token_address(self.wallet.pubkey,
                                            Pubkey.from_string(self.profile.quote_mint))

    # --- guards

    def require_sub_account(self, sub_account: int) -> None:
        if sub_account != self.sub_account:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"this executor trades sub-account {self.sub_account} (DRIFT_SUB_ACCOUNT); "
                f"sub-account {sub_account} was asked for")

    def require_link(self) -> VenueView:
        assert self.link is not None and self.view is not None
        if not self.link.connected:
            why = self._layout_refusal or f"the venue link is down ({self.link.reason})"
            raise DomainError(
                ErrorCode.VENUE_UNAVAILABLE,
                f"{why}; trading resumes once it is re-established and the account re-synced")
        return self.view

    async def require_trading(self, perp_indexes: tuple[int, ...] = ()) -> VenueView:
        """Before every trade: link up, not an unconfirmed mainnet, fresh State and user."""
        view = self.require_link()
        if self._mainnet_refusal:
            raise DomainError(ErrorCode.TRADING_DISABLED, self._mainnet_refusal)
        await self.read("State and account", lambda: view.refresh(perp_indexes))
        view.user_account()  # refuses a wallet without a venue user
        return view


def _rpc_error_text(error: RPCException) -> str:
    """The message of a JSON-RPC error answer (solders wraps it in a typed object)."""
    first = error.args[0] if error.args else error
    return str(getattr(first, "message", first))
