"""Recorded real Drift accounts, and the same bytes in another program's size.

Velocity's accounts keep Drift's discriminators (sha256 of the name) with other layouts, so a
Drift account grown or cut to the size Velocity's IDL gives the same-named account
(data/velocity/layout_diff.json) is what a Velocity RPC would answer where a Drift decoder reads:
the buffer a strict coder must refuse.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from services.feed.settings import DEFAULT_DATA_DIR

DRIFT_DIR = DEFAULT_DATA_DIR / "drift"
LAYOUT_DIFF = DEFAULT_DATA_DIR / "velocity" / "layout_diff.json"


@dataclass(frozen=True)
class RecordedAccount:
    kind: str
    data: bytes
    where: str


def _lines(path: Path, kind: str) -> list[RecordedAccount]:
    return [RecordedAccount(kind, base64.b64decode(line), f"{path.name}:{number}")
            for number, line in enumerate(path.read_text().split(), start=1)]


@cache
def recorded_accounts() -> tuple[RecordedAccount, ...]:
    """Every recorded Drift account: the 31 snapshots, 90 Users and 27 UserStats."""
    snapshots = DRIFT_DIR / "mainnet_account_snapshots.json"
    records = [RecordedAccount(r["kind"], base64.b64decode(r["base64"]),
                               f"{snapshots.name} record {number}")
               for number, r in enumerate(json.loads(snapshots.read_text())["accounts"])]
    return (*records, *_lines(DRIFT_DIR / "mainnet_user_accounts_b64.txt", "User"),
            *_lines(DRIFT_DIR / "mainnet_user_stats_b64.txt", "UserStats"))


@cache
def _layout_diff() -> dict:
    return json.loads(LAYOUT_DIFF.read_text())["accounts"]


def velocity_size(account: str) -> int:
    """Velocity's size of the account, with its discriminator (State 1,744, PerpMarket 1,304,
    User 4,496, ...)."""
    return _layout_diff()[account]["velocity_size_with_disc"]


def drift_size(account: str) -> int:
    """The Drift IDL's size of the account as layout_diff.json derived it."""
    return _layout_diff()[account]["drift_size_with_disc"]


def resized(data: bytes, size: int) -> bytes:
    """The bytes cut to `size`, or followed by zeros up to it."""
    return data[:size] + bytes(max(0, size - len(data)))
