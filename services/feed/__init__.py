"""The feed: funding markets, prices, funding history and the market clock."""
