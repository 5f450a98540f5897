"""The instructions a carry sends to Velocity, built from its IDL (services/common/
anchor_instructions.py): deposit and withdraw of the quote, a perp market order, cancel, settle
PnL and settle funding, for one authority's sub-account.

The accounts the IDL names come from the IDL (its PDAs, its signer and writable flags); the
program also reads the markets and oracles an instruction touches from its remaining accounts,
which no IDL describes. Those follow Drift's convention, which the fork kept (driftpy's
`get_remaining_accounts`): every oracle, then every spot market, then every perp market, each
writable only where the instruction changes it, and with each market held by the account.
The live driver sends them through services/executor/velocity/velocity_view.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from services.common.anchor_instructions import AnchorInstructions
from services.common.venue import Side


@dataclass(frozen=True)
class SpotMarketRef:
    index: int
    oracle: Pubkey   # Pubkey.default() for the quote asset, which has none


@dataclass(frozen=True)
class PerpMarketRef:
    index: int
    oracle: Pubkey
    quote: SpotMarketRef


class _Remaining:
    """Drift's remaining-accounts order: oracles, spot markets, perp markets; writable wins."""

    def __init__(self, instructions: AnchorInstructions) -> None:
        self._instructions = instructions
        self._oracles: dict[Pubkey, bool] = {}
        self._spots: dict[int, bool] = {}
        self._perps: dict[int, bool] = {}

    def spot(self, market: SpotMarketRef, writable: bool = False) -> None:
        self._spots[market.index] = self._spots.get(market.index, False) or writable
        if market.oracle != Pubkey.default():
            self._oracles.setdefault(market.oracle, False)

    def perp(self, market: PerpMarketRef, writable: bool = False) -> None:
        self._perps[market.index] = self._perps.get(market.index, False) or writable
        self._oracles.setdefault(market.oracle, False)
        self.spot(market.quote)

    def metas(self) -> list[AccountMeta]:
        address = self._instructions.address
        return [
            *(AccountMeta(oracle, False, writable) for oracle, writable in self._oracles.items()),
            *(AccountMeta(address("spot_market", market_index=index), False, writable)
              for index, writable in self._spots.items()),
            *(AccountMeta(address("perp_market", market_index=index), False, writable)
              for index, writable in self._perps.items()),
        ]


class VelocityOrders:
    def __init__(self, instructions: AnchorInstructions, authority: Pubkey, sub_account: int,
                 *, program_signer: Pubkey) -> None:
        """`program_signer`: the State's `signer`, the vault authority a withdrawal needs
        (read from the State, `VelocityChainReader.read_state().signer`, rather than derived:
        the IDL records no seeds for it)."""
        self._instructions = instructions
        self._authority = authority
        self._sub_account = sub_account
        self._signer = program_signer

    @property
    def user(self) -> Pubkey:
        return self._instructions.address("user", authority=self._authority,
                                          sub_account_id=self._sub_account)

    def deposit(self, quote: SpotMarketRef, amount: int, token_account: Pubkey,
                token_program: Pubkey, held: Sequence[PerpMarketRef] = ()) -> Instruction:
        return self._transfer("deposit", quote, amount, token_account, token_program, held,
                              reduce_only=False)

    def withdraw(self, quote: SpotMarketRef, amount: int, token_account: Pubkey,
                 token_program: Pubkey, held: Sequence[PerpMarketRef] = ()) -> Instruction:
        # reduce_only: never borrow, only take back what is deposited.
        return self._transfer("withdraw", quote, amount, token_account, token_program, held,
                              reduce_only=True)

    def market_order(self, market: PerpMarketRef, side: Side, base_amount: int,
                     limit_price: int, *, reduce_only: bool, max_ts: int, user_order_id: int,
                     held: Sequence[PerpMarketRef] = ()) -> Instruction:
        """A market order that cannot fill beyond `limit_price` (PRICE_PRECISION) or after
        `max_ts`; Velocity's OrderParams (its i64 offset and builder fields left unset)."""
        params = {
            "order_type": "Market", "market_type": "Perp",
            "direction": "Long" if side is Side.LONG else "Short",
            "user_order_id": user_order_id, "base_asset_amount": base_amount,
            "price": limit_price, "market_index": market.index, "reduce_only": reduce_only,
            "post_only": "None", "bit_flags": 0, "max_ts": max_ts, "trigger_price": None,
            "trigger_condition": "Above", "oracle_price_offset": None,
            "auction_duration": None, "auction_start_price": None, "auction_end_price": None,
            "builder_idx": None, "builder_fee_tenth_bps": None,
        }
        return self._build("place_perp_order", {"params": params}, self._signed(),
                           [(market, False)], held)

    def cancel_order(self, order_id: int | None = None,
                     held: Sequence[PerpMarketRef] = ()) -> Instruction:
        return self._build("cancel_order", {"order_id": order_id}, self._signed(), [], held)

    def settle_pnl(self, market: PerpMarketRef,
                   held: Sequence[PerpMarketRef] = ()) -> Instruction:
        accounts = {**self._signed(), "spot_market_vault": self._instructions.address(
            "spot_market_vault", market_index=market.quote.index)}
        return self._build("settle_pnl", {"market_index": market.index}, accounts,
                           [(market, True)], held, writes=market.quote)

    def settle_funding(self, held: Sequence[PerpMarketRef]) -> Instruction:
        accounts = {"state": self._instructions.address("state"), "user": self.user}
        return self._build("settle_funding_payment", {}, accounts,
                           [(market, True) for market in held], ())

    def _transfer(self, name: str, quote: SpotMarketRef, amount: int, token_account: Pubkey,
                  token_program: Pubkey, held: Sequence[PerpMarketRef], *,
                  reduce_only: bool) -> Instruction:
        accounts = {
            **self._signed(),
            "user_stats": self._instructions.address("user_stats", authority=self._authority),
            "spot_market_vault": self._instructions.address("spot_market_vault",
                                                            market_index=quote.index),
            "velocity_signer": self._signer,
            "user_token_account": token_account, "token_program": token_program,
        }
        args = {"market_index": quote.index, "amount": amount, "reduce_only": reduce_only}
        return self._build(name, args, accounts, [], held, writes=quote)

    def _signed(self) -> dict[str, Pubkey]:
        return {"state": self._instructions.address("state"), "user": self.user,
                "authority": self._authority}

    def _build(self, name: str, args: dict[str, Any], accounts: dict[str, Pubkey],
               touched: list[tuple[PerpMarketRef, bool]], held: Sequence[PerpMarketRef], *,
               writes: SpotMarketRef | None = None) -> Instruction:
        """The IDL's instruction with the remaining accounts: `writes`, the spot market it
        changes, then the perp markets held and those it touches (writable as given)."""
        remaining = _Remaining(self._instructions)
        if writes is not None:
            remaining.spot(writes, writable=True)
        for market in held:
            remaining.perp(market)
        for market, writable in touched:
            remaining.perp(market, writable)
        instruction = self._instructions.build(name, args, accounts)
        return Instruction(instruction.program_id, bytes(instruction.data),
                           [*instruction.accounts, *remaining.metas()])
