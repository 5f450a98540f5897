"""The vault: one Engine_Vault per (account, sub-account); trades, venue state, funding."""
