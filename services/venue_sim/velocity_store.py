"""The accounts of a Velocity stand-in: Velocity's layouts, Velocity's program, Velocity's PDAs.

No Velocity account was ever recorded (data/velocity/README.md), so:
- perp markets: every recorded Drift PerpMarket (the latest at each market index) re-encoded into
  Velocity's layout (velocity_markets.DriftToVelocity), its `pubkey` set to Velocity's address;
- spot markets: the recorded quote (0) and SOL (1) SpotMarkets re-encoded the same way, the quote
  market's `mint` set to the profile's quote mint and each `vault` to Velocity's vault PDA;
  both labelled "re-encoded" in the manifest, with velocity_markets.LABEL and the recording;
- synthetic (built from Velocity's IDL, labelled "synthetic"): the State, the mints, the spot
  market vaults (token accounts holding the recorded deposits), and each test wallet's SOL,
  quote token account, User and UserStats;
- the oracles: the same accounts at the same addresses as the Drift stand-in serves (the
  re-encoded markets name Drift's oracles), built with Drift's coder and owned as there.
Recorded Users are not served: they are Drift's users, not Velocity's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from driftpy.types import OracleSource
from solders.pubkey import Pubkey

from services.common.venue_profile import VenueProfile, load_profile
from services.feed.drift_accounts import PERP_OPERATION_UPDATE_FUNDING
from services.venue_sim import spot_math, synthetic
from services.venue_sim.accounts import (
    DEFAULT_PROFILE,
    LAMPORTS_PER_SOL,
    SYNTHETIC,
    AccountStore,
    MarketOracle,
    ServedAccount,
    SnapshotRecord,
    add_oracles,
    contiguous_count,
    latest_by_address,
)
from services.venue_sim.drift_coder import ProgramCoder, program_coder
from services.venue_sim.velocity_coder import VelocityCoder, velocity_coder
from services.venue_sim.velocity_markets import (
    LABEL,
    PAUSES_AS_OPERATIONS,
    RENAMED_VARIANTS,
    DriftToVelocity,
    velocity_spot_market_values,
)

REENCODED = "re-encoded"
# The vault authority: Velocity's IDL records no seeds for the State's `signer`, so the stand-in
# derives one from this seed (Drift's is "drift_signer") and says so in the manifest.
SIGNER_SEED = b"velocity_signer"
SOL_SPOT_MARKET_INDEX = 1
MARKET_STATUSES = ("Initialized", "Active", "ReduceOnly", "Settlement", "Delisted",
                   *PAUSES_AS_OPERATIONS)
_DRIFT_ORACLE_NAMES = {velocity: drift for drift, velocity in RENAMED_VARIANTS.items()}


def drift_oracle_source(velocity_source: str) -> Any:
    """Velocity's OracleSource variant as driftpy's (Velocity renamed some, same indices), which
    driftpy's decode_oracle reads the served oracle accounts with."""
    return getattr(OracleSource, _DRIFT_ORACLE_NAMES.get(velocity_source, velocity_source))()


def recorded_coder() -> ProgramCoder:
    """Drift's coder: the recordings are Drift's accounts."""
    return program_coder(load_profile(DEFAULT_PROFILE))


