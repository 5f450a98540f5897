"""Accounts no recording holds, built with the real coders so driftpy decodes them as on chain.

Every builder answers bytes; the store labels what it serves from here "synthetic".
- Drift accounts (State, User, UserStats, PythLazerOracle, PrelaunchOracle) start from a
  zeroed account of the IDL type and go through anchorpy's AccountsCoder.
- SPL token accounts and mints go through solana-py's spl.token layouts.
- Pyth pull (PriceUpdateV2) and legacy Pyth price accounts have no IDL in driftpy; they are
  written field by field in the layout driftpy's decoders read (decode_pull_oracle,
  decode_pyth_price_info), and the caller checks each one by decoding it back with driftpy.
"""

from __future__ import annotations

import hashlib
import struct

from anchorpy.program.common import NamedInstruction
from driftpy.accounts.oracle import SWB_ON_DEMAND_CODER
from driftpy.constants.numeric_constants import PRICE_PRECISION, SWB_PRECISION
from solders.pubkey import Pubkey
from spl.token._layouts import ACCOUNT_LAYOUT, MINT_LAYOUT
from spl.token.constants import TOKEN_PROGRAM_ID

from services.venue_sim.drift_coder import ProgramCoder, replace

# protocol-v2 state/state.rs ExchangeStatus: one bit per paused operation (DepositPaused 0b1 ..
# AmmImmediateFillPaused 0b1000_0000); "Paused" is every bit set, what the program showed
# after 2026-04-01.
EXCHANGE_ACTIVE = 0
EXCHANGE_PAUSED = 0b1111_1111

PYTH_RECEIVER_PROGRAM = Pubkey.from_string("rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ")
SWITCHBOARD_ON_DEMAND_PROGRAM = Pubkey.from_string("SBondMDrcV3K4kxZR1HNVT7osZxAHVHgYXL5Ze1oMUv")
PYTH_LEGACY_PROGRAM = Pubkey.from_string("FsJ3A3u2vn5cTVofAjvy6y5kwABJAqYWpe4975bi2epH")
TOKEN_PROGRAM = TOKEN_PROGRAM_ID
ADDRESS_LOOKUP_TABLE_PROGRAM = Pubkey.from_string("AddressLookupTab1e1111111111111111111111111")
SYSTEM_PROGRAM = Pubkey.from_string("11111111111111111111111111111111")
PYTH_LEGACY_SIZE = 3312
PYTH_LEGACY_MAGIC = 0xA1B2C3D4


# Drift's mainnet tier-1 perp fees: taker 0.035 % (35 / 100_000), maker rebate 0.0025 %.
TAKER_FEE_NUMERATOR, FEE_DENOMINATOR = 35, 100_000
MAKER_REBATE_NUMERATOR = 25
# Mainnet's oracle guard rails: the AMM refuses fills on an oracle older than 10 slots, margin
# checks on one older than 120 slots.
SLOTS_BEFORE_STALE_FOR_AMM = 10
SLOTS_BEFORE_STALE_FOR_MARGIN = 120


def state_account(coder: ProgramCoder, number_of_markets: int, number_of_spot_markets: int,
                  paused: bool) -> bytes:
    # the PDA driftpy's get_drift_client_signer_public_key derives; its bump is the nonce
    signer, nonce = Pubkey.find_program_address([b"drift_signer"], coder.program_id)
    blank = coder.blank("State")
    tiers = list(blank.perp_fee_structure.fee_tiers)
    tiers[0] = replace(tiers[0], fee_numerator=TAKER_FEE_NUMERATOR,
                       fee_denominator=FEE_DENOMINATOR,
                       maker_rebate_numerator=MAKER_REBATE_NUMERATOR,
                       maker_rebate_denominator=FEE_DENOMINATOR * 10)
    validity = replace(blank.oracle_guard_rails.validity,
                       slots_before_stale_for_amm=SLOTS_BEFORE_STALE_FOR_AMM,
                       slots_before_stale_for_margin=SLOTS_BEFORE_STALE_FOR_MARGIN)
    state = replace(
        blank,
        perp_fee_structure=replace(blank.perp_fee_structure, fee_tiers=tiers),
        oracle_guard_rails=replace(blank.oracle_guard_rails, validity=validity),
        signer=signer,
        signer_nonce=nonce,
        number_of_markets=number_of_markets,
        number_of_spot_markets=number_of_spot_markets,
        exchange_status=EXCHANGE_PAUSED if paused else EXCHANGE_ACTIVE,
        max_number_of_sub_accounts=8,
        min_perp_auction_duration=10,
        default_market_order_time_in_force=60,
    )
    return coder.encode("State", state)


def with_exchange_status(coder: ProgramCoder, state: bytes, status: int) -> bytes:
    return coder.encode("State", replace(coder.decode(state), exchange_status=status))


