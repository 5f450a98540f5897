"""The live venue driver (EXECUTOR_DRIVER=drift): driftpy on a Solana RPC."""
