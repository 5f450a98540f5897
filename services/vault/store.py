"""The vault's repository: every read and write of the ledger, each call one transaction.

Each call's transaction runs whole on a worker thread (`run`), synchronously, and the event
loop awaits only its end: one thread hop per call."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, fields, replace
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Row, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from services.common.clock import Clock
from services.common.errors import DomainError, ErrorCode
from services.vault import statements as sql
from services.vault.database import READ_ONLY
from services.vault.domain import (
    EXACT,
    ZERO,
    AccountSync,
    FundingRecord,
    PositionRecord,
    StoredTrade,
    SyncOutcome,
    TradeIntent,
    TradeOutcome,
    TradeState,
    VaultKey,
    VaultView,
    Verdict,
    judge_completion,
)
from services.vault.schema import Base

log = logging.getLogger(__name__)
SETTLE_PNL_KIND = "SETTLE_PNL"  # TradeKind as stored: the enum name without its prefix

# Errors that mean "the database cannot be reached now", as opposed to a bug in a query.
_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError, OSError, TimeoutError)
# Worker threads: concurrent reads, and writes that queue on the database's own lock.
WORKER_THREADS = 4
T = TypeVar("T")
Run = Callable[[Callable[[], T]], Awaitable[T]]
# SQLite allows 999 bound parameters per statement in old builds; stay well below.
_IN_CHUNK = 500


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _log_completion(trade: StoredTrade) -> None:
    log.info(
        "trade completed",
        extra={
            "timestamp": (trade.executed_at or trade.updated_at).isoformat(),
            "market": trade.market,
            "side": trade.side,
            "size": format(trade.filled_size or ZERO, "f"),
            "price": format(trade.price, "f") if trade.price is not None else "",
            "tx_signature": trade.tx_signature,
            "client_order_id": trade.client_order_id,
            "status": trade.status,
            "kind": trade.kind,
        },
    )


def _log_sync(key: VaultKey, sync: AccountSync, outcome: SyncOutcome) -> None:
    log.info(
        "vault synced",
        extra={
            "account": key.account,
            "sub_account": key.sub_account,
            "health_ratio": sync.health_ratio,
            "leverage": sync.leverage,
            "total_collateral": format(sync.collateral, "f"),
            "free_collateral": sync.free_collateral,
            "balance_change": format(outcome.balance_change, "f"),
            "funding_payments_recorded": outcome.funding_payments_recorded,
        },
    )


async def _run_here(work: Callable[[], T]) -> T:
    return work()


class VaultStore:
    def __init__(self, engine: Engine, clock: Clock, run: Run[Any] | None = None) -> None:
        """`run` runs a transaction and answers its result; by default on a worker thread
        (the seeded simulation runs them inline, for replayable schedules)."""
        self._engine = engine
        self._clock = clock
        self._read_engine = engine.execution_options(**{READ_ONLY: True})
        self._threads: ThreadPoolExecutor | None = None
        self._run: Run[Any] = run or self._on_worker_thread
        # A SQLite read is a WAL snapshot of a local file: it never waits for a writer and
        # takes less time than the hop to a worker thread (issue 12: a lookup 2.0 -> 1.3 ms of
        # CPU). Writes (an fsync each) and PostgreSQL's round trips keep the worker threads.
        self._read_run: Run[Any] = (
            _run_here if run is None and engine.url.get_backend_name() == "sqlite" else self._run)

    @property
    def engine(self) -> Engine:
        return self._engine

    async def create_schema(self) -> None:
        await self._call(Base.metadata.create_all, self._engine)

    async def dispose(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True)  # transactions under way end first
            self._threads = None
        self._engine.dispose()

    # The calls: each one transaction (a write on a worker thread)

    async def open_vault(self, key: VaultKey) -> tuple[VaultView, bool]:
        return await self._call(self._open_vault, key)

    async def vault_status(self, key: VaultKey) -> VaultView:
        return await self._call(self._vault_status, key, run=self._read_run)

    async def record_intent(self, intent: TradeIntent) -> tuple[StoredTrade, bool]:
        """Writes a PENDING trade; a client order id seen before answers the stored trade."""
        return await self._call(self._record_intent, intent)

    async def complete_trade(
        self, client_order_id: str, outcome: TradeOutcome,
        settlement: tuple[str, TradeOutcome] | None = None,
        sync: tuple[VaultKey, AccountSync] | None = None,
    ) -> tuple[StoredTrade, SyncOutcome | None]:
        """The outcome (with a close's settlement); with `sync`, the account the trade left,
        in the same transaction. A sync that cannot be made leaves the completion written
        alone: the answer's SyncOutcome is then None."""
        return await self._call(self._complete_trade, client_order_id, outcome, settlement,
                                sync)

    async def list_trades(
        self, key: VaultKey, *, statuses: Sequence[TradeState] = (), client_order_id: str = "",
        limit: int,
    ) -> list[StoredTrade]:
        """Newest first."""
        return await self._call(self._list_trades, key, statuses=statuses,
                                client_order_id=client_order_id, limit=limit,
                                run=self._read_run)

    async def sync_account(self, key: VaultKey, sync: AccountSync) -> SyncOutcome:
        """Balance, margin and positions from the venue; each funding payment recorded once."""
        return await self._call(self._sync_account, key, sync)

    async def list_funding_payments(
        self, key: VaultKey, since: datetime | None
    ) -> list[FundingRecord]:
        """Oldest first, from `since` (period start) when given."""
        return await self._call(self._list_funding_payments, key, since, run=self._read_run)

    # Vaults

    def _open_vault(self, key: VaultKey) -> tuple[VaultView, bool]:
        with self._transaction() as connection:
            vault, created = self._get_or_create_vault(connection, key)
            return self._view(connection, vault._mapping), created

    def _vault_status(self, key: VaultKey) -> VaultView:
        with self._reading() as connection:
            return self._view(connection, self._existing_vault(connection, key)._mapping)

    # Trades

    def _record_intent(self, intent: TradeIntent) -> tuple[StoredTrade, bool]:
        with self._transaction() as connection:
            stored = _trade(connection, intent.client_order_id)
            if stored is not None:
                return stored, False
            vault, _ = self._get_or_create_vault(connection, intent.key)
            now = self._clock.now()
            trade = StoredTrade(
                client_order_id=intent.client_order_id, vault_id=vault.id,
                account=vault.account, sub_account=vault.sub_account,
                kind=intent.kind, status=TradeState.PENDING, market=intent.market,
                side=intent.side, requested_size=intent.requested_size, filled_size=None,
                price=intent.price, fee=None, notional=intent.notional, slippage=None,
                tx_signature="", source=intent.source, error_code="", error_message="",
                error_details={}, created_at=intent.created_at or now, updated_at=now,
                executed_at=None,
            )
            try:
                with connection.begin_nested():
                    connection.execute(sql.INSERT_TRADE, _trade_values(trade))
            except IntegrityError:
                # Another call recorded this id between our read and our insert.
                stored = _trade(connection, intent.client_order_id)
                if stored is None:
                    raise
                return stored, False
            return trade, True

    def _complete_trade(
        self, client_order_id: str, outcome: TradeOutcome,
        settlement: tuple[str, TradeOutcome] | None = None,
        sync: tuple[VaultKey, AccountSync] | None = None,
    ) -> tuple[StoredTrade, SyncOutcome | None]:
        synced = None
        with self._transaction() as connection:
            trade, completed_now = self._complete_in(connection, client_order_id, outcome,
                                                     settlement)
            if sync is not None:
                synced = self._sync_beside(connection, *sync)
        if completed_now:
            _log_completion(trade)
        if sync is not None and synced is not None:
            _log_sync(*sync, synced)
        return trade, synced

    def _sync_beside(
        self, connection: Connection, key: VaultKey, sync: AccountSync
    ) -> SyncOutcome | None:
        """The sync in a savepoint of the completion's transaction: whatever goes wrong in it
        undoes only itself (a bug in a sync must never cost a completion), except a database
        out of reach, which the completion cannot survive either."""
        try:
            with connection.begin_nested():
                return self._sync_in(connection, key, sync)
        except _UNAVAILABLE:
            raise
        except Exception:
            log.error("sync beside a completion failed; the completion stands", exc_info=True)
            return None

    def _complete_in(
        self, connection: Connection, client_order_id: str, outcome: TradeOutcome,
        settlement: tuple[str, TradeOutcome] | None,
    ) -> tuple[StoredTrade, bool]:
        """The trade as completed, and whether this call completed it (not a repeat)."""
        trade = _trade(connection, client_order_id, lock=True)
        if trade is None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"no trade with client order id {client_order_id!r}: "
                "RecordIntent must be called before the order is sent",
            )
        if settlement is not None:
            self._record_settlement(connection, trade, *settlement)
        current = TradeState(trade.status)
        stored = (current, trade.filled_size or ZERO, trade.price, trade.tx_signature)
        verdict = judge_completion(current, stored, outcome)
        if verdict is Verdict.ALREADY_DONE:
            return trade, False
        if verdict is Verdict.REFUSE:
            log.warning(
                "trade completion refused",
                extra={
                    "client_order_id": client_order_id,
                    "status": current,
                    "refused_status": outcome.status,
                },
            )
            raise DomainError(
                ErrorCode.FAILED_PRECONDITION,
                f"trade {client_order_id!r} is {current} and cannot become "
                f"{outcome.status}"
                + (" with a different fill" if current is outcome.status else ""),
                status=current,
            )
        trade = _with_outcome(trade, outcome, self._clock.now())
        connection.execute(sql.UPDATE_TRADE, {"order_id": client_order_id,
                                              **_outcome_values(trade)})
        return trade, True

    def _record_settlement(
        self, connection: Connection, close: StoredTrade, client_order_id: str,
        outcome: TradeOutcome,
    ) -> None:
        """A close's settlement, in the close's transaction; written once (a repeat of the
        completion finds it there)."""
        if connection.execute(sql.ORDER_ID_TAKEN,
                              {"client_order_id": client_order_id}).first() is not None:
            return
        now = self._clock.now()
        pending = replace(
            close, client_order_id=client_order_id, kind=SETTLE_PNL_KIND,
            status=TradeState.PENDING, market=outcome.market or close.market, side="",
            requested_size=None, filled_size=None, price=None, fee=None, notional=None,
            slippage=None, tx_signature="", error_code="", error_message="", error_details={},
            created_at=now, updated_at=now, executed_at=None,
        )
        connection.execute(sql.INSERT_TRADE,
                           _trade_values(_with_outcome(pending, outcome, now)))

    def _list_trades(
        self,
        key: VaultKey,
        *,
        statuses: Sequence[TradeState] = (),
        client_order_id: str = "",
        limit: int,
    ) -> list[StoredTrade]:
        with self._reading() as connection:
            vault = self._existing_vault(connection, key)
            if client_order_id and not statuses and limit >= 1:
                return [StoredTrade(**row._mapping) for row in connection.execute(
                    sql.TRADE_OF_VAULT_BY_ORDER_ID,
                    {"vault_id": vault.id, "client_order_id": client_order_id})]
            trades = sql.TRADES
            query = sql.TRADES_WITH_OWNER.where(trades.c.vault_id == vault.id)
            if statuses:
                query = query.where(trades.c.status.in_([str(status) for status in statuses]))
            if client_order_id:
                query = query.where(trades.c.client_order_id == client_order_id)
            query = query.order_by(trades.c.created_at.desc(), trades.c.id.desc()).limit(limit)
            return [StoredTrade(**row._mapping) for row in connection.execute(query)]

    # Venue state

    def _sync_account(self, key: VaultKey, sync: AccountSync) -> SyncOutcome:
        with self._transaction() as connection:
            outcome = self._sync_in(connection, key, sync)
        _log_sync(key, sync, outcome)
        return outcome

    def _sync_in(self, connection: Connection, key: VaultKey, sync: AccountSync) -> SyncOutcome:
        vault, _ = self._get_or_create_vault(connection, key, lock=True)
        new_payments = self._new_funding_payments(connection, vault.id, sync)
        realized = vault.realized_funding_pnl
        for payment in new_payments:
            realized = EXACT.add(realized, payment.amount)
        connection.execute(sql.UPDATE_VAULT, {
            "vault_id": vault.id, "balance": sync.collateral,
            "allocated_capital": sync.initial_margin, "realized_funding_pnl": realized,
            "last_synced_at": sync.as_of or self._clock.now(),
        })
        connection.execute(sql.DELETE_POSITIONS, {"vault_id": vault.id})
        if sync.positions:
            connection.execute(sql.INSERT_POSITION, [
                {"vault_id": vault.id, "market": position.market, "side": position.side,
                 "size": position.size, "entry_price": position.entry_price}
                for position in sync.positions
            ])
        if new_payments:
            now = self._clock.now()
            connection.execute(sql.INSERT_PAYMENT, [
                _payment_values(vault.id, payment, now) for payment in new_payments])
        view = self._view(connection, {
            **vault._mapping, "balance": sync.collateral,
            "allocated_capital": sync.initial_margin, "realized_funding_pnl": realized,
            "last_synced_at": sync.as_of or self._clock.now()}, count_all=False)
        change = EXACT.subtract(sync.collateral, vault.balance)
        return SyncOutcome(view, len(new_payments), change)

    def _list_funding_payments(
        self, key: VaultKey, since: datetime | None
    ) -> list[FundingRecord]:
        with self._reading() as connection:
            vault = self._existing_vault(connection, key)
            funding = sql.FUNDING
            query = select(*sql.FUNDING_FIELDS).where(funding.c.vault_id == vault.id)
            if since is not None:
                query = query.where(funding.c.period_start >= since)
            query = query.order_by(funding.c.period_start, funding.c.id)
            return [FundingRecord(**row._mapping) for row in connection.execute(query)]

    # Helpers

    async def _call(self, work: Callable[..., T], *args: Any, run: Run[Any] | None = None,
                    **kwargs: Any) -> T:
        """`work(*args, **kwargs)` through `run` (the store's own by default); a database out
        of reach is VAULT_UNAVAILABLE."""
        try:
            return await (run or self._run)(partial(work, *args, **kwargs))
        except _UNAVAILABLE as error:
            log.error("vault database unavailable", exc_info=True)
            cause = type(getattr(error, "orig", None) or error).__name__
            raise DomainError(
                ErrorCode.VAULT_UNAVAILABLE,
                f"the vault database is unavailable ({cause}); retry later",
            ) from error

    async def _on_worker_thread(self, work: Callable[[], T]) -> T:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="vault-db")
        return await asyncio.get_running_loop().run_in_executor(self._threads, work)

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self._engine.begin() as connection:
            yield connection

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._read_engine.begin() as connection:
            yield connection

    def _find_vault(
        self, connection: Connection, key: VaultKey, *, lock: bool = False
    ) -> Row[Any] | None:
        statement = sql.VAULT_BY_KEY_LOCKED if lock else sql.VAULT_BY_KEY
        return connection.execute(
            statement, {"account": key.account, "sub_account": key.sub_account}).first()

    def _existing_vault(self, connection: Connection, key: VaultKey) -> Row[Any]:
        vault = self._find_vault(connection, key)
        if vault is None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"no vault for account {key.account!r} sub-account {key.sub_account}: "
                "OpenVault or SyncAccount creates it",
            )
        return vault

    def _get_or_create_vault(
        self, connection: Connection, key: VaultKey, *, lock: bool = False
    ) -> tuple[Row[Any], bool]:
        vault = self._find_vault(connection, key, lock=lock)
        if vault is not None:
            return vault, False
        try:
            with connection.begin_nested():
                connection.execute(sql.INSERT_VAULT, {
                    "id": uuid.uuid4().hex, "account": key.account,
                    "sub_account": key.sub_account, "balance": ZERO,
                    "allocated_capital": ZERO, "realized_funding_pnl": ZERO,
                    "last_synced_at": None, "created_at": self._clock.now(),
                })
            created = True
        except IntegrityError:
            created = False  # a concurrent call created it first (the unique pair holds)
        vault = self._find_vault(connection, key, lock=lock)
        if vault is None:
            raise DomainError(ErrorCode.INTERNAL, f"the vault {key} was not written")
        return vault, created

    def _new_funding_payments(
        self, connection: Connection, vault_id: str, sync: AccountSync
    ) -> list[FundingRecord]:
        unique: dict[str, FundingRecord] = {}
        for payment in sync.funding_payments:
            unique.setdefault(payment.payment_id, payment)
        known: set[str] = set()
        for chunk in _chunks(list(unique)):
            known.update(connection.execute(
                sql.KNOWN_PAYMENT_IDS, {"vault_id": vault_id, "payment_ids": list(chunk)}
            ).scalars())
        return [payment for payment_id, payment in unique.items() if payment_id not in known]

    def _view(self, connection: Connection, vault: Mapping[str, Any], *,
              count_all: bool = True) -> VaultView:
        """`vault`: the vault's columns by name, as they stand in this transaction. Without
        `count_all` (a sync), only the pending trades are counted: the total reads every trade
        of the vault."""
        vault_id = vault["id"]
        positions = connection.execute(sql.POSITIONS_OF, {"vault_id": vault_id})
        if count_all:
            counts = dict(connection.execute(
                sql.TRADE_COUNTS, {"vault_id": vault_id}).tuples().all())
            pending, total = counts.get(TradeState.PENDING, 0), sum(counts.values())
        else:
            pending = connection.execute(sql.PENDING_COUNT, {
                "vault_id": vault_id, "status": str(TradeState.PENDING)}).scalar_one()
            total = None
        return VaultView(
            vault_id=vault_id,
            key=VaultKey(vault["account"], vault["sub_account"]),
            balance=vault["balance"],
            allocated_capital=vault["allocated_capital"],
            realized_funding_pnl=vault["realized_funding_pnl"],
            positions=tuple(
                PositionRecord(row.market, row.side, row.size, row.entry_price)
                for row in positions
            ),
            last_synced_at=vault["last_synced_at"],
            pending_trades=pending,
            trade_count=total,
            created_at=vault["created_at"],
        )


