"""Start-up reconciliation: what the venue holds against what the vault remembered."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from dne.common.v1 import common_pb2
from dne.vault.v1 import vault_pb2
from services.common.venue import PositionState
from services.common.venue_wire import SIDE_TO_PROTO

SIDES = {common_pb2.SIDE_LONG: "long", common_pb2.SIDE_SHORT: "short"}


def unknown_positions(
    known: Iterable[vault_pb2.VaultPosition], venue: Iterable[PositionState]
) -> list[str]:
    """Venue positions the vault had no record of, or recorded with another side or size:
    "<market> <side> <size>" each, for the operator to check."""
    remembered = {(p.market, p.side): Decimal(p.size or "0") for p in known}
    surprises = []
    for position in venue:
        size = position.size
        if size == 0:
            continue
        if remembered.get((position.market, SIDE_TO_PROTO[position.side])) != size:
            surprises.append(f"{position.market} {position.side} {size}")
    return surprises


def vanished_positions(
    known: Iterable[vault_pb2.VaultPosition], venue: Iterable[PositionState],
    closed_by_engine: Iterable[str] = (),
) -> list[str]:
    """Positions the vault held that the venue no longer has and that no close of the
    engine's explains (a liquidation, a close outside the engine): "<market> <side> <size>"."""
    held = {p.market for p in venue if p.size != 0}
    explained = set(closed_by_engine)
    return [f"{p.market} {SIDES.get(p.side, '?')} {p.size}" for p in known
            if Decimal(p.size or "0") != 0 and p.market not in held
            and p.market not in explained]
