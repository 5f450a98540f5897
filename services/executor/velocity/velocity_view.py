"""The live driver's view of Velocity: its accounts read over Solana JSON-RPC at the addresses
its IDL derives, decoded with its IDL (size and discriminator checked: an account in another
layout raises AccountLayoutError and the session halts trading), given driftpy's shapes
(drift_shapes) so the driver's Drift math values them; its instructions built from its IDL
(services/executor/velocity_orders.py).

Every read takes the State, the User and every market in one getMultipleAccounts, then their
oracles in a second: Velocity lists a handful of markets, and a complete book is simpler to
trust than a partial one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from driftpy.accounts.oracle import decode_oracle
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.instruction import Instruction
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

from services.common.anchor_idl import AnchorAccountsDecoder
from services.common.anchor_instructions import AnchorInstructions
from services.common.errors import DomainError, ErrorCode
from services.common.oracle_reads import read_oracle_prices
from services.common.venue import Side
from services.executor.drift.venue_view import PerpOrderParams, VenueView, market_name
from services.executor.velocity import drift_shapes
from services.executor.velocity.account_book import AccountBook, BookUser
from services.executor.velocity_orders import PerpMarketRef, SpotMarketRef, VelocityOrders

MAX_ACCOUNTS_PER_CALL = 100  # Solana's getMultipleAccounts limit
TOKEN_2022_FLAG = 0b1  # SpotMarket.token_program_flag (velocity-v1 state/spot_market.rs)
TENTH_BPS = Decimal(100_000)  # PerpMarket.taker_fee_addon_tenth_bps: 1 / 100,000 of the quote


class VelocityView(VenueView):
    def __init__(self, connection: AsyncClient, authority: Pubkey, decoder: AnchorAccountsDecoder,
                 sub_account: int, quote_spot_index: int) -> None:
        self.connection = connection
        self.authority = authority
        self.sub_account = sub_account
        self.quote_spot_index = quote_spot_index
        self._decoder = decoder
        self._instructions = AnchorInstructions(decoder.idl)
        self._program = self._instructions.program_id
        self.user_address = self._instructions.address("user", authority=authority,
                                                       sub_account_id=sub_account)
        self.accounts = AccountBook()
        self._user = BookUser(self.accounts, self.user_address)
        self._signer = Pubkey.default()
        self._token_program_flags: dict[int, int] = {}
        self._taker_addons: dict[int, int] = {}  # tenths of a bp, per perp market
        self._market_counts = (0, 0)  # perp, spot: from the State
        self.perp_by_symbol: dict[str, int] = {}
        self.spot_by_symbol: dict[str, int] = {}

    # --- reads

    async def load_all(self) -> None:
        # The State says how many markets there are; the markets follow in the same read
        # from then on.
        await self._read_state()
        await self.refresh()

    async def refresh(self, perp_indexes: Iterable[int] = ()) -> None:
        perp_count, spot_count = self._market_counts
        perps = [self._instructions.address("perp_market", market_index=i)
                 for i in range(perp_count)]
        spots = [self._instructions.address("spot_market", market_index=i)
                 for i in range(spot_count)]
        slot, found = await self.read([self._state_address(), self.user_address, *perps,
                                        *spots])
        state, user = found[0], found[1]
        book = AccountBook(slot=slot)
        self._take_state(book, state)
        book.user = self._decoded("User", user, drift_shapes.drift_user)
        for account in found[2:2 + perp_count]:
            values = self._values("PerpMarket", account)
            if values is not None:
                market = drift_shapes.drift_perp_market(values)
                book.perp_markets[market.market_index] = market
                self._taker_addons[market.market_index] = values["taker_fee_addon_tenth_bps"]
        for account in found[2 + perp_count:]:
            values = self._values("SpotMarket", account)
            if values is not None:
                market = drift_shapes.drift_spot_market(values)
                book.spot_markets[market.market_index] = market
                self._token_program_flags[market.market_index] = values["token_program_flag"]
        await self._read_oracles(book)
        self._replace_book(book)

    async def refresh_status(self, perp_index: int | None) -> None:
        market = self.accounts.get_perp_market_account(perp_index) \
            if perp_index is not None else None
        oracle = [market.amm.oracle] if market is not None else []
        slot, found = await self.read([self._state_address(), *oracle])
        self._take_state(self.accounts, found[0])
        if market is not None and found[1] is not None:
            self.accounts.oracles[market.amm.oracle] = decode_oracle(
                bytes(found[1].data), market.amm.oracle_source)
        self.accounts.slot = max(self.accounts.slot, slot)

    @property
    def user(self) -> BookUser:
        return self._user

    def taker_fee_rate(self, perp_index: int) -> Decimal:
        """The State's tier, plus the market's own taker fee add-on, which Velocity added."""
        addon = Decimal(self._taker_addons.get(perp_index, 0)) / TENTH_BPS
        return super().taker_fee_rate(perp_index) + addon

    async def _read_state(self) -> None:
        _, (state,) = await self.read([self._state_address()])
        self._take_state(self.accounts, state)

    def _state_address(self) -> Pubkey:
        return self._instructions.address("state")

    def _take_state(self, book: AccountBook, account: Any) -> None:
        values = self._values("State", account)
        if values is None:
            raise DomainError(ErrorCode.VENUE_UNAVAILABLE,
                              f"no Velocity State at {self._state_address()}: is the RPC on "
                              "Velocity's cluster?")
        book.state = drift_shapes.drift_state(values)
        self._signer = Pubkey.from_string(values["signer"])
        self._market_counts = (values["number_of_markets"], values["number_of_spot_markets"])

    async def read(self, addresses: Sequence[Pubkey]) -> tuple[int, list[Any]]:
        """(slot, account or None per address); transport errors reach the RPC link."""
        slot, found = 0, []
        for start in range(0, len(addresses), MAX_ACCOUNTS_PER_CALL):
            answer = await self.connection.get_multiple_accounts(
                list(addresses[start:start + MAX_ACCOUNTS_PER_CALL]), Confirmed)
            slot = max(slot, answer.context.slot)
            found.extend(answer.value)
        return slot, found

    def _values(self, kind: str, account: Any) -> dict[str, Any] | None:
        """The account's values in Velocity's layout; None when the program does not own it
        (an account of another program is not Velocity's, whatever its bytes)."""
        if account is None or account.owner != self._program:
            return None
        return self._decoder.decode_as(kind, bytes(account.data))

    def _decoded(self, kind: str, account: Any, shape: Any) -> Any:
        values = self._values(kind, account)
        return shape(values) if values is not None else None

    async def _read_oracles(self, book: AccountBook) -> None:
        sources = {m.amm.oracle: m.amm.oracle_source for m in book.perp_markets.values()}
        sources.update({m.oracle: m.oracle_source for m in book.spot_markets.values()
                        if type(m.oracle_source).__name__ != "QuoteAsset"})
        sources.pop(Pubkey.default(), None)
        # An oracle not served or not decodable is left out: its market has no price, and
        # perp_oracle() refuses a trade on it with the reason.
        book.oracles = (await read_oracle_prices(self, sources)).prices

    def _replace_book(self, book: AccountBook) -> None:
        # The user math and the driver hold `self.accounts`: refill it in place.
        vars(self.accounts).update(vars(book))
        self.perp_by_symbol = {market_name(m.name): i for i, m in book.perp_markets.items()}
        self.spot_by_symbol = {market_name(m.name): i for i, m in book.spot_markets.items()}

    # --- instructions

    def _orders(self) -> VelocityOrders:
        if self._signer == Pubkey.default():
            raise DomainError(ErrorCode.VENUE_UNAVAILABLE, "the program's State is not loaded")
        return VelocityOrders(self._instructions, self.authority, self.sub_account,
                              program_signer=self._signer)

    def _spot_ref(self, index: int) -> SpotMarketRef:
        market = self.spot_market(index)
        oracle = Pubkey.default() if type(market.oracle_source).__name__ == "QuoteAsset" \
            else market.oracle
        return SpotMarketRef(index, oracle)

    def _perp_ref(self, index: int) -> PerpMarketRef:
        market = self.perp_market(index)
        return PerpMarketRef(index, market.amm.oracle,
                             self._spot_ref(market.quote_spot_market_index))

    def _held(self, but: int | None = None) -> list[PerpMarketRef]:
        """The perp markets the User holds a position or order in (the program reads each)."""
        if not self.has_user():
            return []
        return [self._perp_ref(p.market_index) for p in self.user_account().perp_positions
                if (p.base_asset_amount or p.quote_asset_amount or p.open_orders)
                and p.market_index != but]

    def _token_program(self, index: int) -> Pubkey:
        flags = self._token_program_flags.get(index, 0)
        return TOKEN_2022_PROGRAM_ID if flags & TOKEN_2022_FLAG else TOKEN_PROGRAM_ID

    async def deposit_instructions(self, units: int, token_account: Pubkey) -> list[Instruction]:
        index = self.quote_spot_index
        return [self._orders().deposit(self._spot_ref(index), units, token_account,
                                       self._token_program(index), self._held())]

    async def withdraw_instructions(self, units: int,
                                    token_account: Pubkey) -> list[Instruction]:
        index = self.quote_spot_index
        return [self._orders().withdraw(self._spot_ref(index), units, token_account,
                                        self._token_program(index), self._held())]

    def perp_order_instruction(self, order: PerpOrderParams) -> Instruction:
        return self._orders().market_order(
            self._perp_ref(order.index), Side.LONG if order.long else Side.SHORT,
            order.base_units, order.limit_price, reduce_only=order.reduce_only,
            max_ts=order.max_ts, user_order_id=order.user_order_id,
            held=self._held(but=order.index))

    def settle_pnl_instruction(self, perp_index: int) -> Instruction:
        return self._orders().settle_pnl(self._perp_ref(perp_index),
                                         self._held(but=perp_index))
