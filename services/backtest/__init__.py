"""Funding backtests on the engine's own decision code and the paper venue (issue 13)."""
