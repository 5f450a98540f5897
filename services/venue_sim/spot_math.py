"""Token amounts and spot balances, as protocol-v2's math/spot_balance.rs (kept by Velocity)."""

from __future__ import annotations

# balance = token_amount * 10^(19 - decimals) / cumulative interest (SPOT_CUMULATIVE_INTEREST_
# PRECISION 1e10), so 1 token = SPOT_BALANCE_PRECISION 1e9 of balance.
_BALANCE_DECIMALS = 19


def scaled_balance(amount: int, decimals: int, cumulative_interest: int,
                   round_up: bool = False) -> int:
    """The scaled balance of `amount` base units; rounded up for what leaves the account."""
    numerator = amount * 10 ** (_BALANCE_DECIMALS - decimals)
    return -(-numerator // cumulative_interest) if round_up else numerator // cumulative_interest


def token_amount(balance: int, decimals: int, cumulative_interest: int) -> int:
    """Base units a scaled balance holds (rounded down, as the program pays out)."""
    return balance * cumulative_interest // 10 ** (_BALANCE_DECIMALS - decimals)