@dataclass
class VelocityAccountStore(AccountStore):
    """The store with Velocity's coder (decoded accounts are plain dicts) and Velocity's PDAs."""

    @property
    def coder(self) -> VelocityCoder:  # type: ignore[override]
        return velocity_coder(self.profile)

    @property
    def oracle_coder(self) -> ProgramCoder:
        return recorded_coder()

    @property
    def state_address(self) -> Pubkey:
        return self.coder.address("state")

    def program_signer(self) -> tuple[Pubkey, int]:
        return Pubkey.find_program_address([SIGNER_SEED], self.program_id)

    def perp_market_address(self, market_index: int) -> Pubkey:
        return self.coder.address("perp_market", market_index=market_index)

    def spot_market_address(self, market_index: int) -> Pubkey:
        return self.coder.address("spot_market", market_index=market_index)

    def user_address(self, authority: Pubkey, sub_account_id: int = 0) -> Pubkey:
        return self.coder.address("user", authority=authority, sub_account_id=sub_account_id)

    def market_oracle(self, address: Pubkey) -> MarketOracle:
        market = self.decoded(address)
        return MarketOracle(market["market_index"], Pubkey.from_string(market["oracle"]),
                            drift_oracle_source(market["oracle_source"]),
                            bytes(market["name"]).decode(errors="replace").strip())

    # -- switches a test selects -------------------------------------------------------
    def set_exchange_paused(self, paused: bool) -> None:
        state = self.decoded(self.state_address)
        state["exchange_status"] = synthetic.EXCHANGE_PAUSED if paused \
            else synthetic.EXCHANGE_ACTIVE
        self.write(self.state_address, "State", state)

    def set_perp_market_status(self, market_index: int, status: str) -> None:
        """Velocity's MarketStatus, or Drift's FundingPaused, which Velocity states as Active
        with the UpdateFunding paused-operation bit (any other status clears that bit)."""
        if status not in MARKET_STATUSES:
            raise ValueError(f"status must be one of {', '.join(MARKET_STATUSES)}; got {status!r}")
        address = self.perp_market_address(market_index)
        if address not in self.accounts:
            raise KeyError(f"no perp market {market_index} is served")
        market = self.decoded(address)
        operations = market["paused_operations"] & ~PERP_OPERATION_UPDATE_FUNDING
        if status in PAUSES_AS_OPERATIONS:
            market["status"] = "Active"
            operations |= PAUSES_AS_OPERATIONS[status]
        else:
            market["status"] = status
        market["paused_operations"] = operations
        self.write(address, "PerpMarket", market)

    wallet_note = "test wallet, built from Velocity's IDL"

    def user_stats_address(self, authority: Pubkey) -> Pubkey:
        return self.coder.address("user_stats", authority=authority)

    def blank_user(self, authority: Pubkey) -> bytes:
        user = self.coder.blank("User")
        user.update(authority=str(authority), sub_account_id=0,
                    name=b"venue-sim".ljust(32, b" "), next_order_id=1, next_liquidation_id=1)
        return self.coder.encode("User", user)

    def blank_user_stats(self, authority: Pubkey) -> bytes:
        stats = self.coder.blank("UserStats")
        stats.update(authority=str(authority), number_of_sub_accounts=1,
                     number_of_sub_accounts_created=1)
        return self.coder.encode("UserStats", stats)

    def manifest(self) -> dict[str, Any]:
        signer, nonce = self.program_signer()
        return {**super().manifest(), "program_signer": {
            "address": str(signer), "origin": SYNTHETIC,
            "note": f"the State's signer (vault authority): the PDA of seed "
                    f"{SIGNER_SEED.decode()!r} (bump {nonce}), chosen by the stand-in: "
                    "Velocity's IDL records no seeds for it"}}


def _state(store: VelocityAccountStore, perp: int, spot: int, paused: bool) -> bytes:
    """Drift's mainnet fee tier 1 and oracle guard rails (synthetic.py), as the Drift stand-in's
    State has them, in Velocity's State."""
    signer, nonce = store.program_signer()
    state = store.coder.blank("State")
    tier = state["perp_fee_structure"]["fee_tiers"][0]
    tier.update(fee_numerator=synthetic.TAKER_FEE_NUMERATOR,
                fee_denominator=synthetic.FEE_DENOMINATOR,
                maker_rebate_numerator=synthetic.MAKER_REBATE_NUMERATOR,
                maker_rebate_denominator=synthetic.FEE_DENOMINATOR * 10)
    state["oracle_guard_rails"]["validity"].update(
        slots_before_stale_for_amm=synthetic.SLOTS_BEFORE_STALE_FOR_AMM,
        slots_before_stale_for_margin=synthetic.SLOTS_BEFORE_STALE_FOR_MARGIN)
    state.update(signer=str(signer), signer_nonce=nonce, number_of_markets=perp,
                 number_of_spot_markets=spot,
                 exchange_status=synthetic.EXCHANGE_PAUSED if paused
                 else synthetic.EXCHANGE_ACTIVE,
                 max_number_of_sub_accounts=8, min_perp_auction_duration=10,
                 default_market_order_time_in_force=60)
    return store.coder.encode("State", state)


