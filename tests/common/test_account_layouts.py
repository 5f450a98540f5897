"""The strict accounts coder: every recorded real Drift account decodes as anchorpy decodes it;
a buffer of another program's layout (Velocity's sizes under Drift's discriminators), a cut
buffer or an unknown discriminator is refused, where anchorpy's coder reads it without a word."""

from __future__ import annotations

from pathlib import Path

import driftpy
import pytest
from anchorpy import Idl
from anchorpy.coder.accounts import AccountsCoder
from anchorpy.program.common import NamedInstruction

from services.common.account_layouts import AccountLayoutError, StrictAccountsCoder
from services.venue_sim.drift_coder import replace  # noqa: F401  (lets anchorpy copy a Pubkey)
from tests.kit.foreign_layouts import drift_size, recorded_accounts, resized, velocity_size

DRIFT_IDL = Idl.from_json((Path(driftpy.__file__).parent / "idl" / "drift.json").read_text())
STRICT = StrictAccountsCoder(DRIFT_IDL)
PLAIN = AccountsCoder(DRIFT_IDL)
ACCOUNTS_WITH_A_VECTOR = ("RevenueShareEscrow", "SignedMsgUserOrders", "SignedMsgWsDelegates")


def recorded(kind: str) -> bytes:
    return next(account.data for account in recorded_accounts() if account.kind == kind)


def blank(name: str) -> bytes:
    """A zeroed buffer of the account, as long as the strict coder says it is."""
    return STRICT.acc_name_to_discriminator[name] + bytes(STRICT.sizes[name].least - 8)


def test_every_recorded_drift_account_is_exactly_its_idl_size_and_decodes_as_anchorpy_does(
) -> None:
    accounts = recorded_accounts()
    assert len(accounts) == 31 + 90 + 27
    for account in accounts:
        assert STRICT.check(account.data) == account.kind, account.where
        assert len(account.data) == STRICT.sizes[account.kind].least, account.where
        assert STRICT.decode(account.data) == PLAIN.decode(account.data), account.where
    assert {a.kind for a in accounts} == {"PerpMarket", "SpotMarket", "User", "UserStats"}


def test_the_sizes_are_the_construct_layouts_and_those_layout_diff_json_derived() -> None:
    for name, size in STRICT.sizes.items():
        if name in ACCOUNTS_WITH_A_VECTOR:
            assert not size.fixed, name
            continue
        assert size.fixed, name
        # anchorpy's own construct layout writes exactly that many bytes
        written = PLAIN.build(NamedInstruction(name=name, data=PLAIN.decode(blank(name))))
        assert len(written) == size.least, name
    for name in ("State", "PerpMarket", "SpotMarket", "User", "UserStats"):
        assert STRICT.sizes[name].least == drift_size(name)
    assert (STRICT.sizes["State"].least, STRICT.sizes["PerpMarket"].least,
            STRICT.sizes["User"].least) == (992, 1216, 4376)


@pytest.mark.parametrize(
    ("account", "start"),
    [("PerpMarket", "recorded"), ("User", "recorded"), ("SpotMarket", "recorded"),
     ("PerpMarket", "zeros"), ("User", "zeros"), ("State", "zeros")],  # no State is recorded
)
def test_a_velocity_sized_buffer_under_drifts_discriminator_is_refused(
    account: str, start: str,
) -> None:
    drift_bytes = recorded(account) if start == "recorded" else blank(account)
    foreign = resized(drift_bytes, velocity_size(account))
    assert foreign[:8] == drift_bytes[:8] and len(foreign) != len(drift_bytes)
    PLAIN.decode(foreign)  # anchorpy alone reads it, into wrong values
    with pytest.raises(AccountLayoutError) as refused:
        STRICT.decode(foreign)
    error = refused.value
    assert (error.account, error.expected, error.actual) == (
        account, STRICT.sizes[account].least, velocity_size(account))
    assert str(error) == (
        f"the {account} account is {velocity_size(account)} bytes; this venue's IDL (drift "
        f"2.142.0) says {STRICT.sizes[account].least} for {account}: the RPC serves another "
        "program's layout")


def test_a_cut_buffer_is_refused() -> None:
    market = recorded("PerpMarket")
    PLAIN.decode(market + bytes(1))  # trailing bytes: anchorpy does not look
    for cut in (market[:-1], market[:600], market + bytes(1)):
        with pytest.raises(AccountLayoutError, match="PerpMarket account is"):
            STRICT.decode(cut)


@pytest.mark.parametrize("data", [bytes(8) + recorded("User")[8:], b"", b"\x01\x02\x03"],
                         ids=["zeroed-discriminator", "empty", "three-bytes"])
def test_a_buffer_with_no_discriminator_of_the_idl_is_refused(data: bytes) -> None:
    with pytest.raises(AccountLayoutError, match="discriminator of no account") as refused:
        STRICT.decode(data)
    assert (refused.value.account, refused.value.expected, refused.value.actual) == (
        None, None, len(data))


def test_an_account_with_a_vector_has_no_fixed_size_so_it_must_be_at_least_its_least() -> None:
    least = STRICT.sizes["SignedMsgUserOrders"].least
    zeros = blank("SignedMsgUserOrders")
    assert STRICT.decode(zeros) == PLAIN.decode(zeros)
    STRICT.decode(zeros + bytes(64))  # room left for orders: still that account
    with pytest.raises(AccountLayoutError, match=f"says at least {least}"):
        STRICT.decode(zeros[:-1])
