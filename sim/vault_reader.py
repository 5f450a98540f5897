"""The vault's file read directly (stdlib sqlite3), for the checks: what the ledger says, with
no vault process in between, whether or not the vault is up."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from services.vault.schema import PositionRow, TradeRow


@dataclass(frozen=True)
class BookedTrade:
    client_order_id: str
    status: str
    filled_size: Decimal | None


class VaultReader:
    """One vault lives in a schedule's file (one account, one sub-account): read it all."""

    def __init__(self, path: Path) -> None:
        self._connection = sqlite3.connect(path)

    def trades(self, statuses: tuple[str, ...] = ()) -> list[BookedTrade]:
        query = (f"SELECT client_order_id, status, filled_size FROM {TradeRow.__tablename__}"  # noqa: S608
                 + (f" WHERE status IN ({','.join('?' * len(statuses))})" if statuses else ""))
        rows = self._connection.execute(query, statuses).fetchall()
        return [BookedTrade(cid, status, Decimal(size) if size else None)
                for cid, status, size in rows]

    def positions(self) -> dict[str, Decimal]:
        rows = self._connection.execute(
            f"SELECT market, side, size FROM {PositionRow.__tablename__}").fetchall()  # noqa: S608
        return {market: Decimal(size) if side == "LONG" else -Decimal(size)
                for market, side, size in rows if Decimal(size) != 0}

    def close(self) -> None:
        self._connection.close()
