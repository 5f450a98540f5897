"""Transactions driftpy builds, sent through the stand-in, decoded back; the control switch."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from driftpy.drift_client import DriftClient
from driftpy.types import OrderType
from solana.exceptions import SolanaRpcException
from solana.rpc.core import RPCException
from solana.rpc.types import TxOpts
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.rpc.errors import SendTransactionPreflightFailureMessage
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from spl.token.instructions import get_associated_token_address

from services.venue_sim.drift_coder import program_coder
from services.venue_sim.tx_decode import UndecodableTransaction, decode_transaction
from tests.kit.venue_sim_builders import (
    DRIFT,
    QUOTE_MINT,
    WALLET_USDC,
    SimAndWallet,
    drift_client,
    short_market_order,
)

CODER = program_coder(DRIFT)
EXCHANGE_PAUSED_ERROR = {"InstructionError": [2, {"Custom": 6081}]}


async def signed_order(client: DriftClient) -> VersionedTransaction:
    """The v0 transaction driftpy's send path would send, with its lookup tables."""
    ix = client.get_place_perp_order_ix(short_market_order())
    tables = await client.fetch_market_lookup_table_accounts()
    return await client.tx_sender.get_versioned_tx([ix], client.wallet.payer, tables)


async def test_a_place_perp_order_from_driftpy_is_decoded_back_into_its_exact_arguments(
    sim: SimAndWallet,
) -> None:
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0, 1]) as client:
        ix = client.get_place_perp_order_ix(short_market_order(500_000_000, 84_000_000))
        await client.send_ixs([ix])
    (sent,) = sim.venue.journal.drift_instructions("place_perp_order")
    params = sent.args["params"]
    assert params["order_type"] == "Market"
    assert params["market_type"] == "Perp"
    assert params["market_index"] == 0
    assert params["direction"] == "Short"
    assert params["base_asset_amount"] == 500_000_000
    assert params["price"] == 84_000_000
    assert params["user_order_id"] == 7
    assert params["reduce_only"] is False
    entry = sim.venue.journal.sent()[0]
    assert entry.transaction.signatures_valid
    assert entry.transaction.fee_payer == str(sim.wallet.pubkey())
    assert str(client.get_user_account_public_key()) in sent.accounts


async def test_a_confirmed_limit_order_is_open_on_the_served_user_account(
    sim: SimAndWallet,
) -> None:
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0, 1]) as client:
        order_params = short_market_order(250_000_000, 83_500_000)
        order_params.order_type = OrderType.Limit()
        await client.place_perp_order(order_params)
        await client.get_user().account_subscriber.fetch()
        (order,) = client.get_user().get_open_orders()
        assert (order.market_index, order.base_asset_amount, order.price) == \
            (0, 250_000_000, 83_500_000)
        assert type(order.direction).__name__ == "Short"
        assert order.order_id == 1


async def test_a_confirmed_deposit_moves_usdc_from_the_wallet_into_the_user(
    sim: SimAndWallet,
) -> None:
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0, 1]) as client:
        token_account = get_associated_token_address(sim.wallet.pubkey(), QUOTE_MINT)
        await client.deposit(1_500_000_000, 0, token_account)
        balance = await client.connection.get_token_account_balance(token_account)
        assert int(balance.value.amount) == WALLET_USDC - 1_500_000_000
        await client.get_user().account_subscriber.fetch()
        # scaled by the cumulative deposit interest and floored, as the program does
        assert 1_500_000_000 - 1 <= client.get_user().get_token_amount(0) <= 1_500_000_000
    (deposit,) = sim.venue.journal.drift_instructions("deposit")
    assert deposit.args == {"market_index": 0, "amount": 1_500_000_000, "reduce_only": False}


