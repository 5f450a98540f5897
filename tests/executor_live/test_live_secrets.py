"""The wallet key never leaves the driver: not in a log line, an answer, a repr or an error."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from services.common import venue_wire
from services.common.errors import DomainError
from services.common.venue import OpenOrder, Side
from services.executor import convert
from tests.kit.executor_live_builders import LiveRig
from tests.kit.executor_live_secrets import Capture, secret_forms


async def test_the_canary_key_appears_in_no_log_line_reply_or_repr(
    rig: LiveRig, state_path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    replies: list[str] = []
    driver = rig.driver(state_path)
    try:
        await driver.start()
        results = [
            await driver.deposit("dep", 0, Decimal(500)),
            await driver.open_position(OpenOrder("open", 0, "SOL-PERP", Side.SHORT,
                                                 Decimal(1))),
        ]
        rig.venue.control.set(outcome="fail_simulation")
        results.append(await driver.withdraw("wd", 0, Decimal(1)))
        rig.venue.control.set(outcome="never_confirm")
        results.append(await driver.deposit("lost", 0, Decimal(1)))
        rig.venue.control.set(outcome="confirm", drop="*")
        with pytest.raises(DomainError) as down:
            await driver.account_state(0)
        replies.append(str(down.value))
        replies.append(str(convert.venue_status(await driver.status())))
        rig.venue.control.set(drop=[])
        for _ in range(200):
            if driver._link.connected:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.02)
        replies.append(str(venue_wire.account_state_proto(await driver.account_state(0))))
        for result in results:
            replies.append(str(venue_wire.order_result_proto(result)))
            replies.append(repr(result))
        replies.append(repr(driver))
        replies.append(repr(vars(driver)))
    finally:
        await driver.close()
        root.removeHandler(capture)
        root.setLevel(level)
    printed = capsys.readouterr()
    haystack = "\n".join([*capture.lines, *replies, printed.out, printed.err,
                          state_path.read_text()])
    assert len(capture.lines) > 10 and "fill" in haystack  # the search saw real output
    for form in secret_forms(rig.wallet):
        assert form not in haystack
    assert str(rig.wallet.pubkey()) in haystack
