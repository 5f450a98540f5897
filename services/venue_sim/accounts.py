"""The accounts the stand-in serves: recorded Drift buffers at their real addresses, plus what
no recording holds (State, oracles, lookup table, a test wallet), built by `synthetic`.

Addresses are the program's PDAs, derived with driftpy.addresses from the program id and the
decoded fields (market_index; authority and sub_account_id). Where several recordings give
the same address (three BTC-PERP buffers), the latest wins, by the oracle TWAP timestamp of
markets or the last active slot of users; the others are listed as shadowed in the manifest.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftpy.accounts.oracle import decode_oracle
from driftpy.addresses import (
    get_perp_market_public_key,
    get_spot_market_public_key,
    get_state_public_key,
    get_user_account_public_key,
    get_user_stats_account_public_key,
)
from driftpy.constants.config import configs
from driftpy.types import MarketStatus, is_variant
from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from services.common.account_layouts import AccountLayoutError
from services.common.venue_profile import VenueProfile, load_profile
from services.venue_sim import synthetic
from services.venue_sim.drift_coder import (
    ProgramCoder,
    program_coder,
    replace,
    serves_velocity,
)

RECORDED = "recorded"
SYNTHETIC = "synthetic"
MARKET_STATUSES = (
    "Initialized", "Active", "FundingPaused", "AmmPaused", "FillPaused", "WithdrawPaused",
    "ReduceOnly", "Settlement", "Delisted",
)
LAMPORTS_PER_SOL = 1_000_000_000
DEFAULT_PROFILE = "drift"  # VENUE_PROFILE's default
# Oracle exponents tried in turn, the usual Pyth -8 first.
_EXPONENTS = (-8, -6, -9, -10, -7, -11, -12, -13, -14)


class SnapshotError(RuntimeError):
    """The accounts file is missing, not JSON, or holds a record that does not decode."""


def rent_exempt_lamports(size: int) -> int:
    # Solana's rent: 3480 lamports per byte-year, two years, plus 128 bytes of account overhead.
    return (size + 128) * 3480 * 2


@dataclass
class ServedAccount:
    address: Pubkey
    data: bytes
    owner: Pubkey
    kind: str
    origin: str              # RECORDED or SYNTHETIC
    note: str                # where it was recorded, or why and how it was built
    lamports: int | None = None
    executable: bool = False

    def balance(self) -> int:
        return self.lamports if self.lamports is not None else rent_exempt_lamports(len(self.data))


@dataclass(frozen=True)
class SnapshotRecord:
    kind: str
    data: bytes
    source: str
    summary: dict[str, Any]


def load_snapshot(path: Path, coder: ProgramCoder | None = None) -> list[SnapshotRecord]:
    """Records of mainnet_account_snapshots.json's shape: {"accounts": [{kind, base64, ...}]},
    each checked against the IDL's discriminators and sizes (the default profile's IDL unless
    given): a buffer of another layout is not served."""
    coder = coder or program_coder(load_profile(DEFAULT_PROFILE))
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SnapshotError(f"no accounts file at {path} (set DNE_SIM_ACCOUNTS)") from None
    except (OSError, ValueError) as error:
        raise SnapshotError(f"cannot read {path}: {error}") from None
    entries = document.get("accounts") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise SnapshotError(f"{path}: expected {{'accounts': [...]}} records with kind and base64")
    records = []
    for number, entry in enumerate(entries):
        try:
            data = base64.b64decode(entry["base64"], validate=True)
            kind = str(entry["kind"])
        except (KeyError, TypeError, binascii.Error) as error:
            raise SnapshotError(
                f"{path}: record {number} has no valid kind/base64: {error}"
            ) from None
        if coder.account_name(data) != kind:
            raise SnapshotError(
                f"{path}: record {number} says {kind} but its discriminator is "
                f"{coder.account_name(data) or 'not a Drift account'}"
            )
        try:
            coder.accounts.check(data)
        except AccountLayoutError as error:
            raise SnapshotError(f"{path}: record {number}: {error}") from None
        source = entry.get("source") or {}
        where = f"{source.get('repo', '?')}@{str(source.get('commit', '?'))[:8]} " \
                f"{source.get('path', '?')}:{source.get('line', '?')}"
        records.append(SnapshotRecord(kind, data, where, entry.get("summary") or {}))
    return records


def _address_and_recency(program: Pubkey, kind: str, account: Any) -> tuple[Pubkey, int]:
    if kind == "PerpMarket":
        return (get_perp_market_public_key(program, account.market_index),
                account.amm.historical_oracle_data.last_oracle_price_twap_ts)
    if kind == "SpotMarket":
        return (get_spot_market_public_key(program, account.market_index),
                account.historical_oracle_data.last_oracle_price_twap_ts)
    if kind == "User":
        return (get_user_account_public_key(program, account.authority,
                                            account.sub_account_id),
                account.last_active_slot)
    if kind == "UserStats":
        return get_user_stats_account_public_key(program, account.authority), 0
    if kind == "State":
        return get_state_public_key(program), 0
    raise SnapshotError(f"no address rule for recorded {kind} accounts")


@dataclass
class OracleNeed:
    address: Pubkey
    source: Any
    price: int               # PRICE_PRECISION, the market's recorded last_oracle_price
    ts: int
    slot: int
    market: str


@dataclass(frozen=True)
class MarketOracle:
    market_index: int
    address: Pubkey
    source: Any              # driftpy's OracleSource, which decode_oracle reads it with
    market: str              # the market's name


@dataclass
class AccountStore:
    """Address -> served account; listeners hear every change (the WebSocket's notifications).

    The profile says which program owns the accounts (their PDAs derive from its id), which
    IDL codes them, and which mint is the quote (the test wallets' token account)."""

    profile: VenueProfile
    accounts: dict[Pubkey, ServedAccount] = field(default_factory=dict)
    shadowed: list[dict[str, Any]] = field(default_factory=list)
    unbuilt: list[dict[str, str]] = field(default_factory=list)
    listeners: list[Callable[[ServedAccount], None]] = field(default_factory=list)
    # oracle address -> slots behind the chain it is judged (POST /_control/oracle); 0 = fresh
    oracle_stale_slots: dict[Pubkey, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Serving accounts in the layout of an IDL that misreads the venue would teach the
        # services a venue that does not exist.
        self.profile.require_supported()

    @property
    def coder(self) -> ProgramCoder:
        return program_coder(self.profile)

    @property
    def program_id(self) -> Pubkey:
        return self.coder.program_id

    @property
    def quote_mint(self) -> Pubkey:
        return Pubkey.from_string(self.profile.quote_mint)

    @property
    def sol_mint(self) -> Pubkey:
        return Pubkey.from_string(self.profile.sol_mint)

    @property
    def oracle_coder(self) -> ProgramCoder:
        """The coder oracle accounts of the venue program's kind (PythLazerOracle...) are built
        with."""
        return self.coder

    def decoded(self, address: Pubkey) -> Any:
        return self.coder.decode(self.accounts[address].data)

    def perp_market_address(self, market_index: int) -> Pubkey:
        return get_perp_market_public_key(self.program_id, market_index)

    def spot_market_address(self, market_index: int) -> Pubkey:
        return get_spot_market_public_key(self.program_id, market_index)

    def market_oracle(self, address: Pubkey) -> MarketOracle:
        """The oracle of a served perp or spot market."""
        market = self.decoded(address)
        holder = market.amm if hasattr(market, "amm") else market
        return MarketOracle(market.market_index, holder.oracle, holder.oracle_source,
                            bytes(market.name).decode(errors="replace").strip())

    def write(self, address: Pubkey, name: str, account: Any) -> None:
        self.update_data(address, self.coder.encode(name, account))

    def get(self, address: Pubkey) -> ServedAccount | None:
        return self.accounts.get(address)

    def put(self, account: ServedAccount) -> None:
        self.accounts[account.address] = account
        for listener in list(self.listeners):
            listener(account)

    def update_data(self, address: Pubkey, data: bytes) -> None:
        current = self.accounts[address]
        self.put(replace(current, data=data))

    @contextlib.contextmanager
    def atomic(self, keep: bool = True) -> Iterator[None]:
        """Changes inside land together, listeners hearing them at the end; on an exception,
        or with keep=False (a dry run: simulation), none of them land."""
        saved, listeners = dict(self.accounts), self.listeners
        changed: dict[Pubkey, ServedAccount] = {}
        self.listeners = [lambda account: changed.__setitem__(account.address, account)]
        try:
            yield
        except BaseException:
            self.accounts = saved
            raise
        finally:
            self.listeners = listeners
        if not keep:
            self.accounts = saved
            return
        for account in changed.values():
            for listener in list(listeners):
                listener(account)

    def owned_by(self, owner: Pubkey) -> Iterable[ServedAccount]:
        return [account for account in self.accounts.values() if account.owner == owner]

    def of_kind(self, kind: str) -> list[ServedAccount]:
        return [account for account in self.accounts.values() if account.kind == kind]

    # -- switches a test selects -------------------------------------------------------
    def set_exchange_paused(self, paused: bool) -> None:
        state = get_state_public_key(self.program_id)
        status = synthetic.EXCHANGE_PAUSED if paused else synthetic.EXCHANGE_ACTIVE
        data = self.accounts[state].data
        self.update_data(state, synthetic.with_exchange_status(self.coder, data, status))

    def set_perp_market_status(self, market_index: int, status: str) -> None:
        if status not in MARKET_STATUSES:
            raise ValueError(f"status must be one of {', '.join(MARKET_STATUSES)}; got {status!r}")
        address = get_perp_market_public_key(self.program_id, market_index)
        if address not in self.accounts:
            raise KeyError(f"no perp market {market_index} is served")
        market = self.decoded(address)
        self.write(address, "PerpMarket", replace(market, status=getattr(MarketStatus, status)()))

    # The wallet's venue accounts: Drift's here, Velocity's in velocity_store.
    wallet_note = "test wallet, built with the real coders"

    def user_address(self, authority: Pubkey, sub_account_id: int = 0) -> Pubkey:
        return get_user_account_public_key(self.program_id, authority, sub_account_id)

    def user_stats_address(self, authority: Pubkey) -> Pubkey:
        return get_user_stats_account_public_key(self.program_id, authority)

    def blank_user(self, authority: Pubkey) -> bytes:
        return synthetic.user_account(self.coder, authority, 0)

    def blank_user_stats(self, authority: Pubkey) -> bytes:
        return synthetic.user_stats_account(self.coder, authority)

    def fund_wallet(self, authority: Pubkey, usdc: int, lamports: int) -> list[Pubkey]:
        """A test wallet: SOL, a quote-mint token account, and a User (sub-account 0) + stats."""
        note = self.wallet_note
        program = self.program_id
        user = self.user_address(authority)
        stats = self.user_stats_address(authority)
        quote_account = get_associated_token_address(authority, self.quote_mint)
        made = [
            ServedAccount(authority, b"", synthetic.SYSTEM_PROGRAM, "Wallet", SYNTHETIC, note,
                          lamports=lamports),
            ServedAccount(quote_account, synthetic.token_account(self.quote_mint, authority, usdc),
                          synthetic.TOKEN_PROGRAM, "TokenAccount", SYNTHETIC, note),
        ]
        if user not in self.accounts:
            made.append(ServedAccount(user, self.blank_user(authority), program, "User",
                                      SYNTHETIC, note))
        if stats not in self.accounts:
            made.append(ServedAccount(stats, self.blank_user_stats(authority), program,
                                      "UserStats", SYNTHETIC, note))
        for account in made:
            self.put(account)
        return [account.address for account in made]

    def manifest(self) -> dict[str, Any]:
        return {
            "profile": self.profile.name,
            "program_id": str(self.program_id),
            "quote_mint": self.profile.quote_mint,
            "accounts": [
                {"address": str(a.address), "kind": a.kind, "origin": a.origin,
                 "owner": str(a.owner), "size": len(a.data), "note": a.note}
                for a in sorted(self.accounts.values(), key=lambda a: (a.kind, str(a.address)))
            ],
            "shadowed": self.shadowed,
            "unbuilt": self.unbuilt,
        }


def contiguous_count(indices: Iterable[int]) -> int:
    present, count = set(indices), 0
    while count in present:
        count += 1
    return count


def _unit_multiple(source: Any) -> int:
    name = str(source)
    return 1_000_000 if "1M" in name else 1_000 if "1K" in name else 1


def _oracle_bytes(
    coder: ProgramCoder, name: str, need: OracleNeed, raw: int, exponent: int
) -> tuple[bytes, Pubkey, str]:
    if name.startswith("PythLazer"):  # PythLazerOracle is an account of the venue program
        data = synthetic.pyth_lazer_oracle(coder, raw, exponent, need.slot, need.ts)
        return data, coder.program_id, "PythLazerOracle"
    if "Pull" in name:
        data = synthetic.pyth_pull_price_update(raw, exponent, need.slot, need.ts)
        return data, synthetic.PYTH_RECEIVER_PROGRAM, "PriceUpdateV2"
    data = synthetic.pyth_legacy_price(raw, exponent, need.slot)
    return data, synthetic.PYTH_LEGACY_PROGRAM, "PythPriceAccount"


def oracle_account(coder: ProgramCoder, need: OracleNeed) -> ServedAccount | None:
    """Builds the oracle account driftpy decodes to `need.price`; None for unsupported kinds.

    driftpy scales oracle prices through floats, so an exponent that round-trips exactly is
    searched for: the account is checked by decoding it back with driftpy's own decoder.
    """
    name = type(need.source).__name__
    note = f"{name} oracle of {need.market}, holding its recorded last_oracle_price {need.price}"
    if name == "Prelaunch":
        data = synthetic.prelaunch_oracle(coder, need.price, need.slot, 0)
        return ServedAccount(need.address, data, coder.program_id, "PrelaunchOracle", SYNTHETIC,
                             note)
    if name == "SwitchboardOnDemand":
        data = synthetic.switchboard_on_demand_feed(need.price, need.slot)
        return ServedAccount(need.address, data, synthetic.SWITCHBOARD_ON_DEMAND_PROGRAM,
                             "PullFeedAccountData", SYNTHETIC, note)
    if not name.startswith("Pyth"):
        return None
    multiple = _unit_multiple(need.source)
    for exponent in _EXPONENTS:
        exact = synthetic.oracle_price_raw(need.price, multiple, exponent)
        for raw in (exact, exact + 1):  # one raw unit up absorbs a float product's shortfall
            data, owner, kind = _oracle_bytes(coder, name, need, raw, exponent)
            if decode_oracle(data, need.source).price == need.price:
                return ServedAccount(need.address, data, owner, kind, SYNTHETIC, note)
    raise SnapshotError(f"no {name} oracle for {need.market} decodes to {need.price}")


def _oracle_needs(markets: list[tuple[str, Any]]) -> dict[Pubkey, OracleNeed]:
    needs: dict[Pubkey, OracleNeed] = {}
    for kind, market in markets:
        if kind == "PerpMarket":
            oracle, source = market.amm.oracle, market.amm.oracle_source
            history, slot = market.amm.historical_oracle_data, market.amm.last_update_slot
            label = bytes(market.name).decode(errors="replace").strip()
        else:
            oracle, source = market.oracle, market.oracle_source
            history, slot = market.historical_oracle_data, market.last_interest_ts
            label = bytes(market.name).decode(errors="replace").strip()
        if is_variant(source, "QuoteAsset") or oracle == Pubkey.default():
            continue
        need = OracleNeed(oracle, source, history.last_oracle_price,
                          history.last_oracle_price_twap_ts, slot, label)
        if oracle not in needs or need.ts > needs[oracle].ts:
            needs[oracle] = need
    return needs


def latest_by_address(
    records: Iterable[SnapshotRecord], coder: ProgramCoder, program: Pubkey,
) -> tuple[dict[Pubkey, tuple[int, SnapshotRecord, Any]], list[tuple[Pubkey, SnapshotRecord]]]:
    """The latest recording at each of the program's addresses (recency, record, decoded), and
    the others at those addresses (shadowed), in the order met."""
    chosen: dict[Pubkey, tuple[int, SnapshotRecord, Any]] = {}
    shadowed: list[tuple[Pubkey, SnapshotRecord]] = []
    for record in records:
        account = coder.decode(record.data)
        address, recency = _address_and_recency(program, record.kind, account)
        previous = chosen.get(address)
        if previous is None or recency > previous[0]:
            if previous is not None:
                shadowed.append((address, previous[1]))
            chosen[address] = (recency, record, account)
        else:
            shadowed.append((address, record))
    return chosen, shadowed


def build_store(
    records: list[SnapshotRecord],
    *,
    profile: VenueProfile | None = None,
    paused: bool = False,
    wallets: Iterable[Pubkey] = (),
    wallet_usdc: int = 10_000 * 10**6,
    wallet_lamports: int = LAMPORTS_PER_SOL,
) -> AccountStore:
    profile = profile or load_profile(DEFAULT_PROFILE)
    if serves_velocity(profile):
        # Velocity: the recordings re-encoded into its layout (velocity_store builds on this
        # module, hence imported here).
        from services.venue_sim.velocity_store import build_velocity_store

        return build_velocity_store(records, profile=profile, paused=paused, wallets=wallets,
                                    wallet_usdc=wallet_usdc, wallet_lamports=wallet_lamports)
    store = AccountStore(profile)
    coder, program = store.coder, store.program_id
    chosen, shadowed = latest_by_address(records, coder, program)
    store.shadowed.extend({"address": str(address), "source": record.source}
                          for address, record in shadowed)
    for address, (_, record, account) in chosen.items():
        store.put(_served_record(store, address, record, account))

    markets = [(r.kind, a) for _, r, a in chosen.values() if r.kind in ("PerpMarket", "SpotMarket")]
    state_address = get_state_public_key(program)
    if state_address not in store.accounts:
        perp = contiguous_count(a.market_index for k, a in markets if k == "PerpMarket")
        spot = contiguous_count(a.market_index for k, a in markets if k == "SpotMarket")
        store.put(ServedAccount(
            state_address, synthetic.state_account(coder, perp, spot, paused), program, "State",
            SYNTHETIC,
            f"no State was recorded; number_of_markets={perp} and number_of_spot_markets={spot} "
            "cover the contiguous recorded indices so driftpy's find-all subscription finds "
            "every market it asks for; exchange_status selects paused or active",
        ))
    add_oracles(store, coder, markets)
    _add_mints(store)
    _add_lookup_tables(store)
    for wallet in wallets:
        store.fund_wallet(wallet, wallet_usdc, wallet_lamports)
    return store


def _served_record(store: AccountStore, address: Pubkey, record: SnapshotRecord,
                   account: Any) -> ServedAccount:
    """A recording as served; only the quote spot market of a profile whose quote mint is not
    the recorded one is rewritten (its mint), and says so."""
    profile = store.profile
    if record.kind == "SpotMarket" and account.market_index == profile.quote_spot_market_index \
            and account.mint != store.quote_mint:
        data = store.coder.encode("SpotMarket", replace(account, mint=store.quote_mint))
        note = f"{record.source}; mint set to {profile.name}'s quote mint {profile.quote_mint}"
        return ServedAccount(address, data, store.program_id, record.kind, RECORDED, note)
    return ServedAccount(address, record.data, store.program_id, record.kind, RECORDED,
                         record.source)


def add_oracles(store: AccountStore, coder: ProgramCoder,
                markets: list[tuple[str, Any]]) -> None:
    """One oracle account per oracle the markets name, where none is served yet; the kinds
    not built are listed in the manifest."""
    for need in _oracle_needs(markets).values():
        built = oracle_account(coder, need)
        if built is None:
            store.unbuilt.append({"address": str(need.address), "market": need.market,
                                  "reason": f"{type(need.source).__name__} oracles are not built"})
        elif need.address not in store.accounts:
            store.put(built)


def _add_mints(store: AccountStore) -> None:
    for served in store.of_kind("SpotMarket"):
        market = store.coder.decode(served.data)
        if market.mint not in store.accounts:
            store.put(ServedAccount(
                market.mint, synthetic.mint_account(market.decimals, 10**18),
                synthetic.TOKEN_PROGRAM, "Mint", SYNTHETIC,
                f"mint of spot market {market.market_index} (decimals {market.decimals})",
            ))


def _add_lookup_tables(store: AccountStore) -> None:
    """driftpy compiles v0 transactions against mainnet's market lookup tables: serve them."""
    listed = ("State", "PerpMarket", "SpotMarket", "PythLazerOracle", "PriceUpdateV2",
              "PythPriceAccount", "PrelaunchOracle", "PullFeedAccountData")
    addresses = [a.address for a in store.accounts.values() if a.kind in listed]
    for table in configs["mainnet"].market_lookup_tables:
        store.put(ServedAccount(
            table, synthetic.address_lookup_table(addresses[:256]),
            synthetic.ADDRESS_LOOKUP_TABLE_PROGRAM, "AddressLookupTable", SYNTHETIC,
            "driftpy's mainnet market lookup table, holding the served State, markets and oracles",
        ))