async def test_simulation_failure_answers_the_configured_error_and_logs(
    sim: SimAndWallet,
) -> None:
    logs = ["Program log: AnchorError occurred. Error Code: ExchangePaused."]
    sim.venue.control.set(outcome="fail_simulation", error=EXCHANGE_PAUSED_ERROR, logs=logs)
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0, 1]) as client:
        tx = await signed_order(client)
        simulated = await client.connection.simulate_transaction(tx)
        assert simulated.value.logs == logs
        assert simulated.value.err is not None
        with pytest.raises(RPCException) as refused:
            await client.send_ixs([client.get_place_perp_order_ix(short_market_order())])
    failure = refused.value.args[0]  # solders parsed the -32002 answer as a preflight failure
    assert isinstance(failure, SendTransactionPreflightFailureMessage)
    assert failure.data.logs == logs
    assert failure.message.startswith("Transaction simulation failed")
    assert sim.venue.statuses == {}  # nothing landed


async def test_a_never_confirmed_transaction_gets_a_signature_but_no_status(
    sim: SimAndWallet,
) -> None:
    sim.venue.control.set(outcome="never_confirm")
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0, 1]) as client:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.place_perp_order(short_market_order()), 1.5)
        (entry,) = sim.venue.journal.sent()
        statuses = await client.connection.get_signature_statuses(
            [Signature.from_string(entry.transaction.signature)]
        )
        assert statuses.value == [None]
        await client.get_user().account_subscriber.fetch()
        assert client.get_user().get_open_orders() == []


async def test_a_transaction_failing_on_chain_is_confirmed_with_its_error(
    sim: SimAndWallet,
) -> None:
    sim.venue.control.set(outcome="fail_on_chain", error=EXCHANGE_PAUSED_ERROR)
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0, 1]) as client:
        tx = await signed_order(client)
        sent = await client.connection.send_raw_transaction(bytes(tx),
                                                            TxOpts(skip_preflight=True))
        statuses = await client.connection.get_signature_statuses([sent.value])
    assert statuses.value[0].err is not None
    assert sim.venue.journal.sent()[0].effects == []


async def test_a_dropped_connection_reaches_the_caller_as_a_transport_error(
    sim: SimAndWallet,
) -> None:
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0, 1]) as client:
        sim.venue.control.set(drop=["sendTransaction"])
        with pytest.raises((SolanaRpcException, httpx.TransportError)):
            await client.place_perp_order(short_market_order())
        assert (await client.connection.get_slot()).value > 0  # other methods still answer
        sim.venue.control.set(drop="*")
        with pytest.raises((SolanaRpcException, httpx.TransportError)):
            await client.connection.get_slot()


async def test_latency_delays_every_answer_by_at_least_the_configured_time(
    sim: SimAndWallet,
) -> None:
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0]) as client:
        started = time.monotonic()
        await client.connection.get_slot()
        quick = time.monotonic() - started
        sim.venue.control.set(latency_ms=400)
        started = time.monotonic()
        await client.connection.get_slot()
        slow = time.monotonic() - started
    assert slow >= 0.4
    assert quick < 0.4


async def test_a_transaction_with_a_bad_signature_is_refused(sim: SimAndWallet) -> None:
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0, 1]) as client:
        tx = await signed_order(client)
        forged = VersionedTransaction.populate(tx.message, [Keypair().sign_message(
            bytes(tx.message))])
        with pytest.raises(RPCException) as refused:
            await client.connection.send_raw_transaction(bytes(forged))
    assert "TransactionSignatureVerificationFailure" in str(refused.value)


