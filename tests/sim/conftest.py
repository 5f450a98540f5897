"""Fixtures for the fault campaign's tests: a worker's workspace, the services kept quiet."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from sim.campaign import scratch_directory
from sim.runner import Workspace


@pytest.fixture(scope="module")
def workspace() -> Iterator[Workspace]:
    logging.disable(logging.CRITICAL)  # the services log every trade; the trace says enough
    built = Workspace(scratch_directory())
    try:
        yield built
    finally:
        built.remove()
        logging.disable(logging.NOTSET)
