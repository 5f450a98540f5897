"""Slots, block heights and blockhashes of the stand-in chain, advancing with wall time."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from solders.hash import Hash

# Mainnet's target slot time; a blockhash stays valid for 150 blocks there.
SLOT_SECONDS = 0.4
BLOCKHASH_VALID_BLOCKS = 150
# Block height trails the slot number on mainnet (skipped slots); a fixed gap stands in.
HEIGHT_GAP = 20_000_000


class Chain:
    def __init__(
        self,
        start_slot: int,
        slot_seconds: float = SLOT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.start_slot = start_slot
        self.slot_seconds = slot_seconds
        self._clock = clock
        self._started = clock()
        self._issued: dict[str, int] = {}   # blockhash -> last valid block height

    def slot(self) -> int:
        return self.start_slot + int((self._clock() - self._started) / self.slot_seconds)

    def block_height(self) -> int:
        return self.slot() - HEIGHT_GAP

    def latest_blockhash(self) -> tuple[Hash, int]:
        slot = self.slot()
        blockhash = Hash(hashlib.sha256(f"venue-sim-slot-{slot}".encode()).digest())
        last_valid = slot - HEIGHT_GAP + BLOCKHASH_VALID_BLOCKS
        self._issued[str(blockhash)] = last_valid
        return blockhash, last_valid

    def is_blockhash_valid(self, blockhash: str) -> bool:
        last_valid = self._issued.get(blockhash)
        return last_valid is not None and self.block_height() <= last_valid
