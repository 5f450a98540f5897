"""Sign, simulate, send, confirm: every transaction the live driver makes goes through here.

A failed simulation is an answer (property 10): nothing is sent and nothing is retried. The
signature is written to the order log before the transaction is sent, so a crash between the
two still knows what may have landed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException
from solana.rpc.types import TxOpts
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.compute_budget import set_compute_unit_limit
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.transaction import VersionedTransaction

from services.executor.drift.confirmation import Confirmer, Landing
from services.executor.drift.link import RpcLink, is_transport_error

log = logging.getLogger(__name__)
COMPUTE_UNIT_LIMIT = 600_000
MAX_LOG_LINES = 6
MAX_SUMMARY = 600


@dataclass(frozen=True)
class Signed:
    tx: VersionedTransaction
    blockhash: str
    last_valid_block_height: int

    @property
    def signature(self) -> str:
        return str(self.tx.signatures[0])


@dataclass(frozen=True)
class Simulation:
    ok: bool
    error: str = ""
    logs: tuple[str, ...] = ()

    def summary(self) -> str:
        """The error and the log lines that say what failed (or the last ones)."""
        telling = [line for line in self.logs
                   if "rror" in line or "failed" in line or "AnchorError" in line]
        lines = (telling or list(self.logs))[-MAX_LOG_LINES:]
        return (f"{self.error}; logs: " + " | ".join(lines))[:MAX_SUMMARY] if lines \
            else self.error[:MAX_SUMMARY]


@dataclass(frozen=True)
class SendOutcome:
    """sent: the node took it (landing says what became of it); refused: the node's preflight
    said no, nothing landed."""

    landing: Landing | None = None
    refused: str = ""


class TxPipeline:
    def __init__(self, connection: AsyncClient, link: RpcLink, confirmer: Confirmer,
                 signer: Callable[[], Keypair]) -> None:
        self._connection = connection
        self._link = link
        self._confirmer = confirmer
        self._signer = signer  # called at signing time only; the key is never stored here

    async def sign(self, instructions: list[Instruction],
                   lookup_tables: list[AddressLookupTableAccount]) -> Signed:
        latest = await self._link.read(
            "getLatestBlockhash", lambda: self._connection.get_latest_blockhash(Confirmed))
        blockhash = latest.value.blockhash
        keypair = self._signer()
        message = MessageV0.try_compile(
            keypair.pubkey(), [set_compute_unit_limit(COMPUTE_UNIT_LIMIT), *instructions],
            lookup_tables, blockhash)
        return Signed(VersionedTransaction(message, [keypair]), str(blockhash),
                      latest.value.last_valid_block_height)

    def sign_prepared(self, unsigned: VersionedTransaction, last_valid: int) -> Signed:
        """A transaction someone else built (the swap API): the wallet signs its message."""
        keypair = self._signer()
        tx = VersionedTransaction(unsigned.message, [keypair])
        return Signed(tx, str(unsigned.message.recent_blockhash), last_valid)

    async def simulate(self, signed: Signed) -> Simulation:
        answer = await self._link.read("simulateTransaction", lambda: self._connection
                                       .simulate_transaction(signed.tx, sig_verify=True,
                                                             commitment=Confirmed))
        value = answer.value
        logs = tuple(value.logs or ())
        if value.err is not None:
            simulation = Simulation(False, str(value.err), logs)
            # Full simulation result logged (design.md, security: transaction simulation).
            log.warning("transaction simulation failed", extra={
                "tx_signature": signed.signature, "simulation_error": simulation.error,
                "simulation_logs": list(logs)})
            return simulation
        return Simulation(True, "", logs)

    async def send(self, signed: Signed) -> SendOutcome:
        try:
            await self._link.timed(lambda: self._connection.send_raw_transaction(
                bytes(signed.tx), TxOpts(skip_preflight=False, preflight_commitment=Confirmed,
                                         max_retries=None)))
        except RPCException as refusal:
            return SendOutcome(refused=_rpc_message(refusal))
        except Exception as error:
            if not is_transport_error(error):
                raise
            # The node may or may not have it: only its signature status can tell.
            log.warning("sendTransaction did not answer; confirming by signature",
                        extra={"tx_signature": signed.signature})
        return SendOutcome(landing=await self._confirmer.wait(signed.signature))

    async def blockhash_expired(self, last_valid_block_height: int) -> bool:
        """True once the cluster is past the blockhash's last valid height: the transaction
        can never land any more."""
        height = await self._link.read("getBlockHeight",
                                       lambda: self._connection.get_block_height(Confirmed))
        return height.value > last_valid_block_height


def _rpc_message(error: RPCException) -> str:
    first: Any = error.args[0] if error.args else error
    message = getattr(first, "message", None) or str(first)
    data = getattr(first, "data", None)
    logs = getattr(data, "logs", None) or []
    telling = [line for line in logs if "rror" in line or "failed" in line][-3:]
    return (str(message) + ("; logs: " + " | ".join(telling) if telling else ""))[:MAX_SUMMARY]
