"""The reconciliation a resume after a restart rests on: what the venue holds now against what the
vault and the engine's state remembered. Pure: the engine gathers the inputs, this module says
what differs and whether the difference is explained."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from dne.vault.v1 import vault_pb2
from services.common.decimals import from_wire, to_wire
from services.common.venue import AccountState, OrderKind, OrderStatus
from services.engine import reconcile
from services.engine.engine_state import Balances

# Below these a difference is rounding or a network fee, not money that moved.
USD_TOLERANCE = Decimal("0.01")
SOL_TOLERANCE = Decimal("0.001")
FUNDING_PERIOD = timedelta(hours=1)
# Kinds whose fill moves no position, only balances.
BALANCE_ONLY = {OrderKind.DEPOSIT, OrderKind.WITHDRAW, OrderKind.SPOT_BUY, OrderKind.SPOT_SELL,
                OrderKind.SETTLE_PNL}


@dataclass(frozen=True)
class ResolvedIntent:
    """An intent a crash left unresolved, and how the venue's record settled it."""

    client_order_id: str
    kind: OrderKind
    market: str
    status: OrderStatus   # the vault's status after the check


@dataclass
class ResumeReport:
    unknown_positions: list[str] = field(default_factory=list)
    vanished_positions: list[str] = field(default_factory=list)
    balance_differences: list[str] = field(default_factory=list)
    intents: dict[str, int] = field(default_factory=dict)   # final status -> count
    notes: list[str] = field(default_factory=list)           # explained, for the record

    @property
    def clean(self) -> bool:
        return not (self.unknown_positions or self.vanished_positions
                    or self.balance_differences or self.intents.get("unknown"))

    def differences(self) -> str:
        """What differs, in one line for an alert and the status."""
        parts = []
        if self.unknown_positions:
            parts.append("the venue holds positions the vault did not know: "
                         + ", ".join(self.unknown_positions))
        if self.vanished_positions:
            parts.append("the vault's positions are gone from the venue: "
                         + ", ".join(self.vanished_positions))
        if self.balance_differences:
            parts.append("balances moved while the engine was away: "
                         + ", ".join(self.balance_differences))
        if self.intents.get("unknown"):
            parts.append(f"{self.intents['unknown']} order(s) sent before the restart have an "
                         "unknown outcome: verify them on an explorer")
        return "; ".join(parts)

    def summary(self) -> str:
        """Everything checked, differences or not: the log line and the resume's result."""
        intents = (", ".join(f"{count} {status}" for status, count in sorted(self.intents.items()))
                   or "none")
        text = f"pending intents resolved: {intents}"
        if self.notes:
            text += "; " + "; ".join(self.notes)
        differences = self.differences()
        return text + ("; " + differences if differences else "; venue, vault and engine agree")


def balances_of(state: AccountState) -> Balances:
    return Balances(
        quote_balance=to_wire(state.quote_balance), wallet_usdc=to_wire(state.wallet_usdc),
        wallet_sol=to_wire(state.wallet_sol), collateral=to_wire(state.collateral),
        as_of=state.as_of)


def reconcile_resume(
    *,
    known: Sequence[vault_pb2.VaultPosition],
    venue: AccountState,
    recorded: Balances | None,
    resolved: Iterable[ResolvedIntent],
    vault_balance: str = "",
) -> ResumeReport:
    """Positions: the venue against the vault's last sync; balances: the venue against the
    engine's record at that sync. A difference is explained only by an intent the venue filled
    while the engine was away (its market, or any balance for a fill)."""
    resolved = list(resolved)
    report = ResumeReport(intents=dict(Counter(i.status.value for i in resolved)))
    filled = [i for i in resolved if i.status is OrderStatus.FILLED]
    moved_markets = {i.market for i in filled if i.kind not in BALANCE_ONLY and i.market}
    for surprise in reconcile.unknown_positions(known, venue.positions):
        _explain_or_report(report.unknown_positions, report.notes, surprise, moved_markets)
    for gone in reconcile.vanished_positions(known, venue.positions):
        _explain_or_report(report.vanished_positions, report.notes, gone, moved_markets)
    now = balances_of(venue)
    if vault_balance:
        report.notes.append(f"collateral {now.collateral} USD (the vault recorded "
                            f"{vault_balance}; it moves with prices and funding)")
    if recorded is None:
        report.notes.append("no balances recorded before the restart to compare")
        return report
    differences = balance_differences(recorded, now, _funding_since(venue, recorded.as_of))
    if differences and filled:
        report.notes.append(f"balances moved ({', '.join(differences)}), explained by "
                            f"{len(filled)} order(s) filled while the engine was away")
    else:
        report.balance_differences = differences
    return report


def balance_differences(recorded: Balances, now: Balances, funding: Decimal) -> list[str]:
    """Wallet SOL and USDC, and the sub-account's quote balance, where they moved. The quote may
    have moved by the funding paid meanwhile (the paper venue pays it into the quote; Drift into
    unsettled PnL): either is no difference."""
    found = []
    checks = (("wallet SOL", recorded.wallet_sol, now.wallet_sol, SOL_TOLERANCE, ()),
              ("wallet USDC", recorded.wallet_usdc, now.wallet_usdc, USD_TOLERANCE, ()),
              ("quote balance", recorded.quote_balance, now.quote_balance, USD_TOLERANCE,
               (funding,)))
    for name, before, after, tolerance, allowed in checks:
        change = from_wire(after) - from_wire(before)
        if all(abs(change - explained) > tolerance for explained in (Decimal(0), *allowed)):
            found.append(f"{name} {from_wire(before)} -> {from_wire(after)}")
    return found


def _funding_since(venue: AccountState, since: datetime | None) -> Decimal:
    """Funding paid after `since` (a payment lands at the end of its hour)."""
    return sum((payment.amount for payment in venue.funding_payments
                if since is None or payment.period_start + FUNDING_PERIOD > since), Decimal(0))


def _explain_or_report(differences: list[str], notes: list[str], item: str,
                       moved: set[str]) -> None:
    market = item.split(" ", 1)[0]
    if market in moved:
        notes.append(f"{item}: explained by an order on {market} filled while the engine "
                     "was away")
    else:
        differences.append(item)