def _served_market(store: VelocityAccountStore, kind: str, record: SnapshotRecord,
                   drift: Any, converter: DriftToVelocity) -> ServedAccount:
    index = drift.market_index
    if kind == "PerpMarket":
        address = store.perp_market_address(index)
        values = converter.values(kind, drift)
        note = f"{LABEL}: {record.source}; pubkey set to Velocity's address"
    else:
        address = store.spot_market_address(index)
        quote = index == store.profile.quote_spot_market_index
        values = velocity_spot_market_values(drift, store.profile.quote_mint if quote else None)
        values["vault"] = str(store.coder.address("spot_market_vault", market_index=index))
        if quote:  # the market is named for the quote it now holds (the recording: USDC)
            values["name"] = store.profile.quote_symbol.encode().ljust(len(values["name"]))
        note = (f"{LABEL}: {record.source}; pubkey and vault set to Velocity's addresses"
                + (f", mint and name to {store.profile.name}'s quote "
                   f"({store.profile.quote_symbol}, {store.profile.quote_mint})" if quote else ""))
    values["pubkey"] = str(address)
    return ServedAccount(address, store.coder.encode(kind, values), store.program_id, kind,
                         REENCODED, note)


def _add_mints_and_vaults(store: VelocityAccountStore) -> None:
    signer, _ = store.program_signer()
    for served in store.of_kind("SpotMarket"):
        market = store.decoded(served.address)
        mint, decimals = Pubkey.from_string(market["mint"]), market["decimals"]
        if mint not in store.accounts:
            store.put(ServedAccount(
                mint, synthetic.mint_account(decimals, 10**18), synthetic.TOKEN_PROGRAM, "Mint",
                SYNTHETIC, f"mint of spot market {market['market_index']} (decimals {decimals})"))
        held = spot_math.token_amount(market["deposit_balance"], decimals,
                                      market["cumulative_deposit_interest"])
        store.put(ServedAccount(
            Pubkey.from_string(market["vault"]), synthetic.token_account(mint, signer, held),
            synthetic.TOKEN_PROGRAM, "TokenAccount", SYNTHETIC,
            f"vault of spot market {market['market_index']}, owned by the State's signer, "
            "holding the recorded deposits"))


def build_velocity_store(
    records: list[SnapshotRecord],
    *,
    profile: VenueProfile,
    paused: bool = False,
    wallets: Iterable[Pubkey] = (),
    wallet_usdc: int = 10_000 * 10**6,
    wallet_lamports: int = LAMPORTS_PER_SOL,
) -> VelocityAccountStore:
    store = VelocityAccountStore(profile)
    drift_coder = recorded_coder()
    served_spot = (profile.quote_spot_market_index, SOL_SPOT_MARKET_INDEX)
    wanted = [r for r in records if r.kind == "PerpMarket" or (
        r.kind == "SpotMarket" and drift_coder.decode(r.data).market_index in served_spot)]
    chosen, shadowed = latest_by_address(wanted, drift_coder, drift_coder.program_id)
    converter = DriftToVelocity(store.coder.idl, store.coder.accounts)
    markets = [(record.kind, drift) for _, record, drift in chosen.values()]
    for _, record, drift in chosen.values():
        store.put(_served_market(store, record.kind, record, drift, converter))
    for _, record in shadowed:
        drift = drift_coder.decode(record.data)
        address = (store.perp_market_address if record.kind == "PerpMarket"
                   else store.spot_market_address)(drift.market_index)
        store.shadowed.append({"address": str(address), "source": record.source})
    perp = contiguous_count(m.market_index for k, m in markets if k == "PerpMarket")
    spot = contiguous_count(m.market_index for k, m in markets if k == "SpotMarket")
    store.put(ServedAccount(
        store.state_address, _state(store, perp, spot, paused), store.program_id, "State",
        SYNTHETIC,
        f"Velocity's State from its IDL: number_of_markets={perp} and number_of_spot_markets="
        f"{spot} (the contiguous served indices), exchange_status paused or active, Drift's "
        "mainnet tier-1 fees and oracle guard rails, signer the stand-in's vault authority",
    ))
    add_oracles(store, drift_coder, markets)
    _add_mints_and_vaults(store)
    for wallet in wallets:
        store.fund_wallet(wallet, wallet_usdc, wallet_lamports)
    return store
