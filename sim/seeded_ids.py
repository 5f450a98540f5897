"""uuid4 drawn from the schedule's seed: rebalance ids, event ids and vault ids repeat exactly
when a seed is replayed, so two runs of one seed give the same trace."""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Iterator


@contextlib.contextmanager
def seeded_uuid4(seed: int) -> Iterator[None]:
    rng = random.Random(seed)  # noqa: S311 - reproducibility, not secrecy
    original = uuid.uuid4

    def uuid4() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    uuid.uuid4 = uuid4  # type: ignore[assignment]
    try:
        yield
    finally:
        uuid.uuid4 = original  # type: ignore[assignment]
