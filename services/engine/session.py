"""One run of the engine, from its start (a StartEngine, or a resume after a restart) to its
stop: the venue and account it trades, and the trade path, ledger and hedge legs built for them,
made whole at the start and dropped whole at the stop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.engine.hedged_entry import HedgedEntry, HedgedExit
from services.engine.ledger import Ledger
from services.engine.trade_path import TradePath


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