def pyth_lazer_oracle(coder: ProgramCoder, price: int, exponent: int, slot: int,
                      publish_time: int) -> bytes:
    oracle = replace(
        coder.blank("PythLazerOracle"),
        price=price, exponent=exponent, posted_slot=slot, publish_time=publish_time,
        conf=max(price // 10_000, 1),
    )
    return coder.encode("PythLazerOracle", oracle)


def prelaunch_oracle(coder: ProgramCoder, price: int, slot: int, perp_market_index: int) -> bytes:
    oracle = replace(
        coder.blank("PrelaunchOracle"),
        price=price, max_price=price * 10, confidence=max(price // 1000, 1),
        last_update_slot=slot, amm_last_update_slot=slot, perp_market_index=perp_market_index,
    )
    return coder.encode("PrelaunchOracle", oracle)


def switchboard_on_demand_feed(price: int, slot: int) -> bytes:
    """Switchboard On-Demand PullFeedAccountData (driftpy's switchboard_on_demand.json IDL)."""
    coder = SWB_ON_DEMAND_CODER.accounts
    name = "PullFeedAccountData"
    feed = coder.decode(coder.acc_name_to_discriminator[name] + bytes(8_192))
    value = price * SWB_PRECISION  # 18-decimal value; driftpy divides by SWB_PRECISION
    result = replace(feed.result, value=value, mean=value, range=value // 10_000,
                     slot=slot, min_slot=slot, max_slot=slot, num_samples=1)
    return coder.build(NamedInstruction(name=name, data=replace(feed, result=result)))


def _anchor_discriminator(name: str) -> bytes:
    return hashlib.sha256(f"account:{name}".encode()).digest()[:8]


def pyth_pull_price_update(price: int, exponent: int, slot: int, publish_time: int) -> bytes:
    """pyth-solana-receiver PriceUpdateV2, VerificationLevel::Full (134 bytes)."""
    conf = max(abs(price) // 10_000, 1)
    return (
        _anchor_discriminator("PriceUpdateV2")
        + bytes(32)                        # write_authority
        + b"\x01"                          # VerificationLevel::Full
        + hashlib.sha256(f"feed:{price}".encode()).digest()  # feed_id (stand-in)
        + struct.pack("<qQiqqqQ", price, conf, exponent, publish_time, publish_time - 1,
                      price, conf)          # price, conf, exponent, times, ema_price, ema_conf
        + struct.pack("<Q", slot)          # posted_slot
    )


def pyth_legacy_price(price: int, exponent: int, slot: int) -> bytes:
    """A Pyth v2 price account in the offsets pythclient / driftpy read (3312 bytes)."""
    buffer = bytearray(PYTH_LEGACY_SIZE)
    struct.pack_into("<IIII", buffer, 0, PYTH_LEGACY_MAGIC, 2, 3, PYTH_LEGACY_SIZE)
    struct.pack_into("<IiII", buffer, 16, 1, exponent, 1, 1)  # price type, expo, comps, quoters
    struct.pack_into("<QQ", buffer, 32, slot, slot)            # last slot, valid slot
    conf = max(abs(price) // 10_000, 1)
    struct.pack_into("<6q", buffer, 48, price, 1, 1, conf, 1, 1)  # EMA price, EMA conf (twap)
    # aggregate price info at 48 + 160: price, conf, status (1 trading), corp act, pub slot
    struct.pack_into("<qQIIQ", buffer, 208, price, conf, 1, 0, slot)
    return bytes(buffer)


def token_account(mint: Pubkey, owner: Pubkey, amount: int) -> bytes:
    return ACCOUNT_LAYOUT.build({
        "mint": bytes(mint), "owner": bytes(owner), "amount": amount,
        "delegate_option": 0, "delegate": bytes(32), "state": 1, "is_native_option": 0,
        "is_native": 0, "delegated_amount": 0, "close_authority_option": 0,
        "close_authority": bytes(32),
    })


def token_amount(data: bytes) -> int:
    return ACCOUNT_LAYOUT.parse(data).amount


def with_token_amount(data: bytes, amount: int) -> bytes:
    parsed = dict(ACCOUNT_LAYOUT.parse(data))
    parsed.pop("_io", None)
    parsed["amount"] = amount
    return ACCOUNT_LAYOUT.build(parsed)


def mint_account(decimals: int, supply: int) -> bytes:
    return MINT_LAYOUT.build({
        "mint_authority_option": 0, "mint_authority": bytes(32), "supply": supply,
        "decimals": decimals, "is_initialized": True, "freeze_authority_option": 0,
        "freeze_authority": bytes(32),
    })


def mint_decimals(data: bytes) -> int:
    return MINT_LAYOUT.parse(data).decimals


def address_lookup_table(addresses: list[Pubkey]) -> bytes:
    """An active lookup table: 56-byte meta (type 1, never deactivated) then the addresses."""
    meta = struct.pack("<IQQBB32sH", 1, 2**64 - 1, 0, 0, 0, bytes(32), 0)
    return meta + b"".join(bytes(address) for address in addresses)


def user_account(coder: ProgramCoder, authority: Pubkey, sub_account_id: int,
                 name: str = "venue-sim") -> bytes:
    user = replace(
        coder.blank("User"),
        authority=authority,
        sub_account_id=sub_account_id,
        name=list(name.encode()[:32].ljust(32, b" ")),
        next_order_id=1,
        next_liquidation_id=1,
    )
    return coder.encode("User", user)


def user_stats_account(coder: ProgramCoder, authority: Pubkey) -> bytes:
    stats = replace(
        coder.blank("UserStats"),
        authority=authority, number_of_sub_accounts=1, number_of_sub_accounts_created=1,
    )
    return coder.encode("UserStats", stats)


def oracle_price_raw(price: int, unit_multiple: int, exponent: int) -> int:
    """Raw oracle integer that driftpy scales back to `price` (PRICE_PRECISION, per unit)."""
    return price * 10 ** (-exponent) // (PRICE_PRECISION * unit_multiple)
