"""Builders for tests of the stand-in serving Velocity: its profile, markets as VelocityOrders
names them, sending an instruction signed, reading an account back with Velocity's
decoder."""

from __future__ import annotations

from typing import Any

from solana.rpc.async_api import AsyncClient
from solana.rpc.types import TxOpts
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from services.common.venue_profile import load_profile
from services.executor.velocity_orders import PerpMarketRef, SpotMarketRef
from services.feed.velocity_accounts import velocity_decoder
from tests.kit.venue_sim_builders import SimAndWallet

VELOCITY = load_profile("velocity")


def velocity_refs(sim: SimAndWallet, perp_index: int = 0) -> tuple[SpotMarketRef, PerpMarketRef]:
    """The quote spot market and a perp market with the oracles the stand-in serves them with."""
    store = sim.venue.store
    quote_market = store.decoded(store.spot_market_address(VELOCITY.quote_spot_market_index))
    perp = store.decoded(store.perp_market_address(perp_index))
    quote = SpotMarketRef(VELOCITY.quote_spot_market_index,
                          Pubkey.from_string(quote_market["oracle"]))
    return quote, PerpMarketRef(perp_index, Pubkey.from_string(perp["oracle"]), quote)


async def send(client: AsyncClient, wallet: Keypair, *instructions: Instruction,
               skip_preflight: bool = False) -> str:
    """Signs and sends; a preflight refusal raises solana-py's RPCException."""
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    message = MessageV0.try_compile(wallet.pubkey(), list(instructions), [], blockhash)
    sent = await client.send_transaction(VersionedTransaction(message, [wallet]),
                                         opts=TxOpts(skip_preflight=skip_preflight))
    return str(sent.value)


async def account(client: AsyncClient, address: Pubkey) -> dict[str, Any]:
    """getAccountInfo, decoded with Velocity's IDL."""
    answer = await client.get_account_info(address)
    assert answer.value is not None, f"no account at {address}"
    return velocity_decoder().decode(bytes(answer.value.data)).values
