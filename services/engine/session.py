"""One run of the engine, from its start (a StartEngine, or a resume after a restart) to its
stop: the venue and account it trades, the trade path, ledger and hedge legs built for them, and
what the run knows of the vault's copy of the account; made whole at the start and dropped whole
at the stop, so nothing of one run leaks into the next."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from services.engine.hedged_entry import HedgedEntry, HedgedExit
from services.engine.ledger import Ledger
from services.engine.outcome import Denial
from services.engine.trade_path import TradePath

if TYPE_CHECKING:
    from dne.vault.v1 import vault_pb2


@dataclass
class VaultMirror:
    """What the run knows of the vault's copy of the account; it changes with every sync."""

    status: vault_pb2.VaultStatus  # the vault's answer to the last sync (at first, OpenVault's)
    last_synced_as_of: datetime | None = None  # the venue's time of the account last synced
    # Set when a sync failed every retry: trading waits until the vault answers again.
    error: Denial | None = None
    recovering: bool = False  # a sync is being retried
    # Markets this engine closed since the last sync: gone from the venue, but not "vanished".
    closed_since_sync: set[str] = field(default_factory=set)
    # Positions the venue held at the start that the vault did not know (reported, then kept).
    unknown_positions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Session:
    mode: str               # "paper" or "live"
    sub_account: int
    account: str            # the venue's account: a wallet's public key, "paper-wallet"
    venue: str              # the executor's venue: "paper", "drift"
    started_at: datetime    # market time at the start
    ledger: Ledger
    trade_path: TradePath
    hedged_entry: HedgedEntry
    hedged_exit: HedgedExit
    vault: VaultMirror