async def test_the_journal_and_behaviour_are_readable_and_settable_over_http(
    sim: SimAndWallet,
) -> None:
    async with httpx.AsyncClient(base_url=sim.sim.rpc_url) as http:
        answer = await http.post("/_control", json={"outcome": "never_confirm",
                                                     "latency_ms": 5})
        assert answer.status_code == 200
        assert sim.venue.control.behaviour.outcome == "never_confirm"
        refused = await http.post("/_control", json={"outcome": "maybe"})
        assert refused.status_code == 400
        assert "outcome must be one of" in refused.json()["error"]
        async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                                spot_market_indexes=[0, 1]) as client:
            tx = await signed_order(client)
            await client.connection.send_raw_transaction(bytes(tx))
        journal = (await http.get("/_control/journal")).json()
        assert journal[0]["outcome"] == "never_confirm"
        (place,) = journal[0]["instructions"]
        assert place["name"] == "place_perp_order"
        assert place["args"]["params"]["direction"] == "Short"
        reset = await http.delete("/_control")
        assert reset.json()["outcome"] == "confirm"


async def test_exchange_pause_and_market_status_switch_over_http(sim: SimAndWallet) -> None:
    async with httpx.AsyncClient(base_url=sim.sim.rpc_url) as http:
        assert (await http.post("/_control/exchange", json={"paused": True})).status_code == 200
        assert (await http.post("/_control/perp_market",
                                json={"market_index": 0, "status": "Delisted"})).status_code == 200
        refused = await http.post("/_control/perp_market",
                                  json={"market_index": 99, "status": "Active"})
        assert refused.status_code == 400
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0]) as client:
        assert client.get_state_account().exchange_status == 0xFF
        assert type(client.get_perp_market_account(0).status).__name__ == "Delisted"


def test_junk_and_unserved_lookup_tables_are_undecodable_not_crashes() -> None:
    payer = Keypair()
    empty = VersionedTransaction(MessageV0.try_compile(payer.pubkey(), [], [], Hash.default()),
                                 [payer])
    decoded = decode_transaction(bytes(empty), lambda _key: None, CODER)
    assert decoded.instructions == []
    assert decoded.signatures_valid
    with pytest.raises(UndecodableTransaction):
        decode_transaction(b"\x01junk", lambda _key: None, CODER)


async def test_withdraw_and_settle_pnl_are_decoded_with_their_arguments(sim: SimAndWallet) -> None:
    token_account = get_associated_token_address(sim.wallet.pubkey(), QUOTE_MINT)
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0, 1]) as client:
        await client.deposit(2_000_000, 0, token_account)
        await client.get_user().account_subscriber.fetch()
        await client.withdraw(500_000, 0, token_account)
        await client.settle_pnl(client.get_user_account_public_key(), client.get_user_account(), 0)
        balance = await client.connection.get_token_account_balance(token_account)
    (withdraw,) = sim.venue.journal.drift_instructions("withdraw")
    assert withdraw.args == {"market_index": 0, "amount": 500_000, "reduce_only": False}
    (settle,) = sim.venue.journal.drift_instructions("settle_pnl")
    assert settle.args == {"market_index": 0}
    assert int(balance.value.amount) == WALLET_USDC - 2_000_000 + 500_000
    assert sim.venue.journal.sent()[-1].effects == ["settle_pnl: no position on perp market 0"]


@pytest.mark.parametrize(
    ("request_body", "code"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo", "params": ["not-a-key"]}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "sendTransaction",
          "params": ["@@@", {"encoding": "base64"}]}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "sendTransaction",
          "params": ["AAAA", {"encoding": "base64"}]}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "getProgramAccounts",
          "params": [str(Keypair().pubkey()), {"filters": [{"junk": 1}]}]}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "getSlot", "params": {"a": 1}}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "requestAirdrop", "params": []}, -32601),
        ({"id": 1, "method": "getSlot"}, -32600),
    ],
)
async def test_malformed_requests_get_json_rpc_errors_not_crashes(
    sim: SimAndWallet, request_body: dict, code: int
) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(sim.sim.rpc_url, json=request_body)
        assert answer.status_code == 200
        assert answer.json()["error"]["code"] == code
        alive = await http.post(sim.sim.rpc_url, json={"jsonrpc": "2.0", "id": 2,
                                                       "method": "getHealth"})
        assert alive.json()["result"] == "ok"