def _trade(
    connection: Connection, client_order_id: str, *, lock: bool = False
) -> StoredTrade | None:
    statement = sql.TRADE_BY_ORDER_ID_LOCKED if lock else sql.TRADE_BY_ORDER_ID
    row = connection.execute(statement, {"client_order_id": client_order_id}).first()
    return None if row is None else StoredTrade(**row._mapping)


def _with_outcome(trade: StoredTrade, outcome: TradeOutcome, now: datetime) -> StoredTrade:
    return replace(
        trade,
        status=outcome.status,
        market=trade.market or outcome.market,
        side=trade.side or outcome.side,
        filled_size=outcome.filled_size,
        price=outcome.price,
        fee=outcome.fee,
        notional=outcome.notional if outcome.notional is not None else trade.notional,
        slippage=outcome.slippage,
        tx_signature=outcome.tx_signature,
        error_code=outcome.error_code,
        error_message=outcome.error_message,
        error_details=outcome.error_details,
        executed_at=outcome.executed_at,
        updated_at=now,
    )


_OUTCOME_FIELDS = ("status", "market", "side", "filled_size", "price", "fee", "notional",
                   "slippage", "tx_signature", "error_code", "error_message", "error_details",
                   "executed_at", "updated_at")


def _outcome_values(trade: StoredTrade) -> dict[str, Any]:
    return {name: getattr(trade, name) for name in _OUTCOME_FIELDS}


# A trade's own columns: account and sub_account are the vault's. Read off the fields, not by
# asdict, whose deep copy cost 68 us a row for values the insert only reads.
_TRADE_COLUMNS = tuple(field.name for field in fields(StoredTrade)
                       if field.name not in ("account", "sub_account"))


def _trade_values(trade: StoredTrade) -> dict[str, Any]:
    return {name: getattr(trade, name) for name in _TRADE_COLUMNS}


def _payment_values(vault_id: str, payment: FundingRecord, now: datetime) -> dict[str, Any]:
    return {**asdict(payment), "vault_id": vault_id, "recorded_at": now}
