"""The vault's SQL as Core statements on schema.py's tables, built once at import.

The ORM's unit of work cost the vault more than the database did (a trade's three calls
spent most of their time flushing and compiling); these statements are compiled once and
only their parameters change per call.
"""

from __future__ import annotations

from sqlalchemy import bindparam, delete, func, insert, select, update

from services.vault.schema import FundingPaymentRow, PositionRow, TradeRow, VaultRow

VAULTS = VaultRow.__table__
TRADES = TradeRow.__table__
POSITIONS = PositionRow.__table__
FUNDING = FundingPaymentRow.__table__

VAULT_BY_KEY = select(VAULTS).where(
    VAULTS.c.account == bindparam("account"), VAULTS.c.sub_account == bindparam("sub_account"))
# PostgreSQL: concurrent syncs of one vault queue here. SQLite ignores it; its writing
# transactions already hold the database's write lock (BEGIN IMMEDIATE).
VAULT_BY_KEY_LOCKED = VAULT_BY_KEY.with_for_update()
INSERT_VAULT = insert(VAULTS)
UPDATE_VAULT = update(VAULTS).where(VAULTS.c.id == bindparam("vault_id"))

# A trade with the account it belongs to: every answer names it.
TRADES_WITH_OWNER = select(
    *(column for column in TRADES.c if column.name != "id"),
    VAULTS.c.account, VAULTS.c.sub_account,
).join_from(TRADES, VAULTS, TRADES.c.vault_id == VAULTS.c.id)
TRADE_BY_ORDER_ID = TRADES_WITH_OWNER.where(
    TRADES.c.client_order_id == bindparam("client_order_id"))
# The engine's lookup of one request id before each trade: the one filter that is asked per
# trade, so built once (client order ids are unique: no order, no limit).
TRADE_OF_VAULT_BY_ORDER_ID = TRADE_BY_ORDER_ID.where(TRADES.c.vault_id == bindparam("vault_id"))
# PostgreSQL: a completion and its repeat queue on the trade's row.
TRADE_BY_ORDER_ID_LOCKED = TRADE_BY_ORDER_ID.with_for_update(of=TRADES)
ORDER_ID_TAKEN = select(TRADES.c.id).where(
    TRADES.c.client_order_id == bindparam("client_order_id"))
INSERT_TRADE = insert(TRADES)
UPDATE_TRADE = update(TRADES).where(TRADES.c.client_order_id == bindparam("order_id"))
TRADE_COUNTS = (select(TRADES.c.status, func.count())
                .where(TRADES.c.vault_id == bindparam("vault_id"))
                .group_by(TRADES.c.status))
# A sync's count: the pending trades alone, a few rows of the (vault, status) index.
PENDING_COUNT = (select(func.count())
                 .where(TRADES.c.vault_id == bindparam("vault_id"),
                        TRADES.c.status == bindparam("status")))

POSITIONS_OF = (select(POSITIONS.c.market, POSITIONS.c.side, POSITIONS.c.size,
                       POSITIONS.c.entry_price)
                .where(POSITIONS.c.vault_id == bindparam("vault_id"))
                .order_by(POSITIONS.c.market))
DELETE_POSITIONS = delete(POSITIONS).where(POSITIONS.c.vault_id == bindparam("vault_id"))
INSERT_POSITION = insert(POSITIONS)

FUNDING_FIELDS = (FUNDING.c.payment_id, FUNDING.c.market, FUNDING.c.period_start,
                  FUNDING.c.rate_1h, FUNDING.c.side, FUNDING.c.size, FUNDING.c.oracle_price,
                  FUNDING.c.amount)
KNOWN_PAYMENT_IDS = select(FUNDING.c.payment_id).where(
    FUNDING.c.vault_id == bindparam("vault_id"),
    FUNDING.c.payment_id.in_(bindparam("payment_ids", expanding=True)))
INSERT_PAYMENT = insert(FUNDING)
