"""The stand-in serving Velocity (its profile's IDL is Anchor >= 0.30): accounts in Velocity's
layout at its PDAs, owned by its program; transactions built by the executor's VelocityOrders,
signed, sent over the real JSON-RPC and read back with Velocity's decoder."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.core import RPCException
from solana.rpc.types import TxOpts
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import get_associated_token_address

from services.common.account_layouts import AccountLayoutError
from services.common.anchor_instructions import AnchorInstructions
from services.common.venue import Side
from services.executor.velocity_orders import VelocityOrders
from services.feed.velocity_accounts import velocity_decoder
from services.venue_sim.drift_coder import program_coder
from services.venue_sim.velocity_coder import velocity_coder
from tests.kit.velocity_venue import VELOCITY, account, send, velocity_refs
from tests.kit.venue_sim_builders import DRIFT, WALLET_USDC, SimAndWallet, running_sim

QUOTE_DEPOSIT = 1_000_000_000   # 1,000 USDT
SHORT = 500_000_000             # 0.5 SOL


@pytest.fixture
async def velocity() -> AsyncIterator[SimAndWallet]:
    async with running_sim(profile=VELOCITY) as started:
        yield started


def orders_for(sim: SimAndWallet) -> VelocityOrders:
    coder = velocity_coder(VELOCITY)
    state = sim.venue.store.decoded(coder.address("state"))
    return VelocityOrders(AnchorInstructions(coder.idl), sim.wallet.pubkey(), 0,
                          program_signer=Pubkey.from_string(state["signer"]))


def quote_market(sim: SimAndWallet) -> dict[str, object]:
    return sim.venue.store.decoded(sim.venue.store.spot_market_address(0))


def usdt_account(sim: SimAndWallet) -> Pubkey:
    return get_associated_token_address(sim.wallet.pubkey(),
                                        Pubkey.from_string(VELOCITY.quote_mint))


async def deposit(client: AsyncClient, sim: SimAndWallet, amount: int = QUOTE_DEPOSIT) -> None:
    quote, _ = velocity_refs(sim)
    await send(client, sim.wallet, orders_for(sim).deposit(quote, amount, usdt_account(sim),
                                                          TOKEN_PROGRAM_ID))


async def short(client: AsyncClient, sim: SimAndWallet, base: int = SHORT, limit: int = 80_000_000,
                reduce_only: bool = False, side: Side = Side.SHORT) -> str:
    _, sol = velocity_refs(sim)
    ix = orders_for(sim).market_order(sol, side, base, limit, reduce_only=reduce_only,
                                      max_ts=2**40, user_order_id=3)
    return await send(client, sim.wallet, ix)


async def test_every_served_program_account_is_velocity_s_layout_and_drift_s_coder_refuses_it(
    velocity: SimAndWallet,
) -> None:
    store, decoder = velocity.venue.store, velocity_decoder()
    owned = store.owned_by(Pubkey.from_string(VELOCITY.program_id))
    assert {a.kind for a in owned} == {"State", "PerpMarket", "SpotMarket", "User", "UserStats"}
    for served in owned:
        assert decoder.decode(served.data).name == served.kind
        if served.kind != "UserStats":  # same size in both IDLs: only its values differ
            with pytest.raises(AccountLayoutError):
                program_coder(DRIFT).accounts.decode(served.data)
    manifest = store.manifest()
    origins = {(a["kind"], a["origin"]) for a in manifest["accounts"]}
    assert ("PerpMarket", "re-encoded") in origins and ("SpotMarket", "re-encoded") in origins
    assert ("State", "synthetic") in origins
    assert manifest["program_signer"]["origin"] == "synthetic"


async def test_the_state_markets_and_wallet_are_at_velocity_s_pdas(
    velocity: SimAndWallet,
) -> None:
    instructions = AnchorInstructions(velocity_coder(VELOCITY).idl)
    async with AsyncClient(velocity.sim.rpc_url) as client:
        state = await account(client, instructions.address("state"))
        quote = await account(client, instructions.address("spot_market", market_index=0))
        sol = await account(client, instructions.address("perp_market", market_index=0))
        user = await account(client, instructions.address(
            "user", authority=velocity.wallet.pubkey(), sub_account_id=0))
        balance = await client.get_token_account_balance(usdt_account(velocity))
    assert state["exchange_status"] == 0
    assert (state["number_of_markets"], state["number_of_spot_markets"]) == (3, 2)
    assert quote["mint"] == VELOCITY.quote_mint and quote["decimals"] == 6
    assert bytes(quote["name"]).strip() == b"USDT"   # named for the quote it holds now
    assert bytes(sol["name"]).strip() == b"SOL-PERP" and sol["status"] == "Active"
    assert user["authority"] == str(velocity.wallet.pubkey()) and user["sub_account_id"] == 0
    assert int(balance.value.amount) == WALLET_USDC


async def test_a_deposit_moves_usdt_into_the_user_s_scaled_balance(velocity: SimAndWallet) -> None:
    async with AsyncClient(velocity.sim.rpc_url) as client:
        await deposit(client, velocity)
        balance = await client.get_token_account_balance(usdt_account(velocity))
        user = await account(client, orders_for(velocity).user)
        quote = await account(client, AnchorInstructions(velocity_coder(VELOCITY).idl).address(
            "spot_market", market_index=0))
    assert int(balance.value.amount) == WALLET_USDC - QUOTE_DEPOSIT
    position = user["spot_positions"][0]
    # balance = amount x 10^(19 - 6) / cumulative_deposit_interest, rounded down
    assert position["scaled_balance"] == QUOTE_DEPOSIT * 10**13 \
        // quote["cumulative_deposit_interest"]
    assert (position["market_index"], position["balance_type"]) == (0, "Deposit")
    (sent,) = velocity.venue.journal.drift_instructions("deposit")
    assert sent.program_id == VELOCITY.program_id
    assert sent.args == {"market_index": 0, "amount": QUOTE_DEPOSIT, "reduce_only": False}
    assert sent.named_accounts["user_token_account"] == str(usdt_account(velocity))


async def test_a_reduce_only_withdrawal_is_capped_at_the_deposit_and_a_borrow_is_refused(
    velocity: SimAndWallet,
) -> None:
    quote, _ = velocity_refs(velocity)
    orders = orders_for(velocity)
    withdrawal = orders.withdraw(quote, 2 * QUOTE_DEPOSIT, usdt_account(velocity),
                                 TOKEN_PROGRAM_ID)
    async with AsyncClient(velocity.sim.rpc_url) as client:
        await deposit(client, velocity)
        insufficient = velocity_coder(VELOCITY).error_code("InsufficientCollateral")
        with pytest.raises(RPCException, match=f"custom program error: {insufficient:#x}"):
            await send(client, velocity.wallet, with_reduce_only(withdrawal, False))
        await send(client, velocity.wallet, with_reduce_only(withdrawal, True))
        balance = await client.get_token_account_balance(usdt_account(velocity))
        user = await account(client, orders.user)
    # the deposit's scaled balance is worth one base unit less than was deposited (rounded down)
    assert int(balance.value.amount) == WALLET_USDC - 1
    # what is left is dust (the withdrawal's balance rounds up): worth no base unit
    dust = user["spot_positions"][0]["scaled_balance"]
    assert dust * quote_market(velocity)["cumulative_deposit_interest"] < 10**13
    assert [ix.args["reduce_only"] for ix in velocity.venue.journal.drift_instructions(
        "withdraw")] == [False, True]


def with_reduce_only(ix: Instruction, reduce_only: bool) -> Instruction:
    """The same withdrawal with reduce_only (its last argument byte) set as given."""
    return Instruction(ix.program_id, bytes(ix.data)[:-1] + bytes([reduce_only]), ix.accounts)


async def test_a_market_short_fills_at_once_with_its_fee_and_moves_the_market_totals(
    velocity: SimAndWallet,
) -> None:
    _, sol = velocity_refs(velocity)
    address = AnchorInstructions(velocity_coder(VELOCITY).idl).address("perp_market",
                                                                       market_index=0)
    async with AsyncClient(velocity.sim.rpc_url) as client:
        before = await account(client, address)
        await deposit(client, velocity)
        await short(client, velocity)
        user = await account(client, orders_for(velocity).user)
        after = await account(client, address)
    position = user["perp_positions"][0]
    # oracle 85.016475 moved down 0.1 % (+ a size term), on the 100-unit tick: 84.9313
    price = 84_931_300
    quote = SHORT * price // 10**9
    fee = -(-quote * 35 // 100_000)
    assert position["base_asset_amount"] == -SHORT
    assert position["quote_entry_amount"] == quote
    assert position["quote_asset_amount"] == quote - fee
    assert position["quote_break_even_amount"] == quote - fee
    assert after["base_asset_amount_short"] == before["base_asset_amount_short"] - SHORT
    assert after["quote_asset_amount"] == before["quote_asset_amount"] + quote - fee
    (sent,) = velocity.venue.journal.drift_instructions("place_perp_order")
    assert sent.args["params"]["direction"] == "Short"
    assert sent.args["params"]["base_asset_amount"] == SHORT
    assert str(sol.oracle) in sent.accounts and str(address) in sent.accounts
    assert f"at {price}" in velocity.venue.journal.sent()[-1].effects[0]


async def test_settle_pnl_moves_the_closed_short_s_profit_into_the_quote_balance(
    velocity: SimAndWallet,
) -> None:
    _, sol = velocity_refs(velocity)
    orders = orders_for(velocity)
    async with AsyncClient(velocity.sim.rpc_url) as client:
        await deposit(client, velocity)
        await short(client, velocity)
        await send_control(velocity, "oracle", {"market_index": 0, "price": "80"})
        await short(client, velocity, limit=81_000_000, reduce_only=True, side=Side.LONG)
        closed = (await account(client, orders.user))["perp_positions"][0]
        await send(client, velocity.wallet, orders.settle_pnl(sol))
        user = await account(client, orders.user)
    pnl = closed["quote_asset_amount"]
    assert closed["base_asset_amount"] == 0 and pnl > 0
    assert user["perp_positions"][0]["quote_asset_amount"] == 0
    assert user["settled_perp_pnl"] == pnl
    assert user["spot_positions"][0]["scaled_balance"] > QUOTE_DEPOSIT * 10**13 // 12_100_000_000


async def test_settle_funding_payment_pays_a_short_a_positive_rate(velocity: SimAndWallet) -> None:
    _, sol = velocity_refs(velocity)
    orders = orders_for(velocity)
    async with AsyncClient(velocity.sim.rpc_url) as client:
        await deposit(client, velocity)
        await short(client, velocity)
        opened = (await account(client, orders.user))["perp_positions"][0]
        answer = await send_control(velocity, "funding", {"market_index": 0, "rate_1h": "0.001"})
        await send(client, velocity.wallet, orders.settle_funding([sol]))
        user = await account(client, orders.user)
    paid = SHORT * answer["funding_rate"] // 10**9 // 10**3
    position = user["perp_positions"][0]
    assert paid > 0
    assert position["quote_asset_amount"] == opened["quote_asset_amount"] + paid
    assert position["last_cumulative_funding_rate"] == answer["cumulative_funding_rate_short"]
    assert user["cumulative_perp_funding"] == paid


@pytest.mark.parametrize(("switch", "body", "code"), [
    ("exchange", {"paused": True}, 6024),                                   # ExchangePaused
    ("perp_market", {"market_index": 0, "status": "ReduceOnly"}, None),     # not reducing
])
async def test_a_market_order_is_refused_on_a_paused_exchange_or_a_reduce_only_market(
    velocity: SimAndWallet, switch: str, body: dict[str, object], code: int | None,
) -> None:
    expected = code or velocity_coder(VELOCITY).error_code("InvalidOrderNotRiskReducing")
    async with AsyncClient(velocity.sim.rpc_url) as client:
        await deposit(client, velocity)
        await send_control(velocity, switch, body)
        with pytest.raises(RPCException, match=f"custom program error: {expected:#x}"):
            await short(client, velocity)
    assert velocity.venue.journal.sent()[-1].error == {
        "InstructionError": [0, {"Custom": expected}]}


async def test_a_funding_paused_market_stays_tradable(velocity: SimAndWallet) -> None:
    async with AsyncClient(velocity.sim.rpc_url) as client:
        await deposit(client, velocity)
        await send_control(velocity, "perp_market", {"market_index": 0,
                                                     "status": "FundingPaused"})
        market = velocity.venue.store.decoded(velocity.venue.store.perp_market_address(0))
        await short(client, velocity)
    assert (market["status"], market["paused_operations"] & 1) == ("Active", 1)


async def test_a_fill_beyond_a_stale_limit_is_refused_and_lands_failed_without_preflight(
    velocity: SimAndWallet,
) -> None:
    code = velocity_coder(VELOCITY).error_code("SlippageOutsideLimit")
    _, sol = velocity_refs(velocity)
    stale = orders_for(velocity).market_order(sol, Side.SHORT, SHORT, 86_000_000,  # above oracle
                                              reduce_only=False, max_ts=2**40, user_order_id=4)
    async with AsyncClient(velocity.sim.rpc_url) as client:
        await deposit(client, velocity)
        with pytest.raises(RPCException, match=f"custom program error: {code:#x}"):
            await send(client, velocity.wallet, stale)
        signature = await send(client, velocity.wallet, stale, skip_preflight=True)
        user = await account(client, orders_for(velocity).user)
    assert velocity.venue.statuses[signature].err == {"InstructionError": [0, {"Custom": code}]}
    assert user["perp_positions"][0]["base_asset_amount"] == 0


async def test_an_instruction_velocity_s_idl_cannot_decode_fails_the_program(
    velocity: SimAndWallet,
) -> None:
    code = velocity_coder(VELOCITY).error_code("InvalidNativeInstructionData")
    garbage = Instruction(Pubkey.from_string(VELOCITY.program_id), b"\x01" * 12,
                          orders_for(velocity).deposit(velocity_refs(velocity)[0], 1,
                                                       usdt_account(velocity),
                                                       TOKEN_PROGRAM_ID).accounts)
    async with AsyncClient(velocity.sim.rpc_url) as client:
        with pytest.raises(RPCException, match=f"custom program error: {code:#x}"):
            await send(client, velocity.wallet, garbage)
        blockhash = (await client.get_latest_blockhash()).value.blockhash
        tx = VersionedTransaction(MessageV0.try_compile(velocity.wallet.pubkey(), [garbage], [],
                                                        blockhash), [velocity.wallet])
        sent = await client.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True))
        status = (await client.get_signature_statuses([sent.value])).value[0]
    assert status is not None and status.err is not None
    (ix,) = velocity.venue.journal.drift_instructions("undecodable")[-1:]
    assert ix.why_undecodable


async def test_control_outcomes_apply_to_velocity_transactions(velocity: SimAndWallet) -> None:
    velocity.venue.control.set(outcome="never_confirm")
    async with AsyncClient(velocity.sim.rpc_url) as client:
        quote, _ = velocity_refs(velocity)
        ix = orders_for(velocity).deposit(quote, QUOTE_DEPOSIT, usdt_account(velocity),
                                          TOKEN_PROGRAM_ID)
        blockhash = (await client.get_latest_blockhash()).value.blockhash
        tx = VersionedTransaction(MessageV0.try_compile(velocity.wallet.pubkey(), [ix], [],
                                                        blockhash), [velocity.wallet])
        sent = await client.send_raw_transaction(bytes(tx))
        assert (await client.get_signature_statuses([sent.value])).value == [None]
        velocity.venue.control.set(outcome="fail_simulation")
        simulated = await client.simulate_transaction(tx)
    assert simulated.value.err is not None


async def send_control(sim: SimAndWallet, switch: str, body: dict[str, object]) -> dict:
    async with httpx.AsyncClient(base_url=sim.sim.rpc_url) as http:
        answer = await http.post(f"/_control/{switch}", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_served_velocity_user_is_blank_but_for_its_authority() -> None:
    wallet = Keypair()
    from tests.kit.venue_sim_builders import make_venue

    venue = make_venue(profile=VELOCITY, wallets=(wallet,))
    user_address = velocity_coder(VELOCITY).address("user", authority=wallet.pubkey(),
                                                    sub_account_id=0)
    data = venue.store.get(user_address).data
    user = velocity_decoder().decode_as("User", data)
    assert all(p["scaled_balance"] == 0 for p in user["spot_positions"])
    assert bytes(user["name"]).strip() == b"venue-sim"
    assert base64.b64encode(data)  # served bytes are exactly the IDL's 4,496
    assert len(data) == 4_496
