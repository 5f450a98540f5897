"""The vault's repository: every read and write of the ledger, each call one transaction.

Each call's transaction runs whole on a worker thread (`run`), synchronously, and the event
loop awaits only its end: one thread hop per call."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from services.common.clock import Clock
from services.common.errors import DomainError, ErrorCode
from services.vault.database import READ_ONLY
from services.vault.domain import (
    EXACT,
    ZERO,
    AccountSync,
    FundingRecord,
    PositionRecord,
    SyncOutcome,
    TradeIntent,
    TradeOutcome,
    TradeState,
    VaultKey,
    VaultView,
    Verdict,
    judge_completion,
)
from services.vault.schema import Base, FundingPaymentRow, PositionRow, TradeRow, VaultRow

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


class VaultStore:
    def __init__(self, engine: Engine, clock: Clock, run: Run[Any] | None = None) -> None:
        """`run` runs a transaction and answers its result; by default on a worker thread
        (the seeded simulation runs them inline, for replayable schedules)."""
        self._engine = engine
        self._clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._readers = sessionmaker(
            engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        self._threads: ThreadPoolExecutor | None = None
        self._run: Run[Any] = run or self._on_worker_thread

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

    # The calls: each one transaction on a worker thread

    async def open_vault(self, key: VaultKey) -> tuple[VaultView, bool]:
        return await self._call(self._open_vault, key)

    async def vault_status(self, key: VaultKey) -> VaultView:
        return await self._call(self._vault_status, key)

    async def record_intent(self, intent: TradeIntent) -> tuple[TradeRow, bool]:
        """Writes a PENDING trade; a client order id seen before answers the stored trade."""
        return await self._call(self._record_intent, intent)

    async def complete_trade(
        self, client_order_id: str, outcome: TradeOutcome,
        settlement: tuple[str, TradeOutcome] | None = None,
    ) -> TradeRow:
        return await self._call(self._complete_trade, client_order_id, outcome, settlement)

    async def list_trades(
        self, key: VaultKey, *, statuses: Sequence[TradeState] = (), client_order_id: str = "",
        limit: int,
    ) -> list[TradeRow]:
        """Newest first."""
        return await self._call(self._list_trades, key, statuses=statuses,
                                client_order_id=client_order_id, limit=limit)

    async def sync_account(self, key: VaultKey, sync: AccountSync) -> SyncOutcome:
        """Balance, margin and positions from the venue; each funding payment recorded once."""
        return await self._call(self._sync_account, key, sync)

    async def list_funding_payments(
        self, key: VaultKey, since: datetime | None
    ) -> list[FundingPaymentRow]:
        """Oldest first, from `since` (period start) when given."""
        return await self._call(self._list_funding_payments, key, since)

    # Vaults

    def _open_vault(self, key: VaultKey) -> tuple[VaultView, bool]:
        with self._transaction() as session:
            vault, created = self._get_or_create_vault(session, key)
            return self._view(session, vault), created

    def _vault_status(self, key: VaultKey) -> VaultView:
        with self._reading() as session:
            return self._view(session, self._existing_vault(session, key))

    # Trades

    def _record_intent(self, intent: TradeIntent) -> tuple[TradeRow, bool]:
        with self._transaction() as session:
            stored = self._trade(session, intent.client_order_id)
            if stored is not None:
                return stored, False
            vault, _ = self._get_or_create_vault(session, intent.key)
            now = self._clock.now()
            trade = TradeRow(
                client_order_id=intent.client_order_id,
                vault=vault,
                kind=intent.kind,
                status=TradeState.PENDING,
                market=intent.market,
                side=intent.side,
                requested_size=intent.requested_size,
                price=intent.price,
                notional=intent.notional,
                tx_signature="",
                source=intent.source,
                error_code="",
                error_message="",
                error_details={},
                created_at=intent.created_at or now,
                updated_at=now,
            )
            try:
                with session.begin_nested():
                    session.add(trade)
            except IntegrityError:
                # Another call recorded this id between our read and our insert.
                stored = self._trade(session, intent.client_order_id)
                if stored is None:
                    raise
                return stored, False
            return trade, True

    def _complete_trade(
        self, client_order_id: str, outcome: TradeOutcome,
        settlement: tuple[str, TradeOutcome] | None = None,
    ) -> TradeRow:
        with self._transaction() as session:
            trade = self._trade(session, client_order_id, lock=True)
            if trade is None:
                raise DomainError(
                    ErrorCode.NOT_FOUND,
                    f"no trade with client order id {client_order_id!r}: "
                    "RecordIntent must be called before the order is sent",
                )
            if settlement is not None:
                self._record_settlement(session, trade, *settlement)
            current = TradeState(trade.status)
            stored = (current, trade.filled_size or ZERO, trade.price, trade.tx_signature)
            verdict = judge_completion(current, stored, outcome)
            if verdict is Verdict.ALREADY_DONE:
                return trade
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
            _apply_outcome(trade, outcome, self._clock.now())
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
        return trade

    def _record_settlement(
        self, session: Session, close: TradeRow, client_order_id: str,
        outcome: TradeOutcome,
    ) -> None:
        """A close's settlement, in the close's transaction; written once (a repeat of the
        completion finds it there)."""
        if self._trade(session, client_order_id) is not None:
            return
        now = self._clock.now()
        row = TradeRow(
            client_order_id=client_order_id, vault_id=close.vault_id, kind=SETTLE_PNL_KIND,
            status=TradeState.PENDING, market=outcome.market or close.market, side="",
            requested_size=None, price=None, notional=None, tx_signature="",
            source=close.source, error_code="", error_message="", error_details={},
            created_at=now, updated_at=now,
        )
        _apply_outcome(row, outcome, now)
        session.add(row)

    def _list_trades(
        self,
        key: VaultKey,
        *,
        statuses: Sequence[TradeState] = (),
        client_order_id: str = "",
        limit: int,
    ) -> list[TradeRow]:
        with self._reading() as session:
            vault = self._existing_vault(session, key)
            query = select(TradeRow).where(TradeRow.vault_id == vault.id)
            if statuses:
                query = query.where(TradeRow.status.in_([str(status) for status in statuses]))
            if client_order_id:
                query = query.where(TradeRow.client_order_id == client_order_id)
            query = query.order_by(TradeRow.created_at.desc(), TradeRow.id.desc()).limit(limit)
            return list(session.scalars(query).all())

    # Venue state

    def _sync_account(self, key: VaultKey, sync: AccountSync) -> SyncOutcome:
        with self._transaction() as session:
            vault, _ = self._get_or_create_vault(session, key, lock=True)
            previous_balance = vault.balance
            vault.balance = sync.collateral
            vault.allocated_capital = sync.initial_margin
            vault.last_synced_at = sync.as_of or self._clock.now()

            session.execute(delete(PositionRow).where(PositionRow.vault_id == vault.id))
            session.add_all(
                PositionRow(
                    vault_id=vault.id,
                    market=position.market,
                    side=position.side,
                    size=position.size,
                    entry_price=position.entry_price,
                )
                for position in sync.positions
            )

            new_payments = self._new_funding_payments(session, vault.id, sync)
            now = self._clock.now()
            session.add_all(_funding_row(vault.id, payment, now) for payment in new_payments)
            realized = vault.realized_funding_pnl
            for payment in new_payments:
                realized = EXACT.add(realized, payment.amount)
            vault.realized_funding_pnl = realized
            session.flush()
            view = self._view(session, vault)
        change = EXACT.subtract(sync.collateral, previous_balance)
        log.info(
            "vault synced",
            extra={
                "account": key.account,
                "sub_account": key.sub_account,
                "health_ratio": sync.health_ratio,
                "leverage": sync.leverage,
                "total_collateral": format(sync.collateral, "f"),
                "free_collateral": sync.free_collateral,
                "balance_change": format(change, "f"),
                "funding_payments_recorded": len(new_payments),
            },
        )
        return SyncOutcome(view, len(new_payments), change)

    def _list_funding_payments(
        self, key: VaultKey, since: datetime | None
    ) -> list[FundingPaymentRow]:
        with self._reading() as session:
            vault = self._existing_vault(session, key)
            query = select(FundingPaymentRow).where(FundingPaymentRow.vault_id == vault.id)
            if since is not None:
                query = query.where(FundingPaymentRow.period_start >= since)
            query = query.order_by(FundingPaymentRow.period_start, FundingPaymentRow.id)
            return list(session.scalars(query).all())

    # Helpers

    async def _call(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`work(*args, **kwargs)` through `run`; a database out of reach is VAULT_UNAVAILABLE."""
        try:
            return await self._run(partial(work, *args, **kwargs))
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
    def _transaction(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with self._readers() as session, session.begin():
            yield session

    def _find_vault(
        self, session: Session, key: VaultKey, *, lock: bool = False
    ) -> VaultRow | None:
        query = select(VaultRow).where(
            VaultRow.account == key.account, VaultRow.sub_account == key.sub_account
        )
        if lock:
            # PostgreSQL: concurrent syncs of one vault queue here. SQLite ignores it; its
            # transactions already hold the database's write lock (BEGIN IMMEDIATE).
            query = query.with_for_update()
        return session.scalar(query)

    def _existing_vault(self, session: Session, key: VaultKey) -> VaultRow:
        vault = self._find_vault(session, key)
        if vault is None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"no vault for account {key.account!r} sub-account {key.sub_account}: "
                "OpenVault or SyncAccount creates it",
            )
        return vault

    def _get_or_create_vault(
        self, session: Session, key: VaultKey, *, lock: bool = False
    ) -> tuple[VaultRow, bool]:
        vault = self._find_vault(session, key, lock=lock)
        if vault is not None:
            return vault, False
        vault = VaultRow(
            id=uuid.uuid4().hex,
            account=key.account,
            sub_account=key.sub_account,
            balance=ZERO,
            allocated_capital=ZERO,
            realized_funding_pnl=ZERO,
            last_synced_at=None,
            created_at=self._clock.now(),
        )
        try:
            with session.begin_nested():
                session.add(vault)
        except IntegrityError:
            # A concurrent call created it first (the unique pair holds); use theirs.
            existing = self._find_vault(session, key, lock=lock)
            if existing is None:
                raise
            return existing, False
        return vault, True

    def _trade(
        self, session: Session, client_order_id: str, *, lock: bool = False
    ) -> TradeRow | None:
        query = select(TradeRow).where(TradeRow.client_order_id == client_order_id)
        if lock:
            query = query.with_for_update()
        return session.scalar(query)

    def _new_funding_payments(
        self, session: Session, vault_id: str, sync: AccountSync
    ) -> list[FundingRecord]:
        unique: dict[str, FundingRecord] = {}
        for payment in sync.funding_payments:
            unique.setdefault(payment.payment_id, payment)
        known: set[str] = set()
        for chunk in _chunks(list(unique)):
            rows = session.scalars(
                select(FundingPaymentRow.payment_id).where(
                    FundingPaymentRow.vault_id == vault_id,
                    FundingPaymentRow.payment_id.in_(chunk),
                )
            )
            known.update(rows.all())
        return [payment for payment_id, payment in unique.items() if payment_id not in known]

    def _view(self, session: Session, vault: VaultRow) -> VaultView:
        positions = session.scalars(
            select(PositionRow).where(PositionRow.vault_id == vault.id).order_by(PositionRow.market)
        )
        counts = dict(
            session.execute(
                select(TradeRow.status, func.count())
                .where(TradeRow.vault_id == vault.id)
                .group_by(TradeRow.status)
            ).tuples().all()
        )
        return VaultView(
            vault_id=vault.id,
            key=VaultKey(vault.account, vault.sub_account),
            balance=vault.balance,
            allocated_capital=vault.allocated_capital,
            realized_funding_pnl=vault.realized_funding_pnl,
            positions=tuple(
                PositionRecord(row.market, row.side, row.size, row.entry_price)
                for row in positions.all()
            ),
            last_synced_at=vault.last_synced_at,
            pending_trades=counts.get(TradeState.PENDING, 0),
            trade_count=sum(counts.values()),
            created_at=vault.created_at,
        )


def _apply_outcome(trade: TradeRow, outcome: TradeOutcome, now: datetime) -> None:
    trade.status = outcome.status
    trade.market = trade.market or outcome.market
    trade.side = trade.side or outcome.side
    trade.filled_size = outcome.filled_size
    trade.price = outcome.price
    trade.fee = outcome.fee
    trade.notional = outcome.notional if outcome.notional is not None else trade.notional
    trade.slippage = outcome.slippage
    trade.tx_signature = outcome.tx_signature
    trade.error_code = outcome.error_code
    trade.error_message = outcome.error_message
    trade.error_details = outcome.error_details
    trade.executed_at = outcome.executed_at
    trade.updated_at = now


def _funding_row(vault_id: str, payment: FundingRecord, now: datetime) -> FundingPaymentRow:
    return FundingPaymentRow(
        vault_id=vault_id,
        payment_id=payment.payment_id,
        market=payment.market,
        period_start=payment.period_start,
        rate_1h=payment.rate_1h,
        side=payment.side,
        size=payment.size,
        oracle_price=payment.oracle_price,
        amount=payment.amount,
        recorded_at=now,
    )

