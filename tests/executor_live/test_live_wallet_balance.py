"""The wallet's quote balance fails closed: only "no token account" reads as 0; an RPC that
answers with an error is the venue being unavailable, never an empty wallet."""

from __future__ import annotations

from decimal import Decimal

import pytest
from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from services.common.errors import DomainError, ErrorCode
from services.common.venue import OrderStatus
from services.executor.drift.driver import DriftDriver
from tests.kit.executor_live_builders import LiveRig


async def test_an_rpc_error_on_the_quote_balance_is_venue_unavailable_not_zero(
    rig: LiveRig, driver: DriftDriver
) -> None:
    rig.venue.control.set(fail_methods=["getTokenAccountBalance"])
    with pytest.raises(DomainError) as unavailable:
        await driver.account_state(0)
    assert unavailable.value.code == ErrorCode.VENUE_UNAVAILABLE
    assert "quote balance could not be read" in unavailable.value.message
    refused = await driver.deposit("dep", 0, Decimal(10))
    assert refused.status is OrderStatus.FAILED
    assert refused.error_code == ErrorCode.VENUE_UNAVAILABLE
    assert rig.venue.journal.sent() == []
    rig.venue.control.set(fail_methods=[])
    assert (await driver.account_state(0)).wallet_usdc == Decimal(10_000)


async def test_a_wallet_without_a_quote_token_account_holds_zero(
    rig: LiveRig, driver: DriftDriver
) -> None:
    token_account = get_associated_token_address(rig.wallet.pubkey(),
                                                 Pubkey.from_string(rig.profile.quote_mint))
    del rig.venue.store.accounts[token_account]
    assert (await driver.account_state(0)).wallet_usdc == Decimal(0)
