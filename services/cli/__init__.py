"""The `dne` command line."""
