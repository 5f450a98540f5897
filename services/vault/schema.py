"""The vault's tables (SQLAlchemy 2 declarative), the same on SQLite and PostgreSQL.

Money is stored as exact decimal strings: SQLite has no decimal type (its NUMERIC is a float),
and a string column reads back exactly the Decimal that was written, on both databases.
Tables are created at start with metadata.create_all; the first change to this schema should
bring Alembic migrations instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Column sizes; the servicer refuses longer input with a message instead of a database error.
ACCOUNT_LENGTH = 128
CLIENT_ORDER_ID_LENGTH = 128
MARKET_LENGTH = 64
SIGNATURE_LENGTH = 128
PAYMENT_ID_LENGTH = 128
SOURCE_LENGTH = 32
ERROR_CODE_LENGTH = 64
DECIMAL_LENGTH = 96  # sign, 16 integer digits, point, 40 places, with room to spare

# SQLite gives auto-increment ids only to INTEGER PRIMARY KEY; PostgreSQL wants a BIGINT.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class DecimalString(TypeDecorator[Decimal]):
    """Decimal <-> its exact text. Refuses floats, which would already have rounded."""

    impl = String(DECIMAL_LENGTH)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money columns take Decimal, found {type(value).__name__}")
        if not value.is_finite():
            raise ValueError(f"money must be finite, found {value}")
        return format(value, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"times must carry a time zone, found naive {value.isoformat()}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class VaultRow(Base):
    """One Engine_Vault: one per (account, sub-account), property 35."""

    __tablename__ = "vaults"
    __table_args__ = (UniqueConstraint("account", "sub_account", name="uq_vaults_account_sub"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account: Mapped[str] = mapped_column(String(ACCOUNT_LENGTH))
    sub_account: Mapped[int] = mapped_column(BigInteger)  # a uint32 overflows PostgreSQL's INT
    balance: Mapped[Decimal] = mapped_column(DecimalString)
    allocated_capital: Mapped[Decimal] = mapped_column(DecimalString)
    realized_funding_pnl: Mapped[Decimal] = mapped_column(DecimalString)
    last_synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PositionRow(Base):
    """A position as the venue reported it at the last sync."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("vault_id", "market", name="uq_positions_vault_market"),)

    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    vault_id: Mapped[str] = mapped_column(ForeignKey("vaults.id", ondelete="CASCADE"))
    market: Mapped[str] = mapped_column(String(MARKET_LENGTH))
    side: Mapped[str] = mapped_column(String(8))
    size: Mapped[Decimal] = mapped_column(DecimalString)
    entry_price: Mapped[Decimal | None] = mapped_column(DecimalString)


class TradeRow(Base):
    """Every order the engine sends, written PENDING before it is sent, then completed."""

    __tablename__ = "trades"
    __table_args__ = (
        Index("ix_trades_vault_created", "vault_id", "created_at"),
        Index("ix_trades_vault_status", "vault_id", "status"),
    )

    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str] = mapped_column(String(CLIENT_ORDER_ID_LENGTH), unique=True)
    vault_id: Mapped[str] = mapped_column(ForeignKey("vaults.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    market: Mapped[str] = mapped_column(String(MARKET_LENGTH))
    side: Mapped[str] = mapped_column(String(8))
    requested_size: Mapped[Decimal | None] = mapped_column(DecimalString)
    filled_size: Mapped[Decimal | None] = mapped_column(DecimalString)
    price: Mapped[Decimal | None] = mapped_column(DecimalString)
    fee: Mapped[Decimal | None] = mapped_column(DecimalString)
    notional: Mapped[Decimal | None] = mapped_column(DecimalString)
    slippage: Mapped[Decimal | None] = mapped_column(DecimalString)
    tx_signature: Mapped[str] = mapped_column(String(SIGNATURE_LENGTH))
    source: Mapped[str] = mapped_column(String(SOURCE_LENGTH))
    error_code: Mapped[str] = mapped_column(String(ERROR_CODE_LENGTH))
    error_message: Mapped[str] = mapped_column(Text)
    error_details: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    executed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Loaded with the trade (a join), because every answer names the trade's account.
    vault: Mapped[VaultRow] = relationship(lazy="joined", innerjoin=True)


class FundingPaymentRow(Base):
    """One hourly funding settlement, recorded once per vault by its payment id (property 33)."""

    __tablename__ = "funding_payments"
    __table_args__ = (
        UniqueConstraint("vault_id", "payment_id", name="uq_funding_vault_payment"),
        Index("ix_funding_vault_period", "vault_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    vault_id: Mapped[str] = mapped_column(ForeignKey("vaults.id", ondelete="CASCADE"))
    payment_id: Mapped[str] = mapped_column(String(PAYMENT_ID_LENGTH))
    market: Mapped[str] = mapped_column(String(MARKET_LENGTH))
    period_start: Mapped[datetime] = mapped_column(UtcDateTime)
    rate_1h: Mapped[Decimal | None] = mapped_column(DecimalString)
    side: Mapped[str] = mapped_column(String(8))
    size: Mapped[Decimal | None] = mapped_column(DecimalString)
    oracle_price: Mapped[Decimal | None] = mapped_column(DecimalString)
    amount: Mapped[Decimal] = mapped_column(DecimalString)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
