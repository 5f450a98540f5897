"""A sync costs the same on a ledger of thousands of trades as on a new one: it runs after every
trade and on every engine tick, so anything it reads per trade grows with the ledger's age (it
counted every trade of the vault: 0.6 ms at 1,000 trades, 16 ms at 100,000).

Work is counted in SQLite virtual-machine steps (its progress handler), not in time: the count
is the same on any machine."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from pathlib import Path

from sqlalchemy import event

from services.common.clock import ManualClock
from services.vault import statements as sql
from services.vault.database import create_engine
from services.vault.domain import AccountSync, PositionRecord, TradeIntent, VaultKey
from services.vault.store import VaultStore
from tests.kit.vault_databases import START

KEY = VaultKey("acct", 0)
STEPS_PER_TICK = 100
SYNC = AccountSync(Decimal("5000"), Decimal("3"),
                   (PositionRecord("BTC-PERP", "short", Decimal("0.0005"), Decimal("60000")),),
                   (), START)


def intent(client_order_id: str) -> TradeIntent:
    return TradeIntent(KEY, client_order_id, "PERP_OPEN", "BTC-PERP", "short", Decimal("0.0005"),
                       Decimal("60000"), Decimal("30"), "test", None)


async def add_trades(store: VaultStore, count: int, prefix: str) -> None:
    """`count` more filled trades (as a ledger's old trades are), written in one statement."""
    model, _ = await store.record_intent(intent(f"{prefix}-model"))
    values = asdict(model)
    del values["account"], values["sub_account"]
    with store.engine.begin() as connection:
        connection.execute(sql.INSERT_TRADE, [
            {**values, "client_order_id": f"{prefix}-{number}", "status": "FILLED"}
            for number in range(count)])


async def steps_of_a_sync(store: VaultStore) -> int:
    """SQLite VM steps (in hundreds) that one SyncAccount takes."""
    ticks = 0

    def tick() -> int:
        nonlocal ticks
        ticks += 1
        return 0  # go on

    @event.listens_for(store.engine, "before_cursor_execute")
    def watch(connection, *_args: object) -> None:  # type: ignore[no-untyped-def]
        connection.connection.dbapi_connection.set_progress_handler(tick, STEPS_PER_TICK)

    try:
        await store.sync_account(KEY, SYNC)
    finally:
        event.remove(store.engine, "before_cursor_execute", watch)
    return ticks


async def test_a_sync_reads_nothing_per_trade_of_the_ledger(tmp_path: Path) -> None:
    store = VaultStore(create_engine(f"sqlite:///{tmp_path / 'vault.db'}"), ManualClock(START))
    await store.create_schema()
    try:
        await store.open_vault(KEY)
        await add_trades(store, 20, "young")
        await store.sync_account(KEY, SYNC)  # the first sync writes the positions
        young = await steps_of_a_sync(store)
        await add_trades(store, 5_000, "old")
        old = await steps_of_a_sync(store)
        # The vault's own status still counts them all: it is asked, not run on every tick.
        status = await store.vault_status(KEY)
    finally:
        await store.dispose()
    assert young > 0
    assert old <= young + 5, f"a sync took {young}00 steps at 22 trades, {old}00 at 5,022"
    assert (status.pending_trades, status.trade_count) == (2, 5_022)

